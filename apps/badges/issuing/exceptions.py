from __future__ import annotations

import enum

from apps.core.api import DomainError


class IssuingErrorCode(enum.Enum):
    NO_KEY = "no_key"
    UNDECRYPTABLE = "undecryptable"
    TOKEN_REFUSED = "token_refused"
    ORGANIZATION_NOT_FOUND = "organization_not_found"
    BACKEND_DISABLED = "backend_disabled"


class IssuingError(DomainError):
    pass
