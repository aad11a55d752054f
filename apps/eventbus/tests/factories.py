"""Build incoming messages exactly as the LMS's producer would put them on the bus."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any

import attr
from edx_event_bus_redis import create_producer
from edx_event_bus_redis.internal.utils import get_headers_from_metadata
from openedx_events.event_bus.avro.serializer import serialize_event_data_to_bytes
from openedx_events.learning.data import ProgramCertificateData, ProgramData, UserData, UserPersonalData
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

from apps.eventbus.data import IncomingMessage


def incoming_message(
    signal: OpenEdxPublicSignal, *, topic: str = "test-topic", event_id: uuid.UUID | None = None, **event_data: Any
) -> IncomingMessage:
    """An LMS-shaped message for `signal` carrying `event_data` (openedx-events data classes)."""
    metadata = signal.generate_signal_metadata()
    if event_id is not None:
        metadata = attr.evolve(metadata, id=event_id)
    headers = {k.decode(): v.decode() for k, v in get_headers_from_metadata(metadata).items()}
    return IncomingMessage(
        topic=topic,
        message_id=f"{uuid.uuid4().int % 10**12}-0",
        headers=headers,
        payload=serialize_event_data_to_bytes(event_data, signal),
    )


def send_with_lms_producer(
    *, topic: str, events: Iterable[tuple[OpenEdxPublicSignal, dict[str, Any], EventsMetadata]]
) -> list[uuid.UUID]:
    """Send (signal, event data, metadata) triples with edx-event-bus-redis's own producer, exactly as
    an LMS would; return the event ids. Pass metadata with known ids to redeliver."""
    producer = create_producer()
    if producer is None:
        raise RuntimeError("edx-event-bus-redis has no connection URL (EVENT_BUS_REDIS_CONNECTION_URL)")
    sent = []
    for signal, data, metadata in events:
        (name,) = data  # openedx-events signals carry one data object; the Redis producer ignores the key
        # The LMS keys a custom course's (CCX) events by its own key, every other one by the course key.
        key = "ccx_course_key" if hasattr(getattr(data[name], "course", None), "ccx_course_key") else "course_key"
        producer.send(
            signal=signal,
            topic=topic,
            event_key_field=f"{name}.course.{key}",
            event_data=data,
            event_metadata=metadata,
        )
        sent.append(metadata.id)
    producer.client.close()
    return sent


def program_certificate_data(n: int = 1, status: str = "awarded") -> ProgramCertificateData:
    """A ProgramCertificateData for learner `n`, with a non-Latin name so encodings are exercised."""
    return ProgramCertificateData(
        user=UserData(
            id=n, is_active=True, pii=UserPersonalData(username=f"u{n}", email=f"u{n}@example.com", name="Иван 李")
        ),
        program=ProgramData(uuid=str(uuid.uuid4()), title="Circuits", program_type="micromasters"),
        uuid=str(uuid.uuid4()),
        status=status,
        url=f"http://credentials.test/api/v1/credentials/{n}/",
        certificate_available_date=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    )
