"""The LMS's certificate and grade events, driven through the event bus's consumer wrapper."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.learning.data import (
    CcxCourseData,
    ProgramCertificateData,
    ProgramData,
    UserData,
    UserPersonalData,
)
from openedx_events.learning.signals import (
    CCX_COURSE_PASSING_STATUS_UPDATED,
    CERTIFICATE_CHANGED,
    CERTIFICATE_CREATED,
    CERTIFICATE_REVOKED,
    COURSE_PASSING_STATUS_UPDATED,
    PERSISTENT_GRADE_SUMMARY_CHANGED,
    PROGRAM_CERTIFICATE_AWARDED,
    PROGRAM_CERTIFICATE_REVOKED,
)
from openedx_events.tooling import OpenEdxPublicSignal

from apps.catalog.models import CourseRun, PacingType, Program
from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.models import User
from apps.credentials import services
from apps.credentials.models import (
    CourseCertificate,
    CredentialStatus,
    ProgramCertificate,
    UserCredential,
    UserGrade,
)
from apps.credentials.tests.factories import (
    CertificateDataFactory,
    CourseCertificateFactory,
    CoursePassingStatusDataFactory,
    PersistentCourseGradeDataFactory,
    ProgramCertificateFactory,
    UserDataFactory,
    course_data,
)
from apps.eventbus.consumer import process_messages
from apps.eventbus.data import BatchResult, IncomingMessage
from apps.eventbus.models import OutboxEvent, ParkedEvent
from apps.eventbus.services import relaying_inline
from apps.eventbus.tests.factories import incoming_message

PROGRAM_TOPIC = "learning-program-certificate-lifecycle"


# --- helpers -------------------------------------------------------------------------------------


def certificate_message(
    learner: UserData,
    run: CourseRun,
    *,
    signal: OpenEdxPublicSignal = CERTIFICATE_CREATED,
    mode: str = "verified",
    status: str = "downloadable",
    event_id: uuid.UUID | None = None,
) -> IncomingMessage:
    certificate = CertificateDataFactory(user=learner, course=course_data(run.key), mode=mode, current_status=status)
    return incoming_message(signal, event_id=event_id, certificate=certificate)


def at(message: IncomingMessage, when: datetime.datetime) -> IncomingMessage:
    """The message as if the LMS had sent it at `when` (its metadata's time)."""
    return dataclasses.replace(message, headers={**message.headers, "time": when.isoformat()})


def deliver(*messages: IncomingMessage) -> BatchResult:
    return process_messages(list(messages))


def runs_of(program: Program) -> list[CourseRun]:
    return [pc.course.course_runs.get() for pc in program.program_courses.order_by("position")]


def program_credential(learner: UserData, program: Program) -> UserCredential | None:
    return UserCredential.objects.filter(
        user__lms_user_id=learner.id,
        credential_content_type=ContentType.objects.get_for_model(ProgramCertificate),
        credential_id=program.certificate.pk,
    ).first()


def course_credentials(learner: UserData) -> list[UserCredential]:
    return list(
        UserCredential.objects.filter(
            user__lms_user_id=learner.id,
            credential_content_type=ContentType.objects.get_for_model(CourseCertificate),
        ).order_by("pk")
    )


def published(signal: OpenEdxPublicSignal) -> list[ProgramCertificateData]:
    """The program certificates of the outbox's rows of `signal`'s type, decoded as a consumer would."""
    return [
        deserialize_bytes_to_event_data(bytes(row.payload), signal)["program_certificate"]
        for row in OutboxEvent.objects.filter(event_type=signal.event_type).order_by("id")
    ]


def snapshot() -> dict[str, Any]:
    return {
        "credentials": sorted(
            UserCredential.objects.values_list("uuid", "status", "awarded_at", "revoked_at", "visible_date", "modified")
        ),
        "outbox": list(OutboxEvent.objects.values_list("event_id", flat=True)),
        "grades": sorted(UserGrade.objects.values_list("pk", "percent_grade", "passed", "modified")),
    }


@pytest.fixture
def program() -> Program:
    """A MicroMasters program of three courses (one instructor-paced run each) with a certificate."""
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    return program


@pytest.fixture
def learner() -> UserData:
    return UserDataFactory(id=4242, pii__username="ada", pii__email="ada@example.com", pii__name="Ada Lovelace")


# --- program completion --------------------------------------------------------------------------


@pytest.mark.django_db
def test_completing_a_three_course_program_awards_it_once(program: Program, learner: UserData) -> None:
    # given
    runs = runs_of(program)
    # when
    result = deliver(*(certificate_message(learner, run) for run in runs))
    # then
    assert (result.processed, result.parked) == (3, 0)
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED
    # No run has a certificate available date, so the program is visible once the last course was awarded.
    assert credential.visible_date == max(c.awarded_at for c in course_credentials(learner))
    [row] = OutboxEvent.objects.all()
    assert row.event_type == PROGRAM_CERTIFICATE_AWARDED.event_type
    assert row.topic == PROGRAM_TOPIC
    assert row.event_key == f"4242:{program.uuid}"
    assert row.metadata["type"] == PROGRAM_CERTIFICATE_AWARDED.event_type
    assert published(PROGRAM_CERTIFICATE_AWARDED) == [
        ProgramCertificateData(
            user=UserData(
                id=4242,
                is_active=True,
                pii=UserPersonalData(username="ada", email="ada@example.com", name="Ada Lovelace"),
            ),
            program=ProgramData(uuid=str(program.uuid), title=program.title, program_type="micromasters"),
            uuid=str(credential.uuid),
            status="awarded",
            url=f"http://127.0.0.1:8000/credentials/{credential.uuid.hex}/",
            certificate_available_date=credential.visible_date,
        )
    ]


@pytest.mark.django_db
def test_a_program_is_not_awarded_before_every_course_is_certified(program: Program, learner: UserData) -> None:
    # given
    first, second, _ = runs_of(program)
    # when
    deliver(certificate_message(learner, first))
    after_one = program_credential(learner, program)
    deliver(certificate_message(learner, second))
    # then
    assert after_one is None
    assert program_credential(learner, program) is None
    assert [c.status for c in course_credentials(learner)] == ["awarded", "awarded"]
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_certificate_in_any_run_of_a_course_counts(program: Program, learner: UserData) -> None:
    # given: the last course's certificate was earned in a later run of it
    first, second, third = runs_of(program)
    later_run = CourseRunFactory(course=third.course)
    # when
    deliver(*(certificate_message(learner, run) for run in (first, second, later_run)))
    # then
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED
    assert len(published(PROGRAM_CERTIFICATE_AWARDED)) == 1


@pytest.mark.django_db
def test_redelivered_events_change_nothing(program: Program, learner: UserData) -> None:
    # given
    messages = [certificate_message(learner, run) for run in runs_of(program)]
    deliver(*messages)
    before = snapshot()
    # when
    again = deliver(*messages)
    # then
    assert (again.processed, again.duplicates) == (0, 3)
    assert snapshot() == before
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_changed_event_for_an_awarded_certificate_publishes_nothing_more(program: Program, learner: UserData) -> None:
    # given: the LMS sends CREATED and then CHANGED for the same downloadable certificate
    runs = runs_of(program)
    deliver(*(certificate_message(learner, run) for run in runs))
    # when
    result = deliver(certificate_message(learner, runs[2], signal=CERTIFICATE_CHANGED))
    # then
    assert result.processed == 1
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_revoking_a_needed_certificate_revokes_the_program_when_enabled(program: Program, learner: UserData) -> None:
    # given
    ProgramCertificate.objects.filter(pk=program.certificate.pk).update(is_revocation_enabled=True)
    runs = runs_of(program)
    deliver(*(certificate_message(learner, run) for run in runs))
    # when
    deliver(certificate_message(learner, runs[1], signal=CERTIFICATE_REVOKED, status="revoked"))
    # then
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.REVOKED
    assert credential.revoked_at is not None
    [row] = OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_REVOKED.event_type)
    assert row.event_key == f"4242:{program.uuid}"
    [revoked] = published(PROGRAM_CERTIFICATE_REVOKED)
    assert (revoked.uuid, revoked.status, revoked.user.id) == (str(credential.uuid), "revoked", 4242)
    assert revoked.program.uuid == str(program.uuid)
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [
        PROGRAM_CERTIFICATE_AWARDED.event_type,
        PROGRAM_CERTIFICATE_REVOKED.event_type,
    ]


@pytest.mark.django_db
def test_revoking_a_certificate_keeps_the_program_when_revocation_is_disabled(
    program: Program, learner: UserData
) -> None:
    # given
    runs = runs_of(program)
    deliver(*(certificate_message(learner, run) for run in runs))
    # when
    deliver(certificate_message(learner, runs[1], signal=CERTIFICATE_REVOKED, status="revoked"))
    # then
    assert course_credentials(learner)[1].status == CredentialStatus.REVOKED
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [PROGRAM_CERTIFICATE_AWARDED.event_type]


@pytest.mark.django_db
def test_a_changed_event_with_a_status_other_than_downloadable_revokes(program: Program, learner: UserData) -> None:
    # given
    ProgramCertificate.objects.filter(pk=program.certificate.pk).update(is_revocation_enabled=True)
    runs = runs_of(program)
    deliver(*(certificate_message(learner, run) for run in runs))
    # when
    deliver(certificate_message(learner, runs[0], signal=CERTIFICATE_CHANGED, status="notpassing"))
    # then
    assert course_credentials(learner)[0].status == CredentialStatus.REVOKED
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.REVOKED


@pytest.mark.django_db
def test_a_re_earned_certificate_re_awards_the_program(program: Program, learner: UserData) -> None:
    # given
    ProgramCertificate.objects.filter(pk=program.certificate.pk).update(is_revocation_enabled=True)
    runs = runs_of(program)
    deliver(*(certificate_message(learner, run) for run in runs))
    first_award = program_credential(learner, program)
    deliver(certificate_message(learner, runs[2], signal=CERTIFICATE_REVOKED, status="revoked"))
    # when
    deliver(certificate_message(learner, runs[2], signal=CERTIFICATE_CHANGED))
    # then
    credential = program_credential(learner, program)
    assert first_award is not None and credential is not None
    assert credential.uuid == first_award.uuid
    assert credential.status == CredentialStatus.AWARDED and credential.revoked_at is None
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [
        PROGRAM_CERTIFICATE_AWARDED.event_type,
        PROGRAM_CERTIFICATE_REVOKED.event_type,
        PROGRAM_CERTIFICATE_AWARDED.event_type,
    ]
    assert [c.status for c in published(PROGRAM_CERTIFICATE_AWARDED)] == ["awarded", "awarded"]


@pytest.mark.django_db
def test_audit_certificates_do_not_count(program: Program, learner: UserData) -> None:
    # given
    first, second, third = runs_of(program)
    # when
    deliver(
        certificate_message(learner, first),
        certificate_message(learner, second),
        certificate_message(learner, third, mode="audit"),
    )
    # then
    assert [c.status for c in course_credentials(learner)] == ["awarded"] * 3
    assert program_credential(learner, program) is None
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_a_program_type_configuration_decides_which_modes_count(program: Program, learner: UserData) -> None:
    # given: MicroMasters programs here also count honor certificates, but not verified ones
    services.configure_program_type(type_slug="micromasters", eligible_modes=["honor", "professional"])
    first, second, third = runs_of(program)
    # when
    deliver(
        certificate_message(learner, first, mode="honor"),
        certificate_message(learner, second, mode="professional"),
        certificate_message(learner, third, mode="verified"),
    )
    incomplete = program_credential(learner, program)
    deliver(certificate_message(learner, third, mode="honor"))
    # then
    assert incomplete is None
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED


@pytest.mark.django_db
def test_an_inactive_program_certificate_is_not_awarded(program: Program, learner: UserData) -> None:
    # given
    ProgramCertificate.objects.filter(pk=program.certificate.pk).update(is_active=False)
    # when
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    # then
    assert program_credential(learner, program) is None
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_program_visible_date_is_the_latest_course_certificate_visible_date(
    program: Program, learner: UserData
) -> None:
    # given: one instructor-paced run whose certificates become visible in ten days, one self-paced
    # run with a date (ignored), and one with no date
    first, second, third = runs_of(program)
    available = (timezone.now() + datetime.timedelta(days=10)).replace(microsecond=0)
    CourseRun.objects.filter(pk=first.pk).update(certificate_available_date=available)
    CourseRun.objects.filter(pk=second.pk).update(
        pacing_type=PacingType.SELF_PACED, certificate_available_date=available + datetime.timedelta(days=5)
    )
    # when
    deliver(*(certificate_message(learner, run) for run in (first, second, third)))
    # then
    certificates = course_credentials(learner)
    assert [c.visible_date for c in certificates] == [available, None, None]
    credential = program_credential(learner, program)
    assert credential is not None and credential.visible_date == available
    [event] = published(PROGRAM_CERTIFICATE_AWARDED)
    assert event.certificate_available_date == available


@pytest.mark.django_db
def test_program_visible_date_waits_for_the_programs_available_date(program: Program, learner: UserData) -> None:
    # given: the program's certificate may not be shown before a date in three weeks
    available = (timezone.now() + datetime.timedelta(days=21)).replace(microsecond=0)
    ProgramCertificate.objects.filter(program=program).update(certificate_available_date=available)
    # when
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    # then: awarded now, visible from the program's date, and the event says so
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED
    assert credential.visible_date == available
    [event] = published(PROGRAM_CERTIFICATE_AWARDED)
    assert event.certificate_available_date == available


@pytest.mark.django_db
def test_a_past_program_available_date_does_not_move_the_visible_date(program: Program, learner: UserData) -> None:
    ProgramCertificate.objects.filter(program=program).update(
        certificate_available_date=timezone.now() - datetime.timedelta(days=300)
    )
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    credential = program_credential(learner, program)
    assert credential is not None
    assert credential.visible_date == max(c.awarded_at for c in course_credentials(learner))


# --- course certificates -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_certificate_event_creates_the_learner_and_the_missing_configuration(learner: UserData) -> None:
    # given
    run = CourseRunFactory()
    message = certificate_message(learner, run, mode="professional")
    # when
    deliver(message)
    # then
    user = User.objects.get(lms_user_id=4242)
    assert (user.username, user.email, user.full_name) == ("ada", "ada@example.com", "Ada Lovelace")
    configuration = CourseCertificate.objects.get(course_run=run)
    assert configuration.certificate_type == "professional"
    [credential] = course_credentials(learner)
    assert credential.credential == configuration
    assert credential.download_url.startswith("https://lms.test/certificates/")


@pytest.mark.django_db
def test_an_existing_configuration_is_left_as_it_is(learner: UserData) -> None:
    # given
    configuration = CourseCertificateFactory(certificate_type="verified", title="Custom title", is_active=False)
    # when
    deliver(certificate_message(learner, configuration.course_run))
    # then
    configuration.refresh_from_db()
    assert (configuration.title, configuration.is_active) == ("Custom title", False)
    assert CourseCertificate.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_course_run_is_parked_and_the_batch_goes_on(learner: UserData) -> None:
    # given
    known = CourseRunFactory()
    unknown = certificate_message(learner, CourseRun(key="course-v1:Nobody+Knows+This"))
    # when
    result = deliver(unknown, certificate_message(learner, known))
    # then
    assert (result.processed, result.parked) == (1, 1)
    parked = ParkedEvent.objects.get()
    assert str(parked.event_id) == unknown.headers["id"]
    assert parked.event_type == CERTIFICATE_CREATED.event_type
    assert "CatalogNotFoundError" in parked.error and "course-v1:Nobody+Knows+This" in parked.error
    assert [c.credential.course_run for c in course_credentials(learner)] == [known]


@pytest.mark.django_db
def test_an_unknown_mode_is_parked(learner: UserData) -> None:
    # when
    result = deliver(certificate_message(learner, CourseRunFactory(), mode="gold-star"))
    # then
    assert result.parked == 1
    assert "gold-star" in ParkedEvent.objects.get().error
    assert not CourseCertificate.objects.exists()


# --- grades --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_grade_event_for_a_learner_known_only_by_id_creates_them() -> None:
    # given
    run = CourseRunFactory()
    passed_at = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
    grade = PersistentCourseGradeDataFactory(
        user_id=777, course=course_data(run.key), percent_grade=0.8765, letter_grade="B+", passed_timestamp=passed_at
    )
    message = incoming_message(PERSISTENT_GRADE_SUMMARY_CHANGED, grade=grade)
    # when
    result = deliver(message)
    # then
    assert result.processed == 1
    user = User.objects.get(lms_user_id=777)
    assert user.username is None
    stored = UserGrade.objects.get(user=user)
    assert (stored.percent_grade, stored.letter_grade, stored.passed) == (Decimal("0.8765"), "B+", True)
    assert stored.passed_timestamp == passed_at
    assert stored.lms_last_updated_at == datetime.datetime.fromisoformat(message.headers["time"])


@pytest.mark.django_db
def test_out_of_order_grade_events_keep_the_newest() -> None:
    # given
    run = CourseRunFactory()
    now = timezone.now()
    newer = incoming_message(
        PERSISTENT_GRADE_SUMMARY_CHANGED,
        grade=PersistentCourseGradeDataFactory(user_id=5, course=course_data(run.key), percent_grade=0.9),
    )
    older = incoming_message(
        PERSISTENT_GRADE_SUMMARY_CHANGED,
        grade=PersistentCourseGradeDataFactory(
            user_id=5, course=course_data(run.key), percent_grade=0.3, letter_grade="F"
        ),
    )
    # when: the newer update arrives first
    deliver(at(newer, now), at(older, now - datetime.timedelta(minutes=5)))
    # then
    grade = UserGrade.objects.get(user__lms_user_id=5)
    assert (grade.percent_grade, grade.letter_grade) == (Decimal("0.9000"), "B")
    assert grade.lms_last_updated_at == now


@pytest.mark.django_db
def test_passing_status_events_set_passed_and_keep_the_percent(learner: UserData) -> None:
    # given
    run = CourseRunFactory()
    now = timezone.now()
    summary = incoming_message(
        PERSISTENT_GRADE_SUMMARY_CHANGED,
        grade=PersistentCourseGradeDataFactory(
            user_id=learner.id, course=course_data(run.key), percent_grade=0.45, letter_grade="P"
        ),
    )
    failing = incoming_message(
        COURSE_PASSING_STATUS_UPDATED,
        course_passing_status=CoursePassingStatusDataFactory(
            user=learner, course=course_data(run.key), is_passing=False
        ),
    )
    # when
    deliver(at(summary, now - datetime.timedelta(seconds=1)), at(failing, now))
    # then
    grade = UserGrade.objects.get(user__lms_user_id=learner.id)
    assert (grade.percent_grade, grade.letter_grade, grade.passed) == (Decimal("0.4500"), "P", False)
    assert grade.passed_timestamp is None
    assert grade.user.username == "ada"


@pytest.mark.django_db
def test_a_passing_status_event_for_a_new_grade_records_it_at_zero(learner: UserData) -> None:
    # given
    run = CourseRunFactory()
    message = incoming_message(
        COURSE_PASSING_STATUS_UPDATED,
        course_passing_status=CoursePassingStatusDataFactory(
            user=learner, course=course_data(run.key), is_passing=False
        ),
    )
    # when
    deliver(message)
    # then
    grade = UserGrade.objects.get(user__lms_user_id=learner.id)
    assert (grade.percent_grade, grade.letter_grade, grade.passed) == (Decimal(0), "", False)


@pytest.mark.django_db
def test_a_ccx_passing_status_is_recorded_on_the_master_run(learner: UserData) -> None:
    # given
    run = CourseRunFactory()
    ccx = CcxCourseData(
        ccx_course_key=f"ccx-v1:{run.key.removeprefix('course-v1:')}+ccx@3",
        master_course_key=course_data(run.key).course_key,
        display_name="Our cohort",
    )
    status = {"is_passing": True, "course": ccx, "user": learner}
    message = incoming_message(
        CCX_COURSE_PASSING_STATUS_UPDATED,
        course_passing_status=CCX_COURSE_PASSING_STATUS_UPDATED.init_data["course_passing_status"](**status),
    )
    # when
    result = deliver(message)
    # then
    assert result.processed == 1, result.parked_reasons
    grade = UserGrade.objects.get(user__lms_user_id=learner.id)
    assert (grade.course_run_id, grade.passed) == (run.pk, True)


@pytest.mark.django_db
def test_a_grade_out_of_range_is_parked() -> None:
    # given
    run = CourseRunFactory()
    grade = PersistentCourseGradeDataFactory(user_id=9, course=course_data(run.key), percent_grade=1.5)
    # when
    result = deliver(incoming_message(PERSISTENT_GRADE_SUMMARY_CHANGED, grade=grade))
    # then
    assert result.parked == 1
    assert "percent_grade" in ParkedEvent.objects.get().error
    assert not UserGrade.objects.exists()


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
@pytest.mark.parametrize("last_two", ["different courses", "the same certificate twice"])
def test_concurrent_completions_award_once_and_publish_one_event(
    last_two: str, concurrently: Callable[..., list[Any]]
) -> None:
    # given: the learner holds the first course's certificate; two events that each could complete
    # the program arrive at once, in two consumers
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    learner = UserDataFactory(id=31337)
    first, second, third = runs_of(program)
    with relaying_inline():
        deliver(certificate_message(learner, first))
        if last_two == "the same certificate twice":
            deliver(certificate_message(learner, second))
    if last_two == "different courses":
        # Each completes the program only with the other's certificate: without the learner's lock
        # both would miss the other's uncommitted one, and nobody would award the program.
        batches = [[certificate_message(learner, second)], [certificate_message(learner, third)]]
    else:
        # The LMS's CREATED and CHANGED for one certificate, consumed at the same moment.
        batches = [
            [certificate_message(learner, third, signal=CERTIFICATE_CREATED)],
            [certificate_message(learner, third, signal=CERTIFICATE_CHANGED)],
        ]

    def consume(batch: list[IncomingMessage]) -> None:
        with relaying_inline():
            deliver(*batch)

    # when
    concurrently(consume, batches)
    # then
    assert ParkedEvent.objects.count() == 0
    credential = program_credential(learner, program)
    assert credential is not None and credential.status == CredentialStatus.AWARDED
    assert UserCredential.objects.filter(user__lms_user_id=31337).count() == 4
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [PROGRAM_CERTIFICATE_AWARDED.event_type]
