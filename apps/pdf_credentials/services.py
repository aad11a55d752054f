"""Writes: configurations and their celery-beat tasks, runs, and each learner's PDF from eligibility to
an invalidated file. Rendering and storage I/O never run inside a transaction (R6): a generation claims
a chunk's rows, renders and stores the files, then records the outcomes."""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from apps.catalog.api import CatalogNotFoundError, get_course_run, get_program
from apps.core.api import User, lock_learners
from apps.credentials.api import CredentialChange, apply_credential_changes

from . import plugins
from .exceptions import PdfCredentialsError, PdfCredentialsErrorCode, PdfCredentialsNotFoundError
from .models import (
    CredentialAsset,
    CredentialConfiguration,
    CredentialType,
    GenerationRun,
    PdfCredential,
    PdfStatus,
    RunStatus,
)

log = logging.getLogger(__name__)

RUN_TASK = "apps.pdf_credentials.tasks.run_configuration_task"
# A generation holds its row this long; one that crashed is taken again by the sweep afterwards.
CLAIM_SECONDS = 300
# Attempts before a PDF that keeps failing is left failed, with its error, for an operator.
MAX_ATTEMPTS = 3


def pdf_storage() -> Storage:
    return storages["pdf_credentials"]


# --- validation ---------------------------------------------------------------------------------


def parse_schedule(schedule: str) -> tuple[str, str, str, str, str]:
    """A crontab's five fields (minute hour day-of-month month day-of-week); raises PdfCredentialsError."""
    fields = schedule.split()
    if len(fields) != 5:
        raise PdfCredentialsError(
            f"{schedule!r} is not a crontab: write five fields, minute hour day-of-month month day-of-week "
            "(e.g. '0 3 * * *').",
            code=PdfCredentialsErrorCode.BAD_SCHEDULE,
            field="schedule",
        )
    from django.core.exceptions import ValidationError
    from django_celery_beat.validators import crontab_validator

    try:
        crontab_validator(schedule)
    except ValidationError as error:
        raise PdfCredentialsError(
            f"{schedule!r} is not a valid crontab: {'; '.join(error.messages)}",
            code=PdfCredentialsErrorCode.BAD_SCHEDULE,
            field="schedule",
        ) from None
    return fields[0], fields[1], fields[2], fields[3], fields[4]


def validate_type(*, processor: str, generator: str) -> None:
    """Both dotted paths import as callables; raises PluginError naming the field."""
    plugins.load(processor, kind="processor")
    plugins.load(generator, kind="generator")


def validate_configuration(
    *, credential_type: CredentialType, course_run_key: str, program_uuid: Any, options: dict[str, Any], schedule: str
) -> None:
    """What a configuration must be to run: one scope that the catalog knows, a valid schedule, and
    options (merged over the type's) that its processor and generator accept. Raises a domain error
    naming the field."""
    if bool(course_run_key) == (program_uuid is not None):
        raise PdfCredentialsError(
            "Name a course run or a program, not both.",
            code=PdfCredentialsErrorCode.BAD_OPTIONS,
            field="course_run_key",
        )
    try:
        if course_run_key:
            CourseKey.from_string(course_run_key)
            get_course_run(key=course_run_key)
        else:
            get_program(program_uuid=program_uuid)
    except InvalidKeyError:
        raise PdfCredentialsError(
            f"{course_run_key!r} is not a course run key.",
            code=PdfCredentialsErrorCode.BAD_OPTIONS,
            field="course_run_key",
        ) from None
    except CatalogNotFoundError as error:
        raise PdfCredentialsError(
            f"{error.message} Load it into the catalog first.",
            code=PdfCredentialsErrorCode.NOT_FOUND,
            field="course_run_key" if course_run_key else "program_uuid",
        ) from None
    parse_schedule(schedule)
    merged = {**credential_type.options, **options}
    plugins.validate(credential_type.processor, merged, kind="processor")
    plugins.validate(credential_type.generator, merged, kind="generator")


# --- the celery-beat task of each configuration -------------------------------------------------


def task_name(configuration_id: int) -> str:
    return f"pdf-credentials: configuration {configuration_id}"


def sync_periodic_task(*, configuration_id: int) -> PeriodicTask:
    """Create or update the configuration's PeriodicTask to match its schedule and enabled flag.
    Idempotent; called by whatever saves a configuration (the admin), never by save()."""
    with transaction.atomic():
        configuration = CredentialConfiguration.objects.select_for_update().get(pk=configuration_id)
        minute, hour, day_of_month, month, day_of_week = parse_schedule(configuration.schedule)
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone="UTC",
        )
        values = {
            "task": RUN_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([configuration.pk]),
            "enabled": configuration.is_enabled,
            "description": f"Generate the PDF credentials of {configuration}.",
        }
        task = configuration.periodic_task
        if task is None:
            task, _ = PeriodicTask.objects.update_or_create(name=task_name(configuration.pk), defaults=values)
            configuration.periodic_task = task
            configuration.save(update_fields=["periodic_task", "modified"])
        else:
            changed = [name for name, value in values.items() if getattr(task, name) != value]
            if changed:
                for name in changed:
                    setattr(task, name, values[name])
                task.save()
    return task


def delete_configuration(*, configuration_id: int) -> None:
    """Delete a configuration that never issued anything, with its PeriodicTask. Raises
    PdfCredentialsError when learners hold its PDFs (disable it instead)."""
    with transaction.atomic():
        configuration = CredentialConfiguration.objects.select_for_update().get(pk=configuration_id)
        if configuration.credentials.exists():
            raise PdfCredentialsError(
                f"{configuration} has issued PDFs: disable it instead of deleting it.",
                code=PdfCredentialsErrorCode.BAD_OPTIONS,
            )
        task = configuration.periodic_task
        configuration.delete()
        if task is not None:
            task.delete()


def stale_configurations() -> list[str]:
    """Configurations whose PeriodicTask is missing or out of step with them (for the start-up check)."""
    problems = []
    for configuration in CredentialConfiguration.objects.select_related("periodic_task__crontab"):
        task = configuration.periodic_task
        if task is None:
            problems.append(f"{configuration} (id {configuration.pk}) has no periodic task")
            continue
        crontab = task.crontab
        schedule = (
            " ".join([crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week])
            if crontab
            else ""
        )
        if schedule != " ".join(configuration.schedule.split()) or task.enabled != configuration.is_enabled:
            problems.append(f"{configuration} (id {configuration.pk}) has a stale periodic task")
    return problems


# --- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """A run after eligibility: its id and the PDFs to generate, in chunks for the generation tasks."""

    run_id: int
    chunks: tuple[tuple[int, ...], ...]


def start_run(*, configuration_id: int) -> RunPlan:
    """Run a configuration: ask its processor who is eligible (our own database), give each new
    eligible learner a pending PDF and their credential, take the PDF (and credential) away from
    learners no longer eligible, and return the pending PDFs to generate, chunked. Re-running creates no
    duplicates (one PDF per learner and configuration). Raises PluginError when the processor fails."""
    configuration = CredentialConfiguration.objects.select_related("credential_type").get(pk=configuration_id)
    run = GenerationRun.objects.create(configuration=configuration)
    try:
        processor = plugins.load(configuration.credential_type.processor, kind="processor")
        eligible = processor(_configuration_data(configuration), configuration.merged_options())
    except Exception as error:
        GenerationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    names = {learner.user_id: learner.name for learner in eligible}
    today = timezone.now().date()
    with transaction.atomic():
        # Learners first, then their PDFs: the lock order of every credential change.
        holders = set(PdfCredential.objects.filter(configuration=configuration).values_list("user_id", flat=True))
        lock_learners(user_ids=set(names) | holders)
        existing = {
            row.user_id: row
            for row in PdfCredential.objects.select_for_update()
            .filter(configuration=configuration)
            .only("pk", "user_id", "status")
        }
        new = [user_id for user_id in names if user_id not in existing]
        PdfCredential.objects.bulk_create(
            [
                PdfCredential(
                    user_id=user_id, configuration=configuration, learner_name=names[user_id][:255], issued_on=today
                )
                for user_id in new
            ],
            ignore_conflicts=True,
        )
        returning = [
            row.pk for user_id, row in existing.items() if user_id in names and row.status == PdfStatus.INVALIDATED
        ]
        PdfCredential.objects.filter(pk__in=returning).update(
            status=PdfStatus.PENDING, attempts=0, error="", invalidated_at=None, invalidation_reason="", issued_on=today
        )
        gone = [
            row.pk for user_id, row in existing.items() if user_id not in names and row.status != PdfStatus.INVALIDATED
        ]
        invalidated = _invalidate(gone, reason="No longer eligible.")
        apply_credential_changes(
            changes=[
                CredentialChange(
                    user_id=user_id,
                    configuration_model=CredentialConfiguration,
                    configuration_id=configuration.pk,
                    award=True,
                )
                for user_id in names
            ]
            + [
                CredentialChange(
                    user_id=user_id,
                    configuration_model=CredentialConfiguration,
                    configuration_id=configuration.pk,
                    award=False,
                )
                for user_id, row in existing.items()
                if row.pk in set(gone)
            ]
        )
        pending = list(
            PdfCredential.objects.filter(configuration=configuration, status__in=[PdfStatus.PENDING, PdfStatus.FAILED])
            .filter(Q(status=PdfStatus.PENDING) | Q(attempts__lt=MAX_ATTEMPTS))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        GenerationRun.objects.filter(pk=run.pk).update(
            eligible=len(names), to_generate=len(pending), invalidated=invalidated, modified=timezone.now()
        )
        if not pending:
            GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.FINISHED, finished_at=timezone.now())
    size = settings.PDF_GENERATION_CHUNK_SIZE
    chunks = tuple(tuple(pending[i : i + size]) for i in range(0, len(pending), size))
    log.info(
        "Run %s of %s: %d eligible, %d to generate, %d invalidated",
        run.pk,
        configuration,
        len(names),
        len(pending),
        invalidated,
    )
    return RunPlan(run_id=run.pk, chunks=chunks)


def _configuration_data(configuration: CredentialConfiguration) -> plugins.ConfigurationData:
    return plugins.ConfigurationData(
        id=configuration.pk, course_run_key=configuration.course_run_key, program_uuid=configuration.program_uuid
    )


# --- generating PDFs ----------------------------------------------------------------------------

# Generation outcomes are written this many PDFs at a time, in one transaction.
RECORD_BATCH = 50
# Uploads handed to the uploader and not yet done (the one sending and the next), each holding its
# rendered PDF in memory: rendering waits rather than pile PDFs up when storage is slower.
MAX_UPLOADS_IN_FLIGHT = 2


@dataclass(frozen=True)
class GenerationOutcome:
    generated: bool = False
    failed: bool = False
    retry: bool = False  # a transient failure: the PDF stays pending and is tried again


@dataclass(frozen=True)
class ChunkOutcome:
    """What `generate_chunk` did with each PDF it was given, by id. A PDF in none of these was left
    alone: held by another worker, already generated, or invalidated."""

    generated: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()  # for good, after MAX_ATTEMPTS or a plugin error: an operator's turn
    retry: tuple[int, ...] = ()  # a transient failure: the PDF stays pending and is tried again

    def of(self, pdf_id: int) -> GenerationOutcome:
        return GenerationOutcome(
            generated=pdf_id in self.generated, failed=pdf_id in self.failed, retry=pdf_id in self.retry
        )


def generate_pdf(*, pdf_id: int, run_id: int | None = None, assets: AssetStore | None = None) -> GenerationOutcome:
    """`generate_chunk` of one PDF (the same guarantees)."""
    return generate_chunk(pdf_ids=[pdf_id], run_id=run_id, assets=assets).of(pdf_id)


def generate_chunk(
    *, pdf_ids: Sequence[int], run_id: int | None = None, assets: AssetStore | None = None
) -> ChunkOutcome:
    """Render and store these learners' PDFs (a new file each time; the verification uuid stays),
    record them, delete the files they replace and tell the learners, after commit. A failure is
    recorded with its error: retried up to MAX_ATTEMPTS, then failed for an operator. Safe to call
    concurrently and again: a PDF held by another worker, generated or invalidated is left alone, and
    a worker that dies leaves its claims to expire, so the sweep generates those PDFs again."""
    token = uuid.uuid4()
    now = timezone.now()
    # One conditional UPDATE claims every claimable row (a concurrent claimer's UPDATE of the same row
    # waits for this one and then no longer matches it), and the token says which rows this call holds.
    PdfCredential.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk__in=list(pdf_ids),
        status__in=[PdfStatus.PENDING, PdfStatus.GENERATING, PdfStatus.FAILED],
    ).update(status=PdfStatus.GENERATING, claimed_until=now + _claim_time(), claim_token=token)
    pdfs = list(
        PdfCredential.objects.select_related("configuration__credential_type", "user")
        .filter(pk__in=list(pdf_ids), claim_token=token)
        .order_by("pk")
    )
    if not pdfs:
        return ChunkOutcome()
    return _Generation(pdfs, token=token, run_id=run_id, store=assets or AssetStore()).run()


def _claim_time() -> datetime.timedelta:
    return datetime.timedelta(seconds=CLAIM_SECONDS)


class _Generation:
    """One `generate_chunk` call after its claim: renders each PDF in this thread while the previous one
    uploads in the uploader thread (R6: no transaction is open meanwhile), and records the outcomes by
    batches of RECORD_BATCH, each in one transaction."""

    def __init__(self, pdfs: list[PdfCredential], *, token: uuid.UUID, run_id: int | None, store: AssetStore) -> None:
        self.pdfs = pdfs
        self.token = token
        self.run_id = run_id
        self.store = store
        self.storage = pdf_storage()
        self.unsettled: deque[tuple[PdfCredential, Future[str]]] = deque()
        self.stored: list[tuple[PdfCredential, str]] = []  # rendered and uploaded, to record
        self.errors: list[tuple[PdfCredential, Exception]] = []  # failed, to record
        self.recorded_ids: set[int] = set()
        self.generated: list[int] = []
        self.failed: list[int] = []
        self.retry: list[int] = []

    def run(self) -> ChunkOutcome:
        uploader = _uploader()
        try:
            for pdf in self.pdfs:
                try:
                    generator = plugins.load(pdf.configuration.credential_type.generator, kind="generator")
                    content = generator(_context(pdf, store=self.store), pdf.configuration.merged_options(), self.store)
                except Exception as error:  # noqa: BLE001 - a worker boundary: any generator failure is recorded, never lost
                    self.errors.append((pdf, error))
                else:
                    upload = uploader.submit(self.storage.save, _file_name(pdf), ContentFile(content))
                    self.unsettled.append((pdf, upload))
                while len(self.unsettled) > MAX_UPLOADS_IN_FLIGHT:
                    self.settle()
                if len(self.stored) + len(self.errors) >= RECORD_BATCH:
                    self.record()
            while self.unsettled:
                self.settle()
            self.record()
        finally:
            # Leaving on an error: let the queued uploads end; their rows stay claimed for the sweep.
            futures_wait([upload for _, upload in self.unsettled])
        return ChunkOutcome(generated=tuple(self.generated), failed=tuple(self.failed), retry=tuple(self.retry))

    def settle(self) -> None:
        pdf, upload = self.unsettled.popleft()
        try:
            self.stored.append((pdf, upload.result()))
        except Exception as error:  # noqa: BLE001 - a worker boundary: any storage failure is recorded, never lost
            self.errors.append((pdf, error))

    def record(self) -> None:
        """The outcomes so far, in one transaction, for the rows this call still holds (an operator may
        have re-issued or invalidated one meanwhile; its file is then deleted, not recorded)."""
        if not self.stored and not self.errors:
            return
        stored, errors = self.stored, self.errors
        self.stored, self.errors = [], []
        now = timezone.now()
        with transaction.atomic():
            held = set(
                PdfCredential.objects.select_for_update()
                .filter(pk__in=[pdf.pk for pdf, _ in stored] + [pdf.pk for pdf, _ in errors], **self._held())
                .values_list("pk", flat=True)
            )
            generated = [(pdf, name) for pdf, name in stored if pdf.pk in held]
            if generated:
                PdfCredential.objects.filter(pk__in=[pdf.pk for pdf, _ in generated], **self._held()).update(
                    status=PdfStatus.GENERATED,
                    file_name=Case(*(When(pk=pdf.pk, then=Value(name)) for pdf, name in generated)),
                    error="",
                    attempts=0,
                    claimed_until=None,
                    claim_token=None,
                    generated_at=now,
                    modified=now,
                )
            failed = [_failed(pdf, error, now=now) for pdf, error in errors if pdf.pk in held]
            PdfCredential.objects.filter(**self._held()).bulk_update(
                failed, ["status", "error", "attempts", "claimed_until", "claim_token", "modified"]
            )
            permanent = [pdf.pk for pdf in failed if pdf.status == PdfStatus.FAILED]
            self.recorded_ids.update(pdf.pk for pdf, _ in stored + errors)
            waiting = [pdf.pk for pdf in self.pdfs if pdf.pk not in self.recorded_ids]
            if waiting:  # a long chunk keeps its claims while it makes progress
                PdfCredential.objects.filter(pk__in=waiting, **self._held()).update(claimed_until=now + _claim_time())
            if self.run_id is not None and (generated or permanent):
                _count(self.run_id, generated=len(generated), failed=len(permanent))
            for pdf, name in stored:
                if pdf.pk not in held:
                    log.info("PDF %s changed while it was generated (re-issued, invalidated): %s deleted", pdf.pk, name)
                    transaction.on_commit(partial(_delete_file, name), robust=True)
                elif pdf.file_name and pdf.file_name != name:
                    transaction.on_commit(partial(_delete_file, pdf.file_name), robust=True)
            for pdf, _ in generated:
                if pdf.configuration.notify_learners and pdf.user.email:
                    transaction.on_commit(partial(_notify, pdf.pk), robust=True)
        self.generated.extend(pdf.pk for pdf, _ in generated)
        self.failed.extend(permanent)
        self.retry.extend(pdf.pk for pdf in failed if pdf.status == PdfStatus.PENDING)

    def _held(self) -> dict[str, Any]:
        return {"claim_token": self.token, "status": PdfStatus.GENERATING}


def _failed(pdf: PdfCredential, error: Exception, *, now: datetime.datetime) -> PdfCredential:
    """The row as a failure leaves it: pending for another attempt, or failed for good after
    MAX_ATTEMPTS or a plugin error (bad options or assets: trying again cannot help)."""
    attempts = pdf.attempts + 1
    permanent = isinstance(error, plugins.PluginError) or attempts >= MAX_ATTEMPTS
    message = f"{type(error).__name__}: {error}"
    log.warning("PDF %s of %s failed (attempt %d): %s", pdf.pk, pdf.configuration, attempts, message)
    pdf.status = PdfStatus.FAILED if permanent else PdfStatus.PENDING
    pdf.error = message[:5000]
    pdf.attempts = attempts
    pdf.claimed_until = None
    pdf.claim_token = None
    pdf.modified = now
    return pdf


def _delete_file(name: str) -> None:
    pdf_storage().delete(name)


# Uploads run in one thread per process, so that a PDF is sent while the next one renders. It lives
# as long as the process: django-storages keeps one S3 client per thread, so the uploads of every chunk
# share one client and its connections. Made on first use, and again in a forked child (a fork copies
# no threads), such as a Celery prefork worker.
_uploader_lock = threading.Lock()
_uploader_pool: ThreadPoolExecutor | None = None


def _uploader() -> ThreadPoolExecutor:
    global _uploader_pool
    with _uploader_lock:
        if _uploader_pool is None:
            _uploader_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-upload")
        return _uploader_pool


def _forget_uploader() -> None:
    global _uploader_lock, _uploader_pool
    _uploader_lock, _uploader_pool = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_uploader)


def _count(run_id: int, *, generated: int = 0, failed: int = 0) -> None:
    GenerationRun.objects.filter(pk=run_id).update(
        generated=F("generated") + generated, failed=F("failed") + failed, modified=timezone.now()
    )
    GenerationRun.objects.filter(
        pk=run_id, status=RunStatus.RUNNING, to_generate__lte=F("generated") + F("failed")
    ).update(status=RunStatus.FINISHED, finished_at=timezone.now())


def _file_name(pdf: PdfCredential) -> str:
    # Unguessable and new for each generation: a re-issue never serves a cached old file.
    return f"pdf_credentials/{pdf.configuration_id}/{pdf.verification_uuid}-{timezone.now():%Y%m%d%H%M%S%f}.pdf"


def _catalog_facts(configuration: CredentialConfiguration) -> tuple[str, str]:
    """The title and issuer the catalog gives the configuration's course run or program."""
    if configuration.course_run_key:
        run = get_course_run(key=configuration.course_run_key)
        return run.title, str(CourseKey.from_string(run.key).org)
    assert configuration.program_uuid is not None  # the scope constraint
    program = get_program(program_uuid=configuration.program_uuid)
    return program.title, ", ".join(org.name for org in program.organizations)


def _context(pdf: PdfCredential, *, store: AssetStore | None = None) -> plugins.CredentialContext:
    configuration = pdf.configuration
    options = configuration.merged_options()
    title, issuer = store.catalog_facts(configuration) if store is not None else _catalog_facts(configuration)
    signatories = tuple(
        plugins.Signatory(
            name=str(s.get("name", "")), title=str(s.get("title", "")), organization=str(s.get("organization", ""))
        )
        for s in options.get("signatories", [])
        if isinstance(s, dict)
    )
    return plugins.CredentialContext(
        learner_name=pdf.learner_name or pdf.user.full_name or pdf.user.username or "",
        title=configuration.title or title,
        issued_on=pdf.issued_on or timezone.now().date(),
        issuer=str(options.get("issuer") or issuer),
        verification_url=verification_url(pdf),
        verification_uuid=pdf.verification_uuid,
        signatories=signatories,
    )


def public_details(pdf: PdfCredential) -> plugins.CredentialContext:
    """What the public pages show of a credential: the printed facts, never the learner's email."""
    return _context(pdf)


def verification_url(pdf: PdfCredential) -> str:
    return settings.CREDENTIALS_PUBLIC_URL + reverse("pdf_credentials:verify", args=[pdf.verification_uuid])


def download_url(pdf: PdfCredential) -> str:
    return settings.CREDENTIALS_PUBLIC_URL + reverse("pdf_credentials:download", args=[pdf.verification_uuid])


class AssetStore:
    """Assets by slug for generators. One store serves a chunk of PDFs: each asset is read from the
    database and its storage once per store, and so are the catalog facts printed on the PDFs (title,
    issuer), so a run costs no queries per PDF for either."""

    def __init__(self) -> None:
        self._cache: dict[str, bytes] = {}
        self._catalog: dict[tuple[str, uuid.UUID | None], tuple[str, str]] = {}

    def catalog_facts(self, configuration: CredentialConfiguration) -> tuple[str, str]:
        """`_catalog_facts` of the configuration, once per store."""
        key = (configuration.course_run_key, configuration.program_uuid)
        if key not in self._catalog:
            self._catalog[key] = _catalog_facts(configuration)
        return self._catalog[key]

    def read(self, slug: str) -> bytes:
        if slug not in self._cache:
            asset = CredentialAsset.objects.filter(slug=slug).only("file").first()
            if asset is None:
                raise plugins.PluginError(
                    f"No asset {slug!r}: upload it under PDF credentials > Assets.",
                    code=PdfCredentialsErrorCode.UNKNOWN_ASSET,
                    field="options",
                )
            with asset.file.open("rb") as handle:
                self._cache[slug] = handle.read()
        return self._cache[slug]


def _notify(pdf_id: int) -> None:
    pdf = PdfCredential.objects.select_related("configuration", "user").get(pk=pdf_id)
    context = _context(pdf)
    send_mail(
        subject=f"Your credential for {context.title} is ready",
        message=(
            f"Hello {context.learner_name},\n\n"
            f"Your credential for {context.title} is ready: {download_url(pdf)}\n"
            f"Anyone can check it at {context.verification_url}\n"
        ),
        from_email=None,
        recipient_list=[pdf.user.email],
    )
    PdfCredential.objects.filter(pk=pdf_id).update(notified_at=timezone.now())


# --- operator actions ---------------------------------------------------------------------------


def reissue(*, pdf_ids: Sequence[int]) -> list[int]:
    """Generate these PDFs again (new files, the same verification uuids) — for a changed template or a
    corrected name. Invalidated ones are not re-issued. Returns the ids queued."""
    with transaction.atomic():
        ids = list(
            PdfCredential.objects.filter(pk__in=pdf_ids)
            .exclude(status=PdfStatus.INVALIDATED)
            .values_list("pk", flat=True)
        )
        PdfCredential.objects.filter(pk__in=ids).update(
            status=PdfStatus.PENDING, attempts=0, error="", claimed_until=None, modified=timezone.now()
        )
    return ids


def invalidate(*, pdf_ids: Sequence[int], reason: str) -> int:
    """Revoke these PDFs: the link and the verification page say so, the file is deleted after commit,
    and the learner's credential is revoked. Idempotent. Returns how many changed."""
    with transaction.atomic():
        rows = list(
            PdfCredential.objects.filter(pk__in=pdf_ids)
            .exclude(status=PdfStatus.INVALIDATED)
            .values_list("pk", "user_id", "configuration_id")
        )
        lock_learners(user_ids={user_id for _, user_id, _ in rows})
        count = _invalidate([pk for pk, _, _ in rows], reason=reason)
        apply_credential_changes(
            changes=[
                CredentialChange(
                    user_id=user_id,
                    configuration_model=CredentialConfiguration,
                    configuration_id=configuration_id,
                    award=False,
                )
                for _, user_id, configuration_id in rows
            ]
        )
    return count


def _invalidate(ids: Iterable[int], *, reason: str) -> int:
    ids = list(ids)
    if not ids:
        return 0
    files = [name for name in PdfCredential.objects.filter(pk__in=ids).values_list("file_name", flat=True) if name]
    count = PdfCredential.objects.filter(pk__in=ids).update(
        status=PdfStatus.INVALIDATED,
        invalidated_at=timezone.now(),
        invalidation_reason=reason[:255],
        file_name="",
        claimed_until=None,
        modified=timezone.now(),
    )

    def delete_files() -> None:
        storage = pdf_storage()
        for name in files:
            storage.delete(name)

    transaction.on_commit(delete_files, robust=True)
    return count


def list_stuck_pdf_ids(*, limit: int = 1000) -> list[int]:
    """PDFs to generate whose worker is gone (a claim past its time) or that wait for a retry: the sweep
    queues them again, so a crashed generation never stays stuck."""
    now = timezone.now()
    return list(
        PdfCredential.objects.filter(
            Q(status=PdfStatus.GENERATING, claimed_until__lt=now)
            | Q(
                status=PdfStatus.PENDING,
                claimed_until__isnull=True,
                modified__lt=now - datetime.timedelta(seconds=CLAIM_SECONDS),
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def get_pdf_credential(*, verification_uuid: Any) -> PdfCredential:
    """The PDF credential with this verification uuid; raises PdfCredentialsNotFoundError."""
    pdf = (
        PdfCredential.objects.select_related("configuration__credential_type", "user")
        .filter(verification_uuid=verification_uuid)
        .first()
    )
    if pdf is None:
        raise PdfCredentialsNotFoundError("No such credential.", code=PdfCredentialsErrorCode.NOT_FOUND)
    return pdf


def learner_of(pdf: PdfCredential) -> User:
    return pdf.user
