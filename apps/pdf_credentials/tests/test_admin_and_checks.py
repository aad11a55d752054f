"""The operator's side: admin forms that refuse bad plugins, options, schedules and assets with a form
error; saving a configuration keeps its beat task in step; actions; and the start-up checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_celery_beat.models import PeriodicTask

from apps.catalog.tests.factories import CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.pdf_credentials.checks import check_pdf_storage, check_plugins_and_tasks
from apps.pdf_credentials.models import (
    CredentialAsset,
    CredentialConfiguration,
    CredentialType,
    PdfCredential,
    PdfStatus,
)

pytestmark = pytest.mark.django_db

PLUGINS = "apps.pdf_credentials.tests.sample_plugins"


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture(autouse=True)
def local_storage(local_pdf_storage: None) -> None:
    """Every test here keeps its files in its own tmp_path."""


def sample_type() -> CredentialType:
    return CredentialType.objects.create(
        name="Sample", processor=f"{PLUGINS}.listed_learners", generator=f"{PLUGINS}.text_generator"
    )


def post_configuration(admin_client: Client, **fields: Any) -> Any:
    data = {
        "credential_type": sample_type().pk,
        "course_run_key": CourseRunFactory().key,
        "program_uuid": "",
        "title": "",
        "options": "{}",
        "schedule": "0 3 * * *",
        "is_enabled": "on",
        "notify_learners": "on",
        **fields,
    }
    return admin_client.post("/admin/pdf_credentials/credentialconfiguration/add/", data)


def test_a_type_with_a_processor_that_does_not_import_is_a_form_error(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        "/admin/pdf_credentials/credentialtype/add/",
        {
            "name": "Broken",
            "processor": "apps.nowhere.processor",
            "generator": f"{PLUGINS}.text_generator",
            "options": "{}",
        },
    )
    # then
    assert response.status_code == 200
    assert "&#x27;apps.nowhere.processor&#x27; cannot be imported as a processor" in response.content.decode()
    assert not CredentialType.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule": "every night"}, "is not a crontab"),
        ({"options": '{"learners": "all"}'}, "&#x27;learners&#x27; must be a list of user ids."),
        ({"course_run_key": "course-v1:Nobody+X+2030"}, "Load it into the catalog first."),
        ({"course_run_key": ""}, "Name a course run or a program, not both."),
    ],
)
def test_a_bad_configuration_is_a_form_error(admin_client: Client, fields: dict[str, str], message: str) -> None:
    # when
    response = post_configuration(admin_client, **fields)
    # then
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CredentialConfiguration.objects.exists()


def test_saving_a_configuration_in_the_admin_creates_and_then_updates_its_task(admin_client: Client) -> None:
    # when
    response = post_configuration(admin_client)
    # then
    assert response.status_code == 302
    config = CredentialConfiguration.objects.get()
    task = PeriodicTask.objects.get(pk=config.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("0", "3", True)
    # when: disabled with a new schedule
    admin_client.post(
        f"/admin/pdf_credentials/credentialconfiguration/{config.pk}/change/",
        {
            "credential_type": config.credential_type_id,
            "course_run_key": config.course_run_key,
            "program_uuid": "",
            "title": "",
            "options": "{}",
            "schedule": "15 5 * * 1",
            "notify_learners": "on",
        },
    )
    # then
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week, task.enabled) == ("15", "5", "1", False)
    # and the configuration is removed with its task
    admin_client.post(f"/admin/pdf_credentials/credentialconfiguration/{config.pk}/delete/", {"post": "yes"})
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_run_now_and_the_pdf_actions(admin_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    # given
    learner = UserFactory()
    post_configuration(admin_client, options=f'{{"learners": [{learner.pk}]}}', notify_learners="")
    config = CredentialConfiguration.objects.get()
    # when: run now
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/pdf_credentials/credentialconfiguration/",
            {"action": "run_now", "_selected_action": [config.pk]},
        )
    # then
    pdf = PdfCredential.objects.get()
    assert pdf.status == PdfStatus.GENERATED
    assert "1/1" in admin_client.get("/admin/pdf_credentials/generationrun/").content.decode()
    # when: invalidated
    admin_client.post("/admin/pdf_credentials/pdfcredential/", {"action": "invalidate", "_selected_action": [pdf.pk]})
    # then
    pdf.refresh_from_db()
    assert pdf.status == PdfStatus.INVALIDATED


def test_an_asset_must_be_what_its_kind_says(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        "/admin/pdf_credentials/credentialasset/add/",
        {"slug": "cert", "kind": "template", "description": "", "file": SimpleUploadedFile("cert.pdf", b"not a pdf")},
    )
    # then
    assert "A template must be a PDF file." in response.content.decode()
    assert not CredentialAsset.objects.exists()


def test_the_storage_checks_name_the_setting(settings: Any) -> None:
    # given
    settings.PDF_STORAGE = "ftp"
    # then
    [error] = check_pdf_storage(None)
    assert (error.id, error.msg) == ("pdf_credentials.E001", "PDF_STORAGE is 'ftp'; expected one of ['local', 's3'].")
    # given
    settings.PDF_STORAGE, settings.PDF_S3_BUCKET = "s3", ""
    # then
    [error] = check_pdf_storage(None)
    assert (error.id, error.msg) == ("pdf_credentials.E002", "PDF_STORAGE is s3 but PDF_S3_BUCKET is empty.")


def test_the_startup_check_reports_broken_types_options_and_stale_tasks(admin_client: Client) -> None:
    # given: a valid configuration, then its type's processor moved away, its options spoiled and its schedule
    # changed behind the service's back
    post_configuration(admin_client)
    config = CredentialConfiguration.objects.get()
    assert check_plugins_and_tasks(None) == []
    CredentialType.objects.update(processor="apps.nowhere.processor")
    CredentialConfiguration.objects.update(schedule="1 1 * * *")
    # when
    messages = check_plugins_and_tasks(None)
    # then
    assert sorted(message.id for message in messages) == [
        "pdf_credentials.E003",
        "pdf_credentials.E004",
        "pdf_credentials.W001",
    ]
    assert any(f"(id {config.pk}) has a stale periodic task" in message.msg for message in messages)
