from __future__ import annotations

import enum

from apps.core.api import DomainError, NotFoundError


class BadgesErrorCode(enum.Enum):
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_OPERATOR = "unknown_operator"
    UNSUPPORTED_OPERATOR = "unsupported_operator"
    INVALID_VALUE = "invalid_value"
    TYPE_MISMATCH = "type_mismatch"
    NO_REQUIREMENTS = "no_requirements"
    TEMPLATE_NOT_FOUND = "template_not_found"
    NO_LEARNER = "no_learner"
    NOT_FED = "not_fed"
    NOT_ACTIVE = "not_active"


class BadgesError(DomainError):
    pass


class DataRuleError(BadgesError):
    """A data rule that cannot be parsed for its field, or cannot be compared with a payload."""


class BadgesNotFoundError(NotFoundError):
    pass
