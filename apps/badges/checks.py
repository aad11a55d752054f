"""Start-up checks for the badges settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from . import rules
from .exceptions import DataRuleError


@register()
def check_badges_event_types(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Every type fed to the badge processor must exist and name a learner in its data."""
    errors: list[CheckMessage] = []
    for event_type in settings.BADGES_EVENT_TYPES:
        try:
            learner = rules.learner_path(event_type)
        except DataRuleError:
            errors.append(
                Error(f"BADGES_EVENT_TYPES names {event_type!r}, not an openedx-events event type.", id="badges.E001")
            )
            continue
        if learner is None:
            errors.append(
                Error(
                    f"BADGES_EVENT_TYPES names {event_type}, whose data names no learner (UserData): "
                    "no badge could be awarded from it.",
                    id="badges.E002",
                )
            )
    return errors
