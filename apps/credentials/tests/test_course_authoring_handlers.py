"""The LMS's course authoring events (catalog info, certificate configurations) and the visible dates
of what was already awarded, driven through the event bus's consumer wrapper where openedx-events can
carry the event."""

from __future__ import annotations

import dataclasses
import datetime
import io
import logging
import threading
import uuid
from typing import Any

import attr
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone
from edx_event_bus_redis.internal.utils import get_headers_from_metadata
from opaque_keys.edx.keys import CourseKey
from openedx_events.content_authoring.data import (
    CertificateConfigData,
    CertificateSignatoryData,
    CourseCatalogData,
    CourseScheduleData,
)
from openedx_events.content_authoring.signals import (
    COURSE_CATALOG_INFO_CHANGED,
    COURSE_CERTIFICATE_CONFIG_CHANGED,
    COURSE_CERTIFICATE_CONFIG_DELETED,
)
from openedx_events.learning.data import UserData
from openedx_events.learning.signals import CERTIFICATE_CREATED, CERTIFICATE_REVOKED, PROGRAM_CERTIFICATE_AWARDED
from openedx_events.tooling import EventsMetadata

from apps.catalog.models import CourseRun, PacingType, Program
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, ProgramFactory
from apps.core.models import User
from apps.credentials import handlers, services
from apps.credentials.exceptions import CredentialsError
from apps.credentials.models import CourseCertificate, CredentialStatus, ProgramCertificate, Signatory, UserCredential
from apps.credentials.tests.factories import (
    CertificateDataFactory,
    CourseCertificateFactory,
    ProgramCertificateFactory,
    UserDataFactory,
    course_data,
)
from apps.eventbus.consumer import process_messages
from apps.eventbus.data import BatchResult, IncomingMessage
from apps.eventbus.models import OutboxEvent, ParkedEvent
from apps.eventbus.services import relaying_inline
from apps.eventbus.tests.factories import incoming_message

DAY = datetime.timedelta(days=1)


# --- helpers -------------------------------------------------------------------------------------


def catalog_message(
    run_key: str,
    *,
    pacing: str = "instructor",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    name: str = "A run",
    event_id: uuid.UUID | None = None,
) -> IncomingMessage:
    """COURSE_CATALOG_INFO_CHANGED as the LMS (Studio) sends it when a run is published."""
    catalog_info = CourseCatalogData(
        course_key=CourseKey.from_string(run_key),
        name=name,
        schedule_data=CourseScheduleData(
            start=start or datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC), pacing=pacing, end=end
        ),
    )
    return incoming_message(COURSE_CATALOG_INFO_CHANGED, event_id=event_id, catalog_info=catalog_info)


def schedule_of(run: CourseRun, *, pacing: str, **overrides: Any) -> IncomingMessage:
    """The run's catalog info as it stands, with a new pacing ('instructor' or 'self') and `overrides`."""
    values: dict[str, Any] = {"start": run.start, "end": run.end, "name": run.title or run.course.title}
    return catalog_message(run.key, pacing=pacing, **{**values, **overrides})


def certificate_message(learner: UserData, run: CourseRun, *, status: str = "downloadable") -> IncomingMessage:
    certificate = CertificateDataFactory(user=learner, course=course_data(run.key), current_status=status)
    signal = CERTIFICATE_CREATED if status == "downloadable" else CERTIFICATE_REVOKED
    return incoming_message(signal, certificate=certificate)


def at(message: IncomingMessage, when: datetime.datetime) -> IncomingMessage:
    """The message as if the LMS had sent it at `when` (its metadata's time)."""
    return dataclasses.replace(message, headers={**message.headers, "time": when.isoformat()})


def deliver(*messages: IncomingMessage) -> BatchResult:
    return process_messages(list(messages))


def runs_of(program: Program) -> list[CourseRun]:
    return [pc.course.course_runs.get() for pc in program.program_courses.order_by("position")]


def set_run(run: CourseRun, **fields: Any) -> CourseRun:
    """Change the run as a catalog import would, before any event about it."""
    CourseRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


def course_credential(learner: UserData, run: CourseRun) -> UserCredential:
    return UserCredential.objects.get(
        user__lms_user_id=learner.id,
        credential_content_type=ContentType.objects.get_for_model(CourseCertificate),
        credential_id__in=CourseCertificate.objects.filter(course_run=run).values("pk"),
    )


def program_credential(learner: UserData, program: Program) -> UserCredential:
    return UserCredential.objects.get(
        user__lms_user_id=learner.id,
        credential_content_type=ContentType.objects.get_for_model(ProgramCertificate),
        credential_id=program.certificate.pk,
    )


def awarded_long_ago(learner: UserData, run: CourseRun, *, days: int) -> datetime.datetime:
    """Move the learner's award in `run` `days` into the past (we cannot send an event back in time)."""
    awarded_at = timezone.now() - days * DAY
    UserCredential.objects.filter(pk=course_credential(learner, run).pk).update(awarded_at=awarded_at)
    return awarded_at


def credential_rows() -> list[tuple[Any, ...]]:
    return sorted(UserCredential.objects.values_list("uuid", "status", "visible_date", "awarded_at", "modified"))


def certificate_config(
    run_key: str, *, mode: str = "verified", title: str = "Certificate", is_active: bool = True, signatories: int = 1
) -> CertificateConfigData:
    return CertificateConfigData(
        certificate_type=mode,
        course_key=CourseKey.from_string(run_key),
        title=title,
        signatories=[
            CertificateSignatoryData(
                image=io.BytesIO(b"\x89PNG"), name=f"Signatory {n}", organization="MIT", title="Professor"
            )
            for n in range(signatories)
        ],
        is_active=is_active,
    )


def metadata(signal: Any, *, time: datetime.datetime | None = None) -> EventsMetadata:
    generated = signal.generate_signal_metadata()
    return generated if time is None else attr.evolve(generated, time=time)


@pytest.fixture
def program() -> Program:
    """A MicroMasters program of three courses (one instructor-paced run each, ended) with a certificate."""
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    return program


@pytest.fixture
def learner() -> UserData:
    return UserDataFactory(id=5151, pii__username="grace")


# --- COURSE_CATALOG_INFO_CHANGED: the run ----------------------------------------------------------


@pytest.mark.django_db
def test_catalog_info_updates_the_known_run() -> None:
    # given
    run = CourseRunFactory(pacing_type=PacingType.INSTRUCTOR_PACED)
    start = datetime.datetime(2026, 9, 1, 12, tzinfo=datetime.UTC)
    end = datetime.datetime(2026, 12, 15, 12, tzinfo=datetime.UTC)
    message = catalog_message(run.key, pacing="self", start=start, end=end, name="Fall 2026")
    # when
    result = deliver(message)
    # then
    assert (result.processed, result.parked) == (1, 0)
    run.refresh_from_db()
    assert (run.title, run.start, run.end, run.pacing_type) == ("Fall 2026", start, end, PacingType.SELF_PACED)
    assert run.lms_last_updated_at == datetime.datetime.fromisoformat(message.headers["time"])


@pytest.mark.django_db
def test_catalog_info_creates_an_unknown_run_of_a_course_in_the_catalog() -> None:
    # given
    course = CourseFactory(key="MITx+6.002x")
    # when
    result = deliver(catalog_message("course-v1:MITx+6.002x+2027_Spring", pacing="self", name="Circuits"))
    # then
    assert result.processed == 1
    run = CourseRun.objects.get(key="course-v1:MITx+6.002x+2027_Spring")
    assert (run.course, run.title, run.pacing_type) == (course, "Circuits", PacingType.SELF_PACED)


@pytest.mark.django_db
def test_catalog_info_for_a_course_outside_the_catalog_is_ignored_not_parked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: the LMS announces every course; ours are those of our programs
    CourseRunFactory()
    # when
    with caplog.at_level(logging.INFO, logger="apps.catalog.api"):
        result = deliver(catalog_message("course-v1:Elsewhere+Pottery101+2026"))
    # then
    assert (result.processed, result.parked) == (1, 0)
    assert not ParkedEvent.objects.exists()
    assert not CourseRun.objects.filter(key__contains="Elsewhere").exists()
    assert "course-v1:Elsewhere+Pottery101+2026" in caplog.text


@pytest.mark.django_db
def test_redelivered_catalog_info_is_applied_once(program: Program, learner: UserData) -> None:
    # given
    first = runs_of(program)[0]
    set_run(first, certificate_available_date=timezone.now() + 10 * DAY, pacing_type=PacingType.SELF_PACED)
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    message = schedule_of(first, pacing="instructor")
    deliver(message)
    before = (credential_rows(), CourseRun.objects.get(pk=first.pk).modified, OutboxEvent.objects.count())
    # when
    again = deliver(message)
    # then
    assert (again.processed, again.duplicates) == (0, 1)
    assert (credential_rows(), CourseRun.objects.get(pk=first.pk).modified, OutboxEvent.objects.count()) == before


@pytest.mark.django_db
def test_the_same_schedule_in_a_new_event_touches_no_credential(program: Program, learner: UserData) -> None:
    # given: the LMS publishes the run again without changing its schedule
    first = runs_of(program)[0]
    set_run(first, certificate_available_date=timezone.now() + 10 * DAY)
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    deliver(schedule_of(first, pacing="instructor"))
    before = credential_rows()
    assert course_credential(learner, first).visible_date is not None
    # when
    result = deliver(schedule_of(first, pacing="instructor"))
    # then
    assert result.processed == 1
    assert credential_rows() == before


@pytest.mark.django_db
def test_an_older_catalog_info_does_not_roll_back_a_newer_one(program: Program, learner: UserData) -> None:
    # given: the run went self-paced; an event from before that arrives late (replayed from the park)
    first = runs_of(program)[0]
    available = (timezone.now() + 10 * DAY).replace(microsecond=0)
    set_run(first, certificate_available_date=available)
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    now = timezone.now()
    newer = at(schedule_of(first, pacing="self"), now)
    older = at(schedule_of(first, pacing="instructor"), now - datetime.timedelta(minutes=5))
    # when
    result = deliver(newer, older)
    # then
    assert result.processed == 2
    assert CourseRun.objects.get(pk=first.pk).pacing_type == PacingType.SELF_PACED
    assert course_credential(learner, first).visible_date is None


@pytest.mark.django_db
def test_malformed_catalog_info_is_parked_and_the_batch_goes_on() -> None:
    # given
    run = CourseRunFactory()
    unknown_pacing = catalog_message(run.key, pacing="weekly")
    garbage = dataclasses.replace(catalog_message(run.key), payload=b"\x00\xffnot avro")
    good = catalog_message(run.key, pacing="self", name="Good")
    # when
    result = deliver(unknown_pacing, garbage, good)
    # then
    assert (result.processed, result.parked) == (1, 2)
    reasons = {str(p.event_id): p.error for p in ParkedEvent.objects.all()}
    assert "CatalogError" in reasons[unknown_pacing.headers["id"]] and "weekly" in reasons[unknown_pacing.headers["id"]]
    assert reasons[garbage.headers["id"]].startswith("unreadable message")
    run.refresh_from_db()
    assert (run.title, run.pacing_type) == ("Good", PacingType.SELF_PACED)


# --- COURSE_CATALOG_INFO_CHANGED: visible dates of what was already awarded --------------------------


@pytest.mark.django_db
def test_self_paced_to_instructor_paced_hides_certificates_until_a_future_available_date(
    program: Program, learner: UserData
) -> None:
    # given: a self-paced run (with an available date the catalog import set, unused while self-paced)
    first, second, third = runs_of(program)
    available = (timezone.now() + 10 * DAY).replace(microsecond=0)
    set_run(first, pacing_type=PacingType.SELF_PACED, certificate_available_date=available)
    deliver(*(certificate_message(learner, run) for run in (first, second, third)))
    awarded_program = program_credential(learner, program)
    assert course_credential(learner, first).visible_date is None
    outbox = OutboxEvent.objects.count()
    # when
    result = deliver(schedule_of(first, pacing="instructor"))
    # then
    assert result.processed == 1
    certificate = course_credential(learner, first)
    assert (certificate.status, certificate.visible_date) == (CredentialStatus.AWARDED, available)
    credential = program_credential(learner, program)
    assert (credential.status, credential.uuid) == (CredentialStatus.AWARDED, awarded_program.uuid)
    assert credential.visible_date == available
    assert credential.awarded_at == awarded_program.awarded_at
    assert OutboxEvent.objects.count() == outbox == 1


@pytest.mark.django_db
def test_instructor_paced_to_self_paced_shows_certificates_from_their_award(
    program: Program, learner: UserData
) -> None:
    # given: an instructor-paced run whose certificates wait for a date ten days ahead
    first, second, third = runs_of(program)
    available = (timezone.now() + 10 * DAY).replace(microsecond=0)
    set_run(first, certificate_available_date=available)
    deliver(*(certificate_message(learner, run) for run in (first, second, third)))
    assert program_credential(learner, program).visible_date == available
    # when
    deliver(schedule_of(first, pacing="self"))
    # then
    assert course_credential(learner, first).visible_date is None
    credential = program_credential(learner, program)
    assert credential.status == CredentialStatus.AWARDED
    # Each course counts from its award now; the program from the latest of them.
    assert credential.visible_date == max(course_credential(learner, run).awarded_at for run in (first, second, third))
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [PROGRAM_CERTIFICATE_AWARDED.event_type]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("awarded_days_ago", "available_days_ago", "visible_is_available_date"),
    [
        (30, 10, True),  # awarded before the (past) date: visible from that date
        (5, 10, False),  # awarded after it: visible from the award
    ],
)
def test_going_instructor_paced_with_a_past_available_date(
    program: Program,
    learner: UserData,
    awarded_days_ago: int,
    available_days_ago: int,
    visible_is_available_date: bool,
) -> None:
    # given
    first, second, third = runs_of(program)
    available = (timezone.now() - available_days_ago * DAY).replace(microsecond=0)
    set_run(first, pacing_type=PacingType.SELF_PACED, certificate_available_date=available)
    deliver(*(certificate_message(learner, run) for run in (first, second, third)))
    awarded_long_ago(learner, first, days=awarded_days_ago)
    before = program_credential(learner, program)
    # when
    deliver(schedule_of(first, pacing="instructor"))
    # then
    certificate = course_credential(learner, first)
    assert certificate.visible_date == (available if visible_is_available_date else None)
    credential = program_credential(learner, program)
    # Both dates are past, so the program is visible as before: from the last course's award.
    assert credential.visible_date == before.visible_date
    assert (credential.status, OutboxEvent.objects.count()) == (CredentialStatus.AWARDED, 1)


@pytest.mark.django_db
def test_without_an_available_date_an_instructor_paced_run_shows_certificates_from_its_end(
    program: Program, learner: UserData
) -> None:
    # given: an instructor-paced run that has not ended yet, with no certificate available date
    first, second, third = runs_of(program)
    end = (timezone.now() + 20 * DAY).replace(microsecond=0)
    set_run(first, end=end)
    deliver(*(certificate_message(learner, run) for run in (first, second, third)))
    assert course_credential(learner, first).visible_date == end
    later_end = end + 7 * DAY
    # when: the course team moves the end a week later, then back into the past
    deliver(schedule_of(first, pacing="instructor", end=later_end))
    after_later_end = (
        course_credential(learner, first).visible_date,
        program_credential(learner, program).visible_date,
    )
    deliver(schedule_of(first, pacing="instructor", end=timezone.now() - DAY))
    # then
    assert after_later_end == (later_end, later_end)
    assert course_credential(learner, first).visible_date is None
    credential = program_credential(learner, program)
    assert credential.visible_date == max(course_credential(learner, run).awarded_at for run in (first, second, third))
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_schedule_change_keeps_statuses_and_leaves_revoked_certificates_alone(
    program: Program, learner: UserData
) -> None:
    # given: an instructor-paced run with a future available date; another learner's certificate in
    # it was awarded, then revoked
    first = runs_of(program)[0]
    available = (timezone.now() + 10 * DAY).replace(microsecond=0)
    set_run(first, certificate_available_date=available)
    other = UserDataFactory()
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    deliver(certificate_message(other, first), certificate_message(other, first, status="revoked"))
    revoked = course_credential(other, first)
    # when
    deliver(schedule_of(first, pacing="self"))
    # then
    assert course_credential(learner, first).visible_date is None
    assert UserCredential.objects.get(pk=revoked.pk).visible_date == revoked.visible_date == available
    assert UserCredential.objects.get(pk=revoked.pk).modified == revoked.modified
    assert sorted(UserCredential.objects.values_list("status", flat=True)) == [
        CredentialStatus.AWARDED,
        CredentialStatus.AWARDED,
        CredentialStatus.AWARDED,
        CredentialStatus.AWARDED,
        CredentialStatus.REVOKED,
    ]
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_program_the_learner_no_longer_completes_keeps_its_visible_date(program: Program, learner: UserData) -> None:
    # given: a needed course certificate was revoked, but the program's revocation is disabled
    first, second, _ = runs_of(program)
    set_run(first, pacing_type=PacingType.SELF_PACED, certificate_available_date=timezone.now() + 10 * DAY)
    deliver(*(certificate_message(learner, run) for run in runs_of(program)))
    deliver(certificate_message(learner, second, status="revoked"))
    before = program_credential(learner, program)
    # when
    deliver(schedule_of(first, pacing="instructor"))
    # then
    assert course_credential(learner, first).visible_date is not None
    credential = program_credential(learner, program)
    assert (credential.status, credential.visible_date) == (CredentialStatus.AWARDED, before.visible_date)


# --- COURSE_CERTIFICATE_CONFIG_CHANGED / _DELETED ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("signal", [COURSE_CERTIFICATE_CONFIG_CHANGED, COURSE_CERTIFICATE_CONFIG_DELETED])
def test_certificate_config_messages_cannot_be_decoded_and_are_parked(signal: Any) -> None:
    # given: openedx-events cannot build an Avro schema for these (the signature image is BinaryIO;
    # they are in its KNOWN_UNSERIALIZABLE_SIGNALS), so no producer can put one on the bus and our
    # consumer cannot decode one
    headers = {k.decode(): v.decode() for k, v in get_headers_from_metadata(signal.generate_signal_metadata()).items()}
    message = IncomingMessage(topic="test-topic", message_id="1-0", headers=headers, payload=b"\x02")
    # when
    result = deliver(message, catalog_message(CourseRunFactory().key))
    # then
    assert (result.processed, result.parked) == (1, 1)
    assert "BinaryIO" in ParkedEvent.objects.get().error


# openedx-events cannot carry these events over the bus (above), so their handlers are called as the
# consumer wrapper would call them once it can: with the event's metadata and data classes.


@pytest.mark.django_db
def test_certificate_config_changed_creates_the_configuration_with_its_signatories() -> None:
    # given
    run = CourseRunFactory()
    config = certificate_config(run.key, mode="professional", title="Professional Certificate", signatories=2)
    # when
    handlers.handle_course_certificate_config_changed(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED), certificate_config=config
    )
    # then
    configuration = CourseCertificate.objects.get(course_run=run)
    assert (configuration.certificate_type, configuration.title, configuration.is_active) == (
        "professional",
        "Professional Certificate",
        True,
    )
    assert sorted(configuration.signatories.values_list("name", "title", "organization_name_override")) == [
        ("Signatory 0", "Professor", "MIT"),
        ("Signatory 1", "Professor", "MIT"),
    ]


@pytest.mark.django_db
def test_certificate_config_changed_updates_and_is_idempotent() -> None:
    # given
    configuration = CourseCertificateFactory(title="Old", is_active=False)
    config = certificate_config(configuration.course_run.key, title="New", signatories=1)
    # when
    for _ in range(2):
        handlers.handle_course_certificate_config_changed(
            metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED), certificate_config=config
        )
    # then
    configuration.refresh_from_db()
    assert (configuration.title, configuration.is_active) == ("New", True)
    assert CourseCertificate.objects.count() == 1
    assert Signatory.objects.count() == 1
    assert [s.name for s in configuration.signatories.all()] == ["Signatory 0"]


@pytest.mark.django_db
def test_certificate_config_deleted_deactivates_and_keeps_the_awarded_credentials(learner: UserData) -> None:
    # given
    run = CourseRunFactory()
    deliver(certificate_message(learner, run))
    configuration = CourseCertificate.objects.get(course_run=run)
    # when
    handlers.handle_course_certificate_config_deleted(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_DELETED), certificate_config=certificate_config(run.key)
    )
    # then
    configuration.refresh_from_db()
    assert configuration.is_active is False
    assert course_credential(learner, run).status == CredentialStatus.AWARDED


@pytest.mark.django_db
def test_an_older_certificate_config_change_does_not_undo_a_deletion() -> None:
    # given
    configuration = CourseCertificateFactory()
    now = timezone.now()
    handlers.handle_course_certificate_config_deleted(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_DELETED, time=now),
        certificate_config=certificate_config(configuration.course_run.key),
    )
    # when
    handlers.handle_course_certificate_config_changed(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED, time=now - datetime.timedelta(minutes=1)),
        certificate_config=certificate_config(configuration.course_run.key, title="Stale"),
    )
    # then
    configuration.refresh_from_db()
    assert (configuration.is_active, configuration.title, configuration.lms_last_updated_at) == (False, "", now)


@pytest.mark.django_db
def test_certificate_config_for_a_course_outside_the_catalog_is_ignored() -> None:
    # when
    handlers.handle_course_certificate_config_changed(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED),
        certificate_config=certificate_config("course-v1:Elsewhere+Pottery101+2026"),
    )
    handlers.handle_course_certificate_config_deleted(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_DELETED),
        certificate_config=certificate_config("course-v1:Elsewhere+Pottery101+2026"),
    )
    # then
    assert not CourseCertificate.objects.exists()
    assert not CourseRun.objects.exists()


@pytest.mark.django_db
def test_certificate_config_for_a_new_run_of_a_known_course_creates_the_run() -> None:
    # given
    course = CourseFactory(key="MITx+6.002x")
    # when
    handlers.handle_course_certificate_config_changed(
        metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED),
        certificate_config=certificate_config("course-v1:MITx+6.002x+2027"),
    )
    # then
    configuration = CourseCertificate.objects.get()
    assert (configuration.course_run.key, configuration.course_run.course) == ("course-v1:MITx+6.002x+2027", course)


@pytest.mark.django_db
def test_certificate_config_in_an_unknown_mode_raises_so_the_wrapper_parks_it() -> None:
    # given
    run = CourseRunFactory()
    # when
    with pytest.raises(CredentialsError) as error:
        handlers.handle_course_certificate_config_changed(
            metadata=metadata(COURSE_CERTIFICATE_CONFIG_CHANGED),
            certificate_config=certificate_config(run.key, mode="platinum"),
        )
    # then
    assert "platinum" in error.value.message
    assert not CourseCertificate.objects.exists()


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
@pytest.mark.parametrize("held_open", ["the schedule change", "the completing certificate"])
def test_a_schedule_change_racing_the_completing_certificate_leaves_the_program_visible_from_the_new_date(
    held_open: str,
) -> None:
    # given: the learner holds the first two courses' certificates; the first run is self-paced with
    # an available date ahead. One change (the first run going instructor-paced, or the third course's
    # certificate, which completes the program) is applied in a transaction kept open while a
    # consumer receives the other.
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    learner = UserDataFactory(id=27182)
    first, second, third = runs_of(program)
    available = (timezone.now() + 10 * DAY).replace(microsecond=0)
    set_run(first, pacing_type=PacingType.SELF_PACED, certificate_available_date=available)
    with relaying_inline():
        deliver(certificate_message(learner, first), certificate_message(learner, second))
    if held_open == "the schedule change":
        other = certificate_message(learner, third)
    else:
        other = schedule_of(first, pacing="instructor")
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with relaying_inline():
                deliver(other)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    # when
    consumer = threading.Thread(target=consume)
    with relaying_inline(), transaction.atomic():
        if held_open == "the schedule change":
            services.record_course_run_schedule(
                course_run_key=first.key,
                title=first.course.title,
                start=first.start,
                end=first.end,
                pacing_type=PacingType.INSTRUCTOR_PACED,
            )
        else:
            user = User.objects.get(lms_user_id=learner.id)
            services.record_course_certificate(user=user, course_run_key=third.key, mode="verified", is_awarded=True)
        consumer.start()
        # Long enough for the consumer to apply its event, were it not waiting for the learner's lock.
        consumer.join(timeout=1)
    consumer.join()
    # then: the consumer waited for the open transaction and saw what it committed
    assert errors == []
    assert not ParkedEvent.objects.exists()
    assert course_credential(learner, first).visible_date == available
    credential = program_credential(learner, program)
    assert (credential.status, credential.visible_date) == (CredentialStatus.AWARDED, available)
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [PROGRAM_CERTIFICATE_AWARDED.event_type]
