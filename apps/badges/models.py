from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from apps.core.api import TimeStampedModel

from . import rules
from .exceptions import BadgesErrorCode, DataRuleError


def validate_event_type(value: str) -> None:
    """A known openedx-events type that the badge processor is fed (settings.BADGES_EVENT_TYPES)."""
    try:
        rules.get_signal(value)
    except DataRuleError as error:
        raise ValidationError(error.message, code=error.code.value) from None
    if value not in settings.BADGES_EVENT_TYPES:
        raise ValidationError(
            f"{value} is not fed to the badge processor: add it to BADGES_EVENT_TYPES "
            f"(now {', '.join(settings.BADGES_EVENT_TYPES)}).",
            code=BadgesErrorCode.NOT_FED.value,
        )


class TemplateOrigin(models.TextChoices):
    NATIVE = "native", "Native (issued here)"
    CREDLY = "credly", "Credly"
    ACCREDIBLE = "accredible", "Accredible"


class TemplateState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class BadgeTemplate(TimeStampedModel):
    """A configured badge: what learners are awarded once every requirement group is satisfied.
    Only an active template is processed; `services.activate_badge_template` changes the state."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    origin = models.CharField(max_length=16, choices=TemplateOrigin.choices, default=TemplateOrigin.NATIVE)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    image = models.FileField(upload_to="badge_templates/", blank=True)
    image_link = models.URLField(
        max_length=500, blank=True, help_text="An image elsewhere (the issuing service's), used when none is uploaded."
    )
    course_run_key = models.CharField(
        max_length=255, blank=True, help_text="Only events of this course run count; empty means any."
    )
    organization_key = models.CharField(
        max_length=255, blank=True, help_text="Only events of this organization's courses count; empty means any."
    )
    state = models.CharField(max_length=16, choices=TemplateState.choices, default=TemplateState.DRAFT)
    is_revocable = models.BooleanField(
        default=True, help_text="A penalty that un-fulfils a requirement revokes an awarded badge."
    )

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["state"], name="badges_template_state_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def image_url(self) -> str | None:
        """The image's absolute URL, as events and the API give it; None without an image."""
        if not self.image:
            return self.image_link or None
        url = self.image.url
        # A local storage answers a path on this service; S3 answers an absolute URL already.
        return url if url.startswith(("http://", "https://")) else f"{settings.CREDENTIALS_PUBLIC_URL}{url}"

    def clean(self) -> None:
        if self.course_run_key:
            try:
                CourseKey.from_string(self.course_run_key)
            except InvalidKeyError:
                raise ValidationError(
                    {"course_run_key": f"{self.course_run_key!r} is not a course run key."}, code="invalid"
                ) from None


class BadgeRequirement(TimeStampedModel):
    """One event a template listens for, with the data rules its payload must match. A template is
    complete when every group is satisfied; a group is satisfied by any one of its requirements."""

    template = models.ForeignKey(BadgeTemplate, on_delete=models.CASCADE, related_name="requirements")
    event_type = models.CharField(
        max_length=255,
        validators=[validate_event_type],
        help_text="The openedx-events event type, e.g. org.openedx.learning.course.passing.status.updated.v1.",
    )
    description = models.TextField(blank=True)
    group = models.CharField(
        max_length=64,
        blank=True,
        help_text="Requirements sharing a group are alternatives (any one will do); every group is needed. "
        "Empty: a group of its own.",
    )

    class Meta:
        ordering = ["template", "group", "pk"]
        indexes = [models.Index(fields=["event_type"], name="badges_requirement_event_idx")]

    def __str__(self) -> str:
        return f"{self.template}: {self.description or self.event_type}"

    def clean(self) -> None:
        _check_rules_still_apply(self, self.event_type)


class BadgePenalty(TimeStampedModel):
    """An event that, when its data rules match, un-fulfils the named requirements of its template."""

    template = models.ForeignKey(BadgeTemplate, on_delete=models.CASCADE, related_name="penalties")
    event_type = models.CharField(
        max_length=255, validators=[validate_event_type], help_text="The openedx-events event type."
    )
    description = models.TextField(blank=True)
    requirements = models.ManyToManyField(
        BadgeRequirement, blank=True, related_name="penalties", help_text="The requirements this penalty resets."
    )

    class Meta:
        verbose_name_plural = "badge penalties"
        ordering = ["template", "pk"]
        indexes = [models.Index(fields=["event_type"], name="badges_penalty_event_idx")]

    def __str__(self) -> str:
        return f"{self.template}: penalty {self.description or self.event_type}"

    def clean(self) -> None:
        _check_rules_still_apply(self, self.event_type)


def _check_rules_still_apply(owner: BadgeRequirement | BadgePenalty, event_type: str) -> None:
    """A saved owner whose event type changes keeps only rules whose paths the new type has."""
    if owner.pk is None:
        return
    try:
        paths = rules.payload_paths(event_type)
    except DataRuleError:
        return  # the field's validator reports it
    stale = sorted({path for path in owner.rules.values_list("data_path", flat=True) if path not in paths})
    if stale:
        raise ValidationError(
            {"event_type": f"Its data rules name paths this event type does not have: {', '.join(stale)}."},
            code="invalid",
        )


OPERATOR_CHOICES = [(op.value, rules.OPERATOR_LABELS[op]) for op in rules.Operator]


class DataRule(TimeStampedModel):
    """A condition on one field of an event's data; it belongs to one requirement or one penalty."""

    requirement = models.ForeignKey(
        BadgeRequirement, null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    penalty = models.ForeignKey(BadgePenalty, null=True, blank=True, on_delete=models.CASCADE, related_name="rules")
    data_path = models.CharField(max_length=255, help_text="e.g. course_passing_status.is_passing")
    operator = models.CharField(max_length=16, choices=OPERATOR_CHOICES, default=rules.Operator.EQ.value)
    value = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Written for the field's type: true/false, a number, an ISO 8601 datetime with offset, a course "
        "key, text. A comma-separated list for 'in' and 'not in'; nothing for 'exists'.",
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(requirement__isnull=False, penalty__isnull=True)
                | models.Q(requirement__isnull=True, penalty__isnull=False),
                name="badges_data_rule_exactly_one_owner",
                violation_error_message="A data rule belongs to exactly one requirement or one penalty.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.data_path} {self.operator} {self.value}".strip()

    @property
    def owner(self) -> BadgeRequirement | BadgePenalty | None:
        # The attribute (not the id) so that an unsaved owner from an admin inline counts.
        return self.requirement or self.penalty

    def clean(self) -> None:
        if (self.requirement is None) == (self.penalty is None):
            raise ValidationError("A data rule belongs to exactly one requirement or one penalty.", code="owner")
        owner = self.owner
        assert owner is not None
        try:
            paths = rules.payload_paths(owner.event_type)
        except DataRuleError:
            return  # the owner's form reports its event type
        if self.data_path not in paths:
            raise ValidationError(
                {
                    "data_path": f"{self.data_path!r} is not in the data of {owner.event_type}. "
                    f"Valid paths: {', '.join(paths)}."
                },
                code="invalid",
            )
        try:
            rules.parse_value(paths[self.data_path], self.operator, self.value)
        except DataRuleError as error:
            raise ValidationError({error.field or "value": error.message}, code=error.code.value) from None

    def matches(self, payload: object) -> bool:
        """Whether an event's data matches this rule; raises DataRuleError when the rule no longer
        fits its owner's event type or the payload's shape."""
        owner = self.owner
        assert owner is not None
        paths = rules.payload_paths(owner.event_type)
        if self.data_path not in paths:
            raise DataRuleError(
                f"{self.data_path!r} is not in the data of {owner.event_type}.",
                code=BadgesErrorCode.TYPE_MISMATCH,
                field="data_path",
            )
        value = rules.parse_value(paths[self.data_path], self.operator, self.value)
        return rules.evaluate(self.data_path, self.operator, value, payload)


class BadgeProgress(TimeStampedModel):
    """One learner's progress towards one template: the parent of their fulfillments."""

    template = models.ForeignKey(BadgeTemplate, on_delete=models.PROTECT, related_name="progress")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="badge_progress")

    class Meta:
        verbose_name_plural = "badge progress"
        ordering = ["-modified"]
        constraints = [
            models.UniqueConstraint(fields=["template", "user"], name="badges_one_progress_per_learner_and_template")
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.template}"


class Fulfillment(models.Model):
    """A requirement a learner has fulfilled (a fact recorded from an event)."""

    progress = models.ForeignKey(BadgeProgress, on_delete=models.CASCADE, related_name="fulfillments")
    requirement = models.ForeignKey(BadgeRequirement, on_delete=models.CASCADE, related_name="fulfillments")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["progress", "requirement"], name="badges_one_fulfillment_per_progress_and_requirement"
            )
        ]

    def __str__(self) -> str:
        return f"{self.progress}: {self.requirement_id}"
