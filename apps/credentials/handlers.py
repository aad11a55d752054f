"""Receivers of the LMS's certificate, grade and course authoring events: each reads the payload and
calls one service.

They run inside the event bus's consumer wrapper (one savepoint per event, at most once in effect).
Certificate events and grade events also have a batch handler each: the wrapper hands it each run of
consecutive such events of a batch, applied together in a fixed number of queries, and falls back to
the single-event handlers when it raises. They never catch errors: an event that cannot be applied
(an unknown course run, a bad grade) raises, and the wrapper parks it with the reason. A course
authoring event about a course outside the catalog is no error: the service ignores it. The learner
comes from the payload; a grade summary names only the LMS user id, so such a learner may exist with
the id alone until another event names them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from openedx_events.content_authoring.data import CertificateConfigData, CourseCatalogData
from openedx_events.content_authoring.signals import (
    COURSE_CATALOG_INFO_CHANGED,
    COURSE_CERTIFICATE_CONFIG_CHANGED,
    COURSE_CERTIFICATE_CONFIG_DELETED,
)
from openedx_events.learning.data import (
    CcxCourseData,
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

from apps.core.api import LearnerIdentity

from . import services
from .data import CourseCertificateUpdate, GradeUpdate, SignatoryData

# The LMS's only certificate status that means "awarded" (GeneratedCertificate.is_valid()); the LMS
# itself reports every other status to Credentials as a revocation.
DOWNLOADABLE = "downloadable"

# CourseScheduleData.pacing in the catalog's words. Any other value goes through as it is, and the
# catalog rejects it (the event is parked).
CATALOG_PACING = {"instructor": "instructor_paced", "self": "self_paced"}


def handle_certificate_created(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    handle_certificate_events([(metadata, {"certificate": certificate})])


def handle_certificate_changed(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    handle_certificate_events([(metadata, {"certificate": certificate})])


def handle_certificate_revoked(*, metadata: EventsMetadata, certificate: CertificateData) -> None:
    handle_certificate_events([(metadata, {"certificate": certificate})])


def handle_certificate_events(events: list[tuple[EventsMetadata, dict[str, Any]]]) -> None:
    """CERTIFICATE_CREATED, _CHANGED and _REVOKED, in order, in one service call."""
    services.record_course_certificates(
        updates=[_certificate_update(metadata, data["certificate"]) for metadata, data in events]
    )


def handle_persistent_grade_summary_changed(*, metadata: EventsMetadata, grade: PersistentCourseGradeData) -> None:
    handle_grade_events([(metadata, {"grade": grade})])


def handle_course_passing_status_updated(
    *, metadata: EventsMetadata, course_passing_status: CoursePassingStatusData
) -> None:
    handle_grade_events([(metadata, {"course_passing_status": course_passing_status})])


def handle_ccx_course_passing_status_updated(
    *, metadata: EventsMetadata, course_passing_status: CcxCoursePassingStatusData
) -> None:
    handle_grade_events([(metadata, {"course_passing_status": course_passing_status})])


def handle_grade_events(events: list[tuple[EventsMetadata, dict[str, Any]]]) -> None:
    """PERSISTENT_GRADE_SUMMARY_CHANGED, COURSE_PASSING_STATUS_UPDATED and CCX_COURSE_PASSING_STATUS_UPDATED,
    in order, in one service call."""
    services.record_grades(updates=[_GRADE_UPDATES[metadata.event_type](metadata, **data) for metadata, data in events])


def handle_course_catalog_info_changed(*, metadata: EventsMetadata, catalog_info: CourseCatalogData) -> None:
    schedule = catalog_info.schedule_data
    services.record_course_run_schedule(
        course_run_key=str(catalog_info.course_key),
        title=catalog_info.name,
        start=schedule.start,
        end=schedule.end,
        pacing_type=CATALOG_PACING.get(schedule.pacing, schedule.pacing),
        lms_last_updated_at=metadata.time,
    )


def handle_course_certificate_config_changed(
    *, metadata: EventsMetadata, certificate_config: CertificateConfigData
) -> None:
    # The signatures' images (bytes in the payload) are not kept: see the README.
    services.record_course_certificate_configuration(
        course_run_key=str(certificate_config.course_key),
        mode=certificate_config.certificate_type,
        title=certificate_config.title,
        is_active=certificate_config.is_active,
        signatories=[
            SignatoryData(name=s.name, title=s.title, organization=s.organization or "")
            for s in certificate_config.signatories
        ],
        lms_last_updated_at=metadata.time,
    )


def handle_course_certificate_config_deleted(
    *, metadata: EventsMetadata, certificate_config: CertificateConfigData
) -> None:
    services.deactivate_course_certificate_configuration(
        course_run_key=str(certificate_config.course_key),
        mode=certificate_config.certificate_type,
        lms_last_updated_at=metadata.time,
    )


def _certificate_update(metadata: EventsMetadata, certificate: CertificateData) -> CourseCertificateUpdate:
    return CourseCertificateUpdate(
        learner=_identity(certificate.user, name=certificate.name),
        course_run_key=str(certificate.course.course_key),
        mode=certificate.mode,
        is_awarded=metadata.event_type != CERTIFICATE_REVOKED.event_type and certificate.current_status == DOWNLOADABLE,
        download_url=certificate.download_url or "",
    )


def _grade_summary(metadata: EventsMetadata, *, grade: PersistentCourseGradeData) -> GradeUpdate:
    return GradeUpdate(
        learner=LearnerIdentity(lms_user_id=grade.user_id),
        course_run_key=str(grade.course.course_key),
        # Through str: the float's shortest repr, not its binary expansion.
        percent_grade=Decimal(str(grade.percent_grade)),
        letter_grade=grade.letter_grade,
        passed=grade.passed_timestamp is not None,
        passed_at=grade.passed_timestamp,
        lms_last_updated_at=metadata.time,
    )


def _passing_status(
    metadata: EventsMetadata, *, course_passing_status: CoursePassingStatusData | CcxCoursePassingStatusData
) -> GradeUpdate:
    course = course_passing_status.course
    # The catalog knows course runs, not the custom courses (CCX) built on them: a CCX learner's
    # passing state is recorded on the CCX's master run.
    run_key = course.master_course_key if isinstance(course, CcxCourseData) else course.course_key
    return GradeUpdate(
        learner=_identity(course_passing_status.user),
        course_run_key=str(run_key),
        percent_grade=None,
        letter_grade=None,
        passed=course_passing_status.is_passing,
        lms_last_updated_at=metadata.time,
    )


_GRADE_UPDATES: dict[str, Callable[..., GradeUpdate]] = {
    PERSISTENT_GRADE_SUMMARY_CHANGED.event_type: _grade_summary,
    COURSE_PASSING_STATUS_UPDATED.event_type: _passing_status,
    CCX_COURSE_PASSING_STATUS_UPDATED.event_type: _passing_status,
}


def _identity(user: UserData, *, name: str = "") -> LearnerIdentity:
    return LearnerIdentity(
        lms_user_id=user.id, username=user.pii.username, email=user.pii.email, full_name=user.pii.name or name
    )


# Registered with the event bus in CredentialsConfig.ready().
HANDLERS: dict[OpenEdxPublicSignal, Callable[..., None]] = {
    CERTIFICATE_CREATED: handle_certificate_created,
    CERTIFICATE_CHANGED: handle_certificate_changed,
    CERTIFICATE_REVOKED: handle_certificate_revoked,
    PERSISTENT_GRADE_SUMMARY_CHANGED: handle_persistent_grade_summary_changed,
    COURSE_PASSING_STATUS_UPDATED: handle_course_passing_status_updated,
    CCX_COURSE_PASSING_STATUS_UPDATED: handle_ccx_course_passing_status_updated,
    COURSE_CATALOG_INFO_CHANGED: handle_course_catalog_info_changed,
    COURSE_CERTIFICATE_CONFIG_CHANGED: handle_course_certificate_config_changed,
    COURSE_CERTIFICATE_CONFIG_DELETED: handle_course_certificate_config_deleted,
}
BATCH_HANDLERS: dict[OpenEdxPublicSignal, Callable[[list[tuple[EventsMetadata, dict[str, Any]]]], None]] = {
    CERTIFICATE_CREATED: handle_certificate_events,
    CERTIFICATE_CHANGED: handle_certificate_events,
    CERTIFICATE_REVOKED: handle_certificate_events,
    PERSISTENT_GRADE_SUMMARY_CHANGED: handle_grade_events,
    COURSE_PASSING_STATUS_UPDATED: handle_grade_events,
    CCX_COURSE_PASSING_STATUS_UPDATED: handle_grade_events,
}
