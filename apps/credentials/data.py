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
class CredentialAttributeData:
    """A named value the LMS attaches to a credential (the v2 API's `attributes`)."""

    name: str
    value: str


@dataclass(frozen=True)
class PublicCertificateData:
    """What the public page of a course or program certificate shows: never the learner's email."""

    uuid: uuid.UUID
    kind: str  # "course-run" or "program"
    learner_name: str
    title: str
    issuers: tuple[str, ...]
    issued_on: datetime.datetime
    status: str
    is_visible: bool


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


@dataclass(frozen=True)
class CourseCertificateConfigurationData:
    """A course run's certificate configuration in one mode, with the run's certificate available date:
    what the LMS's v2 API (`/api/v2/course_certificates/`) sets and shows."""

    id: int
    course_run_key: str
    mode: str
    is_active: bool
    certificate_available_date: datetime.datetime | None


@dataclass(frozen=True)
class LearnerCertStatusQuery:
    """One learner_cert_status look-up: a learner named by exactly one of username and LMS user id, and
    what to report on: courses (by uuid) and course runs (by key, or by uuid as a string)."""

    username: str | None = None
    lms_user_id: int | None = None
    course_uuids: frozenset[uuid.UUID] = frozenset()
    course_runs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LearnerGradeStatusData:
    letter_grade: str
    percent_grade: Decimal
    verified: bool


@dataclass(frozen=True)
class CourseCertificateStatusData:
    """A learner's course certificate (awarded or revoked) in one run and mode, with their grade there."""

    course_uuid: uuid.UUID
    course_run_uuid: uuid.UUID | None
    course_run_key: str
    mode: str
    status: str
    certificate_available_date: datetime.datetime | None
    grade: LearnerGradeStatusData | None


@dataclass(frozen=True)
class LearnerCertStatusData:
    """The answer to one `LearnerCertStatusQuery`: the learner as known here (as asked, when unknown,
    with no certificates) and their course certificates in what was asked about."""

    lms_user_id: int | None
    username: str | None
    certificates: tuple[CourseCertificateStatusData, ...]
