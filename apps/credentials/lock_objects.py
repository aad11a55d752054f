"""Row locks for updates that can race. Always lock in primary-key order to avoid deadlocks."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

from .models import UserCredential


def lock_user_credential(*, user_id: int, configuration: Model) -> UserCredential | None:
    """Lock and return the learner's credential for this configuration, or None if there is none yet."""
    content_type = ContentType.objects.get_for_model(configuration)
    return (
        UserCredential.objects.select_for_update()
        .filter(user_id=user_id, credential_content_type=content_type, credential_id=configuration.pk)
        .first()
    )
