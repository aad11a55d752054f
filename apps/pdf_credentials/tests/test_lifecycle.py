"""Configurations and their beat tasks, runs, and each PDF's lifecycle, with the sample plugins (the
shipped processors and generators have their own tests) and the local file storage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from apps.catalog.tests.factories import CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.credentials.models import UserCredential
from apps.pdf_credentials import services
from apps.pdf_credentials.exceptions import PdfCredentialsError
from apps.pdf_credentials.models import (
    CredentialConfiguration,
    CredentialType,
    GenerationRun,
    PdfCredential,
    PdfStatus,
    RunStatus,
)
from apps.pdf_credentials.plugins import PluginError
from apps.pdf_credentials.tasks import requeue_stuck_generations_task, run_configuration_task

pytestmark = pytest.mark.django_db

PLUGINS = "apps.pdf_credentials.tests.sample_plugins"


@pytest.fixture(autouse=True)
def local_storage(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def configuration(**options: Any) -> CredentialConfiguration:
    run = CourseRunFactory(title="Circuits and Electronics")
    credential_type = CredentialType.objects.create(
        name=f"Sample {run.pk}", processor=f"{PLUGINS}.listed_learners", generator=f"{PLUGINS}.text_generator"
    )
    config = CredentialConfiguration.objects.create(
        credential_type=credential_type, course_run_key=run.key, options=options
    )
    services.sync_periodic_task(configuration_id=config.pk)
    config.refresh_from_db()
    return config


def run(config: CredentialConfiguration) -> GenerationRun:
    run_id = run_configuration_task.delay(config.pk).get()
    return GenerationRun.objects.get(pk=run_id)


# --- beat tasks ---------------------------------------------------------------------------------


def test_each_configuration_gets_a_periodic_task_that_follows_its_schedule() -> None:
    # given
    config = configuration()
    task = PeriodicTask.objects.get(pk=config.periodic_task_id)
    assert (task.task, json.loads(task.args), task.enabled) == (services.RUN_TASK, [config.pk], True)
    assert str(task.crontab.minute), str(task.crontab.hour) == ("0", "3")
    # when: a new schedule, disabled
    config.schedule, config.is_enabled = "30 */6 * * 1-5", False
    config.save()
    services.sync_periodic_task(configuration_id=config.pk)
    # then
    task.refresh_from_db()
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "*/6", "1-5")
    assert task.enabled is False
    assert PeriodicTask.objects.filter(name=services.task_name(config.pk)).count() == 1
    assert services.stale_configurations() == []


def test_a_stale_or_missing_task_is_reported() -> None:
    # given
    config = configuration()
    CredentialConfiguration.objects.filter(pk=config.pk).update(schedule="15 4 * * *")
    # then
    assert services.stale_configurations() == [f"{config} (id {config.pk}) has a stale periodic task"]
    # when
    PeriodicTask.objects.filter(pk=config.periodic_task_id).delete()
    # then
    assert services.stale_configurations() == [f"{config} (id {config.pk}) has no periodic task"]


def test_deleting_a_configuration_removes_its_task_but_not_once_it_issued() -> None:
    # given
    config = configuration()
    task_id = config.periodic_task_id
    # when
    services.delete_configuration(configuration_id=config.pk)
    # then
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    # given: one that issued a PDF
    issued = configuration(learners=[UserFactory().pk])
    run(issued)
    # when / then
    with pytest.raises(PdfCredentialsError, match="disable it instead"):
        services.delete_configuration(configuration_id=issued.pk)


@pytest.mark.parametrize(
    ("processor", "schedule", "message"),
    [
        ("apps.pdf_credentials.tests.sample_plugins.nope", "0 3 * * *", "cannot be imported as a processor"),
        (f"{PLUGINS}.listed_learners", "every day", "is not a crontab"),
        (f"{PLUGINS}.listed_learners", "61 3 * * *", "is not a valid crontab"),
    ],
)
def test_a_configuration_with_a_wrong_processor_or_schedule_is_refused(
    processor: str, schedule: str, message: str
) -> None:
    # given
    run_key = CourseRunFactory().key
    credential_type = CredentialType(name="x", processor=processor, generator=f"{PLUGINS}.text_generator")
    # when / then
    with pytest.raises((PluginError, PdfCredentialsError), match=message):
        services.validate_configuration(
            credential_type=credential_type, course_run_key=run_key, program_uuid=None, options={}, schedule=schedule
        )


def test_options_the_processor_refuses_and_an_unknown_course_run_are_refused() -> None:
    # given
    credential_type = CredentialType(
        name="x", processor=f"{PLUGINS}.listed_learners", generator=f"{PLUGINS}.text_generator"
    )
    # when / then
    with pytest.raises(PluginError, match="'learners' must be a list"):
        services.validate_configuration(
            credential_type=credential_type,
            course_run_key=CourseRunFactory().key,
            program_uuid=None,
            options={"learners": 3},
            schedule="0 3 * * *",
        )
    with pytest.raises(PdfCredentialsError, match="Load it into the catalog first"):
        services.validate_configuration(
            credential_type=credential_type,
            course_run_key="course-v1:Nobody+X1+2030",
            program_uuid=None,
            options={},
            schedule="0 3 * * *",
        )


# --- runs and the lifecycle ---------------------------------------------------------------------


def test_a_run_generates_one_pdf_per_eligible_learner_and_a_rerun_makes_no_duplicates(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    ada, bob = UserFactory(full_name="Ada Lovelace", email="ada@example.com"), UserFactory(email="")
    config = configuration(learners=[ada.pk, bob.pk])
    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = run(config)
        second = run(config)
    # then
    first.refresh_from_db()
    assert (first.status, first.eligible, first.to_generate, first.generated) == (RunStatus.FINISHED, 2, 2, 2)
    assert (second.eligible, second.to_generate) == (2, 0)
    pdfs = PdfCredential.objects.filter(configuration=config)
    assert pdfs.count() == 2
    assert set(pdfs.values_list("status", flat=True)) == {PdfStatus.GENERATED}
    ada_pdf = pdfs.get(user=ada)
    content = services.pdf_storage().open(ada_pdf.file_name).read()
    assert b"Ada Lovelace | Circuits and Electronics" in content
    assert str(ada_pdf.verification_uuid).encode() in content
    # the learner's credential, one per configuration
    assert UserCredential.objects.filter(user=ada, credential_id=config.pk, status="awarded").count() == 1
    # only the learner with an email was told, once, with the permanent link
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert services.download_url(ada_pdf) in mail.outbox[0].body


def test_a_learner_no_longer_eligible_loses_the_pdf_and_the_link_says_so(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    ada = UserFactory(full_name="Ada Lovelace")
    config = configuration(learners=[ada.pk])
    run(config)
    pdf = PdfCredential.objects.get(user=ada)
    old_file = pdf.file_name
    assert client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/").status_code == 200
    # when
    config.options = {"learners": []}
    config.save()
    with django_capture_on_commit_callbacks(execute=True):
        result = run(config)
    # then
    pdf.refresh_from_db()
    assert (pdf.status, pdf.invalidation_reason, pdf.file_name) == (PdfStatus.INVALIDATED, "No longer eligible.", "")
    assert result.invalidated == 1
    assert not services.pdf_storage().exists(old_file)
    assert UserCredential.objects.get(user=ada, credential_id=config.pk).status == "revoked"
    page = client.get(f"/credentials/verify/{pdf.verification_uuid}/")
    assert page.status_code == 410
    assert "Revoked" in page.content.decode()
    assert client.get(f"/credentials/verify/{pdf.verification_uuid}/pdf/").status_code == 410


def test_a_reissue_writes_a_new_file_under_the_same_verification_uuid(django_capture_on_commit_callbacks: Any) -> None:
    # given
    ada = UserFactory(full_name="Ada Lovelace")
    config = configuration(learners=[ada.pk])
    run(config)
    pdf = PdfCredential.objects.get(user=ada)
    # when
    [queued] = services.reissue(pdf_ids=[pdf.pk])
    with django_capture_on_commit_callbacks(execute=True):
        services.generate_pdf(pdf_id=queued)
    # then
    again = PdfCredential.objects.get(pk=pdf.pk)
    assert again.verification_uuid == pdf.verification_uuid
    assert again.file_name != pdf.file_name
    assert again.status == PdfStatus.GENERATED
    assert not services.pdf_storage().exists(pdf.file_name)


def test_a_failing_generator_is_retried_then_left_failed_with_its_error() -> None:
    # given
    ada = UserFactory()
    config = configuration(learners=[ada.pk], fail="template is broken")
    plan = services.start_run(configuration_id=config.pk)
    [[pdf_id]] = plan.chunks
    # when
    outcomes = [services.generate_pdf(pdf_id=pdf_id, run_id=plan.run_id) for _ in range(services.MAX_ATTEMPTS)]
    # then
    assert [o.retry for o in outcomes] == [True] * (services.MAX_ATTEMPTS - 1) + [False]
    pdf = PdfCredential.objects.get(pk=pdf_id)
    assert (pdf.status, pdf.attempts, pdf.error) == (
        PdfStatus.FAILED,
        services.MAX_ATTEMPTS,
        "RuntimeError: template is broken",
    )
    assert GenerationRun.objects.get(pk=plan.run_id).status == RunStatus.FINISHED


def test_a_generation_that_crashed_mid_way_is_picked_up_by_the_sweep() -> None:
    # given: a PDF left "generating" by a worker that died (its claim has run out)
    ada = UserFactory()
    config = configuration(learners=[ada.pk])
    plan = services.start_run(configuration_id=config.pk)
    [[pdf_id]] = plan.chunks
    from django.utils import timezone

    PdfCredential.objects.filter(pk=pdf_id).update(
        status=PdfStatus.GENERATING, claimed_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    # when
    requeued = requeue_stuck_generations_task.delay().get()
    # then
    assert requeued == 1
    assert PdfCredential.objects.get(pk=pdf_id).status == PdfStatus.GENERATED


def test_the_verification_page_shows_who_earned_what_and_never_the_email(client: Any) -> None:
    # given
    ada = UserFactory(full_name="Ada Lovelace", email="ada@example.com")
    config = configuration(learners=[ada.pk])
    run(config)
    pdf = PdfCredential.objects.get(user=ada)
    # when
    page = client.get(f"/credentials/verify/{pdf.verification_uuid}/")
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "Valid" in html and "Ada Lovelace" in html and "Circuits and Electronics" in html
    assert "ada@example.com" not in html
    assert client.get("/credentials/verify/00000000-0000-0000-0000-000000000000/").status_code == 404
