from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from apps.core.api import TimeStampedModel


def validate_course_run_key(value: str) -> None:
    try:
        CourseKey.from_string(value)
    except InvalidKeyError:
        raise ValidationError(
            f"{value!r} is not a course run key (course-v1:Org+Course+Run).", code="invalid"
        ) from None


class Organization(TimeStampedModel):
    uuid = models.UUIDField(unique=True, default=uuid.uuid4)
    key = models.CharField(max_length=255, unique=True, help_text="Short name, e.g. MITx.")
    name = models.CharField(max_length=255)
    certificate_logo_image_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class Course(TimeStampedModel):
    uuid = models.UUIDField(unique=True, default=uuid.uuid4)
    key = models.CharField(max_length=255, unique=True, help_text="Org+Number, e.g. MITx+6.002x.")
    title = models.CharField(max_length=255)
    owners = models.ManyToManyField(Organization, blank=True, related_name="courses")

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"


class PacingType(models.TextChoices):
    INSTRUCTOR_PACED = "instructor_paced", "Instructor-paced"
    SELF_PACED = "self_paced", "Self-paced"


class CourseRun(TimeStampedModel):
    uuid = models.UUIDField(unique=True, null=True, blank=True)
    key = models.CharField(max_length=255, unique=True, validators=[validate_course_run_key])
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="course_runs")
    title = models.CharField(max_length=255, blank=True, help_text="Empty means the course's title.")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    pacing_type = models.CharField(max_length=32, choices=PacingType.choices, default=PacingType.INSTRUCTOR_PACED)
    certificate_available_date = models.DateTimeField(
        null=True, blank=True, help_text="When certificates of an instructor-paced run become visible."
    )
    certificate_available_date_from_lms = models.BooleanField(
        default=False,
        help_text="The LMS set the certificate available date (its course certificate configuration): "
        "none then means certificates are visible once awarded, not from the run's end.",
    )
    lms_last_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The LMS's time of the last catalog event applied to this run."
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def display_title(self) -> str:
        return self.title or self.course.title


class ProgramStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    UNPUBLISHED = "unpublished", "Unpublished"
    DELETED = "deleted", "Deleted"


class Program(TimeStampedModel):
    uuid = models.UUIDField(unique=True, default=uuid.uuid4)
    title = models.CharField(max_length=255)
    type = models.CharField(max_length=64, help_text="Program type name, e.g. MicroMasters.")
    type_slug = models.SlugField(max_length=64, help_text="Program type slug, e.g. micromasters.")
    status = models.CharField(max_length=16, choices=ProgramStatus.choices, default=ProgramStatus.ACTIVE)
    authoring_organizations = models.ManyToManyField(Organization, blank=True, related_name="programs")
    courses = models.ManyToManyField(Course, through="ProgramCourse", related_name="programs")

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ProgramCourse(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="program_courses")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="program_courses")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["program", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["program", "course"], name="catalog_program_course_unique")]

    def __str__(self) -> str:
        return f"{self.program} / {self.course.key}"
