from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class TimeStampedModel(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class User(AbstractUser):
    """A person known to the service: a learner, an operator or a service account.

    Events name learners by LMS user id, and a grade event carries nothing else, so a user may exist
    with only `lms_user_id` and get a username later (`core.api.get_or_create_learner`). Hence the
    username is nullable; several NULLs do not clash with its unique index.
    """

    # Nullable on purpose (see above); AbstractUser's stubs declare a non-null username.
    username = models.CharField(  # type: ignore[assignment]
        max_length=150,
        unique=True,
        null=True,
        blank=True,
        help_text="The LMS username. Empty while only the LMS user id is known.",
    )
    lms_user_id = models.PositiveBigIntegerField(
        "LMS user id", unique=True, null=True, blank=True, help_text="The user's id in the LMS."
    )
    full_name = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "core_user"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(username__isnull=False) | models.Q(lms_user_id__isnull=False),
                name="core_user_has_username_or_lms_id",
            )
        ]

    def __str__(self) -> str:
        return self.username or f"lms-user-{self.lms_user_id}"

    def get_full_name(self) -> str:
        return self.full_name or super().get_full_name() or str(self)
