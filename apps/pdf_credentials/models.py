from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django_celery_beat.models import PeriodicTask

from apps.core.api import TimeStampedModel


class AssetKind(models.TextChoices):
    TEMPLATE = "template", "PDF template"
    FONT = "font", "TrueType font"
    IMAGE = "image", "Image"


class CredentialAsset(TimeStampedModel):
    """A file generators use (a template PDF, a TTF font, an image), named in options by its slug."""

    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=AssetKind.choices)
    file = models.FileField(upload_to="pdf_credentials/assets/")
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class CredentialType(TimeStampedModel):
    """A kind of PDF credential: the processor that finds eligible learners and the generator that draws
    the PDF (dotted paths), with default options for both."""

    name = models.CharField(max_length=255, unique=True)
    processor = models.CharField(
        max_length=255, help_text="Dotted path, e.g. apps.pdf_credentials.processors.passing_grade"
    )
    generator = models.CharField(
        max_length=255, help_text="Dotted path, e.g. apps.pdf_credentials.generators.overlay_generator"
    )
    options = models.JSONField(default=dict, blank=True, help_text="Defaults; a configuration's options override them.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CredentialConfiguration(TimeStampedModel):
    """One course run's or program's PDF credential: a type, option overrides, and the schedule its
    celery-beat task runs on (kept in step by `services.sync_periodic_task`, never by save())."""

    credential_type = models.ForeignKey(CredentialType, on_delete=models.PROTECT, related_name="configurations")
    course_run_key = models.CharField(max_length=255, blank=True)
    program_uuid = models.UUIDField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True, help_text="Printed title; empty: the course's or program's.")
    options = models.JSONField(default=dict, blank=True, help_text="Merged over the type's options.")
    schedule = models.CharField(
        max_length=100,
        default="0 3 * * *",
        help_text="When it runs, as a crontab in UTC: minute hour day-of-month month day-of-week.",
    )
    is_enabled = models.BooleanField(default=True)
    notify_learners = models.BooleanField(default=True, help_text="Email learners their link when a PDF is ready.")
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["course_run_key", "program_uuid"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(program_uuid__isnull=True) & ~models.Q(course_run_key=""))
                | (models.Q(program_uuid__isnull=False) & models.Q(course_run_key="")),
                name="pdf_configuration_one_scope",
                violation_error_message="Name a course run or a program, not both.",
            ),
            models.UniqueConstraint(
                fields=["credential_type", "course_run_key", "program_uuid"],
                name="pdf_one_configuration_per_type_and_scope",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.credential_type}: {self.course_run_key or self.program_uuid}"

    def merged_options(self) -> dict[str, Any]:
        return {**self.credential_type.options, **self.options}


class PdfStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    GENERATING = "generating", "Generating"
    GENERATED = "generated", "Generated"
    FAILED = "failed", "Failed"
    INVALIDATED = "invalidated", "Invalidated"


class PdfCredential(TimeStampedModel):
    """One learner's PDF of one configuration. The verification uuid names its public page and
    permanent link and survives re-issues."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pdf_credentials")
    configuration = models.ForeignKey(CredentialConfiguration, on_delete=models.PROTECT, related_name="credentials")
    verification_uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=PdfStatus.choices, default=PdfStatus.PENDING)
    file_name = models.CharField(max_length=500, blank=True, help_text="The PDF in the PDF storage.")
    learner_name = models.CharField(max_length=255, blank=True, help_text="As printed.")
    issued_on = models.DateField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A worker is generating it until then.")
    # Set with claimed_until by the generation that claims the row, fresh for each claim: that worker
    # reads back, and records, exactly the rows it holds (see services.generate_chunk).
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    generated_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidation_reason = models.CharField(max_length=255, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-modified"]
        constraints = [models.UniqueConstraint(fields=["user", "configuration"], name="pdf_one_credential_per_learner")]
        indexes = [models.Index(fields=["status", "claimed_until"], name="pdf_credential_status_idx")]

    def __str__(self) -> str:
        return f"{self.user} / {self.configuration_id} ({self.status})"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class GenerationRun(TimeStampedModel):
    """One run of a configuration (scheduled or "run now"): what it found and how far generation got."""

    configuration = models.ForeignKey(CredentialConfiguration, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    eligible = models.PositiveIntegerField(default=0)
    to_generate = models.PositiveIntegerField(default=0)
    generated = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    invalidated = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.configuration} run {self.pk} ({self.status})"

    @property
    def progress(self) -> str:
        done = self.generated + self.failed
        return f"{done}/{self.to_generate}" if self.to_generate else "-"
