"""PDF credentials end to end with real parts: the shipped processor and generator, S3 through moto's
server mode (a real HTTP endpoint, boto3, django-storages), and email through a real SMTP server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aiosmtpd.controller import Controller
from botocore.config import Config
from django.core.files.base import ContentFile
from django.db import transaction

from apps.catalog.tests.factories import CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.credentials.api import record_grade
from apps.pdf_credentials import services
from apps.pdf_credentials.models import (
    CredentialConfiguration,
    CredentialType,
    GenerationRun,
    PdfCredential,
    PdfStatus,
    RunStatus,
)
from apps.pdf_credentials.storage import PdfS3Storage
from apps.pdf_credentials.tasks import run_configuration_task

pytestmark = pytest.mark.django_db

BUCKET = "credentials-pdfs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode, in its own process on a local port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3(moto_endpoint: str, settings: Any) -> Any:
    """A fresh bucket, and the PDF storage pointed at it as PDF_STORAGE=s3 would."""
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    client.create_bucket(Bucket=BUCKET)
    settings.PDF_SIGNED_URL_SECONDS = 120
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {
            "BACKEND": "apps.pdf_credentials.storage.PdfS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "signature_version": "s3v4",
                "addressing_style": "path",
                "querystring_auth": True,
                "querystring_expire": 120,
                "default_acl": None,
                "file_overwrite": True,  # as settings/base.py: every PDF name is new
            },
        },
    }
    return client


def keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def course_configuration(*, learners: int = 2) -> tuple[CredentialConfiguration, list[Any]]:
    """A course run with passing learners and a configuration of the shipped processor and generator."""
    run = CourseRunFactory(title="Circuits and Electronics")
    users = [
        UserFactory(full_name=name, email=f"l{n}@example.com")
        for n, name in enumerate(["Ada Lovelace", "Иван Петров", "王小明"][:learners])
    ]
    for user in users:
        record_grade(user=user, course_run_key=run.key, percent_grade=Decimal("0.91"), passed=True)
    credential_type = CredentialType.objects.create(
        name=f"Course certificate {run.pk}",
        processor="apps.pdf_credentials.processors.passing_grade",
        generator="apps.pdf_credentials.generators.plain_generator",
    )
    config = CredentialConfiguration.objects.create(credential_type=credential_type, course_run_key=run.key)
    services.sync_periodic_task(configuration_id=config.pk)
    return config, users


def test_pdfs_go_to_s3_and_the_permanent_link_redirects_to_a_fresh_signed_url(
    s3: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    config, [ada, _] = course_configuration()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_configuration_task.delay(config.pk)
    # then: one object per learner, real PDFs
    pdf = PdfCredential.objects.get(user=ada, configuration=config)
    assert pdf.status == PdfStatus.GENERATED
    assert keys(s3) == sorted(PdfCredential.objects.values_list("file_name", flat=True))
    body = s3.get_object(Bucket=BUCKET, Key=pdf.file_name)["Body"].read()
    assert body.startswith(b"%PDF")
    # when: the learner follows the permanent link, twice
    first = client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/")
    time.sleep(1.1)  # signatures carry the time to the second
    second = client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/")
    # then: redirects to URLs freshly signed for PDF_SIGNED_URL_SECONDS, which serve the file
    assert first.status_code == second.status_code == 302
    url = urlsplit(first["Location"])
    query = parse_qs(url.query)
    assert url.path == f"/{BUCKET}/{pdf.file_name}"
    assert query["X-Amz-Expires"] == ["120"] and "X-Amz-Signature" in query
    assert first["Location"] != second["Location"]
    assert urllib.request.urlopen(first["Location"]).read() == body


def test_a_reissue_replaces_the_object_and_an_invalidation_deletes_it(
    s3: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    config, [ada] = course_configuration(learners=1)
    with django_capture_on_commit_callbacks(execute=True):
        run_configuration_task.delay(config.pk)
    pdf = PdfCredential.objects.get(user=ada)
    # when: re-issued
    with django_capture_on_commit_callbacks(execute=True):
        [pdf_id] = services.reissue(pdf_ids=[pdf.pk])
        services.generate_pdf(pdf_id=pdf_id)
    # then: a new object under the same verification uuid; the old one is gone
    again = PdfCredential.objects.get(pk=pdf.pk)
    assert again.verification_uuid == pdf.verification_uuid
    assert keys(s3) == [again.file_name] != [pdf.file_name]
    assert urlsplit(client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/")["Location"]).path.endswith(
        again.file_name
    )
    # when: invalidated
    with django_capture_on_commit_callbacks(execute=True):
        services.invalidate(pdf_ids=[pdf.pk], reason="Revoked by an operator.")
    # then
    assert keys(s3) == []
    assert client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/").status_code == 410


def test_the_s3_storage_sends_each_pdf_in_one_put_with_its_write_parameters(s3: Any, settings: Any) -> None:
    # given: object parameters, as AWS_S3_OBJECT_PARAMETERS would set them
    settings.STORAGES["pdf_credentials"]["OPTIONS"]["object_parameters"] = {"CacheControl": "private, max-age=60"}
    storage = PdfS3Storage(**settings.STORAGES["pdf_credentials"]["OPTIONS"])
    calls: list[str] = []
    storage.connection.meta.client.meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name), unique_id="test-put"
    )
    body = b"%PDF-1.4\n" + bytes(range(256)) * 4096  # 1 MiB

    # when: a name django-storages cleans (backslashes, a "." segment)
    name = storage.save("pdf_credentials\\7/./learner.pdf", ContentFile(body))

    # then: one request, the cleaned name, the bytes, the content type from the name, the parameters
    assert name == "pdf_credentials/7/learner.pdf"
    assert calls == ["PutObject"]
    stored = s3.get_object(Bucket=BUCKET, Key=name)
    assert stored["Body"].read() == body
    assert (stored["ContentType"], stored["CacheControl"]) == ("application/pdf", "private, max-age=60")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any, tmp_path: Any) -> Iterator[Inbox]:
    """A real SMTP server on a local port, with Django's SMTP backend pointed at it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    yield inbox
    controller.stop()


def test_learners_are_emailed_their_permanent_link_unless_the_configuration_opts_out(
    smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    config, [ada, ivan] = course_configuration()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_configuration_task.delay(config.pk)
    # then: one message each, with their own link (UTF-8 names survive)
    assert sorted(to for to, _ in smtp.messages) == [[ada.email], [ivan.email]]
    for to, raw in smtp.messages:
        message = message_from_bytes(raw, policy=policy.default)
        pdf = PdfCredential.objects.get(user__email=to[0])
        assert message["Subject"] == "Your credential for Circuits and Electronics is ready"
        assert services.download_url(pdf) in message.get_content()
        assert pdf.learner_name in message.get_content()
    # given: a configuration that opts out
    other, _ = course_configuration(learners=1)
    CredentialConfiguration.objects.filter(pk=other.pk).update(notify_learners=False)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run_configuration_task.delay(other.pk)
    # then: nobody else was written to
    assert len(smtp.messages) == 2
    assert PdfCredential.objects.filter(configuration=other, status=PdfStatus.GENERATED).count() == 1


def test_a_large_run_is_chunked_and_its_progress_counted(settings: Any, tmp_path: Any) -> None:
    # given: 7 eligible learners, chunks of 3
    settings.PDF_GENERATION_CHUNK_SIZE = 3
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    run = CourseRunFactory()
    for _ in range(7):
        record_grade(user=UserFactory(), course_run_key=run.key, percent_grade=Decimal("0.8"), passed=True)
    credential_type = CredentialType.objects.create(
        name="Plain",
        processor="apps.pdf_credentials.processors.passing_grade",
        generator="apps.pdf_credentials.generators.plain_generator",
    )
    config = CredentialConfiguration.objects.create(
        credential_type=credential_type, course_run_key=run.key, notify_learners=False
    )
    # when
    with transaction.atomic():
        plan = services.start_run(configuration_id=config.pk)
    # then
    assert [len(chunk) for chunk in plan.chunks] == [3, 3, 1]
    for chunk in plan.chunks:
        for pdf_id in chunk:
            services.generate_pdf(pdf_id=pdf_id, run_id=plan.run_id)
    finished = GenerationRun.objects.get(pk=plan.run_id)
    assert (finished.status, finished.eligible, finished.generated, finished.progress) == (
        RunStatus.FINISHED,
        7,
        7,
        "7/7",
    )
