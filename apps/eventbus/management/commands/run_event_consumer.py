"""The event-bus consumer worker: read a batch, apply it through the wrapper, acknowledge, relay."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection

from apps.eventbus.consumer import InfrastructureError, process_messages
from apps.eventbus.data import IncomingMessage
from apps.eventbus.exceptions import ConsumeError
from apps.eventbus.services import relay_outbox, relaying_inline

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
# What reading or acknowledging can raise that a retry may cure (the broker or registry is away).
BUS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, ConsumeError)


class BusConsumer(Protocol):
    def read(self, *, count: int, block_ms: int) -> list[IncomingMessage]: ...
    def ack(self, message_ids: Iterable[str]) -> None: ...
    def rewind(self) -> None: ...
    def close(self) -> None: ...


def open_consumer(*, topic: str, group: str, consumer: str) -> BusConsumer:
    """The consumer for EVENT_BUS_BACKEND, joined to `group` on `topic` (without the prefix)."""
    if settings.EVENT_BUS_BACKEND == "kafka":
        from apps.eventbus.buses.kafka import KafkaConsumer

        return KafkaConsumer(topic=topic, group=group, consumer=consumer)
    from apps.eventbus.buses.redis_streams import RedisStreamConsumer

    return RedisStreamConsumer(topic=topic, group=group, consumer=consumer)


class Command(BaseCommand):
    help = "Consume openedx-events from one topic, at most once in effect, parking bad events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topic", required=True, help="Topic without the environment prefix.")
        parser.add_argument("--group", default=settings.EVENT_BUS_CONSUMER_GROUP, help="Consumer group.")
        parser.add_argument("--consumer", default=f"{socket.gethostname()}-{os.getpid()}", help="Name in the group.")
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--block-ms", type=int, default=1000, help="How long one read waits for messages.")
        parser.add_argument(
            "--exit-when-idle", type=float, default=0, help="Stop after this many idle seconds (tests)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._stop = False
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        consumer = self._open(options)
        if consumer is None:
            return
        # What start-up loaded (Django, the apps, openedx-events) lives as long as the process: leave
        # it out of the garbage collector's full passes, which otherwise walk it again and again while
        # batches allocate their short-lived objects (measured: a sixth of the handling time).
        gc.freeze()
        where = f"{options['topic']} ({settings.EVENT_BUS_BACKEND})"
        self.stdout.write(f"Consuming {where} as {options['group']}/{options['consumer']}")
        backoff = 1.0
        idle_since = time.monotonic()
        with relaying_inline():
            while not self._stop:
                try:
                    messages = consumer.read(count=options["batch_size"], block_ms=options["block_ms"])
                except BUS_ERRORS as exc:
                    log.warning("Cannot read from the bus (%s); retrying in %.0fs", exc, backoff)
                    backoff = self._sleep(backoff)
                    continue
                if not messages:
                    if options["exit_when_idle"] and time.monotonic() - idle_since > options["exit_when_idle"]:
                        break
                    continue
                idle_since = time.monotonic()
                try:
                    result = process_messages(messages)
                except InfrastructureError as exc:
                    # Nothing was applied or parked: read the same messages again once we recover.
                    log.error("Batch of %d not applied, database unavailable: %s", len(messages), exc)
                    connection.close()
                    consumer.rewind()
                    backoff = self._sleep(backoff)
                    continue
                try:
                    consumer.ack(m.message_id for m in messages)
                except BUS_ERRORS as exc:
                    # Applied but not acknowledged: read again, they come back as duplicates and are skipped.
                    log.warning("Cannot acknowledge a batch of %d (%s); it will be read again", len(messages), exc)
                    consumer.rewind()
                    backoff = self._sleep(backoff)
                    continue
                backoff = 1.0
                log.info(
                    "batch: %d processed, %d duplicates, %d parked, %d ignored",
                    result.processed,
                    result.duplicates,
                    result.parked,
                    result.ignored,
                )
                self._relay()
                close_old_connections()
        consumer.close()
        self.stdout.write("Consumer stopped.")

    def _open(self, options: dict[str, Any]) -> BusConsumer | None:
        # The bus may start after us (honcho starts every process at once): wait for it.
        backoff = 1.0
        while not self._stop:
            try:
                return open_consumer(topic=options["topic"], group=options["group"], consumer=options["consumer"])
            except BUS_ERRORS as exc:
                log.warning("Cannot reach the bus (%s); retrying in %.0fs", exc, backoff)
                backoff = self._sleep(backoff)
        return None

    def _relay(self) -> None:
        try:
            relay_outbox()
        except Exception:  # a worker boundary: the rows stay pending for the beat sweep
            log.exception("Outbox relay failed; pending events wait for the next batch or the sweep")

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True

    def _sleep(self, backoff: float) -> float:
        time.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF_SECONDS)
