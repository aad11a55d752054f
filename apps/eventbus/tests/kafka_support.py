"""Kafka without Kafka, for tests: librdkafka's mock cluster in its own process and a Schema Registry
stand-in speaking the HTTP subset confluent-kafka's Avro serializer and deserializer use.

See INFRA-NOTES §3 for what both were checked against.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import ClusterMetadata

from apps.eventbus.buses.kafka import KafkaConsumer
from apps.eventbus.data import IncomingMessage

MOCK_CLUSTER_START_TIMEOUT = 10.0


@dataclass
class KafkaBus:
    """The mock cluster and registry a test's settings point at, and the test's own topic prefix."""

    cluster: MockCluster
    registry: SchemaRegistry
    prefix: str

    def create_topic(self, topic: str) -> str:
        """Create `<prefix>-<topic>` on the cluster and return that name."""
        name = f"{self.prefix}-{topic}"
        self.cluster.create_topic(name)
        return name


# --- the mock cluster -----------------------------------------------------------------------------


@dataclass
class MockCluster:
    bootstrap_servers: str
    process: subprocess.Popen[bytes]

    def create_topic(self, name: str) -> ClusterMetadata:
        """Create `name` (4 partitions on the mock) by asking for its metadata, and wait until it exists.
        The edx consumer dies on a missing topic, and ours would only wait for it: create topics first."""
        producer = Producer({"bootstrap.servers": self.bootstrap_servers})
        deadline = time.monotonic() + 10
        while True:
            metadata = producer.list_topics(topic=name, timeout=5)
            topic = metadata.topics.get(name)
            if topic is not None and topic.error is None and topic.partitions:
                return metadata
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} was not created on the mock cluster")
            time.sleep(0.05)


@contextmanager
def mock_cluster(workdir: Path) -> Iterator[MockCluster]:
    """Start `python -m apps.eventbus.tests.kafka_mock_cluster` and yield its bootstrap address;
    terminate it afterwards."""
    portfile = workdir / "kafka-mock-cluster.addr"
    portfile.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.eventbus.tests.kafka_mock_cluster", str(portfile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + MOCK_CLUSTER_START_TIMEOUT
        while not portfile.exists():
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the mock cluster exited with {process.returncode}: {stderr}")
            if time.monotonic() > deadline:
                raise TimeoutError("the mock cluster did not report its port")
            time.sleep(0.02)
        yield MockCluster(bootstrap_servers=portfile.read_text().strip(), process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_all(bootstrap_servers: str, topic: str, *, expected: int, timeout: float = 10.0) -> list[Any]:
    """Read `expected` messages from every partition of `topic` from the beginning, as a plain
    confluent-kafka consumer outside any group (assign, not subscribe: no group join to wait for)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": "test-reader", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic=topic, timeout=5).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=expected - len(messages), timeout=0.2):
                if message.error() is None:
                    messages.append(message)
        return messages
    finally:
        consumer.close()


def wait_until_assigned(consumer: KafkaConsumer, *, timeout: float = 20.0) -> None:
    """Poll until the group gave `consumer` its partitions (the first join takes ~3.7 s on the mock).
    Call it before producing: anything read meanwhile would be lost to the test, so none may arrive."""
    deadline = time.monotonic() + timeout
    while not consumer.consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("no partitions were assigned")
        assert consumer.read(count=1, block_ms=100) == [], "produce only after the assignment"


def read_messages(consumer: KafkaConsumer, count: int, *, timeout: float = 10.0) -> list[IncomingMessage]:
    """Read until `count` messages came (in as many reads as it takes), or fail."""
    messages: list[IncomingMessage] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"read {len(messages)} of {count} messages")
        messages += consumer.read(count=count - len(messages), block_ms=200)
    return messages


# --- the Schema Registry stand-in ------------------------------------------------------------------

SUBJECT_VERSIONS = re.compile(r"^/subjects/(?P<subject>[^/]+)/versions$")
SCHEMA_BY_ID = re.compile(r"^/schemas/ids/(?P<id>\d+)$")


@dataclass
class SchemaRegistryState:
    """Schemas by id (one id per distinct schema string, as the real registry does) and subjects."""

    schemas: dict[int, str] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, subject: str, schema: str) -> int:
        with self.lock:
            schema_id = next((i for i, s in self.schemas.items() if s == schema), 0) or len(self.schemas) + 1
            self.schemas[schema_id] = schema
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id


class _RegistryHandler(BaseHTTPRequestHandler):
    server: _RegistryServer

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        self.server.state.requests.append(("POST", self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        match = SUBJECT_VERSIONS.match(path)
        if not match:
            self._error(404, 40401, f"no such resource {path}")
            return
        if body.get("schemaType", "AVRO") != "AVRO" or not isinstance(body.get("schema"), str):
            self._error(422, 42201, "only AVRO schemas given as a string are supported here")
            return
        self._reply(200, {"id": self.server.state.register(unquote(match["subject"]), body["schema"])})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.state.requests.append(("GET", self.path))
        match = SCHEMA_BY_ID.match(path)
        if match:
            schema = self.server.state.schemas.get(int(match["id"]))
            if schema is None:
                self._error(404, 40403, "Schema not found")
            else:
                self._reply(200, {"schema": schema})
            return
        # /associations/... and anything else: the client falls back to its subject name strategy.
        self._error(404, 40401, f"no such resource {path}")

    def _error(self, status: int, code: int, message: str) -> None:
        self._reply(status, {"error_code": code, "message": message})

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RegistryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RegistryHandler)
        self.state = SchemaRegistryState()


@dataclass
class SchemaRegistry:
    url: str
    state: SchemaRegistryState


@contextmanager
def schema_registry() -> Iterator[SchemaRegistry]:
    """A Schema Registry stand-in on a free port, served from a thread of this process. Every process
    that serializes or deserializes must use the same one (schema ids are its own)."""
    server = _RegistryServer()
    thread = threading.Thread(target=server.serve_forever, name="schema-registry", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield SchemaRegistry(url=f"http://{host!s}:{port}", state=server.state)
    finally:
        server.shutdown()
        server.server_close()
