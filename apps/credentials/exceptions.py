from __future__ import annotations

import enum

from apps.core.api import DomainError, NotFoundError


class CredentialsErrorCode(enum.Enum):
    NO_CONFIGURATION = "no_configuration"
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    INVALID_GRADE = "invalid_grade"
    UNKNOWN_MODE = "unknown_mode"
    NO_LMS_USER_ID = "no_lms_user_id"


class CredentialsError(DomainError):
    pass


class CredentialsNotFoundError(NotFoundError):
    pass
