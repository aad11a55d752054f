from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.db import transaction
from django.utils import timezone
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED, PROGRAM_CERTIFICATE_REVOKED

from apps.eventbus import services
from apps.eventbus.buses.redis_streams import full_topic
from apps.eventbus.exceptions import EventBusError
from apps.eventbus.models import OutboxEvent, OutboxStatus, RelayLease
from apps.eventbus.tests.conftest import stream_messages
from apps.eventbus.tests.factories import program_certificate_data

pytestmark = pytest.mark.django_db
TOPIC = "learning-program-certificate-lifecycle"


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        services.enqueue_event(
            signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=program_certificate_data()
        )


def test_enqueue_without_a_topic_names_the_setting(settings: Any) -> None:
    settings.EVENT_BUS_PRODUCER_TOPICS = {}
    with transaction.atomic(), pytest.raises(EventBusError, match="EVENT_BUS_PRODUCER_TOPICS"):
        services.enqueue_event(
            signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=program_certificate_data()
        )


def test_event_is_published_after_commit_and_decodes_to_what_was_enqueued(
    bus_redis: redis.Redis, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    # given
    data = program_certificate_data()
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        row = services.enqueue_event(signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=data)
        assert stream_messages(bus_redis, full_topic(TOPIC)) == [], "nothing leaves before commit"
    # then
    assert len(callbacks) == 1
    [(_, fields)] = stream_messages(bus_redis, full_topic(TOPIC))
    assert fields[b"id"].decode() == str(row.event_id)
    assert fields[b"type"] == PROGRAM_CERTIFICATE_AWARDED.event_type.encode()
    decoded = deserialize_bytes_to_event_data(fields[b"event_data"], PROGRAM_CERTIFICATE_AWARDED)
    assert decoded == {"program_certificate": data}
    row.refresh_from_db()
    assert row.status == OutboxStatus.PUBLISHED and row.published_at is not None


def test_nothing_is_published_when_the_transaction_rolls_back(
    bus_redis: redis.Redis, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), transaction.atomic():
        services.enqueue_event(
            signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=program_certificate_data()
        )
        _ = 1 / 0
    assert not OutboxEvent.objects.exists()
    assert stream_messages(bus_redis, full_topic(TOPIC)) == []


def test_broker_outage_keeps_events_until_the_broker_is_back(bus_redis: redis.Redis, settings: Any) -> None:
    # given: five events while the broker is unreachable
    with transaction.atomic():
        rows = [
            services.enqueue_event(
                signal=PROGRAM_CERTIFICATE_REVOKED if n % 2 else PROGRAM_CERTIFICATE_AWARDED,
                key=f"{n}:p",
                program_certificate=program_certificate_data(n),
            )
            for n in range(5)
        ]
    reachable = settings.EVENT_BUS_REDIS_URL
    settings.EVENT_BUS_REDIS_URL = "redis://127.0.0.1:1/0"
    # when
    down = services.relay_outbox()
    # then: nothing lost, the failure recorded
    assert down.failed and down.published == 0
    assert OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count() == 5
    assert "Redis did not take the message" in OutboxEvent.objects.get(pk=rows[0].pk).last_error
    # when the broker is back
    settings.EVENT_BUS_REDIS_URL = reachable
    back = services.relay_outbox()
    # then: all published, in the order they were enqueued
    assert back.published == 5 and not back.failed
    published_ids = [fields[b"id"].decode() for _, fields in stream_messages(bus_redis, full_topic(TOPIC))]
    assert published_ids == [str(r.event_id) for r in rows]
    assert not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()


def test_relay_again_publishes_nothing_twice(bus_redis: redis.Redis) -> None:
    with transaction.atomic():
        services.enqueue_event(
            signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=program_certificate_data()
        )
    first = services.relay_outbox()
    second = services.relay_outbox()
    assert (first.published, second.published) == (1, 0)
    assert len(stream_messages(bus_redis, full_topic(TOPIC))) == 1


def test_only_one_relay_runs_at_a_time(bus_redis: redis.Redis) -> None:
    # given: another process holds the lease
    with transaction.atomic():
        services.enqueue_event(
            signal=PROGRAM_CERTIFICATE_AWARDED, key="1:p", program_certificate=program_certificate_data()
        )
    RelayLease.objects.update_or_create(
        name=services.LEASE_NAME,
        defaults={"holder": "other", "leased_until": timezone.now() + datetime.timedelta(seconds=30)},
    )
    # when
    result = services.relay_outbox()
    # then
    assert result.skipped
    assert stream_messages(bus_redis, full_topic(TOPIC)) == []
    # and an expired lease is taken over
    RelayLease.objects.filter(name=services.LEASE_NAME).update(
        leased_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert services.relay_outbox().published == 1
