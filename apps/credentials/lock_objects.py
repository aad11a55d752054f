"""Row locks for updates that can race. Always lock in primary-key order to avoid deadlocks.

Lock order for a learner's credentials: the learner's user row first, then their credential rows.
Every award and revocation takes the learner's lock, so two events for one learner (two course
certificates completing one program) are decided one after the other, and the second sees the first.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

from apps.core.api import User, lock_learner

from .models import UserCredential


def lock_learner_credentials(*, user_id: int) -> User:
    """Lock the learner (their user row) until the transaction ends; take it before any credential."""
    return lock_learner(user_id=user_id)


def lock_user_credential(*, user_id: int, configuration: Model) -> UserCredential | None:
    """Lock and return the learner's credential for this configuration, or None if there is none yet."""
    content_type = ContentType.objects.get_for_model(configuration)
    return (
        UserCredential.objects.select_for_update()
        .filter(user_id=user_id, credential_content_type=content_type, credential_id=configuration.pk)
        .first()
    )
