"""The credentials app's public interface for other apps."""

from __future__ import annotations

from .data import CredentialChange, LearnerNameData, UserCredentialData
from .exceptions import CredentialsError, CredentialsNotFoundError
from .models import CertificateMode, CredentialStatus
from .selectors import (
    get_program_certificate_status,
    list_course_certificate_holders,
    list_course_results,
    list_learner_course_run_ids,
    list_passing_learners,
    list_program_certificate_holders,
    list_program_certificate_statuses,
    list_user_credentials,
)
from .services import (
    apply_credential_changes,
    award_course_certificate,
    award_program_certificate,
    configure_course_certificate,
    configure_program_certificate,
    record_grade,
    revoke_course_certificate,
    revoke_program_certificate,
)

__all__ = [
    "CertificateMode",
    "CredentialChange",
    "CredentialStatus",
    "CredentialsError",
    "CredentialsNotFoundError",
    "LearnerNameData",
    "UserCredentialData",
    "apply_credential_changes",
    "award_course_certificate",
    "award_program_certificate",
    "configure_course_certificate",
    "configure_program_certificate",
    "get_program_certificate_status",
    "list_course_certificate_holders",
    "list_course_results",
    "list_learner_course_run_ids",
    "list_passing_learners",
    "list_program_certificate_holders",
    "list_program_certificate_statuses",
    "list_user_credentials",
    "record_grade",
    "revoke_course_certificate",
    "revoke_program_certificate",
]
