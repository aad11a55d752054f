from __future__ import annotations

import enum

from apps.core.api import DomainError, NotFoundError


class PdfCredentialsErrorCode(enum.Enum):
    BAD_PLUGIN = "bad_plugin"
    BAD_OPTIONS = "bad_options"
    UNKNOWN_ASSET = "unknown_asset"
    BAD_SCHEDULE = "bad_schedule"
    NOT_FOUND = "not_found"


class PdfCredentialsError(DomainError):
    pass


class PdfCredentialsNotFoundError(NotFoundError):
    pass
