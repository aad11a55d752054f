from __future__ import annotations

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


def stream_messages(client: redis.Redis, stream: str) -> list[tuple[str, dict[bytes, Any]]]:
    return [(mid.decode(), fields) for mid, fields in client.xrange(stream)]
