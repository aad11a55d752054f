"""The publisher for the configured bus (EVENT_BUS_BACKEND)."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings


class Publisher(Protocol):
    def publish(self, *, topic: str, key: str, headers: dict[str, str], payload: bytes) -> str:
        """Send one message; return the broker's id for it once acknowledged, else raise PublishError."""

    def close(self) -> None: ...


def get_publisher() -> Publisher:
    if settings.EVENT_BUS_BACKEND == "redis":
        from .buses.redis_streams import RedisStreamPublisher

        return RedisStreamPublisher()
    if settings.EVENT_BUS_BACKEND == "kafka":
        from .buses.kafka import KafkaPublisher

        return KafkaPublisher()
    raise NotImplementedError(f"EVENT_BUS_BACKEND={settings.EVENT_BUS_BACKEND!r} has no publisher yet")
