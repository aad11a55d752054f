"""The consumer as the separate process it is in production (`manage.py run_event_consumer`), pointed
at the test's PostgreSQL database and buses, the LMS's events as its producers put them on a bus, and
what we published read back from a stream.

Output goes to files, not pipes: a long-running consumer that logs tracebacks (parked events) would
block on a full pipe nobody reads while the test polls the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection
from edx_event_bus_redis.internal.message import RedisMessage
from opaque_keys.edx.keys import CourseKey
from openedx_events.event_bus.avro.deserializer import deserialize_bytes_to_event_data
from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData
from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

ROOT = Path(__file__).resolve().parents[3]
CERTIFICATES_TOPIC = "learning-certificate-lifecycle"
PROGRAM_TOPIC = "learning-program-certificate-lifecycle"


def database_url(*, port: int | None = None) -> str:
    """The test database as DATABASE_URL, optionally through another port (a proxy)."""
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']))}" if db.get("PASSWORD") else ""
    # sslmode=disable: a proxy test may look at the statements going by.
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{port or db['PORT']}/{db['NAME']}?sslmode=disable"


def consumer_env(**overrides: str) -> dict[str, str]:
    """The environment of a consumer process sharing this test's database, Redis and topic prefix."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credentials_service.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EVENT_BUS_REDIS_URL": settings.EVENT_BUS_REDIS_URL,
        "EVENT_BUS_TOPIC_PREFIX": settings.EVENT_BUS_TOPIC_PREFIX,
        **overrides,
    }


@dataclass
class ConsumerProcess:
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stop(self, *, timeout: float = 30) -> int:
        """SIGTERM (the consumer finishes its batch and exits) and wait; return the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when a pod is OOM-killed."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


class ConsumerStarter(Protocol):
    def __call__(self, *args: str, topic: str = ..., env: dict[str, str] | None = None) -> ConsumerProcess: ...


def start_consumer(
    logs: Path, *args: str, topic: str = CERTIFICATES_TOPIC, env: dict[str, str] | None = None
) -> ConsumerProcess:
    """Start `manage.py run_event_consumer --topic <topic> <args>`; logs under `logs`. Prefer the
    `consumers` fixture, which kills what a failed test left running."""
    logs.mkdir(parents=True, exist_ok=True)
    stem = f"consumer-{time.monotonic_ns()}"
    stdout_path, stderr_path = logs / f"{stem}.out", logs / f"{stem}.err"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_event_consumer", "--topic", topic, *args],
            cwd=ROOT,
            env=env or consumer_env(),
            stdout=stdout,
            stderr=stderr,
        )
    return ConsumerProcess(process=process, stdout_path=stdout_path, stderr_path=stderr_path)


def run_until_idle(
    start: ConsumerStarter,
    *args: str,
    topic: str = CERTIFICATES_TOPIC,
    env: dict[str, str] | None = None,
    idle: float = 1.5,
) -> int:
    """Run a consumer until it has read nothing for `idle` seconds; return its exit code."""
    return start("--exit-when-idle", str(idle), *args, topic=topic, env=env).process.wait(timeout=120)


@dataclass(frozen=True)
class StreamEvent:
    """A message on a Redis stream, as edx-event-bus-redis's consumer reads it: the metadata from its
    headers and the data decoded with the openedx-events Avro schema of its type."""

    message_id: str
    metadata: EventsMetadata
    data: dict[str, Any]


def read_stream(client: redis.Redis, topic: str, *, event_types: Collection[str] | None = None) -> list[StreamEvent]:
    """Every message on `topic` (under the test's topic prefix), in stream order, decoded; only those of
    `event_types` when given (a topic may carry the LMS's events and ours)."""
    name = f"{settings.EVENT_BUS_TOPIC_PREFIX}-{topic}"
    events = []
    for entry in client.xrange(name):
        message = RedisMessage.parse(entry, name)
        event_type = message.event_metadata.event_type
        if event_types is not None and event_type not in event_types:
            continue
        data = deserialize_bytes_to_event_data(message.event_data, OpenEdxPublicSignal.get_signal_by_type(event_type))
        events.append(StreamEvent(message_id=entry[0].decode(), metadata=message.event_metadata, data=data))
    return events


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: tuple[ConsumerProcess, ...] = (),
    interval: float = 0.05,
) -> None:
    """Poll until `condition()` holds; fail after `timeout` seconds, or at once if a process in
    `alive` exited (with its stderr)."""
    deadline = time.monotonic() + timeout
    while not condition():
        for consumer in alive:
            if not consumer.alive():
                raise AssertionError(
                    f"consumer exited with {consumer.process.returncode} while waiting for {what}:\n"
                    f"{consumer.stderr()[-4000:]}"
                )
        if time.monotonic() > deadline:
            stderr = "\n".join(c.stderr()[-3000:] for c in alive)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{stderr}")
        time.sleep(interval)


def certificate(*, user_id: int, run_key: str, mode: str = "verified", status: str = "downloadable") -> CertificateData:
    """The payload of the LMS's CERTIFICATE_* events for learner `u<user_id>`."""
    username = f"u{user_id}"
    return CertificateData(
        user=UserData(
            id=user_id,
            is_active=True,
            pii=UserPersonalData(username=username, email=f"{username}@example.com", name=f"Learner {user_id}"),
        ),
        course=CourseData(course_key=CourseKey.from_string(run_key)),
        mode=mode,
        grade="0.91",
        current_status=status,
        download_url=f"https://lms.test/certificates/{username}/{run_key}",
        name="Verified Certificate",
    )
