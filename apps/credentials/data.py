"""Frozen views of credentials and grades that cross app boundaries."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from apps.core.data import LearnerIdentity

if TYPE_CHECKING:
    from django.db.models import Model


@dataclass(frozen=True)
class GradeData:
    course_run_id: int
    letter_grade: str
    percent_grade: Decimal
    passed: bool
    passed_timestamp: datetime.datetime | None
    modified: datetime.datetime


@dataclass(frozen=True)
class CourseCertificateData:
    uuid: uuid.UUID
    course_run_id: int
    mode: str
    status: str
    download_url: str
    visible_date: datetime.datetime | None
    awarded_at: datetime.datetime | None


@dataclass(frozen=True)
class ProgramCertificateStatusData:
    uuid: uuid.UUID
    status: str
    visible_date: datetime.datetime | None
    awarded_at: datetime.datetime | None


@dataclass(frozen=True)
class ProgramCompletionData:
    """One learner's program after the completion engine looked at it."""

    program_uuid: uuid.UUID
    complete: bool
    status: str | None  # of the learner's program certificate; None: they never had one
    changed: bool  # awarded or revoked by this evaluation (an event was enqueued)


@dataclass(frozen=True)
class SignatoryData:
    """A signatory of a course certificate configuration, as the LMS names them."""

    name: str
    title: str
    organization: str = ""


@dataclass(frozen=True)
class VisibleDatesData:
    """How many awarded credentials got a new visible date after a course run's schedule changed."""

    course_certificates: int
    program_certificates: int


@dataclass(frozen=True)
class CourseCertificateUpdate:
    """The LMS's word on one learner's course certificate in a run and mode: awarded, or not."""

    learner: LearnerIdentity
    course_run_key: str
    mode: str
    is_awarded: bool
    download_url: str = ""


@dataclass(frozen=True)
class GradeUpdate:
    """The LMS's word on one learner's grade in a course run. None for the percent or the letter
    keeps the stored one (a passing-status event carries neither); None for `passed` too (the v2 REST
    API's grades carry no passing status: a new grade starts not passed) and for `verified` (a new
    grade starts verified, as the original service's did)."""

    learner: LearnerIdentity
    course_run_key: str
    percent_grade: Decimal | None
    passed: bool | None
    letter_grade: str | None = ""
    passed_at: datetime.datetime | None = None
    lms_last_updated_at: datetime.datetime | None = None
    verified: bool | None = None


@dataclass(frozen=True)
class CredentialChange:
    """Award or revoke one learner's credential of a configuration that another app owns (a badge
    template, a PDF credential configuration): the configuration is named by its model and pk."""

    user_id: int
    configuration_model: type[Model]
    configuration_id: int
    award: bool


@dataclass(frozen=True)
class UserCredentialData:
    """A learner's credential of some configuration, as it is (or as a change left it)."""

    uuid: uuid.UUID
    user_id: int
    configuration_id: int
    status: str
    awarded_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    # True only in what a change returns, and only when the status really changed (not awarded →
    # awarded, awarded → revoked): what the owner announces.
    status_changed: bool = False


@dataclass(frozen=True)
class LearnerNameData:
    """A learner and the name to print for them: their full name, else their username; "" when the
    service knows neither (a learner seen only by LMS user id, through a grade event)."""

    user_id: int
    name: str
