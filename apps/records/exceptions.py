from __future__ import annotations

import enum

from apps.core.api import NotFoundError


class RecordsErrorCode(enum.Enum):
    PROGRAM_NOT_FOUND = "program_not_found"
    SHARE_NOT_FOUND = "share_not_found"


class RecordsNotFoundError(NotFoundError):
    """A program or share that does not exist, or is not the caller's to see (both are 404s)."""
