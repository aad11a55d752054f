"""Kafka, the only module that talks to Kafka and its Schema Registry for the event bus.

Messages are laid out exactly as edx-event-bus-kafka writes them, so an LMS using that library
interoperates: topic `<prefix>-<topic>`; CloudEvents headers `ce_id`, `ce_type`, ... as bytes; the
value Confluent-framed Avro (byte 0, the 4-byte schema id from the registry, then openedx-events' Avro
body) under subject `<topic>-<record name>`; the key a framed Avro string.

Inside the service a message looks the same whichever bus carried it (IncomingMessage, and the outbox
rows): edx-event-bus-redis's header names and plain openedx-events Avro bytes. This module translates
in both directions with the two libraries' own header tables, openedx-events' schemas and
confluent-kafka's serializers; it writes no Avro of its own. We read and commit offsets ourselves: the
edx consumer commits a message's offset even when its handler failed (docs/decisions/0006).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    SchemaRegistryError,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

# confluent-kafka's registry client uses httpx2, or httpx where that is missing; catch whichever it uses.
from confluent_kafka.schema_registry.common._httpx_compat import httpx
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from django.conf import settings
from edx_event_bus_kafka.internal import utils as kafka_headers
from edx_event_bus_kafka.internal.config import get_full_topic
from edx_event_bus_redis.internal import utils as redis_headers
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.event_bus.avro.serializer import AvroSignalSerializer
from openedx_events.tooling import OpenEdxPublicSignal

from ..data import UNREADABLE_HEADER, IncomingMessage
from ..exceptions import ConsumeError, PublishError

log = logging.getLogger(__name__)

# Our outbox keys are strings; edx-event-bus-kafka's keys are string fields too (subject `<topic>-string`).
KEY_SCHEMA = json.dumps({"type": "string"})

# Header name translation, built from the libraries' own tables: Kafka `ce_id` <-> our `id`, and so on.
_KAFKA_TO_OURS: dict[str, str] = {
    kafka.message_header_key: ours.message_header_key
    for kafka in kafka_headers.MessageHeader.instances
    for ours in redis_headers.MessageHeader.instances
    if kafka.event_metadata_field and kafka.event_metadata_field == ours.event_metadata_field
}

# Errors that mean the Schema Registry could not be asked, as opposed to answering "no such schema".
REGISTRY_UNREACHABLE: tuple[type[BaseException], ...] = (httpx.TransportError,)
# What serializing for publishing raises when the registry is unreachable, errs or refuses the schema.
SERIALIZING_ERRORS: tuple[type[BaseException], ...] = (SchemaRegistryError, SerializationError, *REGISTRY_UNREACHABLE)


def full_topic(topic: str) -> str:
    return str(get_full_topic(topic))


def _client_config() -> dict[str, Any]:
    config: dict[str, Any] = {"bootstrap.servers": settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS}
    if settings.EVENT_BUS_KAFKA_API_KEY and settings.EVENT_BUS_KAFKA_API_SECRET:
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN",
                "sasl.username": settings.EVENT_BUS_KAFKA_API_KEY,
                "sasl.password": settings.EVENT_BUS_KAFKA_API_SECRET,
            }
        )
    return config


def _registry() -> SchemaRegistryClient:
    return _registry_for(
        settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL,
        settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_KEY,
        settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_SECRET,
    )


# One client and one (de)serializer per signal per registry and process: they cache schema ids, so a
# subject is registered once per process, as edx-event-bus-kafka does.
@lru_cache(maxsize=8)
def _registry_for(url: str, key: str, secret: str) -> SchemaRegistryClient:
    config: dict[str, Any] = {"url": url}
    if key:
        config["basic.auth.user.info"] = f"{key}:{secret}"
    return SchemaRegistryClient(config)


@lru_cache(maxsize=256)
def _serializers(registry: SchemaRegistryClient, signal: OpenEdxPublicSignal) -> tuple[AvroSerializer, AvroSerializer]:
    signal_serializer = AvroSignalSerializer(signal)

    def to_dict(event_data: dict[str, Any], ctx: SerializationContext | None = None) -> dict[str, Any]:
        return dict(signal_serializer.to_dict(event_data))

    conf = {"subject.name.strategy": topic_record_subject_name_strategy}
    key_serializer = AvroSerializer(registry, KEY_SCHEMA, conf=conf)
    value_serializer = AvroSerializer(registry, signal_serializer.schema_string(), to_dict=to_dict, conf=conf)
    return key_serializer, value_serializer


@lru_cache(maxsize=256)
def _deserializer(registry: SchemaRegistryClient, signal: OpenEdxPublicSignal) -> tuple[AvroDeserializer, Any]:
    """The value deserializer (the writer's schema from the registry, resolved to ours) and our schema
    parsed for fastavro, to write the record back as plain openedx-events Avro."""
    schema = AvroSignalSerializer(signal).schema
    return AvroDeserializer(registry, json.dumps(schema, sort_keys=True)), fastavro.parse_schema(schema)


# One producer per process and configuration: connecting and fetching metadata costs ~50 ms, and the
# consumer process relays after every batch. The pid keeps a forked worker from using its parent's.
@lru_cache(maxsize=4)
def _producer_for(config: tuple[tuple[str, Any], ...], pid: int) -> Producer:
    return Producer(dict(config), logger=log)


class KafkaPublisher:
    def __init__(self) -> None:
        timeout_ms = settings.EVENT_BUS_KAFKA_DELIVERY_TIMEOUT_MS
        config = {**_client_config(), "acks": "all", "message.timeout.ms": timeout_ms}
        self.producer = _producer_for(tuple(sorted(config.items())), os.getpid())
        # librdkafka fails an unacknowledged message itself after message.timeout.ms; waiting a little
        # longer means a flush never returns while the outcome is still open.
        self.flush_timeout = timeout_ms / 1000 + 5

    def publish(self, *, topic: str, key: str, headers: dict[str, str], payload: bytes) -> str:
        """Produce the message and wait for the broker; return `topic:partition:offset`. Raises
        PublishError unless the broker acknowledged it (the registry or the broker unreachable,
        refused, timed out)."""
        target = full_topic(topic)
        metadata = redis_headers.get_metadata_from_headers({k.encode(): v.encode() for k, v in headers.items()})
        signal = OpenEdxPublicSignal.get_signal_by_type(metadata.event_type)
        wire_headers: dict[str, str | bytes | None] = kafka_headers._get_headers_from_metadata(event_metadata=metadata)
        event_data = deserialize_bytes_to_event_data(payload, signal)
        key_serializer, value_serializer = _serializers(_registry(), signal)
        try:
            key_bytes = key_serializer(key, SerializationContext(target, MessageField.KEY, wire_headers))
            value_bytes = value_serializer(event_data, SerializationContext(target, MessageField.VALUE, wire_headers))
        except SERIALIZING_ERRORS as exc:
            raise PublishError(f"Schema Registry: {exc}") from exc

        outcome: list[tuple[KafkaError | None, Message]] = []
        try:
            self.producer.produce(
                target,
                key=key_bytes,
                value=value_bytes,
                headers=wire_headers,
                on_delivery=lambda err, msg: outcome.append((err, msg)),
            )
        except (BufferError, KafkaException) as exc:
            raise PublishError(f"Kafka did not take the message: {exc}") from exc
        self.producer.flush(self.flush_timeout)
        if not outcome:
            raise PublishError(f"Kafka did not acknowledge the message within {self.flush_timeout:.0f}s")
        error, message = outcome[0]
        if error is not None:
            raise PublishError(f"Kafka did not acknowledge the message: {error.str()}")
        return f"{message.topic()}:{message.partition()}:{message.offset()}"

    def close(self) -> None:
        self.producer.flush(self.flush_timeout)


class KafkaConsumer:
    """A member of a consumer group with manual offset commits. A new group starts at the earliest
    offset, so events produced before the first start are not skipped; a restart resumes after the
    last committed offset of each partition."""

    def __init__(self, *, topic: str, group: str, consumer: str) -> None:
        self.topic = topic
        self.full_topic = full_topic(topic)
        self.consumer = Consumer(
            {
                **_client_config(),
                "group.id": group,
                "client.id": consumer,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            },
            logger=log,
        )
        self.consumer.subscribe([self.full_topic])

    def read(self, *, count: int, block_ms: int) -> list[IncomingMessage]:
        """Up to `count` messages: what is already fetched, else the first to arrive within `block_ms`
        plus what came with it. Raises ConsumeError (and rewinds) when the Schema Registry cannot be
        asked; a fatal Kafka error propagates as KafkaException (the process must restart)."""
        raw = self.consumer.consume(num_messages=count, timeout=0)
        if not raw:
            raw = self.consumer.consume(num_messages=1, timeout=block_ms / 1000)
            if raw and count > 1:
                raw += self.consumer.consume(num_messages=count - 1, timeout=0)
        messages: list[IncomingMessage] = []
        for message in raw:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                # Informational (a broker went away, the topic does not exist yet): librdkafka retries.
                log.warning("Kafka consumer of %s: %s", self.full_topic, error.str())
                continue
            try:
                messages.append(self._to_message(message))
            except ConsumeError:
                self.rewind()
                raise
        return messages

    def _to_message(self, message: Message) -> IncomingMessage:
        wire_headers = message.headers() or []
        headers: dict[str, str] = {}
        for name, value in wire_headers.items() if isinstance(wire_headers, dict) else wire_headers:
            if name in _KAFKA_TO_OURS and value is not None:
                headers[_KAFKA_TO_OURS[name]] = value if isinstance(value, str) else value.decode(errors="replace")
        raw = message.value() or b""
        payload = raw
        try:
            payload = self._plain_avro(message, headers.get("type", ""))
        except ConsumeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoding failure makes the message unusable: it is parked
            headers[UNREADABLE_HEADER] = f"Kafka value not decodable: {type(exc).__name__}: {exc}"
        return IncomingMessage(
            topic=self.topic, message_id=f"{message.partition()}:{message.offset()}", headers=headers, payload=payload
        )

    def _plain_avro(self, message: Message, event_type: str) -> bytes:
        """The value as plain openedx-events Avro bytes: decoded with the writer's schema from the
        registry, resolved to this service's schema of the event type, and written again."""
        signal = OpenEdxPublicSignal.get_signal_by_type(event_type)
        deserializer, parsed_schema = _deserializer(_registry(), signal)
        try:
            record = deserializer(message.value(), SerializationContext(message.topic() or "", MessageField.VALUE))
        except REGISTRY_UNREACHABLE as exc:
            raise ConsumeError(f"Schema Registry unreachable: {exc}") from exc
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise  # the registry answered: it has no such schema, so the message is unreadable
            raise ConsumeError(f"Schema Registry: {exc}") from exc
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed_schema, record)
        return out.getvalue()

    def ack(self, message_ids: Iterable[str]) -> None:
        """Commit, per partition, the offset after the highest of these messages (synchronously).
        Raises ConsumeError if the commit failed; the messages will then be delivered again."""
        next_offsets: dict[int, int] = {}
        for message_id in message_ids:
            partition, offset = (int(part) for part in message_id.split(":"))
            next_offsets[partition] = max(next_offsets.get(partition, 0), offset + 1)
        if not next_offsets:
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(self.full_topic, p, o) for p, o in next_offsets.items()], asynchronous=False
            )
        except KafkaException as exc:
            raise ConsumeError(f"Kafka did not take the commit: {exc}") from exc

    def rewind(self) -> None:
        """Seek every assigned partition back to its last committed offset, so an uncommitted batch
        (and whatever was fetched after it) is read again."""
        assignment = self.consumer.assignment()
        if not assignment:
            return
        for committed in self.consumer.committed(assignment, timeout=10):
            offset = committed.offset if committed.offset >= 0 else OFFSET_BEGINNING
            try:
                self.consumer.seek(TopicPartition(committed.topic, committed.partition, offset))
            except KafkaException as exc:
                # A partition not fetched from since it was assigned starts at its committed offset anyway.
                if exc.args[0].code() != KafkaError._STATE:
                    raise

    def close(self) -> None:
        self.consumer.close()
