"""Receivers of the LMS's certificate and grade events: each reads the payload and calls one service.

They run inside the event bus's consumer wrapper (one savepoint per event, at most once in effect).
They never catch errors: an event that cannot be applied (an unknown course run, a bad grade) raises,
and the wrapper parks it with the reason. The learner comes from the payload; a grade summary names
only the LMS user id, so such a learner may exist with the id alone until another event names them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from openedx_events.learning.data import (
    CcxCoursePassingStatusData,
    CertificateData,
    CoursePassingStatusData,
    PersistentCourseGradeData,
    UserData,
)
from openedx_events.learning.signals import (
    CCX_COURSE_PASSING_STATUS_UPDATED,
    CERTIFICATE_CHANGED,
    CERTIFICATE_CREATED,
    CERTIFICATE_REVOKED,
    COURSE_PASSING_STATUS_UPDATED,
    PERSISTENT_GRADE_SUMMARY_CHANGED,
)
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

from apps.core.api import User, get_or_create_learner

from . import services

# The LMS's only certificate status that means "awarded" (GeneratedCertificate.is_valid()); the LMS
# itself reports every other status to Credentials as a revocation.
DOWNLOADABLE = "downloadable"


def handle_certificate_created(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    _record_certificate(certificate, is_awarded=certificate.current_status == DOWNLOADABLE)


def handle_certificate_changed(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    _record_certificate(certificate, is_awarded=certificate.current_status == DOWNLOADABLE)


def handle_certificate_revoked(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    _record_certificate(certificate, is_awarded=False)


def handle_persistent_grade_summary_changed(*, metadata: EventsMetadata, grade: PersistentCourseGradeData) -> None:
    services.record_grade(
        user=get_or_create_learner(lms_user_id=grade.user_id),
        course_run_key=str(grade.course.course_key),
        # Through str: the float's shortest repr, not its binary expansion.
        percent_grade=Decimal(str(grade.percent_grade)),
        letter_grade=grade.letter_grade,
        passed=grade.passed_timestamp is not None,
        passed_at=grade.passed_timestamp,
        lms_last_updated_at=metadata.time,
    )


def handle_course_passing_status_updated(
    *, metadata: EventsMetadata, course_passing_status: CoursePassingStatusData
) -> None:
    services.record_grade(
        user=_learner(course_passing_status.user),
        course_run_key=str(course_passing_status.course.course_key),
        percent_grade=None,
        letter_grade=None,
        passed=course_passing_status.is_passing,
        lms_last_updated_at=metadata.time,
    )


def handle_ccx_course_passing_status_updated(
    *, metadata: EventsMetadata, course_passing_status: CcxCoursePassingStatusData
) -> None:
    # The catalog knows course runs, not the custom courses (CCX) built on them: the learner's passing
    # state is recorded on the CCX's master run.
    services.record_grade(
        user=_learner(course_passing_status.user),
        course_run_key=str(course_passing_status.course.master_course_key),
        percent_grade=None,
        letter_grade=None,
        passed=course_passing_status.is_passing,
        lms_last_updated_at=metadata.time,
    )


def _record_certificate(certificate: CertificateData, *, is_awarded: bool) -> None:
    services.record_course_certificate(
        user=_learner(certificate.user, name=certificate.name),
        course_run_key=str(certificate.course.course_key),
        mode=certificate.mode,
        is_awarded=is_awarded,
        download_url=certificate.download_url or "",
    )


def _learner(user: UserData, *, name: str = "") -> User:
    return get_or_create_learner(
        lms_user_id=user.id,
        username=user.pii.username,
        email=user.pii.email,
        full_name=user.pii.name or name,
    )


# Registered with the event bus in CredentialsConfig.ready().
HANDLERS: dict[OpenEdxPublicSignal, Callable[..., None]] = {
    CERTIFICATE_CREATED: handle_certificate_created,
    CERTIFICATE_CHANGED: handle_certificate_changed,
    CERTIFICATE_REVOKED: handle_certificate_revoked,
    PERSISTENT_GRADE_SUMMARY_CHANGED: handle_persistent_grade_summary_changed,
    COURSE_PASSING_STATUS_UPDATED: handle_course_passing_status_updated,
    CCX_COURSE_PASSING_STATUS_UPDATED: handle_ccx_course_passing_status_updated,
}
