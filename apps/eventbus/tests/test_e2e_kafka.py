"""End to end over a real Kafka-protocol broker (librdkafka's mock cluster, its own process), the Schema
Registry stand-in and PostgreSQL: LMS-shaped events from edx-event-bus-kafka's own producer → our
consumer process (EVENT_BUS_BACKEND=kafka) → database → outbox relay → our topic → a plain
confluent-kafka consumer decodes PROGRAM_CERTIFICATE_AWARDED through the registry."""

from __future__ import annotations

import uuid

import edx_event_bus_kafka
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.conf import settings
from django.db import connection
from edx_event_bus_kafka.internal.consumer import get_deserializer
from edx_event_bus_kafka.internal.utils import _get_metadata_from_headers
from openedx_events.learning.data import ProgramCertificateData, ProgramData, UserData, UserPersonalData
from openedx_events.learning.signals import CERTIFICATE_CREATED, PROGRAM_CERTIFICATE_AWARDED

from apps.catalog.models import Program
from apps.catalog.tests.factories import ProgramFactory
from apps.credentials.models import CredentialStatus, UserCredential
from apps.credentials.tests.factories import ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent, ProcessedEvent
from apps.eventbus.tests.kafka_support import KafkaBus, read_all
from apps.eventbus.tests.process_support import (
    CERTIFICATES_TOPIC,
    PROGRAM_TOPIC,
    ConsumerStarter,
    certificate,
    consumer_env,
    wait_for,
)

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the consumer process needs a shared database"),
]


def message_count(bootstrap_servers: str, topic: str) -> int:
    """How many messages `topic` holds (the sum of its partitions' high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "test-counter"})
    try:
        partitions = consumer.list_topics(topic=topic, timeout=5).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in partitions)
    finally:
        consumer.close()


def test_certificates_to_program_certificate_awarded_end_to_end_over_kafka(
    bus_kafka: KafkaBus, consumers: ConsumerStarter
) -> None:
    # given: a three-course program with a certificate; the LMS's events, sent by edx-event-bus-kafka's
    # producer before our consumer first starts, for a learner who earns all three courses and one
    # who earns one
    program: Program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    runs = [pc.course.course_runs.get().key for pc in program.program_courses.order_by("position")]
    certificates_topic = bus_kafka.create_topic(CERTIFICATES_TOPIC)
    program_topic = bus_kafka.create_topic(PROGRAM_TOPIC)
    producer = edx_event_bus_kafka.create_producer()
    assert producer is not None
    sent = []
    for data in [certificate(user_id=7, run_key=key) for key in runs] + [certificate(user_id=8, run_key=runs[0])]:
        metadata = CERTIFICATE_CREATED.generate_signal_metadata()
        producer.send(
            signal=CERTIFICATE_CREATED,
            topic=CERTIFICATES_TOPIC,
            event_key_field="certificate.course.course_key",
            event_data={"certificate": data},
            event_metadata=metadata,
        )
        sent.append(metadata.id)
    producer.prepare_for_shutdown()
    assert message_count(bus_kafka.cluster.bootstrap_servers, certificates_topic) == 4
    # when: our consumer process, in a group of its own, runs until the program event is published
    env = consumer_env(
        EVENT_BUS_BACKEND="kafka",
        EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS=bus_kafka.cluster.bootstrap_servers,
        EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL=bus_kafka.registry.url,
        EVENT_BUS_TOPIC_PREFIX=bus_kafka.prefix,
    )
    consumer = consumers("--group", f"g-{uuid.uuid4().hex}", env=env)
    wait_for(
        lambda: (
            ProcessedEvent.objects.count() == 4
            and OutboxEvent.objects.filter(status=OutboxStatus.PUBLISHED).count() == 1
        ),
        timeout=60,
        what="four events applied and the program event published",
        alive=(consumer,),
    )
    assert consumer.stop() == 0, consumer.stderr()[-3000:]
    # then: applied once each, nothing parked, one program certificate (Ada's)
    assert set(ProcessedEvent.objects.values_list("event_id", flat=True)) == set(sent)
    assert not ParkedEvent.objects.exists()
    credential = UserCredential.objects.get(credential_content_type__model="programcertificate")
    assert (credential.user.lms_user_id, credential.status) == (7, CredentialStatus.AWARDED)
    row = OutboxEvent.objects.get()
    # then: exactly one message on our topic, laid out as edx-event-bus-kafka lays them out
    assert message_count(bus_kafka.cluster.bootstrap_servers, program_topic) == 1
    [message] = read_all(bus_kafka.cluster.bootstrap_servers, program_topic, expected=1)
    metadata = _get_metadata_from_headers(message.headers())
    assert (metadata.id, metadata.event_type) == (row.event_id, PROGRAM_CERTIFICATE_AWARDED.event_type)
    registry = SchemaRegistryClient({"url": bus_kafka.registry.url})
    key = AvroDeserializer(registry)(message.key(), SerializationContext(program_topic, MessageField.KEY))
    assert key == f"7:{program.uuid}"
    # then: every field of the decoded event
    value = get_deserializer(PROGRAM_CERTIFICATE_AWARDED, registry)(
        message.value(), SerializationContext(program_topic, MessageField.VALUE, message.headers())
    )
    assert value == {
        "program_certificate": ProgramCertificateData(
            user=UserData(
                id=7, is_active=True, pii=UserPersonalData(username="u7", email="u7@example.com", name="Learner 7")
            ),
            program=ProgramData(uuid=str(program.uuid), title=program.title, program_type=program.type_slug),
            uuid=str(credential.uuid),
            status="awarded",
            url=f"{settings.CREDENTIALS_PUBLIC_URL}/credentials/{credential.uuid.hex}/",
            certificate_available_date=credential.visible_date or credential.awarded_at,
        )
    }
