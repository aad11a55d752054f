"""Frozen views of learner records: what selectors return and serializers, the page and the CSV show.

Nothing here names an email address or an LMS user id: records are shown to people other than the
learner (public share links), so those fields are never loaded into a record in the first place.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal

from apps.catalog.data import OrganizationData


class RecordCertificateStatus(enum.StrEnum):
    AWARDED = "awarded"
    REVOKED = "revoked"
    NONE = "none"

    @property
    def label(self) -> str:
        """For people to read on the public page."""
        return {"awarded": "Awarded", "revoked": "Revoked", "none": "Not earned"}[self.value]


@dataclass(frozen=True)
class LearnerData:
    username: str
    full_name: str


@dataclass(frozen=True)
class GradeRecordData:
    """The learner's best grade in a course, and the run they earned it in."""

    course_run_key: str
    letter_grade: str
    percent_grade: Decimal
    passed: bool

    @property
    def percent(self) -> Decimal:
        """The grade as a percentage with two decimals, for people to read."""
        return (self.percent_grade * 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class CourseCertificateRecordData:
    status: RecordCertificateStatus
    mode: str | None = None
    course_run_key: str | None = None
    visible_date: datetime.datetime | None = None
    issued_date: datetime.datetime | None = None


@dataclass(frozen=True)
class CourseRecordData:
    course_key: str
    title: str
    best_grade: GradeRecordData | None
    certificate: CourseCertificateRecordData
    completed: bool


@dataclass(frozen=True)
class ProgramInfoData:
    uuid: uuid.UUID
    title: str
    type: str
    organizations: tuple[OrganizationData, ...]


@dataclass(frozen=True)
class ProgramRecordData:
    program: ProgramInfoData
    learner: LearnerData
    courses: tuple[CourseRecordData, ...]
    completed_courses: int
    total_courses: int
    completion_percent: float
    certificate_status: RecordCertificateStatus
    certificate_issued_date: datetime.datetime | None
    last_updated: datetime.datetime | None


@dataclass(frozen=True)
class ProgramRecordSummaryData:
    uuid: uuid.UUID
    title: str
    type: str
    completed_courses: int
    total_courses: int
    completion_percent: float
    certificate_status: RecordCertificateStatus
    last_updated: datetime.datetime | None
