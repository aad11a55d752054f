"""Reads: learner program records, built from catalog and credentials data. Query counts are pinned by
tests and do not grow with the number of courses or programs."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from apps.catalog import api as catalog_api
from apps.catalog.data import CourseData, ProgramData
from apps.core.api import User
from apps.credentials import api as credentials_api
from apps.credentials.data import CourseCertificateData, GradeData, ProgramCertificateStatusData

from .data import (
    CourseCertificateRecordData,
    CourseRecordData,
    GradeRecordData,
    LearnerData,
    ProgramInfoData,
    ProgramRecordData,
    ProgramRecordSummaryData,
    RecordCertificateStatus,
)
from .exceptions import RecordsErrorCode, RecordsNotFoundError
from .models import ProgramRecordShare

# catalog.api.list_programs_with_courses leaves deleted programs out; detail and share views agree.
_DELETED = "deleted"


def get_program_record(*, user: User, program_uuid: uuid.UUID) -> ProgramRecordData:
    """The learner's record in the program, in six queries whatever its size; raises
    RecordsNotFoundError for an unknown or deleted program."""
    program = get_live_program(program_uuid=program_uuid)
    run_ids = program.course_run_ids
    activity = _LearnerActivity.load(user=user, course_run_ids=run_ids)
    program_certificate = credentials_api.get_program_certificate_status(user=user, program_id=program.id)
    return _build_record(user=user, program=program, activity=activity, program_certificate=program_certificate)


def list_program_records(*, user: User) -> list[ProgramRecordSummaryData]:
    """Summaries of every program holding a course run the learner has a grade or certificate in,
    by title, in eight queries whatever the number of programs (two when the learner has no activity)."""
    learner_run_ids = credentials_api.list_learner_course_run_ids(user=user)
    if not learner_run_ids:
        return []
    programs = catalog_api.list_programs_with_courses(course_run_ids=learner_run_ids)
    activity = _LearnerActivity.load(
        user=user, course_run_ids={run_id for program in programs for run_id in program.course_run_ids}
    )
    certificates = credentials_api.list_program_certificate_statuses(
        user=user, program_ids=[program.id for program in programs]
    )
    summaries = []
    for program in programs:
        record = _build_record(
            user=user, program=program, activity=activity, program_certificate=certificates.get(program.id)
        )
        summaries.append(
            ProgramRecordSummaryData(
                uuid=record.program.uuid,
                title=record.program.title,
                type=record.program.type,
                completed_courses=record.completed_courses,
                total_courses=record.total_courses,
                completion_percent=record.completion_percent,
                certificate_status=record.certificate_status,
                last_updated=record.last_updated,
            )
        )
    return summaries


def get_shared_program_record(*, share_uuid: uuid.UUID) -> ProgramRecordData:
    """The record behind an active public share link, for anyone holding the link; raises
    RecordsNotFoundError when the link is unknown or revoked."""
    share = (
        ProgramRecordShare.objects.select_related("user")
        .annotate(program_uuid=F("program__uuid"))
        .filter(uuid=share_uuid, revoked_at__isnull=True)
        .first()
    )
    if share is None:
        raise RecordsNotFoundError(
            f"No shared record {share_uuid}.", code=RecordsErrorCode.SHARE_NOT_FOUND, field="share_uuid"
        )
    return get_program_record(user=share.user, program_uuid=share.program_uuid)


def get_live_program(*, program_uuid: uuid.UUID) -> ProgramData:
    """The program with its courses and runs, in three queries; raises RecordsNotFoundError for an
    unknown or deleted program."""
    not_found = RecordsNotFoundError(
        f"No program {program_uuid}.", code=RecordsErrorCode.PROGRAM_NOT_FOUND, field="program_uuid"
    )
    try:
        program = catalog_api.get_program(program_uuid=program_uuid)
    except catalog_api.CatalogNotFoundError:
        raise not_found from None
    if program.status == _DELETED:
        raise not_found
    return program


# --- building a record ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _LearnerActivity:
    """The learner's grades and certificates in a set of runs, indexed by run id."""

    grades: dict[int, GradeData]
    certificates: dict[int, list[CourseCertificateData]]
    now: datetime.datetime

    @classmethod
    def load(cls, *, user: User, course_run_ids: Iterable[int]) -> _LearnerActivity:
        grades, certificates = credentials_api.list_course_results(user=user, course_run_ids=course_run_ids)
        by_run: dict[int, list[CourseCertificateData]] = defaultdict(list)
        for certificate in certificates:
            by_run[certificate.course_run_id].append(certificate)
        return cls(grades={g.course_run_id: g for g in grades}, certificates=by_run, now=timezone.now())

    def is_visible(self, visible_date: datetime.datetime | None) -> bool:
        # Instructor-paced runs award certificates before learners may show them
        # (UserCredential.visible_date); until then the record treats them as not earned yet.
        return visible_date is None or visible_date <= self.now


def _build_record(
    *,
    user: User,
    program: ProgramData,
    activity: _LearnerActivity,
    program_certificate: ProgramCertificateStatusData | None,
) -> ProgramRecordData:
    courses = tuple(_course_record(course=course, activity=activity) for course in program.courses)
    completed = sum(1 for course in courses if course.completed)
    certificate_status, certificate_issued_date = _program_certificate(program_certificate, activity=activity)

    run_ids = program.course_run_ids
    timestamps = [activity.grades[run_id].modified for run_id in run_ids if run_id in activity.grades]
    timestamps += [
        c.awarded_at
        for run_id in run_ids
        for c in activity.certificates.get(run_id, ())
        if c.awarded_at and activity.is_visible(c.visible_date)
    ]
    if certificate_issued_date:
        timestamps.append(certificate_issued_date)

    return ProgramRecordData(
        program=ProgramInfoData(
            uuid=program.uuid, title=program.title, type=program.type, organizations=program.organizations
        ),
        learner=LearnerData(username=user.username or "", full_name=user.get_full_name()),
        courses=courses,
        completed_courses=completed,
        total_courses=len(courses),
        completion_percent=round(100 * completed / len(courses), 2) if courses else 0.0,
        certificate_status=certificate_status,
        certificate_issued_date=certificate_issued_date,
        last_updated=max(timestamps, default=None),
    )


def _course_record(*, course: CourseData, activity: _LearnerActivity) -> CourseRecordData:
    run_keys = {run.id: run.key for run in course.runs}
    grades = [activity.grades[run_id] for run_id in run_keys if run_id in activity.grades]
    # Highest percent wins; a tie goes to a passing grade, then to the latest one.
    best = max(grades, key=lambda g: (g.percent_grade, g.passed, g.modified), default=None)
    certificate = _course_certificate(
        [c for run_id in run_keys for c in activity.certificates.get(run_id, ())], run_keys=run_keys, activity=activity
    )
    return CourseRecordData(
        course_key=course.key,
        title=course.title,
        best_grade=GradeRecordData(
            course_run_key=run_keys[best.course_run_id],
            letter_grade=best.letter_grade,
            percent_grade=best.percent_grade,
            passed=best.passed,
        )
        if best
        else None,
        certificate=certificate,
        completed=certificate.status == RecordCertificateStatus.AWARDED,
    )


def _course_certificate(
    certificates: list[CourseCertificateData], *, run_keys: dict[int, str], activity: _LearnerActivity
) -> CourseCertificateRecordData:
    awarded = [
        c
        for c in certificates
        if c.status == RecordCertificateStatus.AWARDED.value and activity.is_visible(c.visible_date)
    ]
    if awarded:
        # Several runs may have awarded one (a retake); the latest award is the one that stands.
        latest = max(awarded, key=lambda c: (c.awarded_at or activity.now, run_keys[c.course_run_id]))
        return CourseCertificateRecordData(
            status=RecordCertificateStatus.AWARDED,
            mode=latest.mode,
            course_run_key=run_keys[latest.course_run_id],
            visible_date=latest.visible_date,
            issued_date=latest.awarded_at,
        )
    revoked = sorted(
        (c for c in certificates if c.status == RecordCertificateStatus.REVOKED.value),
        key=lambda c: run_keys[c.course_run_id],
    )
    if revoked:
        last = revoked[-1]
        return CourseCertificateRecordData(
            status=RecordCertificateStatus.REVOKED, mode=last.mode, course_run_key=run_keys[last.course_run_id]
        )
    return CourseCertificateRecordData(status=RecordCertificateStatus.NONE)


def _program_certificate(
    certificate: ProgramCertificateStatusData | None, *, activity: _LearnerActivity
) -> tuple[RecordCertificateStatus, datetime.datetime | None]:
    if certificate is None:
        return RecordCertificateStatus.NONE, None
    if certificate.status == RecordCertificateStatus.REVOKED.value:
        return RecordCertificateStatus.REVOKED, None
    if certificate.status == RecordCertificateStatus.AWARDED.value and activity.is_visible(certificate.visible_date):
        return RecordCertificateStatus.AWARDED, certificate.awarded_at
    return RecordCertificateStatus.NONE, None
