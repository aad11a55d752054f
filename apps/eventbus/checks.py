"""Start-up checks for the event bus settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

BACKENDS = {"redis", "kafka"}


@register()
def check_event_bus_backend(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.EVENT_BUS_BACKEND not in BACKENDS:
        return [
            Error(
                f"EVENT_BUS_BACKEND is {settings.EVENT_BUS_BACKEND!r}; expected one of {sorted(BACKENDS)}.",
                id="eventbus.E001",
            )
        ]
    return []


@register()
def check_producer_topics(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    empty = [event_type for event_type, topic in settings.EVENT_BUS_PRODUCER_TOPICS.items() if not topic]
    if empty:
        return [Error(f"EVENT_BUS_PRODUCER_TOPICS has no topic for {', '.join(empty)}.", id="eventbus.E002")]
    return []


@register()
def check_kafka_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.EVENT_BUS_BACKEND != "kafka":
        return []
    errors: list[CheckMessage] = []
    if not settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS:
        errors.append(
            Error("EVENT_BUS_BACKEND is 'kafka' but EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS is empty.", id="eventbus.E003")
        )
    if not settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL:
        errors.append(
            Error("EVENT_BUS_BACKEND is 'kafka' but EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL is empty.", id="eventbus.E004")
        )
    return errors
