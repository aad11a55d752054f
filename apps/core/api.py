"""The core app's public interface: learner identity, shared errors and permissions helpers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from .exceptions import CoreErrorCode, DomainError, LearnerIdentityError, NotFoundError
from .models import TimeStampedModel, User

__all__ = [
    "DomainError",
    "LearnerIdentityError",
    "NotFoundError",
    "TimeStampedModel",
    "User",
    "get_learner",
    "get_or_create_learner",
    "is_privileged",
    "lock_learner",
    "request_user",
]

log = logging.getLogger(__name__)


def is_privileged(user: User) -> bool:
    """Staff and the configured service accounts may see and change every learner's data."""
    return bool(user.is_staff or user.is_superuser or user.username in settings.CREDENTIALS_SERVICE_USERNAMES)


def request_user(request: HttpRequest | Request) -> User:
    """The request's authenticated User; raise NotAuthenticated for an anonymous request."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def get_learner(*, username: str) -> User:
    """Return the user with this username; raise NotFoundError otherwise."""
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFoundError(
            f"No learner {username!r}.", code=CoreErrorCode.MISSING_IDENTITY, field="username"
        ) from None


def lock_learner(*, user_id: int) -> User:
    """Lock the user's row until the caller's transaction ends, and return it: changes to one
    learner's data that depend on each other (their credentials) queue up behind it. Must run inside
    a transaction; raises User.DoesNotExist."""
    return User.objects.select_for_update().get(pk=user_id)


def get_or_create_learner(
    *,
    lms_user_id: int | None = None,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
) -> User:
    """Find the learner by LMS id, else by username, creating or completing them. Idempotent.

    The LMS id is authoritative: when a username now belongs to another LMS id (a rename in the
    LMS), the stale holder loses it. Two partial records of one person (one with only the id, one with
    only the username) raise LearnerIdentityError rather than guess.
    """
    if lms_user_id is None and not username:
        raise LearnerIdentityError(
            "A learner needs an LMS user id or a username.", code=CoreErrorCode.MISSING_IDENTITY, field="username"
        )
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _get_or_create_learner_locked(
                    lms_user_id=lms_user_id, username=username or None, email=email, full_name=full_name
                )
        except IntegrityError:
            # A concurrent call created the same learner first; the second pass finds it.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _get_or_create_learner_locked(
    *, lms_user_id: int | None, username: str | None, email: str | None, full_name: str | None
) -> User:
    candidates = User.objects.select_for_update().order_by("pk")
    by_id = candidates.filter(lms_user_id=lms_user_id).first() if lms_user_id is not None else None
    by_name = candidates.filter(username=username).first() if username else None

    if by_id and by_name and by_id.pk != by_name.pk:
        if by_name.lms_user_id is None:
            raise LearnerIdentityError(
                f"LMS user {lms_user_id} and username {username!r} are two separate records here.",
                code=CoreErrorCode.IDENTITY_CONFLICT,
            )
        log.info("Username %r moved from LMS user %s to %s", username, by_name.lms_user_id, lms_user_id)
        by_name.username = None
        by_name.save(update_fields=["username"])
        by_name = None

    user = by_id or by_name
    if user is None:
        user = User(lms_user_id=lms_user_id, username=username)
        user.set_unusable_password()
    elif by_name and lms_user_id is not None and by_name.lms_user_id not in (None, lms_user_id):
        # The username belongs to a different LMS id and nobody holds this id: a new learner took
        # over a freed username.
        by_name.username = None
        by_name.save(update_fields=["username"])
        user = User(lms_user_id=lms_user_id, username=username)
        user.set_unusable_password()

    changed = user.pk is None
    for field, value in (
        ("lms_user_id", lms_user_id),
        ("username", username),
        ("email", email),
        ("full_name", full_name),
    ):
        if value not in (None, "") and getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if changed:
        user.save()
    return user
