from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.core.api import TimeStampedModel


class ProgramRecordShare(TimeStampedModel):
    """A public link to one learner's record in one program. The uuid is the link's secret token, so
    it is random (uuid4) and never derived from the learner or the program."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="program_record_shares")
    program = models.ForeignKey("catalog.Program", on_delete=models.CASCADE, related_name="record_shares")
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the learner withdrew the link; a revoked link shows nothing."
    )

    class Meta:
        ordering = ["-created"]
        constraints = [
            # Sharing again hands back the live link rather than minting a second one to track.
            models.UniqueConstraint(
                fields=["user", "program"],
                condition=models.Q(revoked_at__isnull=True),
                name="records_one_active_share_per_learner_and_program",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} / program {self.program_id} ({'revoked' if self.revoked_at else 'active'})"
