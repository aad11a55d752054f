"""Redis streams, the only module that talks to Redis for the event bus.

Messages are laid out exactly as edx-event-bus-redis writes them (CloudEvents headers as fields, the
Avro bytes in `event_data`, stream `<prefix>-<topic>`), so an LMS using that library interoperates.
We read and acknowledge ourselves: that library acknowledges a message even when its handler failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings

from ..data import IncomingMessage
from ..exceptions import PublishError

EVENT_DATA_FIELD = b"event_data"
CLAIM_PAGE = 100


def full_topic(topic: str) -> str:
    prefix = settings.EVENT_BUS_TOPIC_PREFIX
    return f"{prefix}-{topic}" if prefix else topic


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.EVENT_BUS_REDIS_URL, socket_timeout=10, socket_connect_timeout=5)


class RedisStreamPublisher:
    def __init__(self) -> None:
        self.client = _client()

    def publish(self, *, topic: str, key: str, headers: dict[str, str], payload: bytes) -> str:
        """XADD the message; return its stream id. Raises PublishError unless Redis acknowledged it."""
        fields: dict[Any, Any] = {k.encode(): v.encode() for k, v in headers.items()}
        fields[EVENT_DATA_FIELD] = payload
        try:
            message_id = self.client.xadd(
                full_topic(topic), fields, maxlen=settings.EVENT_BUS_REDIS_STREAM_MAX_LEN, approximate=True
            )
        except redis.RedisError as exc:
            raise PublishError(f"Redis did not take the message: {exc}") from exc
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    def close(self) -> None:
        self.client.close()


class RedisStreamConsumer:
    """A consumer in a consumer group. A new group starts at the beginning of the stream, so events
    produced before the first start are not skipped; a restart resumes with this consumer's
    unacknowledged (pending) messages first."""

    def __init__(self, *, topic: str, group: str, consumer: str) -> None:
        self.client = _client()
        self.stream = full_topic(topic)
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self._pending_done = False
        self._next_claim = 0.0
        try:
            self.client.xgroup_create(self.stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, *, count: int, block_ms: int) -> list[IncomingMessage]:
        """The next messages: this consumer's pending ones first (after a crash, a rewind, or claimed
        from a dead member), then new ones."""
        # Claim at start and then periodically, not only at start: a member that dies while we run
        # (or whose messages are not idle long enough yet when we start, as when its replacement comes
        # up at once under a new name) would otherwise leave its messages pending forever.
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + max(settings.EVENT_BUS_REDIS_CLAIM_IDLE_MS, 1000) / 2000
            if self._claim_abandoned():
                self._pending_done = False
        start = "0" if not self._pending_done else ">"
        response: Any = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=None if start == "0" else block_ms
        )
        entries = response[0][1] if response else []
        if start == "0" and not entries:
            self._pending_done = True
            return self.read(count=count, block_ms=block_ms)
        return [self._to_message(message_id, fields) for message_id, fields in entries]

    def _claim_abandoned(self) -> bool:
        """Make ours the messages a member of the group read and left unacknowledged for
        EVENT_BUS_REDIS_CLAIM_IDLE_MS (a pod that did not come back under its name); they are then our
        pending ones. True if there were any."""
        claimed = False
        cursor: Any = "0-0"
        # XAUTOCLAIM claims one page; a dead member may have left more than a page.
        while True:
            cursor, entries, *_ = self.client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=settings.EVENT_BUS_REDIS_CLAIM_IDLE_MS,
                start_id=cursor,
                count=CLAIM_PAGE,
            )
            claimed = claimed or bool(entries)
            if cursor in (b"0-0", "0-0"):
                return claimed

    def _to_message(self, message_id: bytes, fields: dict[bytes, bytes] | None) -> IncomingMessage:
        # A pending entry whose message was trimmed from the stream comes back with no fields.
        fields = fields or {}
        headers = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items() if k != EVENT_DATA_FIELD
        }
        return IncomingMessage(
            topic=self.topic,
            message_id=message_id.decode(),
            headers=headers,
            payload=fields.get(EVENT_DATA_FIELD, b""),
        )

    def rewind(self) -> None:
        """Read this consumer's pending messages again (after a batch that could not be committed)."""
        self._pending_done = False

    def ack(self, message_ids: Iterable[str]) -> None:
        ids = list(message_ids)
        if ids:
            self.client.xack(self.stream, self.group, *ids)

    def close(self) -> None:
        self.client.close()
