"""The badge processor end to end over the real bus and PostgreSQL: the LMS's passing-status events
(COURSE_PASSING_STATUS_UPDATED, and CCX_COURSE_PASSING_STATUS_UPDATED for a custom course), put on
learning-badges-lifecycle by edx-event-bus-redis's own producer → our consumer process → the badge
processor → the outbox relay → BADGE_AWARDED / BADGE_REVOKED on our badge topic, read back and decoded
with the openedx-events Avro schema. The award path also over Kafka (librdkafka's mock cluster).

The credentials app handles the same passing-status events (it records the grade) and parks those of
a course run outside the catalog, so the runs are in the catalog first.
"""

from __future__ import annotations

import uuid
from typing import Any

import attr
import edx_event_bus_kafka
import pytest
import redis
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from edx_event_bus_kafka.internal.consumer import get_deserializer
from edx_event_bus_kafka.internal.utils import _get_metadata_from_headers
from openedx_events.learning.data import (
    BadgeData,
    BadgeTemplateData,
    CcxCoursePassingStatusData,
    CoursePassingStatusData,
    UserData,
    UserPersonalData,
)
from openedx_events.learning.signals import (
    BADGE_AWARDED,
    BADGE_REVOKED,
    CCX_COURSE_PASSING_STATUS_UPDATED,
    COURSE_PASSING_STATUS_UPDATED,
)
from openedx_events.tooling import OpenEdxPublicSignal

from apps.badges.models import BadgeTemplate, Fulfillment
from apps.badges.tests.scenarios import badge_of, ccx_passing_status, course_template, passing_status
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.credentials.models import CredentialStatus
from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent, ProcessedEvent
from apps.eventbus.tests.factories import send_with_lms_producer
from apps.eventbus.tests.kafka_support import KafkaBus, read_all
from apps.eventbus.tests.process_support import ConsumerStarter, StreamEvent, consumer_env, read_stream, wait_for


def lms_processed() -> QuerySet[ProcessedEvent]:
    """The LMS's events we processed. The consumer of learning-badges-lifecycle also reads back our own
    BADGE_AWARDED/REVOKED there (the issuing app follows them), which these tests do not count."""
    return ProcessedEvent.objects.exclude(event_type__startswith="org.openedx.learning.badge.")


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the consumer process needs a shared database"),
]

# Where the LMS sends passing statuses (the Open edX badges topic).
LMS_TOPIC = "learning-badges-lifecycle"
RUN_A, RUN_B = "course-v1:OrgB+Python+2026", "course-v1:OrgB+Data+2026"
CCX_OF_B = "ccx-v1:OrgB+Data+2026+ccx@7"  # a custom course of RUN_B
AWARDED, REVOKED = BADGE_AWARDED.event_type, BADGE_REVOKED.event_type

type PassingStatus = CoursePassingStatusData | CcxCoursePassingStatusData


def learner(lms_user_id: int, username: str) -> UserData:
    return UserData(
        id=lms_user_id,
        is_active=True,
        pii=UserPersonalData(username=username, email=f"{username}@example.com", name=username.title()),
    )


ADA, BOB = learner(7, "ada"), learner(8, "bob")


def signal_of(status: PassingStatus) -> OpenEdxPublicSignal:
    if isinstance(status, CcxCoursePassingStatusData):
        return CCX_COURSE_PASSING_STATUS_UPDATED
    return COURSE_PASSING_STATUS_UPDATED


def produce(*statuses: PassingStatus, ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """The LMS's passing-status events, from edx-event-bus-redis's producer; `ids` redelivers."""
    metadata = [signal_of(status).generate_signal_metadata() for status in statuses]
    if ids is not None:
        metadata = [attr.evolve(m, id=event_id) for m, event_id in zip(metadata, ids, strict=True)]
    return send_with_lms_producer(
        topic=LMS_TOPIC,
        events=[
            (signal_of(status), {"course_passing_status": status}, m)
            for status, m in zip(statuses, metadata, strict=True)
        ],
    )


def badge_events(client: redis.Redis) -> list[StreamEvent]:
    """Our BADGE_AWARDED / BADGE_REVOKED, in order, on the topic settings name for them."""
    topic = settings.EVENT_BUS_PRODUCER_TOPICS[AWARDED]
    assert settings.EVENT_BUS_PRODUCER_TOPICS[REVOKED] == topic
    return read_stream(client, topic, event_types={AWARDED, REVOKED})


def caught_up(client: redis.Redis) -> bool:
    """Whether our consumer group has read and acknowledged everything on the LMS's topic."""
    name = f"{settings.EVENT_BUS_TOPIC_PREFIX}-{LMS_TOPIC}"
    last = client.xinfo_stream(name)["last-generated-id"]
    group = next(g for g in client.xinfo_groups(name) if g["name"].decode() == settings.EVENT_BUS_CONSUMER_GROUP)
    return bool(group["last-delivered-id"] == last and group["pending"] == 0)


def assert_badge(data: BadgeData, *, user: UserData, template: BadgeTemplate) -> None:
    """The event's data is the learner's badge of the template, as its credential is now."""
    badge = badge_of(user, template)
    assert badge is not None
    assert data.uuid == str(badge.uuid)
    assert (data.user.id, data.user.pii.username, data.user.pii.email) == (user.id, user.pii.username, user.pii.email)
    assert data.template == BadgeTemplateData(
        uuid=str(template.uuid),
        origin="native",
        name=template.name,
        description=template.description or None,  # openedx-events' Avro reads an empty optional str as None
        image_url=f"{settings.CREDENTIALS_PUBLIC_URL}/media/badge_templates/star.png",
    )


@pytest.fixture
def template(transactional_db: None) -> BadgeTemplate:
    """Pass RUN_A (COURSE_PASSING_STATUS_UPDATED) and pass RUN_B (CCX_COURSE_PASSING_STATUS_UPDATED on a
    custom course of it), each reset by a failing status; revocable. Both runs are in the catalog."""
    for run, course in ((RUN_A, "OrgB+Python"), (RUN_B, "OrgB+Data")):
        CourseRunFactory(key=run, course=CourseFactory(key=course))
    badge_template, _ = course_template(RUN_A, RUN_B, penalties=True, ccx_runs={RUN_B})
    return badge_template


def test_passing_statuses_award_revoke_and_award_a_badge_again_over_redis(
    bus_redis: redis.Redis, consumers: ConsumerStarter, template: BadgeTemplate
) -> None:
    # given: a learner known here only by the username "ann" and LMS user 5 known as "annie"; in one
    # batch, Ada passes run A, an event names LMS user 5 "ann" (unresolvable), Ada passes the custom
    # course of run B and Bob passes run A
    UserFactory(username="ann", lms_user_id=None)
    UserFactory(username="annie", lms_user_id=5)
    first = produce(
        passing_status(ADA, RUN_A),
        passing_status(learner(5, "ann"), RUN_A),
        ccx_passing_status(ADA, CCX_OF_B),
        passing_status(BOB, RUN_A),
    )
    unresolvable = first[1]
    # when: our consumer reads them (all in its first read)
    consumer = consumers(topic=LMS_TOPIC)
    wait_for(
        lambda: lms_processed().count() == 3 and ParkedEvent.objects.exists() and bool(badge_events(bus_redis)),
        timeout=30,
        what="three events applied, one parked and a badge event published",
        alive=(consumer,),
    )
    # then: the unresolvable one parked with the reason, the events around it in its batch applied
    assert "batch: 3 processed, 0 duplicates, 1 parked" in consumer.stderr()
    parked = ParkedEvent.objects.get()
    assert parked.event_id == unresolvable
    assert parked.event_type == COURSE_PASSING_STATUS_UPDATED.event_type
    assert parked.error.startswith("LearnerIdentityError: LMS user 5 and username 'ann' are two separate records")
    assert set(lms_processed().values_list("event_id", flat=True)) == set(first) - {unresolvable}
    assert Fulfillment.objects.filter(progress__user__lms_user_id=BOB.id).count() == 1
    assert badge_of(BOB, template) is None
    # then: exactly one BADGE_AWARDED, Ada's
    [awarded] = badge_events(bus_redis)
    assert awarded.metadata.event_type == AWARDED
    assert_badge(awarded.data["badge"], user=ADA, template=template)

    # when: Ada fails run A
    second = produce(passing_status(ADA, RUN_A, is_passing=False))
    wait_for(lambda: len(badge_events(bus_redis)) == 2, timeout=20, what="BADGE_REVOKED", alive=(consumer,))
    # then: one BADGE_REVOKED of the same badge
    revoked = badge_events(bus_redis)[1]
    assert revoked.metadata.event_type == REVOKED
    assert_badge(revoked.data["badge"], user=ADA, template=template)
    assert revoked.data["badge"].uuid == awarded.data["badge"].uuid
    badge = badge_of(ADA, template)
    assert badge is not None and badge.status == CredentialStatus.REVOKED

    # when: Ada passes run A again
    third = produce(passing_status(ADA, RUN_A))
    wait_for(lambda: len(badge_events(bus_redis)) == 3, timeout=20, what="BADGE_AWARDED again", alive=(consumer,))
    # then: a second BADGE_AWARDED of the same badge
    again = badge_events(bus_redis)[2]
    assert again.metadata.event_type == AWARDED
    assert_badge(again.data["badge"], user=ADA, template=template)
    assert again.data["badge"].uuid == awarded.data["badge"].uuid

    # when: the LMS delivers every event again (same ids)
    statuses: list[PassingStatus] = [
        passing_status(ADA, RUN_A),
        passing_status(learner(5, "ann"), RUN_A),
        ccx_passing_status(ADA, CCX_OF_B),
        passing_status(BOB, RUN_A),
        passing_status(ADA, RUN_A, is_passing=False),
        passing_status(ADA, RUN_A),
    ]
    produce(*statuses, ids=first + second + third)
    wait_for(lambda: caught_up(bus_redis), timeout=20, what="the redelivered events read", alive=(consumer,))
    assert consumer.stop() == 0, consumer.stderr()[-3000:]
    # then: nothing more is applied or published; the unresolvable event is still parked
    assert lms_processed().count() == 5
    assert OutboxEvent.objects.count() == 3
    assert not OutboxEvent.objects.exclude(status=OutboxStatus.PUBLISHED).exists()
    assert [event.metadata.event_type for event in badge_events(bus_redis)] == [AWARDED, REVOKED, AWARDED]
    assert ParkedEvent.objects.get().event_id == unresolvable
    badge = badge_of(ADA, template)
    assert badge is not None and badge.status == CredentialStatus.AWARDED


@pytest.mark.kafka
def test_passing_statuses_award_a_badge_over_kafka(
    bus_kafka: KafkaBus, consumers: ConsumerStarter, template: BadgeTemplate
) -> None:
    # given: Ada passes run A and the custom course of run B, sent by edx-event-bus-kafka's producer
    # (keyed as the LMS keys them) before our consumer first starts
    topic = bus_kafka.create_topic(LMS_TOPIC)
    assert settings.EVENT_BUS_PRODUCER_TOPICS[AWARDED] == LMS_TOPIC, "our badge events share the LMS's topic"
    producer = edx_event_bus_kafka.create_producer()
    assert producer is not None
    sent = []
    for status, key in (
        (passing_status(ADA, RUN_A), "course_key"),
        (ccx_passing_status(ADA, CCX_OF_B), "ccx_course_key"),
    ):
        signal = signal_of(status)
        metadata = signal.generate_signal_metadata()
        producer.send(
            signal=signal,
            topic=LMS_TOPIC,
            event_key_field=f"course_passing_status.course.{key}",
            event_data={"course_passing_status": status},
            event_metadata=metadata,
        )
        sent.append(metadata.id)
    producer.prepare_for_shutdown()
    # when: our consumer process, in a group of its own, runs until the badge event is published
    env = consumer_env(
        EVENT_BUS_BACKEND="kafka",
        EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS=bus_kafka.cluster.bootstrap_servers,
        EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL=bus_kafka.registry.url,
        EVENT_BUS_TOPIC_PREFIX=bus_kafka.prefix,
    )
    consumer = consumers("--group", f"g-{uuid.uuid4().hex}", topic=LMS_TOPIC, env=env)
    wait_for(
        lambda: lms_processed().count() == 2 and OutboxEvent.objects.filter(status=OutboxStatus.PUBLISHED).count() == 1,
        timeout=60,
        what="both events applied and the badge event published",
        alive=(consumer,),
    )
    assert consumer.stop() == 0, consumer.stderr()[-3000:]
    # then: both applied, nothing parked, one BADGE_AWARDED on the topic among the LMS's two events,
    # keyed by learner and template and decoded through the registry
    assert set(lms_processed().values_list("event_id", flat=True)) == set(sent)
    assert not ParkedEvent.objects.exists()
    messages = read_all(bus_kafka.cluster.bootstrap_servers, topic, expected=3)
    ours = [m for m in messages if _get_metadata_from_headers(m.headers()).event_type in {AWARDED, REVOKED}]
    [message] = ours
    metadata = _get_metadata_from_headers(message.headers())
    assert (metadata.id, metadata.event_type) == (OutboxEvent.objects.get().event_id, AWARDED)
    registry = SchemaRegistryClient({"url": bus_kafka.registry.url})
    key = AvroDeserializer(registry)(message.key(), SerializationContext(topic, MessageField.KEY))
    assert key == f"{ADA.id}:{template.uuid}"
    value: dict[str, Any] = get_deserializer(BADGE_AWARDED, registry)(
        message.value(), SerializationContext(topic, MessageField.VALUE, message.headers())
    )
    assert_badge(value["badge"], user=ADA, template=template)
