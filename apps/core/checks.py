"""Start-up checks for settings that Django cannot validate by itself; each message names the setting."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

REDIS_SCHEMES = {"redis", "rediss", "unix"}


@register()
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development key while DEBUG is off.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE).",
                id="core.E001",
            )
        ]
    return []


@register()
def check_redis_url(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    scheme = urlparse(settings.REDIS_URL).scheme
    if scheme not in REDIS_SCHEMES:
        return [
            Error(
                f"REDIS_URL has scheme {scheme!r}; expected one of {sorted(REDIS_SCHEMES)}.",
                hint="For example redis://127.0.0.1:6379/0, or leave REDIS_URL unset for the embedded Redis.",
                id="core.E002",
            )
        ]
    return []


@register()
def check_jwt_key_set(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    raw = settings.JWT_AUTH.get("JWT_PUBLIC_SIGNING_JWK_SET") or ""
    if not raw:
        message = "JWT_PUBLIC_SIGNING_JWK_SET is empty, so JWT authentication is disabled (every token gets 401)."
        hint = "Set it to the LMS's public JWK set (the LMS's JWT_PUBLIC_SIGNING_JWK_SET)."
        if settings.DEBUG:
            return [Warning(message, hint=hint, id="core.W001")]
        return [Error(message, hint=hint, id="core.E003")]
    try:
        keys = json.loads(raw).get("keys")
    except (ValueError, AttributeError):
        keys = None
    if not keys:
        return [Error("JWT_PUBLIC_SIGNING_JWK_SET is not a JSON JWK set with at least one key.", id="core.E004")]
    return []
