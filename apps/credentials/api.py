"""The credentials app's public interface for other apps."""

from __future__ import annotations

from .exceptions import CredentialsError, CredentialsNotFoundError
from .selectors import (
    get_program_certificate_status,
    list_course_results,
    list_learner_course_run_ids,
    list_program_certificate_statuses,
)
from .services import (
    award_course_certificate,
    award_program_certificate,
    configure_course_certificate,
    configure_program_certificate,
    record_grade,
    revoke_course_certificate,
    revoke_program_certificate,
)

__all__ = [
    "CredentialsError",
    "CredentialsNotFoundError",
    "award_course_certificate",
    "award_program_certificate",
    "configure_course_certificate",
    "configure_program_certificate",
    "get_program_certificate_status",
    "list_course_results",
    "list_learner_course_run_ids",
    "list_program_certificate_statuses",
    "record_grade",
    "revoke_course_certificate",
    "revoke_program_certificate",
]
