"""JWT authentication as the LMS does it (edx-drf-extensions), with two local guards."""

from __future__ import annotations

import json
from typing import Any

import jwt
from django.conf import settings
from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
from edx_rest_framework_extensions.auth.jwt.decoder import jwt_decode_handler as edx_jwt_decode_handler
from rest_framework import exceptions

from .api import DomainError, find_current_learner, get_or_create_learner
from .models import User


def signing_key_set_is_configured() -> bool:
    raw = settings.JWT_AUTH.get("JWT_PUBLIC_SIGNING_JWK_SET") or ""
    try:
        return bool(json.loads(raw).get("keys"))
    except (ValueError, AttributeError):
        return False


def jwt_decode_handler(token: str) -> dict[str, Any]:
    # edx-drf-extensions 10.x treats an empty public key set as "verified" and would accept an HS256
    # token signed with any key. Refuse every token until a key set is configured (core.W001).
    if not signing_key_set_is_configured():
        raise jwt.InvalidTokenError("JWT_PUBLIC_SIGNING_JWK_SET is empty; JWT authentication is disabled.")
    payload: dict[str, Any] = edx_jwt_decode_handler(token)
    return payload


# edx-drf-extensions ships no types, so JwtAuthentication is Any to mypy.
class LearnerJwtAuthentication(JwtAuthentication):  # type: ignore[misc]
    """Resolves the token's user by LMS id first, so a learner first seen in a grade event (id only)
    is completed rather than duplicated when they call the API."""

    def authenticate_credentials(self, payload: dict[str, Any]) -> User:
        username = payload.get("preferred_username") or payload.get("username")
        if not username:
            raise exceptions.AuthenticationFailed("JWT must include a preferred_username or username claim.")
        facts = {
            "lms_user_id": payload.get("user_id"),
            "username": username,
            "email": payload.get("email"),
            "full_name": payload.get("name"),
        }
        # Most requests come from learners known as the token describes them: one read, no lock.
        user = find_current_learner(**facts)
        if user is None:
            try:
                user = get_or_create_learner(**facts)
            except DomainError as exc:
                raise exceptions.AuthenticationFailed(exc.message) from exc
        if not user.is_active:
            raise exceptions.AuthenticationFailed("This account is deactivated.")
        is_staff = bool(payload.get("administrator", False))
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        return user
