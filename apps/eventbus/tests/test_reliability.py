"""Reliability of the event pipeline, each claim a scripted test on real servers: PostgreSQL, Redis, and
the consumer as its own process (`manage.py run_event_consumer`), as in production.

LMS-shaped events → consumer process → database → outbox → relay → our topic, with the events
delivered twice, the consumer SIGKILLed mid-stream, the publishing broker unreachable, malformed
input of every consumed event type, and the database going away under the consumer.
"""

from __future__ import annotations

import copy
import datetime
import io
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import attr
import fastavro
import pytest
import redis
from ccx_keys.locator import CCXLocator
from django.conf import settings
from django.db import connection
from edx_event_bus_redis.internal.message import RedisMessage
from opaque_keys.edx.keys import CourseKey
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.event_bus.avro.serializer import AvroSignalSerializer, serialize_event_data_to_bytes
from openedx_events.learning.data import (
    CcxCourseData,
    CcxCoursePassingStatusData,
    CourseData,
    CoursePassingStatusData,
    PersistentCourseGradeData,
    ProgramCertificateData,
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
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

from apps.catalog.models import Program
from apps.catalog.tests.factories import ProgramFactory
from apps.core.models import User
from apps.credentials.models import CourseCertificate, CredentialStatus, UserCredential, UserGrade
from apps.credentials.tests.factories import ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent, ProcessedEvent, RelayLease
from apps.eventbus.services import LEASE_NAME
from apps.eventbus.tasks import relay_outbox_task
from apps.eventbus.tests.factories import send_with_lms_producer
from apps.eventbus.tests.process_support import (
    CERTIFICATES_TOPIC,
    PROGRAM_TOPIC,
    ConsumerProcess,
    ConsumerStarter,
    certificate,
    consumer_env,
    database_url,
    run_until_idle,
    wait_for,
)
from apps.eventbus.tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the consumer process needs a shared database"),
]

GRADED_AT = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


# --- events, as the LMS puts them on the bus ------------------------------------------------------


@dataclass(frozen=True)
class LmsEvent:
    signal: OpenEdxPublicSignal
    data: dict[str, Any]
    metadata: EventsMetadata

    def fields(self) -> dict[bytes, bytes]:
        """The stream entry edx-event-bus-redis's producer writes (its own message class)."""
        payload = serialize_event_data_to_bytes(self.data, self.signal)
        return dict(RedisMessage(topic="", event_data=payload, event_metadata=self.metadata).to_binary_dict())


def lms_event(signal: OpenEdxPublicSignal, **data: Any) -> LmsEvent:
    return LmsEvent(signal=signal, data=data, metadata=signal.generate_signal_metadata())


def certificate_created(user_id: int, run_key: str, **kwargs: Any) -> LmsEvent:
    return lms_event(CERTIFICATE_CREATED, certificate=certificate(user_id=user_id, run_key=run_key, **kwargs))


def grade_changed(user_id: int, run_key: str, percent: float = 0.82) -> LmsEvent:
    return lms_event(
        PERSISTENT_GRADE_SUMMARY_CHANGED,
        grade=PersistentCourseGradeData(
            user_id=user_id,
            course=CourseData(course_key=CourseKey.from_string(run_key)),
            course_edited_timestamp=GRADED_AT,
            course_version="v1",
            grading_policy_hash="policy",
            percent_grade=percent,
            letter_grade="B",
            passed_timestamp=GRADED_AT,
        ),
    )


def learner(user_id: int) -> UserData:
    username = f"u{user_id}"
    return UserData(
        id=user_id, is_active=True, pii=UserPersonalData(username=username, email=f"{username}@example.com", name="")
    )


def passing_status(user_id: int, run_key: str) -> LmsEvent:
    return lms_event(
        COURSE_PASSING_STATUS_UPDATED,
        course_passing_status=CoursePassingStatusData(
            is_passing=True, course=CourseData(course_key=CourseKey.from_string(run_key)), user=learner(user_id)
        ),
    )


def ccx_passing_status(user_id: int, master_run_key: str) -> LmsEvent:
    master = CourseKey.from_string(master_run_key)
    return lms_event(
        CCX_COURSE_PASSING_STATUS_UPDATED,
        course_passing_status=CcxCoursePassingStatusData(
            is_passing=True,
            course=CcxCourseData(
                ccx_course_key=CCXLocator.from_course_locator(master, "3"),
                master_course_key=master,
                display_name="Coached",
                coach_email="coach@example.com",
            ),
            user=learner(user_id),
        ),
    )


def produce_with_lms_producer(events: list[LmsEvent]) -> None:
    """Send with edx-event-bus-redis's own producer, exactly as an LMS would."""
    send_with_lms_producer(topic=CERTIFICATES_TOPIC, events=[(e.signal, e.data, e.metadata) for e in events])


def produce_at_once(client: redis.Redis, entries: list[dict[bytes, bytes]]) -> None:
    """XADD stream entries in one MULTI/EXEC, so a consumer blocked on the stream wakes up to all of
    them at once and its batches are predictable (full batches of --batch-size)."""
    pipeline = client.pipeline(transaction=True)
    for entry in entries:
        pipeline.xadd(stream(CERTIFICATES_TOPIC), entry)  # type: ignore[arg-type]
    pipeline.execute()


# --- the world around them ------------------------------------------------------------------------


def stream(topic: str) -> str:
    return f"{settings.EVENT_BUS_TOPIC_PREFIX}-{topic}"


def program_with_courses(count: int, *, revocation: bool = False) -> tuple[Program, list[str]]:
    """A program of `count` courses (one run each) with a program certificate; its run keys in order."""
    program: Program = ProgramFactory(course_count=count)
    ProgramCertificateFactory(program=program, is_revocation_enabled=revocation)
    runs = [pc.course.course_runs.get().key for pc in program.program_courses.order_by("position")]
    return program, runs


@dataclass(frozen=True)
class Published:
    event_id: uuid.UUID
    event_type: str
    data: ProgramCertificateData


def published(client: redis.Redis) -> list[Published]:
    """Every message on our program-certificate topic, in stream order, decoded."""
    name = stream(PROGRAM_TOPIC)
    messages = []
    for entry in client.xrange(name):
        message = RedisMessage.parse(entry, name)
        signal = OpenEdxPublicSignal.get_signal_by_type(message.event_metadata.event_type)
        data = deserialize_bytes_to_event_data(message.event_data, signal)["program_certificate"]
        messages.append(Published(message.event_metadata.id, message.event_metadata.event_type, data))
    return messages


def pending_count(client: redis.Redis, *, consumer: str | None = None) -> int:
    """Messages of the consumer group read but not acknowledged (by one member, or by all)."""
    name = stream(CERTIFICATES_TOPIC)
    if consumer is None:
        return int(client.xpending(name, settings.EVENT_BUS_CONSUMER_GROUP)["pending"])
    members = client.xinfo_consumers(name, settings.EVENT_BUS_CONSUMER_GROUP)
    return next((int(m["pending"]) for m in members if m["name"].decode() == consumer), 0)


def processed() -> int:
    return ProcessedEvent.objects.count()


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row the pipeline writes, every column, in a stable order."""
    models = {
        "users": User,
        "credentials": UserCredential,
        "course certificate configurations": CourseCertificate,
        "grades": UserGrade,
        "processed events": ProcessedEvent,
        "parked events": ParkedEvent,
        "outbox": OutboxEvent,
    }
    return {
        name: [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model.objects.order_by("pk").values_list()
        ]
        for name, model in models.items()
    }


def program_credentials() -> Any:
    return UserCredential.objects.filter(credential_content_type__model="programcertificate")


def course_credentials() -> Any:
    return UserCredential.objects.filter(credential_content_type__model="coursecertificate")


def assert_published_exactly_the_outbox(client: redis.Redis) -> list[Published]:
    """Every outbox row published, each once, in outbox (id) order; return the messages."""
    rows = list(OutboxEvent.objects.order_by("id"))
    assert {row.status for row in rows} <= {OutboxStatus.PUBLISHED}
    messages = published(client)
    assert [m.event_id for m in messages] == [row.event_id for row in rows]
    return messages


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    url = urlsplit(settings.EVENT_BUS_REDIS_URL)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 6379)
    yield proxy
    proxy.close()


@pytest.fixture
def database_proxy() -> Iterator[TcpProxy]:
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    yield proxy
    proxy.close()


# --- 1. the same 1,000 events delivered twice -----------------------------------------------------


def test_the_same_1000_events_delivered_twice_change_nothing_the_second_time(
    bus_redis: redis.Redis, consumers: ConsumerStarter
) -> None:
    """1,000 LMS events (200 learners x four course certificates and a grade summary, shuffled) from
    edx-event-bus-redis's producer, consumed by a consumer process; then the very same 1,000 events
    (same ids, same metadata) delivered again and consumed by a fresh process. The second delivery
    changes no row of the database, and the topic carries exactly one PROGRAM_CERTIFICATE_AWARDED per
    learner who completed the program (every fourth learner's last certificate is audit: not eligible)."""
    # given
    program, runs = program_with_courses(4)
    events: list[LmsEvent] = []
    completers = set()
    for n in range(200):
        user_id = 1000 + n
        modes = ["verified", "verified", "verified", "audit" if n % 4 == 3 else "verified"]
        events += [certificate_created(user_id, run, mode=mode) for run, mode in zip(runs, modes, strict=True)]
        events.append(grade_changed(user_id, runs[n % 4], percent=0.5 + n / 1000))
        if n % 4 != 3:
            completers.add(user_id)
    random.Random(20260301).shuffle(events)
    produce_with_lms_producer(events)
    assert bus_redis.xlen(stream(CERTIFICATES_TOPIC)) == 1000
    assert run_until_idle(consumers) == 0
    first = snapshot()
    # when: every event delivered a second time, the same ids and metadata
    produce_with_lms_producer(events)
    assert bus_redis.xlen(stream(CERTIFICATES_TOPIC)) == 2000
    assert run_until_idle(consumers) == 0
    # then: all 2,000 messages read and acknowledged, and not one row different
    [group] = bus_redis.xinfo_groups(stream(CERTIFICATES_TOPIC))
    assert group["last-delivered-id"] == bus_redis.xrevrange(stream(CERTIFICATES_TOPIC), count=1)[0][0]
    assert pending_count(bus_redis) == 0
    assert snapshot() == first
    assert len(first["processed events"]) == 1000
    assert first["parked events"] == []
    assert len(first["grades"]) == 200
    assert course_credentials().filter(status=CredentialStatus.AWARDED).count() == 800
    # then: one program certificate and one published event per learner who completed
    assert set(program_credentials().values_list("user__lms_user_id", flat=True)) == completers
    messages = assert_published_exactly_the_outbox(bus_redis)
    assert len(messages) == len(completers) == 150
    assert {m.event_type for m in messages} == {PROGRAM_CERTIFICATE_AWARDED.event_type}
    assert sorted(m.data.user.id for m in messages) == sorted(completers)
    assert {(m.data.program.uuid, m.data.status) for m in messages} == {(str(program.uuid), "awarded")}


# --- 2. the consumer SIGKILLed mid-stream ---------------------------------------------------------


def freeze_mid_batch(consumer: ConsumerProcess, client: redis.Redis, *, name: str, at_least: int) -> None:
    """Stop the process (SIGSTOP) at a moment it holds an unacknowledged batch, once at least
    `at_least` events are applied. Frozen, it cannot acknowledge between this check and the SIGKILL
    that follows. Holding a batch, it is not relaying: the relay runs after the acknowledgement.
    (Killed mid-relay, the outbox lease it held blocks every relay for LEASE_SECONDS, until the beat
    sweep relays: by design, and too slow for this test.)"""
    deadline = time.monotonic() + 60
    while True:
        wait_for(lambda: processed() >= at_least, timeout=60, what=f"{at_least} events applied", alive=(consumer,))
        os.kill(consumer.pid, signal.SIGSTOP)
        if pending_count(client, consumer=name):
            return
        os.kill(consumer.pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "never caught the consumer holding a batch"
        time.sleep(0.005)


@pytest.mark.parametrize(
    ("restart_as", "claim_idle_ms"),
    [("c1", "60000"), ("c2", "300"), ("c2", "3000")],
    ids=["restarted-under-its-name", "replaced-claims-at-start", "replaced-claims-while-running"],
)
def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    bus_redis: redis.Redis, consumers: ConsumerStarter, restart_as: str, claim_idle_ms: str
) -> None:
    """240 events (80 learners x three course certificates), a consumer process with batches of 20
    SIGKILLed while it holds an unacknowledged batch, then a consumer started again: under the same
    name (it re-reads its own pending batch first), or under a new name (a replaced pod), which must
    claim the dead member's pending messages, whether they are idle long enough when it starts
    (EVENT_BUS_REDIS_CLAIM_IDLE_MS=300) or only become so while it runs (3000). Every event is applied
    exactly once, every message acknowledged, one program certificate event per learner."""
    # given
    _, runs = program_with_courses(3)
    events = [certificate_created(1000 + n, run) for n in range(80) for run in runs]
    produce_at_once(bus_redis, [e.fields() for e in events])
    env = consumer_env(EVENT_BUS_REDIS_CLAIM_IDLE_MS=claim_idle_ms)
    first = consumers("--consumer", "c1", "--batch-size", "20", env=env)
    # when: killed with a batch in hand
    freeze_mid_batch(first, bus_redis, name="c1", at_least=60)
    first.kill()
    applied_before_restart = processed()
    assert 60 <= applied_before_restart < 240
    assert pending_count(bus_redis, consumer="c1") > 0
    second = consumers("--consumer", restart_as, "--batch-size", "20", env=env)
    wait_for(
        lambda: processed() == 240 and pending_count(bus_redis) == 0,
        timeout=60,
        what="all 240 events applied and acknowledged",
        alive=(second,),
    )
    wait_for(
        lambda: not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists(),
        timeout=10,
        what="the outbox relayed",
        alive=(second,),
    )
    assert second.stop() == 0, second.stderr()[-3000:]
    # then: nothing lost, nothing parked, nothing applied twice
    assert not ParkedEvent.objects.exists()
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {e.metadata.id for e in events}
    assert course_credentials().filter(status=CredentialStatus.AWARDED).count() == 240
    assert program_credentials().filter(status=CredentialStatus.AWARDED).count() == 80
    assert OutboxEvent.objects.values("event_key").distinct().count() == OutboxEvent.objects.count() == 80
    messages = assert_published_exactly_the_outbox(bus_redis)
    assert sorted(m.data.user.id for m in messages) == list(range(1000, 1080))


# --- 3. the broker unreachable while awards happen ------------------------------------------------


def test_awards_made_while_the_broker_is_unreachable_wait_in_the_outbox_and_are_all_published_after(
    bus_redis: redis.Redis, redis_proxy: TcpProxy, consumers: ConsumerStarter
) -> None:
    """The consumer process reaches Redis through a proxy. Once its consumer connection is open, the
    proxy stops accepting connections: the relay's publisher, which connects afresh for every relay,
    finds the broker unreachable (connection refused), while the connection the consumer reads from
    stays up, so awards go on. (With one Redis for reading and publishing, this is the honest way to
    have the publishing side down while events still arrive.) 20 learners complete a program whose
    revocation is enabled; five then lose a course certificate and get it back (awarded, revoked,
    awarded). All 30 program events wait in the outbox, nothing on the topic; once the broker takes
    connections again, the next batch's relay publishes all of them, each once, in the order the
    changes were made; a later sweep publishes nothing more."""
    # given
    _, runs = program_with_courses(3, revocation=True)
    db = urlsplit(settings.EVENT_BUS_REDIS_URL).path or "/0"
    env = consumer_env(EVENT_BUS_REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}{db}")
    consumer = consumers("--batch-size", "10", env=env)
    wait_for(lambda: bus_redis.exists(stream(CERTIFICATES_TOPIC)) == 1, timeout=30, what="the group", alive=(consumer,))
    redis_proxy.refuse_new()
    events = [certificate_created(2000 + n, run) for n in range(20) for run in runs]
    for n in range(5):
        events.append(
            lms_event(CERTIFICATE_REVOKED, certificate=certificate(user_id=2000 + n, run_key=runs[0], status="revoked"))
        )
        events.append(lms_event(CERTIFICATE_CHANGED, certificate=certificate(user_id=2000 + n, run_key=runs[0])))
    # when: the events arrive while nothing can be published
    produce_with_lms_producer(events)
    wait_for(lambda: processed() == 70, timeout=30, what="70 events applied", alive=(consumer,))
    # then: the awards and revocations are made; their events wait in the outbox
    rows = list(OutboxEvent.objects.order_by("id"))
    assert len(rows) == 30
    assert {row.status for row in rows} == {OutboxStatus.PENDING}
    assert rows[0].attempts >= 1
    assert "Connection refused" in rows[0].last_error
    assert bus_redis.xlen(stream(PROGRAM_TOPIC)) == 0
    assert program_credentials().filter(status=CredentialStatus.AWARDED).count() == 20
    # when: the broker is back, and the next event arrives
    redis_proxy.restore()
    produce_with_lms_producer([certificate_created(2999, runs[0])])
    wait_for(
        lambda: not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists(),
        timeout=30,
        what="the outbox relayed",
        alive=(consumer,),
    )
    assert consumer.stop() == 0, consumer.stderr()[-3000:]
    # then: all 30, each once, in the order the changes were made
    messages = assert_published_exactly_the_outbox(bus_redis)
    for n in range(5):
        mine = [(m.event_type, m.data.status) for m in messages if m.data.user.id == 2000 + n]
        assert mine == [
            (PROGRAM_CERTIFICATE_AWARDED.event_type, "awarded"),
            (PROGRAM_CERTIFICATE_REVOKED.event_type, "revoked"),
            (PROGRAM_CERTIFICATE_AWARDED.event_type, "awarded"),
        ]
    assert sorted(m.data.user.id for m in messages if m.data.user.id >= 2005) == list(range(2005, 2020))
    # then: the beat sweep finds nothing left to publish
    assert relay_outbox_task() == 0
    assert bus_redis.xlen(stream(PROGRAM_TOPIC)) == 30


# --- 4. malformed input for every consumed event type ---------------------------------------------


def avro(signal: OpenEdxPublicSignal, record: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    """`record` as Avro written with the signal's schema after `change(schema)`: what a producer with
    another idea of the event (an older or newer schema, a bug) would put on the bus."""
    schema = copy.deepcopy(AvroSignalSerializer(signal).schema)
    change(schema)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def field(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for name in path:
        fields = node["fields"] if "fields" in node else node["type"]["fields"]
        node = next(f for f in fields if f["name"] == name)
    return node


def drop_field(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        parent = field(schema, *path[:-1])
        record = parent["type"] if "type" in parent else parent
        record["fields"] = [f for f in record["fields"] if f["name"] != path[-1]]

    return change


def retype_field(*path: str, avro_type: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        field(schema, *path)["type"] = avro_type

    return change


def without(record: dict[str, Any], *path: str) -> dict[str, Any]:
    record = copy.deepcopy(record)
    node = record
    for name in path[:-1]:
        node = node[name]
    del node[path[-1]]
    return record


def replaced(record: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    record = copy.deepcopy(record)
    node = record
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    return record


@dataclass(frozen=True)
class Bad:
    label: str
    entry: dict[bytes, bytes]
    reason: str


def bad_events(good: LmsEvent, *, unknown_run: LmsEvent, invalid: tuple[LmsEvent | bytes, str]) -> list[Bad]:
    """Every way this event type can arrive broken: garbage, truncated, a field missing, a field of
    another type, an unknown course run, a value the service refuses, no id header."""
    signal = good.signal
    outer = AvroSignalSerializer(signal).schema["fields"][0]["name"]
    record = AvroSignalSerializer(signal).to_dict(good.data)
    id_path = (outer, "user_id") if signal is PERSISTENT_GRADE_SUMMARY_CHANGED else (outer, "user", "id")
    undecodable = f"do not decode as {signal.event_type}"

    def entry(payload: bytes) -> dict[bytes, bytes]:
        # Same headers as a good event of this type, a fresh id, these bytes.
        metadata = attr.evolve(good.metadata, id=uuid.uuid4())
        return {**LmsEvent(signal, good.data, metadata).fields(), b"event_data": payload}

    payload = good.fields()[b"event_data"]
    no_id = {k: v for k, v in entry(payload).items() if k != b"id"}
    invalid_event, invalid_reason = invalid
    invalid_entry = entry(invalid_event) if isinstance(invalid_event, bytes) else invalid_event.fields()
    return [
        Bad("garbage", entry(b"\x00garbage\xff\xfe"), undecodable),
        Bad("truncated", entry(payload[: len(payload) - 3]), undecodable),
        Bad(
            "missing field",
            entry(avro(signal, without(record, outer, "course"), drop_field(outer, "course"))),
            undecodable,
        ),
        Bad(
            "wrong type",
            entry(avro(signal, replaced(record, "seven", *id_path), retype_field(*id_path, avro_type="string"))),
            undecodable,
        ),
        Bad(
            "unknown course run", unknown_run.fields(), "CatalogNotFoundError: No course run 'course-v1:Nowhere+X1+R1'."
        ),
        Bad("invalid value", invalid_entry, invalid_reason),
        Bad("no id header", no_id, "the message has no event id or type header"),
    ]


def test_malformed_events_of_every_consumed_type_are_parked_with_a_reason_and_the_rest_applied(
    bus_redis: redis.Redis, consumers: ConsumerStarter
) -> None:
    """For each of the six consumed event types: a good event, then the same type garbled seven ways
    (garbage bytes, truncated Avro, Avro missing a field, a field of another type, an unknown course
    run, a value the service refuses, no id header), then another good event; plus an id that is not
    a UUID and an event type nobody knows. One consumer process reads them in batches of 10: each bad
    one is parked with its raw bytes and a reason that says what is wrong, every good one is applied,
    every message acknowledged, and the process runs to its end (exit code 0)."""
    # given
    _, [run, other_run] = program_with_courses(2)
    nowhere = "course-v1:Nowhere+X1+R1"
    grade = grade_changed(3001, run)
    passing = passing_status(3002, run)
    passing_record = AvroSignalSerializer(COURSE_PASSING_STATUS_UPDATED).to_dict(passing.data)
    ccx = ccx_passing_status(3003, run)
    ccx_record = AvroSignalSerializer(CCX_COURSE_PASSING_STATUS_UPDATED).to_dict(ccx.data)
    cases: list[tuple[LmsEvent, LmsEvent, LmsEvent, tuple[LmsEvent | bytes, str]]] = [
        (
            certificate_created(3000, run),
            certificate_created(3000, nowhere),
            certificate_created(3000, other_run),
            (certificate_created(3000, run, mode="bogus"), "CredentialsError: Unknown certificate mode 'bogus'."),
        ),
        (
            lms_event(CERTIFICATE_CHANGED, certificate=certificate(user_id=3010, run_key=run)),
            lms_event(CERTIFICATE_CHANGED, certificate=certificate(user_id=3010, run_key=nowhere)),
            lms_event(CERTIFICATE_CHANGED, certificate=certificate(user_id=3010, run_key=other_run)),
            (
                lms_event(CERTIFICATE_CHANGED, certificate=certificate(user_id=3010, run_key=run, mode="")),
                "CredentialsError: Unknown certificate mode ''.",
            ),
        ),
        (
            lms_event(CERTIFICATE_REVOKED, certificate=certificate(user_id=3000, run_key=run, status="revoked")),
            lms_event(CERTIFICATE_REVOKED, certificate=certificate(user_id=3000, run_key=nowhere)),
            lms_event(CERTIFICATE_REVOKED, certificate=certificate(user_id=3011, run_key=other_run)),
            (
                lms_event(CERTIFICATE_REVOKED, certificate=certificate(user_id=3000, run_key=run, mode="nope")),
                "CredentialsError: Unknown certificate mode 'nope'.",
            ),
        ),
        (
            grade,
            grade_changed(3001, nowhere),
            grade_changed(3001, other_run),
            (
                grade_changed(3001, run, percent=1.5),
                "CredentialsError: percent_grade must be between 0 and 1, got 1.5.",
            ),
        ),
        (
            passing,
            passing_status(3002, nowhere),
            passing_status(3002, other_run),
            (
                avro(
                    COURSE_PASSING_STATUS_UPDATED,
                    replaced(passing_record, "not a course key", "course_passing_status", "course", "course_key"),
                    lambda schema: None,
                ),
                "InvalidKeyError",
            ),
        ),
        (
            ccx,
            ccx_passing_status(3003, nowhere),
            ccx_passing_status(3003, other_run),
            (
                avro(
                    CCX_COURSE_PASSING_STATUS_UPDATED,
                    replaced(ccx_record, run, "course_passing_status", "course", "ccx_course_key"),
                    lambda schema: None,
                ),
                "InvalidKeyError",
            ),
        ),
    ]
    entries: list[dict[bytes, bytes]] = []
    expected: dict[str, Bad] = {}
    good_events: list[LmsEvent] = []
    for before, unknown_run, after, invalid in cases:
        bad = bad_events(before, unknown_run=unknown_run, invalid=invalid)
        entries += [before.fields(), *(b.entry for b in bad), after.fields()]
        good_events += [before, after]
        expected.update({f"{before.signal.event_type} {b.label}": b for b in bad})
    not_a_uuid = {**certificate_created(3020, run).fields(), b"id": b"not-a-uuid"}
    unknown_type = {**certificate_created(3021, run).fields(), b"type": b"org.openedx.learning.nope.v1"}
    last = certificate_created(3022, run)
    entries += [not_a_uuid, unknown_type, last.fields()]
    good_events.append(last)
    produce_at_once(bus_redis, entries)
    # when
    assert run_until_idle(consumers, "--batch-size", "10") == 0
    # then: every message acknowledged; each bad one parked once, with its bytes and a readable reason
    assert pending_count(bus_redis) == 0
    parked = list(ParkedEvent.objects.all())
    assert len(parked) == len(expected) + 2
    by_payload = {(bytes(p.payload), p.event_id): p for p in parked}
    for label, bad in expected.items():
        event_id = uuid.UUID(bad.entry[b"id"].decode()) if b"id" in bad.entry else None
        row = by_payload.get((bad.entry[b"event_data"], event_id))
        assert row is not None, f"{label} was not parked"
        assert bad.reason in row.error, f"{label}: {row.error[:500]}"
        assert row.event_type == bad.entry[b"type"].decode()
    reasons = {bytes(p.payload): p.error for p in parked}
    assert "badly formed hexadecimal UUID string" in reasons[not_a_uuid[b"event_data"]]
    assert "org.openedx.learning.nope.v1" in reasons[unknown_type[b"event_data"]]
    # then: the good ones around them are applied
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {e.metadata.id for e in good_events}
    runs_by_configuration = dict(CourseCertificate.objects.values_list("pk", "course_run__key"))
    statuses = {
        (c.user.lms_user_id, runs_by_configuration[c.credential_id]): c.status
        for c in course_credentials().select_related("user")
    }
    assert statuses == {
        (3000, run): CredentialStatus.REVOKED,
        (3000, other_run): CredentialStatus.AWARDED,
        (3010, run): CredentialStatus.AWARDED,
        (3010, other_run): CredentialStatus.AWARDED,
        (3011, other_run): CredentialStatus.REVOKED,
        (3022, run): CredentialStatus.AWARDED,
    }
    grades = {(g.user.lms_user_id, g.course_run.key): g for g in UserGrade.objects.select_related("user", "course_run")}
    assert {key for key in grades} == {(n, r) for n in (3001, 3002, 3003) for r in (run, other_run)}
    assert all(g.passed for g in grades.values())
    assert str(grades[(3001, run)].percent_grade) == "0.8200"


# --- 5. the database unreachable ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "forward", "committed_at_cut"),
    [
        (b'INSERT INTO "eventbus_processedevent"', False, 20),
        (b"COMMIT", True, 40),
        (b'"eventbus_relaylease"', False, 40),
    ],
    ids=["while-a-batch-is-applied", "commit-outcome-lost", "while-relaying"],
)
def test_the_database_going_away_parks_nothing_and_loses_nothing(
    bus_redis: redis.Redis,
    database_proxy: TcpProxy,
    consumers: ConsumerStarter,
    statement: bytes,
    forward: bool,
    committed_at_cut: int,
) -> None:
    """The consumer process reaches PostgreSQL through a proxy. After a first batch of 20, the proxy
    cuts every connection at a chosen moment, and refuses new ones for 1.5 s: as the next batch
    records its event ids (the batch rolls back); right after its COMMIT reached the server (it
    committed, the consumer never learns it did); or as the relay takes its lease after a batch was
    applied and acknowledged. Our own infrastructure failing is not the events' fault: nothing is
    parked, the worker stays up and retries, every event is applied once, every message acknowledged,
    every program event published once."""
    # given: a consumer that applied and relayed a first batch
    program, runs = program_with_courses(3)
    events = [certificate_created(4000 + n, run) for n in range(20) for run in runs]
    env = consumer_env(DATABASE_URL=database_url(port=database_proxy.port))
    consumer = consumers("--batch-size", "20", env=env)
    produce_at_once(bus_redis, [e.fields() for e in events[:20]])
    wait_for(
        lambda: (
            processed() == 20
            and not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()
            and RelayLease.objects.filter(name=LEASE_NAME, holder="").exists()
        ),
        timeout=30,
        what="the first batch applied and relayed, the relay's lease released",
        alive=(consumer,),
    )
    # when: the database goes away at that moment of the next batch, for 1.5 s
    database_proxy.cut_on(statement, forward=forward)
    produce_at_once(bus_redis, [e.fields() for e in events[20:]])
    assert database_proxy.tripped.wait(timeout=30), "the statement never went by"
    time.sleep(1.5)
    # then: during the outage, the worker waits: it has neither crashed nor parked anything
    assert processed() == committed_at_cut
    assert consumer.alive(), consumer.stderr()[-3000:]
    assert not ParkedEvent.objects.exists()
    # when: the database is back
    database_proxy.restore()
    wait_for(
        lambda: (
            processed() == 60
            and pending_count(bus_redis) == 0
            and not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()
        ),
        timeout=60,
        what="all 60 events applied, acknowledged and relayed",
        alive=(consumer,),
    )
    assert consumer.stop() == 0, consumer.stderr()[-3000:]
    # then: nothing parked, nothing lost, nothing twice
    assert not ParkedEvent.objects.exists()
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == {e.metadata.id for e in events}
    assert course_credentials().filter(status=CredentialStatus.AWARDED).count() == 60
    assert program_credentials().filter(status=CredentialStatus.AWARDED).count() == 20
    messages = assert_published_exactly_the_outbox(bus_redis)
    assert sorted(m.data.user.id for m in messages) == list(range(4000, 4020))
    assert {m.data.program.uuid for m in messages} == {str(program.uuid)}
