"""What crosses the event bus boundary inside the service."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def total(self) -> int:
        return self.processed + self.duplicates + self.parked + self.ignored
