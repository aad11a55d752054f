from __future__ import annotations

import enum

from apps.core.api import DomainError, NotFoundError


class CatalogErrorCode(enum.Enum):
    PROGRAM_NOT_FOUND = "program_not_found"
    COURSE_RUN_NOT_FOUND = "course_run_not_found"
    COURSE_NOT_FOUND = "course_not_found"
    INVALID_COURSE_RUN = "invalid_course_run"
    INVALID_CATALOG = "invalid_catalog"


class CatalogError(DomainError):
    pass


class CatalogNotFoundError(NotFoundError):
    pass
