from __future__ import annotations

from typing import Any

from apps.eventbus.checks import check_event_bus_backend, check_kafka_settings


def test_kafka_is_a_known_backend(settings: Any) -> None:
    settings.EVENT_BUS_BACKEND = "kafka"
    assert check_event_bus_backend(None) == []


def test_an_unknown_backend_names_the_setting(settings: Any) -> None:
    settings.EVENT_BUS_BACKEND = "rabbit"
    [error] = check_event_bus_backend(None)
    assert error.id == "eventbus.E001" and "EVENT_BUS_BACKEND" in error.msg


def test_kafka_without_bootstrap_servers_or_registry_names_both_settings(settings: Any) -> None:
    # given
    settings.EVENT_BUS_BACKEND = "kafka"
    settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = ""
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = ""
    # when
    errors = check_kafka_settings(None)
    # then
    [servers, registry] = errors
    assert servers.id == "eventbus.E003" and "EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS" in servers.msg
    assert registry.id == "eventbus.E004" and "EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL" in registry.msg


def test_kafka_settings_are_complete(settings: Any) -> None:
    settings.EVENT_BUS_BACKEND = "kafka"
    settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = "kafka-1:9092,kafka-2:9092"
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = "https://registry.example.com"
    assert check_kafka_settings(None) == []


def test_kafka_settings_are_not_required_with_redis(settings: Any) -> None:
    settings.EVENT_BUS_BACKEND = "redis"
    settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = ""
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = ""
    assert check_kafka_settings(None) == []
