from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.api import TimeStampedModel


class CertificateMode(models.TextChoices):
    """Course modes whose certificates the LMS issues (its CourseMode slugs)."""

    AUDIT = "audit", "Audit"
    HONOR = "honor", "Honor"
    VERIFIED = "verified", "Verified"
    PROFESSIONAL = "professional", "Professional"
    NO_ID_PROFESSIONAL = "no-id-professional", "Professional (no ID)"
    MASTERS = "masters", "Master's"
    EXECUTIVE_EDUCATION = "executive-education", "Executive education"
    PAID_EXECUTIVE_EDUCATION = "paid-executive-education", "Paid executive education"
    CREDIT = "credit", "Credit"
    PAID_BOOTCAMP = "paid-bootcamp", "Paid bootcamp"
    UNPAID_EXECUTIVE_EDUCATION = "unpaid-executive-education", "Unpaid executive education"
    UNPAID_BOOTCAMP = "unpaid-bootcamp", "Unpaid bootcamp"


class Signatory(TimeStampedModel):
    name = models.CharField(max_length=255)
    title = models.CharField(max_length=255)
    organization_name_override = models.CharField(max_length=255, blank=True)
    image = models.FileField(upload_to="signatories/", blank=True)

    class Meta:
        verbose_name_plural = "signatories"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}, {self.title}"


class CourseCertificate(TimeStampedModel):
    """A course run's certificate in one mode: what a course-certificate UserCredential points at."""

    course_run = models.ForeignKey("catalog.CourseRun", on_delete=models.PROTECT, related_name="certificates")
    certificate_type = models.CharField("mode", max_length=32, choices=CertificateMode.choices)
    title = models.CharField(max_length=255, blank=True, help_text="Empty means the course run's title.")
    signatories = models.ManyToManyField(Signatory, blank=True)
    is_active = models.BooleanField(default=True)
    lms_last_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The LMS's time of the last configuration event applied."
    )
    user_credentials = GenericRelation(
        "UserCredential", content_type_field="credential_content_type", object_id_field="credential_id"
    )

    class Meta:
        ordering = ["course_run__key", "certificate_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["course_run", "certificate_type"], name="credentials_course_certificate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.course_run.key} ({self.certificate_type})"


class ProgramCertificate(TimeStampedModel):
    """A program's certificate: what a program-certificate UserCredential points at."""

    program = models.OneToOneField("catalog.Program", on_delete=models.PROTECT, related_name="certificate")
    is_active = models.BooleanField(default=True, help_text="Inactive: learners who complete the program get nothing.")
    is_revocation_enabled = models.BooleanField(
        default=False,
        help_text="Revoke a learner's program certificate when a course certificate it needs is revoked.",
    )
    title_override = models.CharField(max_length=255, blank=True, help_text="Shown instead of the program's title.")
    certificate_available_date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Program certificates are not visible before this date, whenever the courses were completed.",
    )
    signatories = models.ManyToManyField(Signatory, blank=True)
    user_credentials = GenericRelation(
        "UserCredential", content_type_field="credential_content_type", object_id_field="credential_id"
    )

    class Meta:
        ordering = ["program__title"]

    def __str__(self) -> str:
        return self.title_override or self.program.title


class ProgramTypeConfiguration(TimeStampedModel):
    """Which course certificate modes count towards the program certificates of one program type.
    Program types without a row use the PROGRAM_CERTIFICATE_ELIGIBLE_MODES setting."""

    type_slug = models.SlugField(
        max_length=64, unique=True, help_text="The catalog's program type slug, e.g. micromasters."
    )
    eligible_modes = models.JSONField(
        default=list,
        help_text="Course certificate modes that count. Run recompute_program_certificates after a change.",
    )

    class Meta:
        ordering = ["type_slug"]

    def __str__(self) -> str:
        return self.type_slug

    def clean(self) -> None:
        unknown = sorted(set(self.eligible_modes or []) - set(CertificateMode.values))
        if unknown:
            raise ValidationError({"eligible_modes": f"Unknown modes: {', '.join(unknown)}."}, code="invalid")
        if not self.eligible_modes:
            raise ValidationError({"eligible_modes": "Choose at least one mode."}, code="required")


class CredentialStatus(models.TextChoices):
    AWARDED = "awarded", "Awarded"
    REVOKED = "revoked", "Revoked"


class UserCredential(TimeStampedModel):
    """One credential of one learner. Which credential it is is a generic relation, so later kinds
    (badges, PDF credentials) live in their own apps; the unique constraint keeps one per learner
    per configuration."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials")
    credential_content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    credential_id = models.PositiveBigIntegerField()
    credential = GenericForeignKey("credential_content_type", "credential_id")
    status = models.CharField(max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.AWARDED)
    download_url = models.URLField(max_length=500, blank=True)
    visible_date = models.DateTimeField(
        null=True, blank=True, help_text="Hidden from the learner's public views before this."
    )
    awarded_at = models.DateTimeField(null=True, blank=True, help_text="When it was last awarded.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    date_override = models.DateTimeField(
        null=True, blank=True, help_text="The issue date the LMS set for this certificate, shown instead of the award."
    )

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "credential_content_type", "credential_id"],
                name="credentials_one_per_learner_and_credential",
            )
        ]
        indexes = [
            models.Index(fields=["credential_content_type", "credential_id"], name="credentials_uc_credential_idx"),
            models.Index(fields=["user", "status"], name="credentials_uc_user_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.credential_content_type.model} {self.credential_id} ({self.status})"


class UserGrade(TimeStampedModel):
    """A learner's grade in one course run, as the LMS last reported it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grades")
    course_run = models.ForeignKey("catalog.CourseRun", on_delete=models.PROTECT, related_name="grades")
    letter_grade = models.CharField(max_length=32, blank=True)
    percent_grade = models.DecimalField(
        max_digits=5, decimal_places=4, validators=[MinValueValidator(0), MaxValueValidator(1)], help_text="0 to 1."
    )
    passed = models.BooleanField(default=False)
    passed_timestamp = models.DateTimeField(null=True, blank=True, help_text="When the learner first passed.")
    lms_last_updated_at = models.DateTimeField(null=True, blank=True, help_text="The LMS's time of this grade.")
    verified = models.BooleanField(default=True, help_text="Earned in a verified track, as the LMS reports it.")

    class Meta:
        ordering = ["course_run__key"]
        constraints = [
            models.UniqueConstraint(fields=["user", "course_run"], name="credentials_one_grade_per_learner_and_run"),
            models.CheckConstraint(
                condition=models.Q(percent_grade__gte=0, percent_grade__lte=1), name="credentials_grade_percent_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.course_run_id}: {self.percent_grade}"


class UserCredentialAttribute(TimeStampedModel):
    """A named value the LMS attached to a credential (the v2 API's `attributes`, e.g. visible_date or
    whitelist_reason). Kept as sent. Visibility follows the run's certificate available date (as the
    original has since 2021), so a visible_date posted by the LMS is data only; the importer, which has
    nothing better, takes it as the credential's visible date."""

    user_credential = models.ForeignKey(UserCredential, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=255)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user_credential", "name"], name="credentials_attribute_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class CredentialImport(TimeStampedModel):
    """An import from an existing credentials service (import_credentials): how far it got, so an
    interrupted import resumes at the page it stopped on, and what it did."""

    source_url = models.URLField(
        max_length=500, unique=True, help_text="The source's API root, e.g. https://credentials.example.com."
    )
    next_page = models.PositiveIntegerField(default=1, help_text="The first page not yet imported.")
    total = models.PositiveIntegerField(null=True, blank=True, help_text="How many credentials the source reported.")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    grades_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-modified"]

    def __str__(self) -> str:
        return self.source_url


class CredentialImportSkip(TimeStampedModel):
    """A source credential the import could not take (unknown course run or program, bad data), with
    why, for an operator to fix and import again."""

    credential_import = models.ForeignKey(CredentialImport, on_delete=models.CASCADE, related_name="skips")
    source_uuid = models.UUIDField()
    username = models.CharField(max_length=255, blank=True)
    reason = models.TextField()
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["credential_import", "source_uuid"], name="credentials_import_skip_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source_uuid}: {self.reason}"
