"""Fixtures for tests over the real buses (Redis, the Kafka mock cluster) and the consumer process.

The event bus's own tests get them from apps/eventbus/tests/conftest.py; another app's tests over the
real bus get them from the root conftest.py, which loads this module as a plugin (one Kafka cluster per run).
The conftest imports this module before such a module asks for it, too late for pytest to rewrite its
asserts (it has none): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from apps.eventbus.tests.kafka_support import KafkaBus, MockCluster, SchemaRegistry, mock_cluster, schema_registry
from apps.eventbus.tests.process_support import CERTIFICATES_TOPIC, ConsumerProcess, ConsumerStarter, start_consumer


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


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockCluster]:
    """librdkafka's mock cluster, held by a process of its own for the whole session."""
    with mock_cluster(tmp_path_factory.mktemp("kafka")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka_schema_registry() -> Iterator[SchemaRegistry]:
    """The Schema Registry stand-in, for the whole session (schema ids stay valid across tests)."""
    with schema_registry() as registry:
        yield registry


@pytest.fixture
def bus_kafka(settings: Any, kafka_cluster: MockCluster, kafka_schema_registry: SchemaRegistry) -> KafkaBus:
    """The Kafka backend on the mock cluster, under a topic prefix of this test's own (topics and
    consumer groups are never shared between tests: re-joining a group takes ~45 s on the mock)."""
    settings.EVENT_BUS_BACKEND = "kafka"
    settings.EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = kafka_cluster.bootstrap_servers
    settings.EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = kafka_schema_registry.url
    settings.EVENT_BUS_KAFKA_DELIVERY_TIMEOUT_MS = 5_000
    settings.EVENT_BUS_TOPIC_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    return KafkaBus(cluster=kafka_cluster, registry=kafka_schema_registry, prefix=settings.EVENT_BUS_TOPIC_PREFIX)


@pytest.fixture
def consumers(transactional_db: None, tmp_path: Path) -> Iterator[ConsumerStarter]:
    """Start `manage.py run_event_consumer` processes (logs under tmp_path) sharing the test database;
    any still running when the test ends is killed before the database is flushed."""
    started: list[ConsumerProcess] = []

    def start(*args: str, topic: str = CERTIFICATES_TOPIC, env: dict[str, str] | None = None) -> ConsumerProcess:
        consumer = start_consumer(tmp_path / "consumer-logs", *args, topic=topic, env=env)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        if consumer.alive():
            consumer.process.kill()
            consumer.process.wait()
