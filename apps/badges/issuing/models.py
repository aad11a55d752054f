from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.core.api import TimeStampedModel

from .crypto import decrypt_token, encrypt_token


class IssuerBackend(models.TextChoices):
    CREDLY = "credly", "Credly"
    ACCREDIBLE = "accredible", "Accredible"


class IssuerOrganization(TimeStampedModel):
    """An organization on an issuing service, with the API token that acts for it. The token is stored
    encrypted (crypto.py) and never shown; `api_token` decrypts it for the client."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False, help_text="Names its webhook URL.")
    backend = models.CharField(max_length=16, choices=IssuerBackend.choices)
    external_id = models.CharField(
        max_length=255, help_text="The organization's id on the issuing service (Credly: its uuid)."
    )
    name = models.CharField(max_length=255)
    api_token_encrypted = models.TextField(editable=False)
    is_sandbox = models.BooleanField(default=False, help_text="Use the service's sandbox API.")
    notify_learners = models.BooleanField(
        default=True, help_text="Learners get the issuing service's emails when a badge is awarded or revoked."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive: its badges wait; nothing is sent.")
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["backend", "external_id"], name="issuing_one_organization_per_external_id")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_backend_display()})"

    @property
    def api_token(self) -> str:
        return decrypt_token(self.api_token_encrypted)

    def set_api_token(self, token: str) -> None:
        self.api_token_encrypted = encrypt_token(token)


class ExternalTemplate(TimeStampedModel):
    """Which template of an issuing service a badge template issues: made by the template sync."""

    template = models.OneToOneField("badges.BadgeTemplate", on_delete=models.CASCADE, related_name="external")
    organization = models.ForeignKey(IssuerOrganization, on_delete=models.PROTECT, related_name="templates")
    external_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], name="issuing_one_template_per_external_id")
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.external_id}"


class Wanted(models.TextChoices):
    ISSUED = "issued", "Issued"
    REVOKED = "revoked", "Revoked"


class ExternalState(models.TextChoices):
    QUEUED = "queued", "Queued (not on the issuer yet)"
    PENDING = "pending", "Pending (issued, not accepted yet)"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REVOKED = "revoked", "Revoked"
    ERROR = "error", "Error (needs an operator)"


class ExternalBadge(TimeStampedModel):
    """A learner's badge on an issuing service: what we want it to be (issued or revoked, following our
    badge) and what the service last said it is. `services.sync_external_badge` closes the gap."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_badges")
    template = models.ForeignKey("badges.BadgeTemplate", on_delete=models.PROTECT, related_name="external_badges")
    organization = models.ForeignKey(IssuerOrganization, on_delete=models.PROTECT, related_name="badges")
    credential_uuid = models.UUIDField(help_text="Our badge (the learner's credential).")
    wanted = models.CharField(max_length=16, choices=Wanted.choices, default=Wanted.ISSUED)
    state = models.CharField(max_length=16, choices=ExternalState.choices, default=ExternalState.QUEUED)
    external_id = models.CharField(max_length=255, blank=True, help_text="The badge's id on the issuing service.")
    issued_at = models.DateTimeField(help_text="When we awarded it (sent as the issue date, UTC).")
    revoke_reason = models.CharField(max_length=500, blank=True)
    recipient_first_name = models.CharField(
        max_length=255,
        blank=True,
        help_text="Sent instead of the first name split from the learner's full name when the badge is issued.",
    )
    recipient_last_name = models.CharField(
        max_length=255,
        blank=True,
        help_text="Sent instead of the last name split from the learner's full name when the badge is issued.",
    )
    error = models.TextField(blank=True, help_text="The service's last refusal or failure.")
    attempts = models.PositiveIntegerField(default=0, help_text="Calls that failed since the last success.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the sweep tries again.")
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A worker is talking to the service.")
    # Bumped whenever `wanted` changes: a sync that ran meanwhile sees it and runs again.
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-modified"]
        constraints = [
            models.UniqueConstraint(fields=["user", "template"], name="issuing_one_external_badge_per_learner")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="issuing_badge_due_idx")]

    def __str__(self) -> str:
        return f"{self.user} / {self.template_id}: {self.state} (wanted {self.wanted})"
