"""End to end over real Redis and PostgreSQL: LMS-shaped events from edx-event-bus-redis's own producer
→ our consumer process → database → outbox relay → our topic → decoded PROGRAM_CERTIFICATE_AWARDED."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import attr
import pytest
import redis
from django.conf import settings
from django.db import connection
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData
from openedx_events.learning.signals import CERTIFICATE_CREATED, PROGRAM_CERTIFICATE_AWARDED

from apps.catalog.models import Program
from apps.catalog.tests.factories import ProgramFactory
from apps.credentials.models import CredentialStatus, UserCredential
from apps.credentials.tests.factories import ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent, ProcessedEvent
from apps.eventbus.tests.factories import send_with_lms_producer
from apps.eventbus.tests.process_support import read_stream

ROOT = Path(__file__).resolve().parents[3]
CERTIFICATES_TOPIC = "learning-certificate-lifecycle"
PROGRAM_TOPIC = "learning-program-certificate-lifecycle"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the consumer process needs a shared database"),
]


def certificate(*, user_id: int, username: str, run_key: str, status: str = "downloadable") -> CertificateData:
    return CertificateData(
        user=UserData(
            id=user_id,
            is_active=True,
            pii=UserPersonalData(username=username, email=f"{username}@example.com", name="Ada Lovelace"),
        ),
        course=CourseData(course_key=CourseKey.from_string(run_key)),
        mode="verified",
        grade="0.91",
        current_status=status,
        download_url=f"https://lms.test/certificates/{username}/{run_key}",
        name="Verified Certificate",
    )


def produce(events: list[CertificateData], *, ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """CERTIFICATE_CREATED for each certificate, from the LMS's producer; `ids` redelivers."""
    metadata = [CERTIFICATE_CREATED.generate_signal_metadata() for _ in events]
    if ids is not None:
        metadata = [attr.evolve(m, id=event_id) for m, event_id in zip(metadata, ids, strict=True)]
    return send_with_lms_producer(
        topic=CERTIFICATES_TOPIC,
        events=[(CERTIFICATE_CREATED, {"certificate": c}, m) for c, m in zip(events, metadata, strict=True)],
    )


def run_consumer(prefix: str) -> subprocess.CompletedProcess[str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credentials_service.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EVENT_BUS_TOPIC_PREFIX": prefix,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "run_event_consumer", "--topic", CERTIFICATES_TOPIC, "--exit-when-idle", "1.5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def prefix(settings: Any) -> Any:
    settings.EVENT_BUS_TOPIC_PREFIX = f"e2e-{uuid.uuid4().hex[:10]}"
    yield settings.EVENT_BUS_TOPIC_PREFIX
    client = redis.Redis.from_url(settings.EVENT_BUS_REDIS_URL)
    for key in client.scan_iter(f"{settings.EVENT_BUS_TOPIC_PREFIX}-*"):
        client.delete(key)
    client.close()


def test_certificates_to_program_certificate_awarded_end_to_end(prefix: str) -> None:
    # given: a three-course program with a certificate, and the LMS's events for one learner who
    # earns all three courses, another who earns one, and a garbage message between them
    program: Program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program)
    runs = [pc.course.course_runs.get().key for pc in program.program_courses.order_by("position")]
    ada = [certificate(user_id=7, username="ada", run_key=key) for key in runs]
    bob = [certificate(user_id=8, username="bob", run_key=runs[0])]
    ids = produce(ada[:2])
    client = redis.Redis.from_url(settings.EVENT_BUS_REDIS_URL)
    garbage = {
        b"id": str(uuid.uuid4()).encode(),
        b"type": CERTIFICATE_CREATED.event_type.encode(),
        b"event_data": b"\x00",
    }
    client.xadd(f"{prefix}-{CERTIFICATES_TOPIC}", garbage)
    ids += produce(ada[2:] + bob)
    # when
    run = run_consumer(prefix)
    # then: applied, the garbage parked, and exactly one program certificate event published
    assert run.returncode == 0, run.stderr[-3000:]
    assert ProcessedEvent.objects.filter(event_id__in=ids).count() == 4
    assert ParkedEvent.objects.count() == 1
    program_credentials = UserCredential.objects.filter(credential_content_type__model="programcertificate")
    program_credential = program_credentials.get(user__username="ada")
    assert program_credential.status == CredentialStatus.AWARDED
    assert not program_credentials.filter(user__username="bob").exists()
    assert OutboxEvent.objects.filter(status=OutboxStatus.PUBLISHED).count() == 1
    [message] = read_stream(client, PROGRAM_TOPIC)
    assert message.metadata.event_type == PROGRAM_CERTIFICATE_AWARDED.event_type
    data = message.data["program_certificate"]
    assert data.uuid == str(program_credential.uuid)
    assert data.status == "awarded"
    assert (data.user.id, data.user.pii.username, data.user.pii.email) == (7, "ada", "ada@example.com")
    assert (data.program.uuid, data.program.title) == (str(program.uuid), program.title)
    assert data.program.program_type == program.type_slug
    assert isinstance(data.certificate_available_date, datetime.datetime)

    # when: the LMS redelivers every event (same ids) and the consumer runs again
    produce(ada + bob, ids=ids)
    again = run_consumer(prefix)
    # then: nothing changes and nothing more is published
    assert again.returncode == 0, again.stderr[-3000:]
    assert OutboxEvent.objects.count() == 1
    assert len(read_stream(client, PROGRAM_TOPIC)) == 1
    assert ProcessedEvent.objects.filter(event_id__in=ids).count() == 4
    client.close()
