from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.catalog.api import CatalogNotFoundError
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.exceptions import CredentialsError, CredentialsErrorCode
from apps.credentials.models import CredentialStatus, UserCredential, UserGrade
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory


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
def test_concurrent_awards_create_one_credential() -> None:
    # given
    user = UserFactory()
    config = CourseCertificateFactory()
    barrier = threading.Barrier(4)
    results: list[UserCredential] = []
    errors: list[BaseException] = []

    def award() -> None:
        try:
            barrier.wait()
            results.append(
                services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
            )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=award) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert errors == []
    assert len({c.pk for c in results}) == 1
    assert UserCredential.objects.filter(user=user).count() == 1
