"""openedx-events' Avro encoding of event data, with each signal's schema built once per process.

`serialize_event_data_to_bytes` and `deserialize_bytes_to_event_data` (openedx_events.event_bus.avro)
build the signal's schema from its data classes on every call, which costs more than the encoding
itself. These do what they do, through the same `AvroSignalSerializer` / `AvroSignalDeserializer`,
keeping one of each (and the schema parsed for fastavro) per signal.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import fastavro
from openedx_events.event_bus.avro.deserializer import AvroSignalDeserializer
from openedx_events.event_bus.avro.serializer import AvroSignalSerializer
from openedx_events.tooling import OpenEdxPublicSignal


def serialize(event_data: dict[str, Any], signal: OpenEdxPublicSignal) -> bytes:
    """The event data's Avro bytes, as `serialize_event_data_to_bytes` writes them."""
    serializer, schema = _serializer(signal)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, serializer.to_dict(event_data))
    return out.getvalue()


def deserialize(payload: bytes, signal: OpenEdxPublicSignal) -> dict[str, Any]:
    """The event data in Avro bytes, as `deserialize_bytes_to_event_data` reads them; raises what the
    Avro reader raises for bytes that are not such data."""
    deserializer, schema = _deserializer(signal)
    data: dict[str, Any] = deserializer.from_dict(fastavro.schemaless_reader(io.BytesIO(payload), schema))
    return data


@functools.cache
def _serializer(signal: OpenEdxPublicSignal) -> tuple[AvroSignalSerializer, Any]:
    serializer = AvroSignalSerializer(signal)
    return serializer, fastavro.parse_schema(serializer.schema)


@functools.cache
def _deserializer(signal: OpenEdxPublicSignal) -> tuple[AvroSignalDeserializer, Any]:
    deserializer = AvroSignalDeserializer(signal)
    return deserializer, fastavro.parse_schema(deserializer.schema)
