"""Frozen views of credentials and grades that cross app boundaries."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from apps.core.data import LearnerIdentity


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
    keeps the stored one (a passing-status event carries neither)."""

    learner: LearnerIdentity
    course_run_key: str
    percent_grade: Decimal | None
    passed: bool
    letter_grade: str | None = ""
    passed_at: datetime.datetime | None = None
    lms_last_updated_at: datetime.datetime | None = None
