from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED, PROGRAM_CERTIFICATE_REVOKED

from apps.catalog.api import CatalogNotFoundError
from apps.catalog.tests.factories import ProgramFactory
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.exceptions import CredentialsError, CredentialsErrorCode
from apps.credentials.models import CredentialStatus, ProgramCertificate, UserCredential, UserGrade
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent
from apps.eventbus.services import relaying_inline


@pytest.mark.django_db
def test_award_course_certificate_is_idempotent() -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory()
    # when
    first = services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    second = services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    # then
    assert first.pk == second.pk
    assert first.uuid == second.uuid
    assert UserCredential.objects.filter(user=user).count() == 1
    assert second.status == CredentialStatus.AWARDED
    assert second.awarded_at == first.awarded_at


@pytest.mark.django_db
def test_revoke_then_award_again_reuses_the_credential() -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory()
    awarded = services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    # when
    revoked = services.revoke_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    revoked_again = services.revoke_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    reawarded = services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    # then
    assert revoked.status == CredentialStatus.REVOKED and revoked.revoked_at is not None
    assert revoked_again.revoked_at == revoked.revoked_at
    assert reawarded.uuid == awarded.uuid
    assert reawarded.status == CredentialStatus.AWARDED
    assert reawarded.revoked_at is None
    assert reawarded.awarded_at > awarded.awarded_at


@pytest.mark.django_db
def test_award_updates_visible_date_and_url_but_not_award_time() -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory()
    first = services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    visible = timezone.now() + datetime.timedelta(days=3)
    # when
    again = services.award_course_certificate(
        user=user,
        course_run_key=config.course_run.key,
        mode="verified",
        download_url="https://lms.test/cert/1",
        visible_date=visible,
    )
    # then
    again.refresh_from_db()
    assert again.visible_date == visible
    assert again.download_url == "https://lms.test/cert/1"
    assert again.awarded_at == first.awarded_at


@pytest.mark.django_db
def test_award_without_configuration_names_the_mode() -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory(certificate_type="verified")
    # when
    with pytest.raises(CredentialsError) as excinfo:
        services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="professional")
    # then
    assert excinfo.value.code is CredentialsErrorCode.NO_CONFIGURATION
    assert excinfo.value.field == "mode"
    assert not UserCredential.objects.exists()


@pytest.mark.django_db
def test_award_for_unknown_course_run_raises_not_found() -> None:
    with pytest.raises(CatalogNotFoundError):
        services.award_course_certificate(user=UserFactory(), course_run_key="course-v1:No+Such+Run", mode="verified")


@pytest.mark.django_db
def test_program_certificate_award_and_revoke() -> None:
    # given
    user = UserFactory()
    config = ProgramCertificateFactory()
    # when
    awarded = services.award_program_certificate(user=user, program_uuid=config.program.uuid)
    revoked = services.revoke_program_certificate(user=user, program_uuid=config.program.uuid)
    # then
    assert awarded.pk == revoked.pk
    assert revoked.status == CredentialStatus.REVOKED
    assert revoked.credential == config


@pytest.mark.django_db
def test_record_grade_ignores_older_updates() -> None:
    # given
    user = UserFactory()
    run = CourseCertificateFactory().course_run
    newer = timezone.now()
    services.record_grade(
        user=user,
        course_run_key=run.key,
        percent_grade=Decimal("0.9"),
        passed=True,
        letter_grade="A",
        lms_last_updated_at=newer,
    )
    # when
    stale = services.record_grade(
        user=user,
        course_run_key=run.key,
        percent_grade=Decimal("0.1"),
        passed=False,
        lms_last_updated_at=newer - datetime.timedelta(hours=1),
    )
    # then
    assert stale.percent_grade == Decimal("0.9000")
    assert stale.passed is True and stale.passed_timestamp is not None
    assert UserGrade.objects.get(user=user).letter_grade == "A"


@pytest.mark.django_db
def test_record_grade_tracks_when_the_learner_first_passed() -> None:
    # given
    user = UserFactory()
    run = CourseCertificateFactory().course_run
    failing = services.record_grade(user=user, course_run_key=run.key, percent_grade=Decimal("0.4"), passed=False)
    # when
    passing = services.record_grade(user=user, course_run_key=run.key, percent_grade=Decimal("0.7"), passed=True)
    still_passing = services.record_grade(user=user, course_run_key=run.key, percent_grade=Decimal("0.75"), passed=True)
    # then
    assert failing.passed_timestamp is None
    assert passing.passed_timestamp is not None
    assert still_passing.passed_timestamp == passing.passed_timestamp


@pytest.mark.django_db
def test_record_grade_rejects_percent_out_of_range() -> None:
    run = CourseCertificateFactory().course_run
    with pytest.raises(CredentialsError) as excinfo:
        services.record_grade(user=UserFactory(), course_run_key=run.key, percent_grade=Decimal("1.5"), passed=True)
    assert excinfo.value.field == "percent_grade"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
def test_concurrent_awards_create_one_credential(concurrently: Callable[..., list[Any]]) -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory()
    # when
    results = concurrently(
        lambda _: services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified"),
        [1, 2, 3, 4],
    )
    # then
    assert len({c.pk for c in results}) == 1
    assert UserCredential.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
def test_concurrent_course_certificates_completing_a_program_award_it_once(
    concurrently: Callable[..., list[Any]],
) -> None:
    # given: a learner with one of three courses; the other two arrive at once, each completing the
    # program only together with the other
    user = UserFactory()
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    first, second, third = (pc.course.course_runs.get() for pc in program.program_courses.order_by("position"))
    with relaying_inline():
        services.record_course_certificate(user=user, course_run_key=first.key, mode="verified", is_awarded=True)

    def award(run_key: str) -> None:
        with relaying_inline():
            services.record_course_certificate(user=user, course_run_key=run_key, mode="verified", is_awarded=True)

    # when
    concurrently(award, [second.key, third.key])
    # then
    program_credentials = UserCredential.objects.filter(
        user=user, credential_content_type=ContentType.objects.get_for_model(ProgramCertificate)
    )
    assert [c.status for c in program_credentials] == [CredentialStatus.AWARDED]
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 1


@pytest.mark.django_db
def test_program_certificate_events_are_enqueued_only_on_a_real_change() -> None:
    # given
    user = UserFactory()
    config = ProgramCertificateFactory()
    # when
    services.award_program_certificate(user=user, program_uuid=config.program.uuid)
    services.award_program_certificate(user=user, program_uuid=config.program.uuid)
    services.revoke_program_certificate(user=user, program_uuid=config.program.uuid)
    services.revoke_program_certificate(user=user, program_uuid=config.program.uuid)
    # then
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [
        PROGRAM_CERTIFICATE_AWARDED.event_type,
        PROGRAM_CERTIFICATE_REVOKED.event_type,
    ]


@pytest.mark.django_db
def test_revoking_a_program_certificate_never_awarded_publishes_nothing() -> None:
    # given
    config = ProgramCertificateFactory()
    # when
    revoked = services.revoke_program_certificate(user=UserFactory(), program_uuid=config.program.uuid)
    # then
    assert revoked.status == CredentialStatus.REVOKED
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_program_certificate_needs_the_learners_lms_id() -> None:
    # given
    user = UserFactory(lms_user_id=None)
    config = ProgramCertificateFactory()
    # when
    with pytest.raises(CredentialsError) as excinfo:
        services.award_program_certificate(user=user, program_uuid=config.program.uuid)
    # then
    assert excinfo.value.code is CredentialsErrorCode.NO_LMS_USER_ID
    assert not UserCredential.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_course_certificates_awarded_through_the_api_complete_programs_too() -> None:
    # given
    user = UserFactory()
    program = ProgramFactory(course_count=2)
    ProgramCertificateFactory(program=program)
    runs = [pc.course.course_runs.get() for pc in program.program_courses.all()]
    for run in runs:
        services.configure_course_certificate(course_run_key=run.key, mode="verified")
    # when
    for run in runs:
        services.award_course_certificate(user=user, course_run_key=run.key, mode="verified")
    # then
    assert program.certificate.user_credentials.get(user=user).status == CredentialStatus.AWARDED
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_configure_program_type_rejects_unknown_or_no_modes() -> None:
    for modes in ([], ["verified", "gold-star"]):
        with pytest.raises(CredentialsError) as excinfo:
            services.configure_program_type(type_slug="micromasters", eligible_modes=modes)
        assert excinfo.value.field == "eligible_modes"


@pytest.mark.django_db
def test_record_grade_keeps_the_stored_percent_when_an_update_has_none() -> None:
    # given
    user = UserFactory()
    run = CourseCertificateFactory().course_run
    services.record_grade(
        user=user, course_run_key=run.key, percent_grade=Decimal("0.61"), passed=False, letter_grade="C"
    )
    # when
    grade = services.record_grade(user=user, course_run_key=run.key, percent_grade=None, letter_grade=None, passed=True)
    # then
    assert (grade.percent_grade, grade.letter_grade, grade.passed) == (Decimal("0.6100"), "C", True)
    assert grade.passed_timestamp is not None


@pytest.mark.django_db
def test_record_grade_rejects_a_percent_that_is_not_a_number() -> None:
    run = CourseCertificateFactory().course_run
    with pytest.raises(CredentialsError):
        services.record_grade(user=UserFactory(), course_run_key=run.key, percent_grade=Decimal("NaN"), passed=True)


@pytest.mark.django_db
def test_record_course_certificate_query_counts(django_assert_num_queries: Callable[[int], Any]) -> None:
    # given: two of three courses certified; the third run's configuration exists
    user = UserFactory()
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    first, second, third = (pc.course.course_runs.get() for pc in program.program_courses.order_by("position"))
    for run in (first, second):
        services.record_course_certificate(user=user, course_run_key=run.key, mode="verified", is_awarded=True)
    services.configure_course_certificate(course_run_key=third.key, mode="verified")
    # when / then: completing the program costs 13 queries: run, learner lock, configurations, course
    # credentials (lock), programs with their tree (3), program certificate configurations, earned
    # certificates, eligible modes, program credentials (lock), both new credentials (one insert) and
    # the outbox row
    with django_assert_num_queries(13):
        services.record_course_certificate(user=user, course_run_key=third.key, mode="verified", is_awarded=True)
    # and the same word again (the LMS's CHANGED after CREATED) costs 4, evaluating nothing
    with django_assert_num_queries(4):
        services.record_course_certificate(user=user, course_run_key=third.key, mode="verified", is_awarded=True)
