from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from openedx_events.tooling import OpenEdxPublicSignal

from apps.eventbus.registry import register_handler, unregister_handler


@pytest.fixture
def handler() -> Iterator[Callable[[OpenEdxPublicSignal, Callable[..., None]], None]]:
    """Register throwaway handlers for the test's duration."""
    registered: list[tuple[OpenEdxPublicSignal, Callable[..., None]]] = []

    def register(signal: OpenEdxPublicSignal, func: Callable[..., None]) -> None:
        register_handler(signal, func)
        registered.append((signal, func))

    yield register
    for signal, func in registered:
        unregister_handler(signal, func)


@pytest.fixture
def bus_redis(settings: Any) -> Iterator[redis.Redis]:
    """The real Redis the event bus uses in tests, under a topic prefix of this test's own so runs
    sharing the server never see each other's streams."""
    settings.EVENT_BUS_TOPIC_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(settings.EVENT_BUS_REDIS_URL)
    yield client
    for key in client.scan_iter(f"{settings.EVENT_BUS_TOPIC_PREFIX}-*"):
        client.delete(key)
    client.close()


def stream_messages(client: redis.Redis, stream: str) -> list[tuple[str, dict[bytes, Any]]]:
    return [(mid.decode(), fields) for mid, fields in client.xrange(stream)]
