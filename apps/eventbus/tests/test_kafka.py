"""The Kafka bus against a real Kafka-protocol broker (librdkafka's mock cluster, its own process) and
a Schema Registry stand-in: the wire layout edx-event-bus-kafka writes, both ways."""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import edx_event_bus_kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.db import connection, transaction
from edx_event_bus_kafka.internal.consumer import get_deserializer
from edx_event_bus_kafka.internal.utils import _get_metadata_from_headers
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import (
    CertificateData,
    CourseData,
    CourseEnrollmentData,
    UserData,
    UserPersonalData,
)
from openedx_events.learning.signals import (
    CERTIFICATE_CREATED,
    COURSE_ENROLLMENT_CREATED,
    PROGRAM_CERTIFICATE_AWARDED,
    PROGRAM_CERTIFICATE_REVOKED,
)
from openedx_events.tooling import EventsMetadata

from apps.eventbus import services
from apps.eventbus.buses.kafka import KafkaConsumer, KafkaPublisher
from apps.eventbus.consumer import decode_message, process_messages
from apps.eventbus.data import UNREADABLE_HEADER
from apps.eventbus.exceptions import ConsumeError
from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent
from apps.eventbus.tests.factories import incoming_message, program_certificate_data
from apps.eventbus.tests.kafka_support import KafkaBus, read_all, read_messages, wait_until_assigned

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[3]
PROGRAMS_TOPIC = "learning-program-certificate-lifecycle"
CERTIFICATES_TOPIC = "learning-certificate-lifecycle"


def course_certificate(user_id: int = 7) -> CertificateData:
    return CertificateData(
        user=UserData(
            id=user_id, is_active=True, pii=UserPersonalData(username="ada", email="ada@example.com", name="Ada")
        ),
        course=CourseData(course_key=CourseKey.from_string("course-v1:OrgX+C1+R1")),
        mode="verified",
        grade="0.91",
        current_status="downloadable",
        download_url="https://lms.test/certificates/ada",
        name="Verified Certificate",
    )


def enrollment(user_id: int = 7) -> CourseEnrollmentData:
    return CourseEnrollmentData(
        user=UserData(id=user_id, is_active=True, pii=UserPersonalData(username="ada", email="", name="")),
        course=CourseData(course_key=CourseKey.from_string("course-v1:OrgX+C1+R1")),
        mode="verified",
        is_active=True,
        creation_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_relay_publishes_outbox_rows_as_edx_event_bus_kafka_lays_them_out(bus_kafka: KafkaBus) -> None:
    # given
    topic = bus_kafka.create_topic(PROGRAMS_TOPIC)
    awarded, revoked = program_certificate_data(1), program_certificate_data(2, status="revoked")
    with transaction.atomic():
        rows = [
            services.enqueue_event(signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=awarded),
            services.enqueue_event(signal=PROGRAM_CERTIFICATE_REVOKED, key="2:p", program_certificate=revoked),
        ]
    # when
    result = services.relay_outbox()
    # then: acknowledged and marked
    assert (result.published, result.failed) == (2, False)
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxStatus.PUBLISHED}
    # then: a plain confluent-kafka consumer with the registry-backed Avro deserializer decodes every field
    messages = {
        dict(m.headers())["ce_id"].decode(): m for m in read_all(bus_kafka.cluster.bootstrap_servers, topic, expected=2)
    }
    registry = SchemaRegistryClient({"url": bus_kafka.registry.url})
    message = messages[str(rows[0].event_id)]
    value = get_deserializer(PROGRAM_CERTIFICATE_AWARDED, registry)(
        message.value(), SerializationContext(topic, MessageField.VALUE, message.headers())
    )
    assert value == {"program_certificate": awarded}
    key = AvroDeserializer(registry)(message.key(), SerializationContext(topic, MessageField.KEY))
    assert key == "1:p"
    # then: the headers are the ones edx-event-bus-kafka writes, and its own parser reads our metadata
    assert message.headers() == [
        ("ce_specversion", b"1.0"),
        ("content-type", b"application/avro"),
        ("ce_datacontenttype", b"application/avro"),
        ("ce_type", PROGRAM_CERTIFICATE_AWARDED.event_type.encode()),
        ("ce_id", str(rows[0].event_id).encode()),
        ("ce_source", rows[0].metadata["source"].encode()),
        ("ce_time", rows[0].metadata["time"].encode()),
        ("ce_minorversion", rows[0].metadata["minorversion"].encode()),
        ("sourcehost", rows[0].metadata["sourcehost"].encode()),
        ("sourcelib", rows[0].metadata["sourcelib"].encode()),
    ]
    metadata: EventsMetadata = _get_metadata_from_headers(message.headers())
    assert (metadata.id, metadata.event_type) == (rows[0].event_id, PROGRAM_CERTIFICATE_AWARDED.event_type)
    # then: Confluent framing with the ids the registry gave each subject
    subjects = bus_kafka.registry.state.subjects
    value_id = subjects[f"{topic}-{PROGRAM_CERTIFICATE_AWARDED.event_type}.CloudEvent"][-1]
    assert message.value()[:5] == b"\x00" + value_id.to_bytes(4, "big")
    assert message.key()[:5] == b"\x00" + subjects[f"{topic}-string"][-1].to_bytes(4, "big")
    revoked_message = messages[str(rows[1].event_id)]
    assert get_deserializer(PROGRAM_CERTIFICATE_REVOKED, registry)(
        revoked_message.value(), SerializationContext(topic, MessageField.VALUE, revoked_message.headers())
    ) == {"program_certificate": revoked}


def test_lms_events_from_the_edx_producer_are_read_and_applied(
    bus_kafka: KafkaBus, handler: Callable[..., None]
) -> None:
    # given: our consumer in a new group, and the LMS's events sent by edx-event-bus-kafka's producer
    bus_kafka.create_topic(CERTIFICATES_TOPIC)
    consumer = KafkaConsumer(topic=CERTIFICATES_TOPIC, group=f"g-{uuid.uuid4().hex}", consumer="c1")
    wait_until_assigned(consumer)
    certificate_metadata = CERTIFICATE_CREATED.generate_signal_metadata()
    enrollment_metadata = COURSE_ENROLLMENT_CREATED.generate_signal_metadata()
    producer = edx_event_bus_kafka.create_producer()
    producer.send(
        signal=CERTIFICATE_CREATED,
        topic=CERTIFICATES_TOPIC,
        event_key_field="certificate.course.course_key",
        event_data={"certificate": course_certificate()},
        event_metadata=certificate_metadata,
    )
    producer.send(
        signal=COURSE_ENROLLMENT_CREATED,
        topic=CERTIFICATES_TOPIC,
        event_key_field="enrollment.course.course_key",
        event_data={"enrollment": enrollment()},
        event_metadata=enrollment_metadata,
    )
    producer.prepare_for_shutdown()
    calls: list[dict[str, Any]] = []
    handler(COURSE_ENROLLMENT_CREATED, lambda **kwargs: calls.append(kwargs))
    # when
    messages = {m.headers["type"]: m for m in read_messages(consumer, 2)}
    consumer.close()
    result = process_messages([messages[COURSE_ENROLLMENT_CREATED.event_type]])
    # then: headers normalized, payload plain openedx-events Avro, metadata exactly as sent
    certificate = decode_message(messages[CERTIFICATE_CREATED.event_type])
    assert certificate.metadata == certificate_metadata
    assert certificate.data == {"certificate": course_certificate()}
    assert set(messages[CERTIFICATE_CREATED.event_type].headers) == {
        "id",
        "type",
        "source",
        "time",
        "minorversion",
        "sourcehost",
        "sourcelib",
    }
    assert (result.processed, result.parked) == (1, 0)
    assert calls == [{"metadata": enrollment_metadata, "enrollment": enrollment()}]


def test_relay_with_the_broker_unreachable_fails_and_keeps_rows_pending(bus_kafka: KafkaBus, settings: Any) -> None:
    # given
    settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{closed_port()}"
    settings.EVENT_BUS_KAFKA_DELIVERY_TIMEOUT_MS = 500
    with transaction.atomic():
        for n in (1, 2):
            services.enqueue_event(
                signal=PROGRAM_CERTIFICATE_AWARDED, key=f"{n}:p", program_certificate=program_certificate_data(n)
            )
    # when
    result = services.relay_outbox()
    # then
    assert (result.failed, result.published) == (True, 0)
    assert "Kafka did not acknowledge" in result.error
    rows = list(OutboxEvent.objects.order_by("id"))
    assert [row.status for row in rows] == [OutboxStatus.PENDING, OutboxStatus.PENDING]
    assert [row.attempts for row in rows] == [1, 0]
    assert "Kafka did not acknowledge" in rows[0].last_error


def test_rewind_rereads_an_unacknowledged_batch_and_ack_moves_on(bus_kafka: KafkaBus) -> None:
    # given: six events on one partition (one key), our consumer in a new group
    bus_kafka.create_topic(CERTIFICATES_TOPIC)
    consumer = KafkaConsumer(topic=CERTIFICATES_TOPIC, group=f"g-{uuid.uuid4().hex}", consumer="c1")
    wait_until_assigned(consumer)
    publisher = KafkaPublisher()
    sent = [incoming_message(COURSE_ENROLLMENT_CREATED, enrollment=enrollment(n)) for n in range(6)]
    for message in sent:
        publisher.publish(topic=CERTIFICATES_TOPIC, key="k", headers=message.headers, payload=message.payload)
    publisher.close()
    ids = [m.headers["id"] for m in sent]
    # when: a batch is read and not acknowledged
    first = read_messages(consumer, 3)
    consumer.rewind()
    again = read_messages(consumer, 3)
    # then: the same messages again
    assert [m.headers["id"] for m in first] == ids[:3]
    assert [(m.message_id, m.headers["id"]) for m in again] == [(m.message_id, m.headers["id"]) for m in first]
    assert again[0].payload == sent[0].payload
    # when: acknowledged, then rewound
    consumer.ack(m.message_id for m in again)
    consumer.rewind()
    rest = read_messages(consumer, 3)
    consumer.close()
    # then: only the new ones
    assert [m.headers["id"] for m in rest] == ids[3:]


def test_a_value_the_registry_cannot_decode_is_parked_and_the_rest_applied(
    bus_kafka: KafkaBus, handler: Callable[..., None]
) -> None:
    # given: a garbage value with good headers between two good events
    topic = bus_kafka.create_topic(CERTIFICATES_TOPIC)
    consumer = KafkaConsumer(topic=CERTIFICATES_TOPIC, group=f"g-{uuid.uuid4().hex}", consumer="c1")
    wait_until_assigned(consumer)
    good = [incoming_message(COURSE_ENROLLMENT_CREATED, enrollment=enrollment(n)) for n in (1, 2)]
    publisher = KafkaPublisher()
    publisher.publish(topic=CERTIFICATES_TOPIC, key="k", headers=good[0].headers, payload=good[0].payload)
    garbage_id = str(uuid.uuid4())
    raw = Producer({"bootstrap.servers": bus_kafka.cluster.bootstrap_servers})
    raw.produce(
        topic,
        key=b"k",
        value=b"\x00\x00\x00\x03\xe7garbage",
        headers=[("ce_id", garbage_id.encode()), ("ce_type", COURSE_ENROLLMENT_CREATED.event_type.encode())],
    )
    raw.flush(5)
    publisher.publish(topic=CERTIFICATES_TOPIC, key="k", headers=good[1].headers, payload=good[1].payload)
    publisher.close()
    handler(COURSE_ENROLLMENT_CREATED, lambda **kwargs: None)
    # when
    messages = read_messages(consumer, 3)
    consumer.close()
    result = process_messages(messages)
    # then
    assert (result.processed, result.parked) == (2, 1)
    parked = ParkedEvent.objects.get()
    assert str(parked.event_id) == garbage_id
    assert "Schema not found" in parked.error
    assert bytes(parked.payload) == b"\x00\x00\x00\x03\xe7garbage"
    assert UNREADABLE_HEADER in parked.headers


def test_registry_unreachable_while_reading_raises_and_the_message_is_read_again_later(
    bus_kafka: KafkaBus, settings: Any
) -> None:
    # given: an event on the topic, and a consumer whose Schema Registry is down
    bus_kafka.create_topic(CERTIFICATES_TOPIC)
    consumer = KafkaConsumer(topic=CERTIFICATES_TOPIC, group=f"g-{uuid.uuid4().hex}", consumer="c1")
    wait_until_assigned(consumer)
    sent = incoming_message(COURSE_ENROLLMENT_CREATED, enrollment=enrollment())
    publisher = KafkaPublisher()
    publisher.publish(topic=CERTIFICATES_TOPIC, key="k", headers=sent.headers, payload=sent.payload)
    publisher.close()
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = f"http://127.0.0.1:{closed_port()}"
    # when: our infrastructure fails, not the message: nothing is returned to park
    with pytest.raises(ConsumeError, match="unreachable"):
        read_messages(consumer, 1)
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = bus_kafka.registry.url
    [again] = read_messages(consumer, 1)
    consumer.close()
    # then: once the registry is back, the same message, decodable
    assert again.headers["id"] == sent.headers["id"]
    assert UNREADABLE_HEADER not in again.headers
    assert again.payload == sent.payload


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the consumer process needs a shared database")
def test_consumer_command_reads_kafka_and_commits_offsets(bus_kafka: KafkaBus) -> None:
    # given: an LMS event on the topic before the consumer process first starts
    topic = bus_kafka.create_topic(CERTIFICATES_TOPIC)
    message = incoming_message(COURSE_ENROLLMENT_CREATED, enrollment=enrollment())
    publisher = KafkaPublisher()
    publisher.publish(topic=CERTIFICATES_TOPIC, key="k", headers=message.headers, payload=message.payload)
    publisher.close()
    group = f"g-{uuid.uuid4().hex}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credentials_service.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EVENT_BUS_BACKEND": "kafka",
        "EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS": bus_kafka.cluster.bootstrap_servers,
        "EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL": bus_kafka.registry.url,
        "EVENT_BUS_TOPIC_PREFIX": bus_kafka.prefix,
    }
    reader = Consumer({"bootstrap.servers": bus_kafka.cluster.bootstrap_servers, "group.id": group})
    partitions = [TopicPartition(topic, p) for p in range(4)]
    # when: the consumer process runs until the group's offset was committed past the event
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_event_consumer", "--topic", CERTIFICATES_TOPIC, "--group", group],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        committed: list[int] = []
        while not committed and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            committed = [tp.offset for tp in reader.committed(partitions, timeout=5) if tp.offset >= 0]
    finally:
        reader.close()
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    # then: committed past the one event, and the process stopped cleanly on SIGTERM
    assert committed == [1], stderr
    assert process.returncode == 0, stderr
    assert f"Consuming {CERTIFICATES_TOPIC} (kafka)" in stdout
