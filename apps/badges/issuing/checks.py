"""Start-up checks for badge issuing (installed only when CREDLY_ENABLED or ACCREDIBLE_ENABLED)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .crypto import is_valid_key

BADGE_EVENT_TYPES = ("org.openedx.learning.badge.awarded.v1", "org.openedx.learning.badge.revoked.v1")


@register()
def check_token_keys(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if not settings.BADGE_ISSUER_TOKEN_KEYS:
        return [
            Error(
                "BADGE_ISSUER_TOKEN_KEYS is empty: issuer API tokens are stored encrypted with it.",
                hint="Generate one: python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
                id="badge_issuing.E001",
            )
        ]
    bad = [str(index) for index, key in enumerate(settings.BADGE_ISSUER_TOKEN_KEYS) if not is_valid_key(key)]
    if bad:
        return [
            Error(
                f"BADGE_ISSUER_TOKEN_KEYS has keys that are not Fernet keys (positions {', '.join(bad)}).",
                id="badge_issuing.E002",
            )
        ]
    return []


@register()
def check_badge_events_consumed(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Issuing follows our own badge events: the consumer must read the topic they are published on."""
    topics = {settings.EVENT_BUS_PRODUCER_TOPICS.get(event_type) for event_type in BADGE_EVENT_TYPES}
    missing = sorted(topic or "(none)" for topic in topics if topic not in settings.EVENT_BUS_CONSUMER_TOPICS)
    if missing:
        return [
            Error(
                f"EVENT_BUS_CONSUMER_TOPICS lacks {', '.join(missing)}, where BADGE_AWARDED/REVOKED are published "
                "(EVENT_BUS_BADGE_TOPIC): badges would never be issued on Credly or Accredible.",
                id="badge_issuing.E003",
            )
        ]
    return []
