"""The one wrapper every consumed event goes through.

A batch of messages (what one read from the bus returned) is processed in one durable transaction,
each event's id recorded in ProcessedEvent with its effects. A duplicate id is skipped. Consecutive
events whose types have a batch handler (the registry) are applied together by it, in one savepoint;
every other event gets a savepoint of its own. An event that fails because of its content is rolled
back to its savepoint and parked with its raw bytes and the reason; the others commit. When a batch
handler fails, its run is rolled back and applied again one event at a time, so that only the bad
event is parked. A failure of our own infrastructure (the database is unreachable) rolls the whole
batch back and is raised, so the caller neither acknowledges nor parks anything and retries later.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from edx_event_bus_redis.internal.utils import get_metadata_from_headers
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

from .codec import deserialize
from .data import UNREADABLE_HEADER, BatchResult, IncomingMessage
from .exceptions import EventBusErrorCode, UnreadableMessageError
from .models import ParkedEvent, ParkedStatus, ProcessedEvent
from .registry import BatchHandler, batch_handlers_for, handlers_for, unbatched_handlers_for

log = logging.getLogger(__name__)

# Errors that say nothing about the event: the database is gone or the connection broke.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)


class InfrastructureError(Exception):
    """Our own infrastructure failed; the batch was rolled back and must be retried, not parked."""


@dataclass(frozen=True)
class DecodedEvent:
    message: IncomingMessage
    metadata: EventsMetadata
    signal: OpenEdxPublicSignal
    data: dict[str, Any]


def decode_message(message: IncomingMessage) -> DecodedEvent:
    """Headers and Avro bytes to metadata and openedx-events data classes; raises ValueError-like
    errors for anything unreadable."""
    if not message.headers.get("id") or not message.headers.get("type"):
        raise ValueError("the message has no event id or type header")
    if message.headers.get(UNREADABLE_HEADER):
        raise UnreadableMessageError(message.headers[UNREADABLE_HEADER], code=EventBusErrorCode.UNREADABLE_MESSAGE)
    metadata = get_metadata_from_headers({k.encode(): v.encode() for k, v in message.headers.items()})
    signal = OpenEdxPublicSignal.get_signal_by_type(metadata.event_type)
    try:
        data = deserialize(message.payload, signal)
    except Exception as exc:  # whatever the Avro reader or a key parser raises
        # Schemaless Avro carries no field names: short, garbled or differently shaped bytes surface as
        # a bare "EOFError: " or "IndexError: list index out of range". Say what could not be read.
        raise UnreadableMessageError(
            f"{len(message.payload)} bytes do not decode as {metadata.event_type}: {type(exc).__name__}: {exc}",
            code=EventBusErrorCode.UNREADABLE_MESSAGE,
        ) from exc
    return DecodedEvent(message=message, metadata=metadata, signal=signal, data=data)


def _event_id(message: IncomingMessage) -> uuid.UUID | None:
    try:
        return uuid.UUID(message.headers.get("id", ""))
    except ValueError:
        return None


def process_messages(messages: Sequence[IncomingMessage]) -> BatchResult:
    """Apply a batch of messages at most once each; park the bad ones. Raises InfrastructureError
    when the batch could not be committed (nothing was applied or parked; acknowledge nothing)."""
    result = BatchResult()
    decoded: list[DecodedEvent] = []
    unreadable: list[tuple[IncomingMessage, str]] = []
    for message in messages:
        try:
            event = decode_message(message)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means the message is unusable
            reason = f"unreadable message: {type(exc).__name__}: {exc}"
            # Logged like a handler's failure (_reason): otherwise garbage on the bus leaves no trace in the logs.
            log.warning("Parking message %s from %s: %s", message.message_id, message.topic, reason)
            unreadable.append((message, reason))
            continue
        if handlers_for(event.metadata.event_type):
            decoded.append(event)
        else:
            result.ignored += 1

    try:
        with transaction.atomic(durable=True):
            seen = set(
                ProcessedEvent.objects.filter(event_id__in=[e.metadata.id for e in decoded]).values_list(
                    "event_id", flat=True
                )
            )
            fresh: list[DecodedEvent] = []
            for event in decoded:
                if event.metadata.id in seen:
                    result.duplicates += 1
                    continue
                seen.add(event.metadata.id)
                fresh.append(event)
            done: list[ProcessedEvent] = []
            for event, error in _apply_in_runs(fresh, result):
                if error is None:
                    done.append(ProcessedEvent(event_id=event.metadata.id, event_type=event.metadata.event_type))
                    result.processed += 1
                else:
                    _park(event.message, event_id=event.metadata.id, event_type=event.metadata.event_type, error=error)
                    result.parked += 1
                    result.parked_reasons.append(error.splitlines()[0])
            for message, error in unreadable:
                _park(message, event_id=_event_id(message), event_type=message.headers.get("type", ""), error=error)
                result.parked += 1
                result.parked_reasons.append(error)
            ProcessedEvent.objects.bulk_create(done)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureError(str(exc)) from exc
    except IntegrityError as exc:
        # Outside any event's savepoint only our own ProcessedEvent/ParkedEvent rows are written: another
        # consumer committed one of these event ids first. Retrying the batch finds them as duplicates.
        raise InfrastructureError(f"another consumer applied an event of this batch first: {exc}") from exc
    return result


def _apply_in_runs(events: list[DecodedEvent], result: BatchResult) -> Iterator[tuple[DecodedEvent, str | None]]:
    """Apply the events in order: each run of consecutive events whose types have batch handlers
    together (`_apply_run`), the others one by one. Yield each event with None, or the reason it must
    be parked."""
    for batched, run in groupby(events, key=lambda e: bool(batch_handlers_for(e.metadata.event_type))):
        run_events = list(run)
        if batched and len(run_events) > 1:
            try:
                with transaction.atomic():
                    _apply_run(run_events)
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - which event is at fault is found by retrying one by one
                log.info("A run of %d events failed together (%s); applying them one by one", len(run_events), exc)
                result.fallbacks += 1
            else:
                result.batched += len(run_events)
                yield from ((event, None) for event in run_events)
                continue
        yield from ((event, _apply(event)) for event in run_events)


def _apply_run(events: list[DecodedEvent]) -> None:
    """Each batch handler gets, in order, the events of the run whose types it serves; then the
    handlers no batch handler stands for take the events one at a time. Handlers of different apps
    touch different state, so each app seeing its own events in order is enough."""
    by_handler: dict[BatchHandler, list[tuple[EventsMetadata, dict[str, Any]]]] = {}
    for event in events:
        for handler in batch_handlers_for(event.metadata.event_type):
            by_handler.setdefault(handler, []).append((event.metadata, event.data))
    for handler, handler_events in by_handler.items():
        handler(handler_events)
    for event in events:
        for single in unbatched_handlers_for(event.metadata.event_type):
            single(metadata=event.metadata, **event.data)


def _apply(event: DecodedEvent) -> str | None:
    """Run the event's handlers in a savepoint; return None, or the reason it must be parked."""
    try:
        with transaction.atomic():
            for handler in handlers_for(event.metadata.event_type):
                handler(metadata=event.metadata, **event.data)
    except INFRASTRUCTURE_ERRORS:
        raise
    except DatabaseError as exc:
        # A statement the data made fail (too long, constraint): the event's fault, not ours.
        return _reason(event, exc)
    except Exception as exc:  # noqa: BLE001 - a worker boundary: log and park, never crash the loop
        return _reason(event, exc)
    return None


def _reason(event: DecodedEvent, exc: BaseException) -> str:
    log.warning("Parking %s %s: %s", event.metadata.event_type, event.metadata.id, exc, exc_info=exc)
    tb = "".join(traceback.format_exception(exc, limit=-4))
    return f"{type(exc).__name__}: {exc}\n\n{tb}"


def _park(message: IncomingMessage, *, event_id: uuid.UUID | None, event_type: str, error: str) -> None:
    if event_id is not None:
        parked, created = ParkedEvent.objects.get_or_create(
            event_id=event_id,
            defaults={
                "event_type": event_type,
                "topic": message.topic,
                "message_id": message.message_id,
                "headers": message.headers,
                "payload": message.payload,
                "error": error,
            },
        )
        if not created:
            parked.attempts += 1
            parked.error = error
            parked.status = ParkedStatus.PARKED
            parked.save(update_fields=["attempts", "error", "status", "last_attempt_at"])
        return
    ParkedEvent.objects.create(
        event_type=event_type,
        topic=message.topic,
        message_id=message.message_id,
        headers=message.headers,
        payload=message.payload,
        error=error,
    )
