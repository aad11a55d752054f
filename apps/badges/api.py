"""The badges app's public interface."""

from __future__ import annotations

from .exceptions import BadgesError, BadgesErrorCode, BadgesNotFoundError, DataRuleError
from .services import activate_badge_template, archive_badge_template

__all__ = [
    "BadgesError",
    "BadgesErrorCode",
    "BadgesNotFoundError",
    "DataRuleError",
    "activate_badge_template",
    "archive_badge_template",
]
