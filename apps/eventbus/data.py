"""What crosses the event bus boundary inside the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openedx_events.tooling import OpenEdxPublicSignal

# A bus sets this header when it could not turn the message into plain openedx-events Avro (a Kafka
# value the Schema Registry cannot decode); the message is then parked with its raw bytes and this reason.
UNREADABLE_HEADER = "x-unreadable"


@dataclass(frozen=True)
class IncomingMessage:
    """One message as a bus delivered it, before decoding: CloudEvents headers and Avro bytes."""

    topic: str
    message_id: str
    headers: dict[str, str]
    payload: bytes


@dataclass
class BatchResult:
    """What one batch of incoming messages came to."""

    processed: int = 0
    duplicates: int = 0
    parked: int = 0
    ignored: int = 0
    parked_reasons: list[str] = field(default_factory=list)
    # Of the processed: how many a batch handler applied. Runs whose batch handler failed and that
    # were applied (or parked) one event at a time instead.
    batched: int = 0
    fallbacks: int = 0

    @property
    def total(self) -> int:
        return self.processed + self.duplicates + self.parked + self.ignored


@dataclass(frozen=True)
class OutgoingEvent:
    """An event to publish once the transaction that made its state change commits."""

    signal: OpenEdxPublicSignal
    key: str  # orders the events of one key (a learner and a program)
    data: dict[str, Any]  # the signal's data, as `signal.send_event(**data)` takes it
