"""Celery tasks of badge issuing: ids in, one service call, the retry policy here (R11)."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from apps.badges.issuers import IssuerError

from . import services
from .exceptions import IssuingError
from .models import IssuerOrganization

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8, acks_late=True)
def sync_external_badge_task(self, badge_id: int) -> None:  # type: ignore[no-untyped-def]
    """Issue or revoke one badge on its service. A retryable failure is retried after the service's
    backoff; once retries run out the beat sweep (`sync_due_external_badges_task`) keeps trying."""
    outcome = services.sync_external_badge(badge_id=badge_id)
    if outcome.retry_in is not None and self.request.retries < self.max_retries and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)


@shared_task
def sync_due_external_badges_task() -> int:
    """The sweep: queue every badge that is due (a lost task, a worker that died, retries run out)."""
    ids = services.list_due_badge_ids()
    for badge_id in ids:
        sync_external_badge_task.delay(badge_id)
    return len(ids)


@shared_task
def sync_issuer_templates_task(organization_id: int | None = None) -> None:
    """Sync one organization's templates, or every active one's (the beat schedule): there, one
    organization the service refuses (or whose token cannot be decrypted) is logged and skipped, so it
    does not hold back the others."""
    if organization_id is not None:
        services.sync_templates(organization_id=organization_id)
        return
    for pk in IssuerOrganization.objects.filter(is_active=True).values_list("pk", flat=True):
        try:
            services.sync_templates(organization_id=pk)
        except (IssuerError, IssuingError) as error:
            log.warning("Template sync of issuer organization %s failed: %s", pk, error)


@shared_task(bind=True, max_retries=8, acks_late=True)
def apply_issuer_webhook_task(  # type: ignore[no-untyped-def]
    self, organization_uuid: str, event_type: str, object_id: str
) -> None:
    """Apply a webhook (`object_id` is the event's id; `event_type` is only the body's claim). The view
    answered the service at once, so the service will not send it again:
    a failure retrying can fix (5xx, timeout, 429) is retried here, after the service's Retry-After
    or an exponential backoff."""
    try:
        result = services.apply_webhook(
            organization_uuid=uuid.UUID(organization_uuid), event_type=event_type, object_id=object_id
        )
    except IssuerError as error:
        if not error.retryable:
            raise
        countdown = error.retry_after or services.BACKOFF_BASE_SECONDS * 2**self.request.retries
        raise self.retry(exc=error, countdown=min(countdown, services.BACKOFF_MAX_SECONDS)) from error
    log.info("Webhook %s %s for %s: %s", event_type, object_id, organization_uuid, result)
