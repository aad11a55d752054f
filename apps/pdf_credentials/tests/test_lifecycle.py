"""Configurations and their beat tasks, runs, and each PDF's lifecycle, with the sample plugins (the
shipped processors and generators have their own tests) and the local file storage."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
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
def local_storage(local_pdf_storage: None) -> None:
    """Every test here keeps its files in its own tmp_path."""


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


# --- generating a chunk -------------------------------------------------------------------------


def pdfs_of(config: CredentialConfiguration) -> dict[int, PdfCredential]:
    """The configuration's PDFs by user id."""
    return {pdf.user_id: pdf for pdf in PdfCredential.objects.filter(configuration=config)}


def test_a_chunk_records_its_pdfs_and_retries_a_failing_one_until_it_is_left_failed() -> None:
    # given: three learners; the third one's PDF cannot be drawn
    ada, bob, eve = (UserFactory(full_name=name) for name in ("Ada Lovelace", "Bob Byte", "Eve Error"))
    config = configuration(learners=[ada.pk, bob.pk, eve.pk], fail_for=["Eve Error"])
    plan = services.start_run(configuration_id=config.pk)
    [chunk] = plan.chunks
    ids = {user_id: pdf.pk for user_id, pdf in pdfs_of(config).items()}

    # when
    first = services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)

    # then: two generated, each in its own file; the failure waits for another attempt
    assert first == services.ChunkOutcome(generated=(ids[ada.pk], ids[bob.pk]), retry=(ids[eve.pk],))
    pdfs = pdfs_of(config)
    for user in (ada, bob):
        pdf = pdfs[user.pk]
        assert (pdf.status, pdf.attempts, pdf.claimed_until, pdf.claim_token) == (PdfStatus.GENERATED, 0, None, None)
        content = services.pdf_storage().open(pdf.file_name).read()
        assert f"{user.full_name} | Circuits and Electronics".encode() in content
    failing = pdfs[eve.pk]
    assert (failing.status, failing.attempts, failing.error, failing.file_name, failing.claimed_until) == (
        PdfStatus.PENDING,
        1,
        "RuntimeError: cannot draw Eve Error",
        "",
        None,
    )
    counted = GenerationRun.objects.get(pk=plan.run_id)
    assert (counted.status, counted.generated, counted.failed) == (RunStatus.RUNNING, 2, 0)

    # when: the chunk is tried again until the failing PDF has had MAX_ATTEMPTS
    later = [services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id) for _ in range(services.MAX_ATTEMPTS - 1)]

    # then: the generated ones were left alone; the failing one is failed for good, and counted
    assert later[:-1] == [services.ChunkOutcome(retry=(ids[eve.pk],))] * (services.MAX_ATTEMPTS - 2)
    assert later[-1] == services.ChunkOutcome(failed=(ids[eve.pk],))
    again = pdfs_of(config)
    assert [again[user.pk].file_name for user in (ada, bob)] == [pdfs[user.pk].file_name for user in (ada, bob)]
    assert (again[eve.pk].status, again[eve.pk].attempts) == (PdfStatus.FAILED, services.MAX_ATTEMPTS)
    finished = GenerationRun.objects.get(pk=plan.run_id)
    assert (finished.status, finished.generated, finished.failed, finished.progress) == (
        RunStatus.FINISHED,
        2,
        1,
        "3/3",
    )


def test_a_pdf_another_worker_holds_is_left_alone() -> None:
    # given: the second learner's PDF is being generated by another worker
    ada, bob = UserFactory(), UserFactory()
    config = configuration(learners=[ada.pk, bob.pk])
    plan = services.start_run(configuration_id=config.pk)
    [chunk] = plan.chunks
    held = pdfs_of(config)[bob.pk]
    other_token, until = uuid.uuid4(), timezone.now() + datetime.timedelta(seconds=60)
    PdfCredential.objects.filter(pk=held.pk).update(
        status=PdfStatus.GENERATING, claimed_until=until, claim_token=other_token
    )

    # when
    outcome = services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)

    # then
    assert outcome == services.ChunkOutcome(generated=(pdfs_of(config)[ada.pk].pk,))
    held.refresh_from_db()
    assert (held.status, held.claimed_until, held.claim_token, held.file_name) == (
        PdfStatus.GENERATING,
        until,
        other_token,
        "",
    )
    counted = GenerationRun.objects.get(pk=plan.run_id)
    assert (counted.status, counted.generated) == (RunStatus.RUNNING, 1)


def test_a_worker_killed_between_upload_and_record_leaves_its_pdfs_to_the_sweep(settings: Any, tmp_path: Any) -> None:
    # given: a worker that dies once the first file is uploaded
    ada, bob = UserFactory(), UserFactory()
    config = configuration(learners=[ada.pk, bob.pk])
    plan = services.start_run(configuration_id=config.pk)
    [chunk] = plan.chunks
    working_storage = settings.STORAGES["pdf_credentials"]
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {"BACKEND": f"{PLUGINS}.DyingStorage", "OPTIONS": {"location": str(tmp_path / "dying")}},
    }

    # when
    with pytest.raises(SystemExit):
        services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)

    # then: nothing recorded; the claims hold the PDFs, so the sweep leaves them for now
    assert {(pdf.status, pdf.file_name) for pdf in pdfs_of(config).values()} == {(PdfStatus.GENERATING, "")}
    assert services.list_stuck_pdf_ids() == []

    # when: the claims run out, and the sweep runs on a healthy worker
    PdfCredential.objects.filter(configuration=config).update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    settings.STORAGES = {**settings.STORAGES, "pdf_credentials": working_storage}
    requeued = requeue_stuck_generations_task.delay().get()

    # then
    assert requeued == 2
    assert {pdf.status for pdf in pdfs_of(config).values()} == {PdfStatus.GENERATED}


def test_the_sql_statements_of_a_chunk_do_not_grow_with_its_size() -> None:
    def statements(size: int) -> int:
        # given
        config = configuration(learners=[UserFactory().pk for _ in range(size)])
        plan = services.start_run(configuration_id=config.pk)
        [chunk] = plan.chunks
        # when
        with CaptureQueriesContext(connection) as queries:
            outcome = services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)
        assert len(outcome.generated) == size
        return len(queries)

    # then: the claim, one read, the catalog facts, and one recording (savepoint, held rows, the
    # rows, the run's counts), whatever the number of PDFs up to RECORD_BATCH
    assert statements(5) == statements(services.RECORD_BATCH) <= 10


def test_learners_are_told_once_per_generated_pdf_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    # given: a learner with an email, one without, and one whose PDF fails
    ada = UserFactory(full_name="Ada Lovelace", email="ada@example.com")
    bob = UserFactory(full_name="Bob Byte", email="")
    eve = UserFactory(full_name="Eve Error", email="eve@example.com")
    config = configuration(learners=[ada.pk, bob.pk, eve.pk], fail_for=["Eve Error"])
    plan = services.start_run(configuration_id=config.pk)
    [chunk] = plan.chunks

    # when
    with django_capture_on_commit_callbacks() as callbacks:
        services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)

    # then: nobody is written to before the commit; then Ada, once, with her permanent link
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert services.download_url(pdfs_of(config)[ada.pk]) in mail.outbox[0].body
    assert pdfs_of(config)[ada.pk].notified_at is not None
    # when: the chunk again (Eve's retry)
    with django_capture_on_commit_callbacks(execute=True):
        services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)
    # then
    assert len(mail.outbox) == 1


def test_an_invalidation_while_the_pdf_renders_wins_and_the_new_file_is_deleted(
    django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    # given: a generated PDF, re-issued; an operator invalidates it while its new file renders
    ada = UserFactory(full_name="Ada Lovelace")
    config = configuration(learners=[ada.pk])
    run(config)
    pdf = pdfs_of(config)[ada.pk]
    config.options = {**config.options, "invalidate_for": ["Ada Lovelace"]}
    config.save()
    [pdf_id] = services.reissue(pdf_ids=[pdf.pk])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.generate_chunk(pdf_ids=[pdf_id])

    # then: still invalidated, and neither its old file nor the new one is left
    assert outcome == services.ChunkOutcome()
    pdf.refresh_from_db()
    assert (pdf.status, pdf.file_name) == (PdfStatus.INVALIDATED, "")
    assert list(tmp_path.rglob("*.pdf")) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_overlapping_chunks_generate_each_pdf_once(
    concurrently: Callable[..., list[Any]], tmp_path: Any
) -> None:
    # given: 20 pending PDFs, and two workers given overlapping chunks (10 PDFs in both)
    config = configuration(learners=[UserFactory().pk for _ in range(20)])
    plan = services.start_run(configuration_id=config.pk)
    [chunk] = plan.chunks
    chunks = [list(chunk[:15]), list(chunk[5:])]

    # when
    outcomes = concurrently(lambda pdf_ids: services.generate_chunk(pdf_ids=pdf_ids, run_id=plan.run_id), chunks)

    # then: every PDF generated by exactly one of them, in one file each, and counted once
    generated = [pdf_id for outcome in outcomes for pdf_id in outcome.generated]
    assert sorted(generated) == sorted(chunk)
    assert all(len(outcome.generated) >= 5 for outcome in outcomes)  # each has 5 PDFs of its own
    pdfs = PdfCredential.objects.filter(configuration=config)
    assert {pdf.status for pdf in pdfs} == {PdfStatus.GENERATED}
    assert sorted(path.name for path in tmp_path.rglob("*.pdf")) == sorted(
        pdf.file_name.rsplit("/", 1)[-1] for pdf in pdfs
    )
    finished = GenerationRun.objects.get(pk=plan.run_id)
    assert (finished.status, finished.generated) == (RunStatus.FINISHED, 20)
