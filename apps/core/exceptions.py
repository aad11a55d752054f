from __future__ import annotations

import enum
from typing import Any


class DomainError(Exception):
    """Base of every app's error types: a stable code, a message and, optionally, the field at fault.

    The REST exception handler turns it into a 400 (or `status_code`) with field errors.
    """

    status_code = 400

    def __init__(self, message: str, *, code: enum.Enum, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message}


class NotFoundError(DomainError):
    """The thing asked for does not exist, or is not the caller's to see."""

    status_code = 404


class CoreErrorCode(enum.Enum):
    IDENTITY_CONFLICT = "identity_conflict"
    MISSING_IDENTITY = "missing_identity"


class LearnerIdentityError(DomainError):
    pass
