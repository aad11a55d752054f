from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import CourseData, CourseEnrollmentData, UserData, UserPersonalData
from openedx_events.learning.signals import COURSE_ENROLLMENT_CREATED, COURSE_UNENROLLMENT_COMPLETED

from apps.core.api import get_or_create_learner
from apps.core.models import User
from apps.eventbus.consumer import InfrastructureError, process_messages
from apps.eventbus.data import IncomingMessage
from apps.eventbus.models import ParkedEvent, ProcessedEvent
from apps.eventbus.tests.factories import incoming_message

pytestmark = pytest.mark.django_db


def enrollment(username: str, user_id: int) -> dict[str, Any]:
    return {
        "enrollment": CourseEnrollmentData(
            user=UserData(id=user_id, is_active=True, pii=UserPersonalData(username=username, email="", name="")),
            course=CourseData(course_key=CourseKey.from_string("course-v1:OrgX+C1+R1")),
            mode="verified",
            is_active=True,
            creation_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
    }


def create_learner(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
    get_or_create_learner(lms_user_id=enrollment.user.id, username=enrollment.user.pii.username)


def test_events_are_applied_once_and_duplicates_skipped(handler: Callable[..., None]) -> None:
    # given
    handler(COURSE_ENROLLMENT_CREATED, create_learner)
    first = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))
    second = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ben", 2))
    # when: a batch with a duplicate inside it, then the whole batch redelivered
    result = process_messages([first, second, first])
    again = process_messages([first, second])
    # then
    assert (result.processed, result.duplicates, result.parked) == (2, 1, 0)
    assert (again.processed, again.duplicates) == (0, 2)
    assert set(User.objects.values_list("username", flat=True)) == {"ann", "ben"}
    assert ProcessedEvent.objects.count() == 2


def test_event_types_without_handlers_are_ignored() -> None:
    result = process_messages([incoming_message(COURSE_UNENROLLMENT_COMPLETED, **enrollment("ann", 1))])
    assert (result.ignored, result.processed) == (1, 0)
    assert not ProcessedEvent.objects.exists()


def test_a_failing_event_is_parked_alone_and_its_effects_rolled_back(handler: Callable[..., None]) -> None:
    # given: a handler that writes, then fails on one learner
    def create_then_fail(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
        create_learner(metadata=metadata, enrollment=enrollment)
        if enrollment.user.pii.username == "bad":
            raise ValueError("no such course here")

    handler(COURSE_ENROLLMENT_CREATED, create_then_fail)
    good_before = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))
    bad = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("bad", 2))
    good_after = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ben", 3))
    # when
    result = process_messages([good_before, bad, good_after])
    # then
    assert (result.processed, result.parked) == (2, 1)
    assert set(User.objects.values_list("username", flat=True)) == {"ann", "ben"}
    parked = ParkedEvent.objects.get()
    assert str(parked.event_id) == bad.headers["id"]
    assert parked.event_type == COURSE_ENROLLMENT_CREATED.event_type
    assert "ValueError: no such course here" in parked.error
    assert bytes(parked.payload) == bad.payload
    assert not ProcessedEvent.objects.filter(event_id=parked.event_id).exists()


def test_a_redelivered_bad_event_is_parked_once_with_more_attempts(handler: Callable[..., None]) -> None:
    # given
    def fail(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
        raise KeyError("unknown course")

    handler(COURSE_ENROLLMENT_CREATED, fail)
    bad = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("bad", 2))
    # when
    process_messages([bad])
    process_messages([bad])
    # then
    parked = ParkedEvent.objects.get()
    assert parked.attempts == 2


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda m: IncomingMessage(m.topic, m.message_id, m.headers, b"\x00garbage\xff"), "unreadable message"),
        (
            lambda m: IncomingMessage(
                m.topic, m.message_id, {k: v for k, v in m.headers.items() if k != "id"}, m.payload
            ),
            "no event id",
        ),
        (
            lambda m: IncomingMessage(m.topic, m.message_id, {**m.headers, "type": "org.example.nope.v1"}, m.payload),
            "unreadable",
        ),
    ],
)
def test_unreadable_messages_are_parked(
    handler: Callable[..., None], mangle: Callable[[IncomingMessage], IncomingMessage], reason: str
) -> None:
    # given
    handler(COURSE_ENROLLMENT_CREATED, create_learner)
    broken = mangle(incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1)))
    fine = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ben", 2))
    # when
    result = process_messages([broken, fine])
    # then
    assert (result.parked, result.processed) == (1, 1)
    parked = ParkedEvent.objects.get()
    assert reason in parked.error
    assert bytes(parked.payload) == broken.payload
    assert User.objects.filter(username="ben").exists()


def test_infrastructure_failure_applies_and_parks_nothing(handler: Callable[..., None]) -> None:
    # given: the second event meets a dead database connection
    def database_gone(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
        if enrollment.user.pii.username == "ben":
            raise OperationalError("server closed the connection unexpectedly")
        create_learner(metadata=metadata, enrollment=enrollment)

    handler(COURSE_ENROLLMENT_CREATED, database_gone)
    batch = [
        incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1)),
        incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ben", 2)),
    ]
    # when
    with pytest.raises(InfrastructureError):
        process_messages(batch)
    # then: nothing committed, so a retry of the same batch applies everything
    assert not User.objects.exists()
    assert not ProcessedEvent.objects.exists()
    assert not ParkedEvent.objects.exists()


def test_parked_events_keep_their_id_for_idempotent_replay(handler: Callable[..., None]) -> None:
    event_id = uuid.uuid4()

    def fail(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
        raise ValueError("boom")

    handler(COURSE_ENROLLMENT_CREATED, fail)
    process_messages([incoming_message(COURSE_ENROLLMENT_CREATED, event_id=event_id, **enrollment("a", 1))])
    assert ParkedEvent.objects.get().event_id == event_id


def test_an_event_applied_by_another_consumer_meanwhile_makes_the_batch_retry(handler: Callable[..., None]) -> None:
    # given: while this batch runs, another consumer commits the same event id (simulated by the
    # handler writing the ProcessedEvent row that the other consumer's commit would have written)
    def other_consumer_was_faster(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
        ProcessedEvent.objects.create(event_id=metadata.id, event_type=metadata.event_type)

    handler(COURSE_ENROLLMENT_CREATED, other_consumer_was_faster)
    message = incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))
    # when / then: not parked, not a crash: retried, and the retry sees a duplicate
    with pytest.raises(InfrastructureError, match="another consumer"):
        process_messages([message])
    assert not ParkedEvent.objects.exists()
    ProcessedEvent.objects.create(event_id=uuid.UUID(message.headers["id"]), event_type="x")
    assert process_messages([message]).duplicates == 1
