"""Row locks for updates that can race. Always lock in primary-key order to avoid deadlocks.

Lock order for a learner's credentials: the learner's user row first, then their credential rows.
Every award and revocation takes the learner's lock, so two events for one learner (two course
certificates completing one program) are decided one after the other, and the second sees the first.
A change that touches many learners at once (a course run's new schedule) locks all of them first,
in pk order, then their credentials, in pk order.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

from apps.core.api import User, lock_learner, lock_learners

from .models import CourseCertificate, UserCredential


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


def lock_learners_credentials(*, user_ids: Iterable[int]) -> list[int]:
    """Lock these learners, in pk order, until the transaction ends; return the ids of those that exist."""
    return lock_learners(user_ids=user_ids)


def lock_credentials(
    *,
    model: type[Model],
    configuration_ids: Iterable[int],
    user_ids: Iterable[int] | None = None,
    status: str | None = None,
) -> list[UserCredential]:
    """Lock and return the credentials of these configurations of `model` (optionally only these
    learners', only in this status), in pk order. Take the learners' locks first."""
    credentials = UserCredential.objects.select_for_update().filter(
        credential_content_type=ContentType.objects.get_for_model(model), credential_id__in=list(configuration_ids)
    )
    if user_ids is not None:
        credentials = credentials.filter(user_id__in=list(user_ids))
    if status is not None:
        credentials = credentials.filter(status=status)
    return list(credentials.order_by("pk"))


def lock_course_certificate(*, course_run_id: int, mode: str) -> CourseCertificate | None:
    """Lock and return the course run's certificate configuration in `mode`, or None if there is none."""
    return (
        CourseCertificate.objects.select_for_update().filter(course_run_id=course_run_id, certificate_type=mode).first()
    )
