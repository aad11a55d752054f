"""Batch handlers: runs of consecutive events applied together, and one by one when that fails."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from openedx_events.learning.data import (
    CourseEnrollmentData,
    ProgramCertificateData,
    ProgramData,
    UserData,
    UserPersonalData,
)
from openedx_events.learning.signals import (
    COURSE_ENROLLMENT_CHANGED,
    COURSE_ENROLLMENT_CREATED,
    COURSE_UNENROLLMENT_COMPLETED,
    PROGRAM_CERTIFICATE_AWARDED,
    PROGRAM_CERTIFICATE_REVOKED,
)
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

from apps.core.api import get_or_create_learner
from apps.core.models import User
from apps.eventbus import services
from apps.eventbus.codec import deserialize
from apps.eventbus.consumer import InfrastructureError, process_messages
from apps.eventbus.data import IncomingMessage, OutgoingEvent
from apps.eventbus.exceptions import EventBusError
from apps.eventbus.models import OutboxEvent, ParkedEvent, ProcessedEvent
from apps.eventbus.registry import register_batch_handler, unregister_batch_handler
from apps.eventbus.tests.factories import incoming_message
from apps.eventbus.tests.test_consumer import enrollment

pytestmark = pytest.mark.django_db

Events = list[tuple[EventsMetadata, dict[str, Any]]]


def message(signal: OpenEdxPublicSignal, username: str, user_id: int) -> IncomingMessage:
    return incoming_message(signal, **enrollment(username, user_id))


def create_learner(*, metadata: EventsMetadata, enrollment: CourseEnrollmentData) -> None:
    if enrollment.user.pii.username.startswith("bad"):
        raise ValueError(f"no such learner here: {enrollment.user.pii.username}")
    get_or_create_learner(lms_user_id=enrollment.user.id, username=enrollment.user.pii.username)


@pytest.fixture
def batch_handler() -> Iterator[Callable[..., None]]:
    """Register throwaway batch handlers for the test's duration."""
    registered: list[tuple[OpenEdxPublicSignal, Callable[[Events], None]]] = []

    def register(signal: OpenEdxPublicSignal, func: Callable[[Events], None], *, replaces: Callable[..., None]) -> None:
        register_batch_handler(signal, func, replaces=replaces)
        registered.append((signal, func))

    yield register
    for signal, func in registered:
        unregister_batch_handler(signal, func)


@pytest.fixture
def calls(handler: Callable[..., None], batch_handler: Callable[..., None]) -> list[list[str]]:
    """CREATED and CHANGED enrollments share one batch handler (which records each call's usernames
    and creates the learners, failing the whole run on a "bad" one); every type keeps its single handler."""
    seen: list[list[str]] = []

    def create_learners(events: Events) -> None:
        seen.append([data["enrollment"].user.pii.username for _, data in events])
        for metadata, data in events:
            create_learner(metadata=metadata, **data)

    for signal in (COURSE_ENROLLMENT_CREATED, COURSE_ENROLLMENT_CHANGED):
        handler(signal, create_learner)
        batch_handler(signal, create_learners, replaces=create_learner)
    handler(COURSE_UNENROLLMENT_COMPLETED, create_learner)
    return seen


def test_consecutive_events_sharing_a_batch_handler_are_applied_together_in_order(calls: list[list[str]]) -> None:
    # given: a run of three (two types, one handler), an event of another kind, a run of two
    batch = [
        message(COURSE_ENROLLMENT_CREATED, "ann", 1),
        message(COURSE_ENROLLMENT_CHANGED, "ben", 2),
        message(COURSE_ENROLLMENT_CREATED, "cat", 3),
        message(COURSE_UNENROLLMENT_COMPLETED, "dan", 4),
        message(COURSE_ENROLLMENT_CREATED, "eve", 5),
        message(COURSE_ENROLLMENT_CHANGED, "fay", 6),
    ]
    # when
    result = process_messages(batch)
    # then
    assert calls == [["ann", "ben", "cat"], ["eve", "fay"]]
    assert (result.processed, result.batched, result.fallbacks, result.parked) == (6, 5, 0, 0)
    assert User.objects.count() == 6
    assert ProcessedEvent.objects.count() == 6


def test_duplicates_are_left_out_of_runs_and_a_run_of_one_is_applied_alone(calls: list[list[str]]) -> None:
    # given
    ann = message(COURSE_ENROLLMENT_CREATED, "ann", 1)
    process_messages([ann])
    # when: ann again (a duplicate) beside one new event
    result = process_messages([ann, message(COURSE_ENROLLMENT_CREATED, "ben", 2)])
    # then: neither batch had a run of two, so the batch handler never ran
    assert calls == []
    assert (result.processed, result.duplicates, result.batched) == (1, 1, 0)


def test_a_failing_run_is_applied_one_by_one_and_only_the_bad_event_is_parked(calls: list[list[str]]) -> None:
    # given: the batch handler creates ann and ben, then fails on the bad one
    batch = [
        message(COURSE_ENROLLMENT_CREATED, "ann", 1),
        message(COURSE_ENROLLMENT_CREATED, "ben", 2),
        message(COURSE_ENROLLMENT_CREATED, "bad", 3),
        message(COURSE_ENROLLMENT_CHANGED, "cat", 4),
    ]
    # when
    result = process_messages(batch)
    # then: its writes were rolled back; the single handlers applied the good ones
    assert calls == [["ann", "ben", "bad", "cat"]]
    assert (result.processed, result.parked, result.batched, result.fallbacks) == (3, 1, 0, 1)
    assert sorted(User.objects.values_list("username", flat=True)) == ["ann", "ben", "cat"]
    parked = ParkedEvent.objects.get()
    assert str(parked.event_id) == batch[2].headers["id"]
    assert "ValueError: no such learner here: bad" in parked.error
    assert ProcessedEvent.objects.count() == 3


def test_an_infrastructure_failure_in_a_run_applies_and_parks_nothing(
    handler: Callable[..., None], batch_handler: Callable[..., None]
) -> None:
    # given
    def database_gone(events: Events) -> None:
        for metadata, data in events:
            create_learner(metadata=metadata, **data)
        raise OperationalError("server closed the connection unexpectedly")

    handler(COURSE_ENROLLMENT_CREATED, create_learner)
    batch_handler(COURSE_ENROLLMENT_CREATED, database_gone, replaces=create_learner)
    # when
    with pytest.raises(InfrastructureError):
        process_messages([message(COURSE_ENROLLMENT_CREATED, "ann", 1), message(COURSE_ENROLLMENT_CREATED, "ben", 2)])
    # then
    assert not User.objects.exists()
    assert not ProcessedEvent.objects.exists()
    assert not ParkedEvent.objects.exists()


def test_each_app_batches_its_own_handler_and_unbatched_handlers_see_each_event(
    handler: Callable[..., None], batch_handler: Callable[..., None]
) -> None:
    # given: three handlers of one type, two of them with a batch handler (two apps), one without
    seen: dict[str, list[list[str]]] = {"first": [], "second": [], "single": []}

    def single(name: str) -> Callable[..., None]:
        def apply(*, metadata: EventsMetadata, enrollment: CourseEnrollmentData) -> None:
            seen[name].append([enrollment.user.pii.username])

        return apply

    def batch(name: str) -> Callable[[Events], None]:
        def apply(events: Events) -> None:
            seen[name].append([data["enrollment"].user.pii.username for _, data in events])

        return apply

    first, second, unbatched = single("first"), single("second"), single("single")
    for func in (first, second, unbatched):
        handler(COURSE_ENROLLMENT_CREATED, func)
    batch_handler(COURSE_ENROLLMENT_CREATED, batch("first"), replaces=first)
    batch_handler(COURSE_ENROLLMENT_CREATED, batch("second"), replaces=second)
    # when
    result = process_messages([message(COURSE_ENROLLMENT_CREATED, name, n) for n, name in enumerate("abc", 1)])
    # then: each batch handler had the run once; the third handler had each event
    assert seen == {"first": [["a", "b", "c"]], "second": [["a", "b", "c"]], "single": [["a"], ["b"], ["c"]]}
    assert (result.processed, result.batched) == (3, 3)


def test_a_batch_handler_must_stand_for_a_registered_handler(handler: Callable[..., None]) -> None:
    # when / then
    with pytest.raises(ValueError, match="register it first"):
        register_batch_handler(COURSE_ENROLLMENT_CREATED, lambda events: None, replaces=create_learner)


# --- enqueueing many events at once --------------------------------------------------------------


def certificate(user_id: int, status: str = "awarded") -> ProgramCertificateData:
    return ProgramCertificateData(
        user=UserData(id=user_id, is_active=True, pii=UserPersonalData(username=f"u{user_id}", email="", name="")),
        program=ProgramData(uuid="4c7b3f6e-0b1a-4f0e-9b7e-2b1f0c9d8e7a", title="P", program_type="micromasters"),
        uuid="5d8c4e7f-1c2b-4a1f-8c9f-3c2e1d0f9e8b",
        status=status,
        url="https://credentials.test/c/1/",
        certificate_available_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )


def test_enqueue_events_writes_them_in_order_in_one_statement_with_one_relay_hook(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given
    events = [
        OutgoingEvent(signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", data={"program_certificate": certificate(1)}),
        OutgoingEvent(
            signal=PROGRAM_CERTIFICATE_REVOKED, key="1:p", data={"program_certificate": certificate(1, "revoked")}
        ),
        OutgoingEvent(signal=PROGRAM_CERTIFICATE_AWARDED, key="2:p", data={"program_certificate": certificate(2)}),
    ]
    # when
    with django_capture_on_commit_callbacks() as hooks, transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            services.enqueue_events(events)
    # then
    assert [q["sql"].split()[0] for q in queries] == ["INSERT"]
    assert len(hooks) == 1
    rows = list(OutboxEvent.objects.order_by("id"))
    assert [(r.event_type, r.event_key) for r in rows] == [(e.signal.event_type, e.key) for e in events]
    assert [deserialize(bytes(r.payload), e.signal) for r, e in zip(rows, events, strict=True)] == [
        e.data for e in events
    ]
    assert len({r.event_id for r in rows}) == 3


def test_enqueue_events_refuses_an_event_type_without_a_topic(settings: Any) -> None:
    # given
    settings.EVENT_BUS_PRODUCER_TOPICS = {}
    # when
    with pytest.raises(EventBusError), transaction.atomic():
        services.enqueue_events(
            [OutgoingEvent(signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", data={"program_certificate": certificate(1)})]
        )
    # then
    assert not OutboxEvent.objects.exists()
