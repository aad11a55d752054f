"""Certificate and grade events applied a batch at a time (their batch handlers) against one at a
time: the same credentials, grades and published events, in a fixed number of queries per batch."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.learning.data import CcxCourseData
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

from apps.catalog.models import CourseRun, ProgramCourse
from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.models import User
from apps.credentials.models import CourseCertificate, CredentialStatus, ProgramCertificate, UserCredential, UserGrade
from apps.credentials.tests.factories import (
    CertificateDataFactory,
    CoursePassingStatusDataFactory,
    PersistentCourseGradeDataFactory,
    ProgramCertificateFactory,
    UserDataFactory,
    course_data,
)
from apps.eventbus.consumer import process_messages
from apps.eventbus.data import BatchResult, IncomingMessage
from apps.eventbus.models import OutboxEvent, ParkedEvent, ProcessedEvent
from apps.eventbus.services import relaying_inline
from apps.eventbus.tests.factories import incoming_message

AVAILABLE = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)


def certificate(
    learner: Any,
    run: CourseRun,
    *,
    signal: OpenEdxPublicSignal = CERTIFICATE_CREATED,
    mode: str = "verified",
    status: str = "downloadable",
    download_url: str = "https://lms.test/certificates/1",
) -> IncomingMessage:
    data = CertificateDataFactory(
        user=learner, course=course_data(run.key), mode=mode, current_status=status, download_url=download_url
    )
    return incoming_message(signal, certificate=data)


def deliver(messages: Sequence[IncomingMessage], *, batch_size: int) -> list[BatchResult]:
    with relaying_inline():
        return [process_messages(messages[n : n + batch_size]) for n in range(0, len(messages), batch_size)]


def state() -> dict[str, Any]:
    """Learners, credentials and outbox rows without what differs from run to run (ids, uuids, times
    taken from the clock); a visible date set by a run's schedule is kept."""

    def when(value: datetime.datetime | None) -> object:
        return value if value == AVAILABLE else value is not None

    course_type = ContentType.objects.get_for_model(CourseCertificate)
    configurations = {
        (course_type.pk, c.pk): f"{c.course_run.key} {c.certificate_type}"
        for c in CourseCertificate.objects.select_related("course_run")
    }
    program_type = ContentType.objects.get_for_model(ProgramCertificate)
    configurations |= {(program_type.pk, c.pk): str(c.program.uuid) for c in ProgramCertificate.objects.all()}
    credentials = sorted(
        (
            c.user.lms_user_id,
            configurations[(c.credential_content_type_id, c.credential_id)],
            c.status,
            c.download_url,
            when(c.visible_date),
            when(c.awarded_at),
            when(c.revoked_at),
        )
        for c in UserCredential.objects.select_related("user")
    )
    outbox = []
    for row in OutboxEvent.objects.order_by("id"):
        signal = OpenEdxPublicSignal.get_signal_by_type(row.event_type)
        data = deserialize_bytes_to_event_data(bytes(row.payload), signal)["program_certificate"]
        outbox.append(
            {
                "type": row.event_type,
                "topic": row.topic,
                "key": row.event_key,
                "user": data.user,
                "program": data.program,
                "status": data.status,
                "available": when(data.certificate_available_date),
            }
        )
    learners = sorted(User.objects.values_list("lms_user_id", "username", "email", "full_name"), key=str)
    grades = sorted(
        (
            g.user.lms_user_id,
            g.course_run.key,
            g.letter_grade,
            g.percent_grade,
            g.passed,
            when(g.passed_timestamp),
            g.lms_last_updated_at,
        )
        for g in UserGrade.objects.select_related("user", "course_run")
    )
    return {"learners": learners, "credentials": credentials, "outbox": outbox, "grades": grades}


def forget_everything_learned() -> None:
    UserGrade.objects.all().delete()
    UserCredential.objects.all().delete()
    OutboxEvent.objects.all().delete()
    ProcessedEvent.objects.all().delete()
    ParkedEvent.objects.all().delete()
    User.objects.all().delete()


@pytest.fixture
def runs() -> list[CourseRun]:
    """Program one (revocation enabled): courses 1-3. Program two (xseries, revocation disabled):
    courses 3 and 4; course 4's run makes its certificates visible in 30 days."""
    one = ProgramFactory(course_count=3, title="A: program one")
    ProgramCertificateFactory(program=one, is_revocation_enabled=True)
    first, second, third = (pc.course.course_runs.get() for pc in one.program_courses.order_by("position"))
    fourth = CourseRunFactory(certificate_available_date=AVAILABLE)
    two = ProgramFactory(title="B: program two", type="XSeries", type_slug="xseries")
    ProgramCourse.objects.create(program=two, course=third.course, position=0)
    ProgramCourse.objects.create(program=two, course=fourth.course, position=1)
    ProgramCertificateFactory(program=two)
    return [first, second, third, fourth]


def interleaved_stream(runs: list[CourseRun]) -> list[IncomingMessage]:
    """Several learners' streams interleaved: awards, revocations, re-awards, a rename, a username
    taken over, a changed email, duplicates."""
    c1, c2, c3, c4 = runs
    ada = UserDataFactory(id=1, pii__username="ada", pii__email="ada@example.com")
    ada_new_email = UserDataFactory(id=1, pii__username="ada", pii__email="ada@new.example.com", pii__name=ada.pii.name)
    bob = UserDataFactory(id=2, pii__username="bob")
    cy = UserDataFactory(id=3, pii__username="cy")
    dee = UserDataFactory(id=4, pii__username="dee")
    dee_renamed = UserDataFactory(id=4, pii__username="dee2", pii__email=dee.pii.email, pii__name=dee.pii.name)
    eve_takes_dee = UserDataFactory(id=5, pii__username="dee")
    streams = [
        [  # completes program one, loses it, gets it back; completes program two (visible in 30 days)
            certificate(ada, c1),
            certificate(ada, c2),
            certificate(ada, c3),
            certificate(ada, c2, signal=CERTIFICATE_REVOKED, status="revoked"),
            certificate(ada, c2, signal=CERTIFICATE_CHANGED),
            certificate(ada_new_email, c4),
            certificate(ada_new_email, c4, signal=CERTIFICATE_CHANGED, download_url="https://lms.test/new-url"),
        ],
        [  # an audit certificate that does not count, then revoked; program one completed, then revoked
            certificate(bob, c1),
            certificate(bob, c3, mode="audit"),
            certificate(bob, c3, mode="audit", signal=CERTIFICATE_CHANGED, status="notpassing"),
            certificate(bob, c2),
            certificate(bob, c3),
            certificate(bob, c1, signal=CERTIFICATE_REVOKED, status="revoked"),
        ],
        [  # a revocation of what was never awarded, then the award; program two, then program one
            certificate(cy, c1, signal=CERTIFICATE_REVOKED, status="revoked"),
            certificate(cy, c1),
            certificate(cy, c4),
            certificate(cy, c3),
            certificate(cy, c2),
            certificate(cy, c3, signal=CERTIFICATE_REVOKED, status="revoked"),
        ],
        [  # renamed in the LMS; another learner takes the freed username
            certificate(dee, c1),
            certificate(eve_takes_dee, c1),
            certificate(dee_renamed, c2),
            certificate(eve_takes_dee, c2, mode="professional"),
        ],
    ]
    stream = [m for round_ in zip(*[s + [None] * (7 - len(s)) for s in streams], strict=True) for m in round_ if m]
    # Redelivered: some at once, some at the end.
    return [*stream[:5], stream[1], stream[3], *stream[5:], *stream[10:14]]


@pytest.mark.django_db
# Batches of 4 split runs; one of them holds a single new event (and three redelivered), applied alone.
@pytest.mark.parametrize(("batch_size", "applied_in_runs"), [(100, 23), (4, 22)])
def test_a_stream_applied_in_batches_ends_as_it_does_one_event_at_a_time(
    runs: list[CourseRun], batch_size: int, applied_in_runs: int
) -> None:
    # given: the stream applied one event at a time
    stream = interleaved_stream(runs)
    one_at_a_time = deliver(stream, batch_size=1)
    expected = state()
    forget_everything_learned()
    # when
    batched = deliver(stream, batch_size=batch_size)
    # then
    assert state() == expected
    assert sum(r.processed for r in batched) == sum(r.processed for r in one_at_a_time) == len(stream) - 6
    assert sum(r.duplicates for r in batched) == sum(r.duplicates for r in one_at_a_time) == 6
    assert sum(r.batched for r in batched) == applied_in_runs
    assert sum(r.fallbacks + r.parked for r in batched) == 0
    # and the stream did what it says
    outbox = [(e["type"], e["key"].split(":")[0], e["status"]) for e in expected["outbox"]]
    awarded, revoked = PROGRAM_CERTIFICATE_AWARDED.event_type, PROGRAM_CERTIFICATE_REVOKED.event_type
    assert sorted(outbox, key=lambda e: e[1]) == [
        (awarded, "1", "awarded"),  # ada: program one
        (revoked, "1", "revoked"),
        (awarded, "1", "awarded"),
        (awarded, "1", "awarded"),  # program two
        (awarded, "2", "awarded"),  # bob: program one
        (revoked, "2", "revoked"),
        (awarded, "3", "awarded"),  # cy: program two (c4, c3), then program one (c2)
        (awarded, "3", "awarded"),
        (revoked, "3", "revoked"),  # c3 revoked: program one revoked, program two kept (disabled)
    ]
    [ada_program_two] = [e for e in expected["outbox"] if e["key"].startswith("1:") and e["available"] == AVAILABLE]
    assert ada_program_two["user"].pii.email == "ada@new.example.com"
    assert ("4", "dee2") in {(str(lms_id), name) for lms_id, name, *_ in expected["learners"]}
    assert ("5", "dee") in {(str(lms_id), name) for lms_id, name, *_ in expected["learners"]}


@pytest.mark.django_db
def test_a_bad_event_in_a_batch_is_parked_alone(runs: list[CourseRun]) -> None:
    # given: an unknown course run in the middle of ten good events
    learners = [UserDataFactory(id=100 + n) for n in range(10)]
    unknown = certificate(learners[0], CourseRun(key="course-v1:Nobody+Knows+This"))
    batch = [certificate(learner, runs[0]) for learner in learners[:5]]
    batch += [unknown] + [certificate(learner, runs[0]) for learner in learners[5:]]
    # when
    [result] = deliver(batch, batch_size=100)
    # then: the run failed together, then went one by one
    assert (result.processed, result.parked, result.batched, result.fallbacks) == (10, 1, 0, 1)
    parked = ParkedEvent.objects.get()
    assert str(parked.event_id) == unknown.headers["id"]
    assert "CatalogNotFoundError" in parked.error and "course-v1:Nobody+Knows+This" in parked.error
    assert UserCredential.objects.filter(status=CredentialStatus.AWARDED).count() == 10
    assert ProcessedEvent.objects.count() == 10


@pytest.mark.django_db
def test_a_learner_identity_conflict_parks_only_its_event(runs: list[CourseRun]) -> None:
    # given: a username-only record, and LMS user 8 known here by another name, that one event says
    # are the same person (two partial records of one person would merge)
    deliver([certificate(UserDataFactory(id=7, pii__username="ann"), runs[0])], batch_size=1)
    User.objects.filter(lms_user_id=7).update(lms_user_id=None)
    deliver([certificate(UserDataFactory(id=8, pii__username="other"), runs[0])], batch_size=1)
    conflicting = certificate(UserDataFactory(id=8, pii__username="ann"), runs[1])
    # when
    [result] = deliver(
        [certificate(UserDataFactory(id=9), runs[0]), conflicting, certificate(UserDataFactory(id=10), runs[0])],
        batch_size=100,
    )
    # then
    assert (result.processed, result.parked, result.fallbacks) == (2, 1, 1)
    assert "LearnerIdentityError" in ParkedEvent.objects.get(event_id=conflicting.headers["id"]).error


@pytest.mark.django_db
def test_a_batch_costs_a_fixed_number_of_queries(
    runs: list[CourseRun], django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    # given: a hundred learners, each event their first (creating them), then each completing program one
    learners = [UserDataFactory(id=1000 + n) for n in range(100)]
    deliver([certificate(learner, runs[0]) for learner in learners[:2]], batch_size=100)  # warm caches
    first = [certificate(learner, runs[0]) for learner in learners]
    second = [certificate(learner, runs[1]) for learner in learners]
    completing = [certificate(learner, runs[2]) for learner in learners]
    # when / then: fewer than one query for three events, whatever the batch's size
    with django_assert_max_num_queries(30):
        [created] = deliver(first, batch_size=100)
    deliver(second, batch_size=100)
    with django_assert_max_num_queries(30):
        [completed] = deliver(completing, batch_size=100)
    assert created.batched == completed.batched == 100
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
def test_concurrent_batches_over_the_same_learners_award_once_each(
    concurrently: Callable[..., list[Any]],
) -> None:
    # given: five learners hold course 1; two consumers get batches completing their program together,
    # in opposite orders, with two learners new to both
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    first, second, third = (pc.course.course_runs.get() for pc in program.program_courses.order_by("position"))
    known = [UserDataFactory(id=500 + n) for n in range(5)]
    new = [UserDataFactory(id=600 + n) for n in range(2)]
    deliver([certificate(learner, first) for learner in known], batch_size=100)
    everyone = [*known, *new]
    batches = [
        [certificate(learner, second) for learner in everyone] + [certificate(learner, first) for learner in new],
        [certificate(learner, third) for learner in reversed(everyone)]
        + [certificate(learner, first) for learner in reversed(new)],
    ]
    # when
    concurrently(lambda batch: deliver(batch, batch_size=100), batches)
    # then
    assert ParkedEvent.objects.count() == 0
    program_credentials = UserCredential.objects.filter(
        credential_content_type=ContentType.objects.get_for_model(ProgramCertificate)
    )
    awarded_to = sorted(c.user.lms_user_id for c in program_credentials.select_related("user"))
    assert awarded_to == [learner.id for learner in everyone]
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 7


# --- grades --------------------------------------------------------------------------------------

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def at(message: IncomingMessage, minutes: int) -> IncomingMessage:
    """The message as if the LMS had sent it `minutes` after T0 (its metadata's time)."""
    when = T0 + datetime.timedelta(minutes=minutes)
    return dataclasses.replace(message, headers={**message.headers, "time": when.isoformat()})


def summary(user_id: int, run: CourseRun, percent: float, letter: str = "B") -> IncomingMessage:
    # openedx-events' schema has no "not passed" summary (passed_timestamp is required): failing comes
    # as a passing-status event.
    grade = PersistentCourseGradeDataFactory(
        user_id=user_id, course=course_data(run.key), percent_grade=percent, letter_grade=letter, passed_timestamp=T0
    )
    return incoming_message(PERSISTENT_GRADE_SUMMARY_CHANGED, grade=grade)


def passing(learner: Any, run: CourseRun, *, is_passing: bool) -> IncomingMessage:
    status = CoursePassingStatusDataFactory(user=learner, course=course_data(run.key), is_passing=is_passing)
    return incoming_message(COURSE_PASSING_STATUS_UPDATED, course_passing_status=status)


def ccx_passing(learner: Any, run: CourseRun) -> IncomingMessage:
    ccx = CcxCourseData(
        ccx_course_key=f"ccx-v1:{run.key.removeprefix('course-v1:')}+ccx@3",
        master_course_key=course_data(run.key).course_key,
        display_name="Our cohort",
    )
    status = CCX_COURSE_PASSING_STATUS_UPDATED.init_data["course_passing_status"](
        is_passing=True, course=ccx, user=learner
    )
    return incoming_message(CCX_COURSE_PASSING_STATUS_UPDATED, course_passing_status=status)


def grade_stream(runs: list[CourseRun]) -> list[IncomingMessage]:
    """Grades in and out of order, passing-status events that keep the percent, a learner known by id
    first and by name later, a CCX run, certificate events in between (a run of their own)."""
    c1, c2, c3, _ = runs
    ann = UserDataFactory(id=21, pii__username="ann")
    ben = UserDataFactory(id=22, pii__username="ben")
    return [
        at(summary(21, c1, 0.41, "D"), 0),  # ann known by id only
        at(summary(22, c1, 0.8), 1),
        at(summary(21, c1, 0.95), 5),
        at(summary(21, c1, 0.10, "F"), 3),  # older than the stored one: ignored
        at(passing(ann, c1, is_passing=False), 6),  # names ann; keeps the percent
        at(certificate(ann, c1), 7),
        at(certificate(ben, c1), 7),
        at(passing(ben, c2, is_passing=True), 8),  # a new grade at 0
        at(ccx_passing(ann, c3), 9),
        at(summary(22, c2, 0.77), 10),
        at(passing(ben, c2, is_passing=False), 11),
        at(summary(22, c2, 0.66), 2),  # older: ignored
    ]


@pytest.mark.django_db
def test_grade_events_applied_in_batches_end_as_one_at_a_time(runs: list[CourseRun]) -> None:
    # given
    stream = grade_stream(runs)
    deliver(stream, batch_size=1)
    expected = state()
    forget_everything_learned()
    # when
    [result] = deliver(stream, batch_size=100)
    # then: three runs (five grade events, two certificate events, five grade events)
    assert state() == expected
    assert (result.processed, result.batched, result.fallbacks) == (12, 12, 0)
    ann_c1 = UserGrade.objects.get(user__lms_user_id=21, course_run=runs[0])
    assert (ann_c1.percent_grade, ann_c1.passed, ann_c1.user.username) == (Decimal("0.9500"), False, "ann")
    ben_c2 = UserGrade.objects.get(user__lms_user_id=22, course_run=runs[1])
    assert (ben_c2.percent_grade, ben_c2.passed) == (Decimal("0.7700"), False)
    assert UserGrade.objects.get(user__lms_user_id=21, course_run=runs[2]).passed


@pytest.mark.django_db
def test_a_bad_grade_in_a_batch_is_parked_alone(runs: list[CourseRun]) -> None:
    # given
    batch = [summary(30 + n, runs[0], 0.5) for n in range(4)]
    batch.insert(2, summary(40, runs[0], 1.5))
    # when
    [result] = deliver(batch, batch_size=100)
    # then
    assert (result.processed, result.parked, result.batched, result.fallbacks) == (4, 1, 0, 1)
    assert "percent_grade" in ParkedEvent.objects.get().error
    assert UserGrade.objects.count() == 4


@pytest.mark.django_db
def test_a_batch_of_grades_costs_a_fixed_number_of_queries(
    runs: list[CourseRun], django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    # given: a hundred learners' first grades, then their new ones
    deliver([summary(2000, runs[0], 0.5), summary(2001, runs[0], 0.5)], batch_size=100)  # warm caches
    first = [summary(3000 + n, runs[0], 0.5) for n in range(100)]
    again = [summary(3000 + n, runs[0], 0.9) for n in range(100)]
    # when / then
    with django_assert_max_num_queries(15):
        [created] = deliver(first, batch_size=100)
    with django_assert_max_num_queries(15):
        [updated] = deliver(again, batch_size=100)
    assert created.batched == updated.batched == 100
    percents = set(UserGrade.objects.filter(user__lms_user_id__gte=3000).values_list("percent_grade", flat=True))
    assert percents == {Decimal("0.9000")}
