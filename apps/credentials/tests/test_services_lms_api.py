"""The services behind the LMS's v2 API: a course run's certificate configuration and available date."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from apps.catalog import api as catalog_api
from apps.catalog.models import CourseRun, PacingType
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.exceptions import CredentialsError, CredentialsErrorCode
from apps.credentials.models import CourseCertificate, UserCredential
from apps.credentials.tests.factories import CourseCertificateFactory, SignatoryFactory

pytestmark = pytest.mark.django_db

LATER = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)


def awarded_in(run: CourseRun) -> UserCredential:
    """A learner's verified certificate awarded in the run now."""
    CourseCertificateFactory(course_run=run, certificate_type="verified")
    return services.award_course_certificate(user=UserFactory(), course_run_key=run.key, mode="verified")


def test_it_creates_the_configuration_and_sets_the_runs_date() -> None:
    # given
    run = CourseRunFactory()
    # when
    data = services.record_course_certificate_availability(
        course_run_key=run.key, mode="honor", is_active=True, certificate_available_date=LATER
    )
    # then
    configuration = CourseCertificate.objects.get(course_run=run, certificate_type="honor")
    assert (data.id, data.course_run_key, data.mode, data.is_active) == (configuration.pk, run.key, "honor", True)
    assert data.certificate_available_date == LATER
    run.refresh_from_db()
    assert run.certificate_available_date == LATER


def test_it_changes_only_is_active_of_an_existing_configuration() -> None:
    # given
    configuration = CourseCertificateFactory(certificate_type="verified", title="Kept")
    signatory = SignatoryFactory()
    configuration.signatories.add(signatory)
    # when
    data = services.record_course_certificate_availability(
        course_run_key=configuration.course_run.key, mode="verified", is_active=False, certificate_available_date=None
    )
    # then
    configuration.refresh_from_db()
    assert data.id == configuration.pk
    assert configuration.is_active is False
    assert configuration.title == "Kept"
    assert list(configuration.signatories.all()) == [signatory]


def test_a_moved_date_recomputes_the_visible_dates_of_what_was_awarded() -> None:
    # given: an instructor-paced run that ended; its certificate was visible at once
    run = CourseRunFactory(pacing_type=PacingType.INSTRUCTOR_PACED)
    credential = awarded_in(run)
    assert credential.visible_date is None
    # when
    services.record_course_certificate_availability(
        course_run_key=run.key, mode="verified", is_active=True, certificate_available_date=LATER
    )
    # then
    credential.refresh_from_db()
    assert credential.visible_date == LATER


def test_an_unchanged_date_recomputes_nothing() -> None:
    # given: the date already set, and a visible date the recomputation would change
    run = CourseRunFactory(pacing_type=PacingType.INSTRUCTOR_PACED, certificate_available_date=LATER)
    credential = awarded_in(run)
    marker = LATER + datetime.timedelta(days=1)
    UserCredential.objects.filter(pk=credential.pk).update(visible_date=marker)
    # when
    services.record_course_certificate_availability(
        course_run_key=run.key, mode="verified", is_active=True, certificate_available_date=LATER
    )
    # then
    credential.refresh_from_db()
    assert credential.visible_date == marker


def test_a_self_paced_runs_date_moves_no_visible_date() -> None:
    # given: self-paced certificates are visible from their award, whatever the date
    run = CourseRunFactory(pacing_type=PacingType.SELF_PACED)
    credential = awarded_in(run)
    # when
    services.record_course_certificate_availability(
        course_run_key=run.key, mode="verified", is_active=True, certificate_available_date=LATER
    )
    # then
    credential.refresh_from_db()
    assert credential.visible_date is None
    run.refresh_from_db()
    assert run.certificate_available_date == LATER  # stored all the same


def test_a_run_of_a_catalog_course_is_created() -> None:
    # given
    course = CourseFactory(key="edX+New")
    # when
    services.record_course_certificate_availability(
        course_run_key="course-v1:edX+New+2025", mode="verified", is_active=True, certificate_available_date=LATER
    )
    # then
    run = CourseRun.objects.get(key="course-v1:edX+New+2025")
    assert run.course == course
    assert run.certificate_available_date == LATER


def test_a_run_of_a_course_outside_the_catalog_raises_and_writes_nothing() -> None:
    with pytest.raises(catalog_api.CatalogNotFoundError):
        services.record_course_certificate_availability(
            course_run_key="course-v1:Elsewhere+X+1", mode="verified", is_active=True, certificate_available_date=None
        )
    assert not CourseRun.objects.exists()
    assert not CourseCertificate.objects.exists()


def test_an_unknown_mode_raises_and_writes_nothing() -> None:
    # given
    run = CourseRunFactory()
    # when
    with pytest.raises(CredentialsError) as error:
        services.record_course_certificate_availability(
            course_run_key=run.key, mode="platinum", is_active=True, certificate_available_date=LATER
        )
    # then
    assert error.value.code is CredentialsErrorCode.UNKNOWN_MODE
    run.refresh_from_db()
    assert run.certificate_available_date is None
    assert not CourseCertificate.objects.exists()


def test_set_certificate_available_date_reports_before_and_after() -> None:
    # given
    run = CourseRunFactory(certificate_available_date=None)
    # when
    change = catalog_api.set_certificate_available_date(key=run.key, certificate_available_date=LATER)
    again = catalog_api.set_certificate_available_date(key=run.key, certificate_available_date=LATER)
    # then
    assert change.before is not None and change.after is not None
    assert (change.before.certificate_available_date, change.after.certificate_available_date) == (None, LATER)
    assert change.changed and not again.changed


def test_set_certificate_available_date_of_an_unknown_run_raises() -> None:
    with pytest.raises(catalog_api.CatalogNotFoundError):
        catalog_api.set_certificate_available_date(key="course-v1:No+Such+Run", certificate_available_date=None)
