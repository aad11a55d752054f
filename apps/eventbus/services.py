"""Writes: the outbox (enqueue, relay) and parked events (replay, discard)."""

from __future__ import annotations

import contextvars
import datetime
import logging
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from edx_event_bus_redis.internal.utils import get_headers_from_metadata
from openedx_events.tooling import OpenEdxPublicSignal

from .codec import serialize
from .consumer import process_messages
from .data import BatchResult, IncomingMessage, OutgoingEvent
from .exceptions import EventBusError, EventBusErrorCode, PublishError
from .models import OutboxEvent, OutboxStatus, ParkedEvent, ParkedStatus, RelayLease
from .publishers import Publisher, get_publisher

log = logging.getLogger(__name__)

LEASE_NAME = "outbox"
LEASE_SECONDS = 30
RELAY_CHUNK = 100

# Set while a consumer process runs: it relays after each batch itself, so commits inside it need not
# queue a Celery task (which would also stall on a broker that is down).
_relaying_inline: contextvars.ContextVar[bool] = contextvars.ContextVar("relaying_inline", default=False)


@contextmanager
def relaying_inline() -> Iterator[None]:
    token = _relaying_inline.set(True)
    try:
        yield
    finally:
        _relaying_inline.reset(token)


def enqueue_event(*, signal: OpenEdxPublicSignal, key: str, **event_data: Any) -> OutboxEvent:
    """Record an event to publish once the caller's transaction commits. Must run inside that
    transaction, so the event exists if and only if the state change does. Raises EventBusError when
    no topic is configured for the event type."""
    [row] = enqueue_events([OutgoingEvent(signal=signal, key=key, data=event_data)])
    return row


def enqueue_events(events: Sequence[OutgoingEvent]) -> list[OutboxEvent]:
    """`enqueue_event` for each of `events`, in order (the relay publishes them in that order), in one
    statement. All or nothing: raises EventBusError when an event type has no topic configured."""
    if not events:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("enqueue_events must run inside the transaction that makes the state change")
    rows = []
    for event in events:
        topic = settings.EVENT_BUS_PRODUCER_TOPICS.get(event.signal.event_type)
        if not topic:
            raise EventBusError(
                f"No topic in EVENT_BUS_PRODUCER_TOPICS for {event.signal.event_type}.",
                code=EventBusErrorCode.NO_TOPIC,
            )
        metadata = event.signal.generate_signal_metadata()
        rows.append(
            OutboxEvent(
                event_id=metadata.id,
                event_type=event.signal.event_type,
                topic=topic,
                event_key=event.key,
                metadata={k.decode(): v.decode() for k, v in get_headers_from_metadata(metadata).items()},
                payload=serialize(event.data, event.signal),
            )
        )
    OutboxEvent.objects.bulk_create(rows)
    transaction.on_commit(_relay_soon, robust=True)
    return rows


def _relay_soon() -> None:
    if _relaying_inline.get():
        return
    from .tasks import relay_outbox_task

    relay_outbox_task.delay()


@dataclass
class RelayResult:
    published: int = 0
    failed: bool = False
    skipped: bool = False
    error: str = ""


def relay_outbox(*, publisher: Publisher | None = None, limit: int = 10_000) -> RelayResult:
    """Publish pending outbox rows in id order, marking each published only after the broker
    acknowledged it. One relay at a time (a lease); stops at the first failure so order holds, and
    leaves the rest pending for the next run. Safe to call from anywhere, any number of times."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not _take_lease(holder):
        return RelayResult(skipped=True)
    result = RelayResult()
    own_publisher = publisher is None
    try:
        publisher = publisher or get_publisher()
        while result.published < limit:
            rows = list(OutboxEvent.objects.filter(status=OutboxStatus.PENDING).order_by("id")[:RELAY_CHUNK])
            if not rows:
                break
            acknowledged: list[int] = []
            try:
                for row in rows:
                    publisher.publish(
                        topic=row.topic, key=row.event_key, headers=row.metadata, payload=bytes(row.payload)
                    )
                    acknowledged.append(row.pk)
            except PublishError as exc:
                result.failed, result.error = True, str(exc)
                failed = rows[len(acknowledged)]
                OutboxEvent.objects.filter(pk=failed.pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:2000])
                log.warning("Outbox relay stopped at event %s: %s", failed.event_id, exc)
            finally:
                _mark_published(acknowledged)
                result.published += len(acknowledged)
            if result.failed:
                break
            _renew_lease(holder)
    finally:
        if own_publisher and publisher is not None:
            publisher.close()
        _release_lease(holder)
    return result


def _mark_published(ids: list[int]) -> None:
    if ids:
        OutboxEvent.objects.filter(pk__in=ids, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.PUBLISHED, published_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )


def _take_lease(holder: str) -> bool:
    now = timezone.now()
    try:
        RelayLease.objects.get_or_create(name=LEASE_NAME)
    except IntegrityError:
        pass  # created concurrently
    taken = RelayLease.objects.filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now), name=LEASE_NAME).update(
        holder=holder, leased_until=now + datetime.timedelta(seconds=LEASE_SECONDS)
    )
    return taken == 1


def _renew_lease(holder: str) -> None:
    RelayLease.objects.filter(name=LEASE_NAME, holder=holder).update(
        leased_until=timezone.now() + datetime.timedelta(seconds=LEASE_SECONDS)
    )


def _release_lease(holder: str) -> None:
    RelayLease.objects.filter(name=LEASE_NAME, holder=holder).update(holder="", leased_until=None)


# --- parked events --------------------------------------------------------------------------------


def replay_parked_event(*, parked_id: int) -> ParkedEvent:
    """Run a parked event through the consumer wrapper again. On success it is marked replayed; if it
    fails again it stays parked with the new reason and one more attempt. Idempotent for replayed ones."""
    parked = ParkedEvent.objects.get(pk=parked_id)
    if parked.status != ParkedStatus.PARKED:
        return parked
    message = IncomingMessage(
        topic=parked.topic, message_id=parked.message_id, headers=dict(parked.headers), payload=bytes(parked.payload)
    )
    result: BatchResult = process_messages([message])
    if result.processed or result.duplicates or result.ignored:
        ParkedEvent.objects.filter(pk=parked.pk).update(status=ParkedStatus.REPLAYED, last_attempt_at=timezone.now())
    elif parked.event_id is None:
        # An unreadable message is parked again as a new row; keep one row for it.
        ParkedEvent.objects.filter(pk=parked.pk).update(attempts=F("attempts") + 1, last_attempt_at=timezone.now())
        ParkedEvent.objects.filter(message_id=parked.message_id, event_id__isnull=True).exclude(pk=parked.pk).delete()
    parked.refresh_from_db()
    return parked


def discard_parked_event(*, parked_id: int) -> ParkedEvent:
    """Mark a parked event as not to be replayed (kept for the record). Idempotent."""
    ParkedEvent.objects.filter(pk=parked_id).update(status=ParkedStatus.DISCARDED)
    return ParkedEvent.objects.get(pk=parked_id)
