"""Writes: issuer organizations, template sync, and keeping learners' badges on the issuing services in
step with ours. Slow I/O never runs inside a transaction (R6): a call to the service happens between
two short transactions, the first claiming the row, the second recording the service's answer."""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.badges.issuers import BadgeRequest, Issuer, IssuerCredentials, IssuerError, IssuerErrorCode, get_issuer
from apps.badges.issuers import ExternalBadge as IssuedBadge
from apps.badges.models import BadgeTemplate, TemplateOrigin, TemplateState
from apps.core.api import User

from .exceptions import IssuingError, IssuingErrorCode
from .models import ExternalBadge, ExternalState, ExternalTemplate, IssuerBackend, IssuerOrganization, Wanted

log = logging.getLogger(__name__)

# A worker talking to the service holds the badge this long at most; a crashed one's claim expires.
CLAIM_SECONDS = 120
# Backoff for retryable failures: 30 s, 1, 2, 4 … minutes, at most an hour between tries.
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
# The service's states that mean the badge exists there and is not revoked.
LIVE = {ExternalState.PENDING, ExternalState.ACCEPTED, ExternalState.REJECTED}


def backend_enabled(backend: str) -> bool:
    return bool(
        (backend == IssuerBackend.CREDLY and settings.CREDLY_ENABLED)
        or (backend == IssuerBackend.ACCREDIBLE and settings.ACCREDIBLE_ENABLED)
    )


def issuer_credentials(organization: IssuerOrganization) -> IssuerCredentials:
    return IssuerCredentials(
        backend=organization.backend,
        organization_id=organization.external_id,
        api_token=organization.api_token,
        sandbox=organization.is_sandbox,
    )


# --- organizations ------------------------------------------------------------------------------


def check_api_token(*, backend: str, external_id: str, api_token: str, is_sandbox: bool) -> None:
    """Ask the service whether the token acts for the organization; raises IssuingError
    (token_refused) with the service's answer otherwise. HTTP: call outside a transaction."""
    credentials = IssuerCredentials(
        backend=backend, organization_id=external_id, api_token=api_token, sandbox=is_sandbox
    )
    with closing(get_issuer(credentials)) as issuer:
        try:
            issuer.check_token()
        except IssuerError as error:
            raise IssuingError(
                f"The {backend} API refused the token for organization {external_id}: {error.message}",
                code=IssuingErrorCode.TOKEN_REFUSED,
                field="api_token",
            ) from None


def token_changed(*, organization_id: int) -> int:
    """After an organization's token changed: put its badges that failed for want of a valid token
    back in the queue. Returns how many."""
    with transaction.atomic():
        ids = list(
            ExternalBadge.objects.filter(
                organization_id=organization_id, state=ExternalState.ERROR, error__startswith="unauthorized:"
            ).values_list("pk", flat=True)
        )
        _requeue(ids)
    return len(ids)


# --- template sync ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    archived: int = 0


def sync_templates(*, organization_id: int) -> SyncResult:
    """Mirror the organization's active templates on the service: create a draft badge template for a
    new one (an operator adds requirements and activates it), update the name, description and image of
    known ones, archive (never delete) those the service no longer lists as active. Other
    organizations' templates are untouched. Idempotent. Raises IssuerError when the service fails."""
    organization = IssuerOrganization.objects.get(pk=organization_id)
    with closing(get_issuer(issuer_credentials(organization))) as issuer:
        remote = {template.id: template for template in issuer.list_templates() if template.is_active}
    created = updated = archived = 0
    with transaction.atomic():
        known = {
            link.external_id: link
            for link in ExternalTemplate.objects.select_related("template")
            .select_for_update()
            .filter(organization=organization)
        }
        for external_id, data in remote.items():
            link = known.get(external_id)
            fields = {"name": data.name[:255], "description": data.description, "image_link": data.image_url or ""}
            if link is None:
                template = BadgeTemplate.objects.create(
                    origin=organization.backend, state=TemplateState.DRAFT, **fields
                )
                ExternalTemplate.objects.create(template=template, organization=organization, external_id=external_id)
                created += 1
                continue
            template = link.template
            changed = {name: value for name, value in fields.items() if getattr(template, name) != value}
            if changed:
                for name, value in changed.items():
                    setattr(template, name, value)
                template.save(update_fields=[*changed, "modified"])
                updated += 1
        for external_id, link in known.items():
            if external_id not in remote and link.template.state != TemplateState.ARCHIVED:
                link.template.state = TemplateState.ARCHIVED
                link.template.save(update_fields=["state", "modified"])
                archived += 1
        IssuerOrganization.objects.filter(pk=organization.pk).update(last_synced_at=timezone.now())
    log.info(
        "Synced %s templates of %s: %d created, %d updated, %d archived",
        organization.backend,
        organization,
        created,
        updated,
        archived,
    )
    return SyncResult(created=created, updated=updated, archived=archived)


# --- following our badges -----------------------------------------------------------------------


def record_badge_change(
    *, credential_uuid: uuid.UUID, template_uuid: uuid.UUID, lms_user_id: int, awarded: bool, at: datetime.datetime
) -> ExternalBadge | None:
    """Our badge of an issuing service's template was awarded or revoked (BADGE_AWARDED/_REVOKED):
    record what the service must now show, and sync it after commit. A native template's badge needs
    nothing (None); one of an inactive organization is recorded and waits until it is active again.
    Re-awarding a revoked badge issues a new one.
    Idempotent. Raises BadgeTemplate.DoesNotExist / User.DoesNotExist for names we do not know."""
    link = (
        ExternalTemplate.objects.select_related("template", "organization").filter(template__uuid=template_uuid).first()
    )
    if link is None or link.template.origin == TemplateOrigin.NATIVE:
        return None
    user = User.objects.get(lms_user_id=lms_user_id)
    wanted = Wanted.ISSUED if awarded else Wanted.REVOKED
    with transaction.atomic():
        badge = ExternalBadge.objects.select_for_update().filter(user=user, template=link.template).first()
        if badge is None:
            if not awarded:
                return None  # never issued there: nothing to revoke
            badge = ExternalBadge.objects.create(
                user=user,
                template=link.template,
                organization=link.organization,
                credential_uuid=credential_uuid,
                issued_at=at,
            )
        elif badge.wanted != wanted:
            badge.wanted = wanted
            badge.version += 1
            update = ["wanted", "version", "modified"]
            if awarded and badge.state in (ExternalState.REVOKED, ExternalState.ERROR) and not _is_live(badge):
                # A new badge on the service: the old one stays revoked there.
                badge.state, badge.external_id, badge.issued_at = ExternalState.QUEUED, "", at
                badge.credential_uuid = credential_uuid
                update += ["state", "external_id", "issued_at", "credential_uuid"]
            if not awarded:
                badge.revoke_reason = "The learner no longer meets the badge's requirements."
                update.append("revoke_reason")
            badge.attempts, badge.error, badge.next_attempt_at = 0, "", None
            badge.save(update_fields=[*update, "attempts", "error", "next_attempt_at"])
        else:
            return badge
        transaction.on_commit(lambda: _enqueue_sync(badge.pk), robust=True)
    return badge


def _is_live(badge: ExternalBadge) -> bool:
    return badge.state in LIVE and bool(badge.external_id)


def needs_sync(badge: ExternalBadge) -> bool:
    """Whether the service does not yet show what we want (and no operator must act first)."""
    if badge.state == ExternalState.ERROR:
        return False
    if badge.wanted == Wanted.ISSUED:
        return badge.state == ExternalState.QUEUED
    return badge.state != ExternalState.REVOKED


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did: `done` when the service now shows what we want; `retry_in` seconds when a
    retryable failure asks for another try; neither when another worker holds the badge or an
    operator must act (state error)."""

    done: bool = False
    retry_in: float | None = None


def sync_external_badge(*, badge_id: int) -> SyncOutcome:
    """Make the service show what we want for this badge: issue it (looking it up first when an
    earlier try may have reached the service), or revoke it with its reason. One HTTP call in the
    usual case. A retryable failure leaves the badge queued with a backoff; a permanent one sets the
    error state with the service's message, for an operator. Safe to call concurrently and again."""
    with _claimed(badge_id) as badge:
        if badge is None:
            return SyncOutcome()
        if not needs_sync(badge):
            return SyncOutcome(done=True)
        organization = badge.organization
        if not organization.is_active or not backend_enabled(organization.backend):
            return _failed(
                badge,
                IssuerError(f"{organization} is inactive or its backend is disabled", IssuerErrorCode.UNAVAILABLE),
            )
        try:
            with closing(get_issuer(issuer_credentials(organization))) as issuer:
                if badge.wanted == Wanted.ISSUED:
                    issued = _issue(issuer, badge)
                else:
                    issued = _revoke(issuer, badge)
        except IssuerError as error:
            return _failed(badge, error)
        except IssuingError as error:  # the token cannot be decrypted
            return _failed(badge, IssuerError(error.message, IssuerErrorCode.UNAUTHORIZED))
        return _succeeded(badge, issued)


def _issue(issuer: Issuer, badge: ExternalBadge) -> IssuedBadge | None:
    template_id = badge.template.external.external_id
    user = badge.user
    if badge.attempts:
        # An earlier call may have reached the service and lost its answer: never issue twice.
        found = issuer.find_badge(template_id=template_id, recipient_email=user.email)
        if found is not None and found.is_live:
            return found
    first, last = split_name(user.full_name or user.username or "")
    return issuer.issue_badge(
        BadgeRequest(
            template_id=template_id,
            recipient_email=user.email,
            first_name=badge.recipient_first_name or first,
            last_name=badge.recipient_last_name or last,
            issued_at=badge.issued_at,
            notify=badge.organization.notify_learners,
        )
    )


def _revoke(issuer: Issuer, badge: ExternalBadge) -> IssuedBadge | None:
    external_id = badge.external_id
    if not external_id:
        found = issuer.find_badge(template_id=badge.template.external.external_id, recipient_email=badge.user.email)
        if found is None or not found.is_live:
            return None  # never reached the service: nothing to revoke there
        external_id = found.id
    return issuer.revoke_badge(external_id, reason=badge.revoke_reason, notify=badge.organization.notify_learners)


def split_name(full_name: str) -> tuple[str, str]:
    """First and last name for the service, from one full name: the last word is the last name."""
    words = full_name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        # Credly requires issued_to_last_name and refuses the badge (422) without one; a learner known
        # by one name (or only by a username) is given it as both. ExternalBadge's recipient name
        # fields let an operator send something else.
        return words[0], words[0]
    return " ".join(words[:-1]), words[-1]


def set_recipient_name(*, badge_id: int, first_name: str, last_name: str) -> ExternalBadge:
    """An operator's names for the learner on the service, sent instead of those split from the
    learner's full name when the badge is next issued (blank: the split one). A badge already on the
    service keeps the name it was issued with. Only these fields are written: a worker may be
    recording the service's answer for this badge at the same time."""
    with transaction.atomic():
        ExternalBadge.objects.filter(pk=badge_id).update(
            recipient_first_name=first_name.strip(), recipient_last_name=last_name.strip(), modified=timezone.now()
        )
        return ExternalBadge.objects.get(pk=badge_id)


@contextmanager
def _claimed(badge_id: int) -> Iterator[ExternalBadge | None]:
    """Hold the badge for one worker while it talks to the service (a conditional update, so two
    workers never issue one badge twice); release it afterwards, whatever happened."""
    now = timezone.now()
    until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
    claimed = ExternalBadge.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=badge_id
    ).update(claimed_until=until)
    if not claimed:
        yield None
        return
    try:
        yield ExternalBadge.objects.select_related("organization", "template__external", "user").get(pk=badge_id)
    finally:
        # Our claim only: _succeeded may have released it already and another worker claimed it since.
        ExternalBadge.objects.filter(pk=badge_id, claimed_until=until).update(claimed_until=None)


def _succeeded(badge: ExternalBadge, issued: IssuedBadge | None) -> SyncOutcome:
    """Record the service's answer. When what we want changed meanwhile (version), sync again."""
    with transaction.atomic():
        current = ExternalBadge.objects.select_for_update().get(pk=badge.pk)
        if issued is None:
            current.state = ExternalState.REVOKED if badge.wanted == Wanted.REVOKED else ExternalState.QUEUED
        else:
            current.state = ExternalState(issued.state)
            current.external_id = issued.id
        if current.wanted == Wanted.ISSUED and current.state == ExternalState.REVOKED:
            # Awarded again while we were revoking it: a new badge on the service, as record_badge_change
            # would have queued had the revocation been done before.
            current.state, current.external_id = ExternalState.QUEUED, ""
        current.attempts, current.error, current.next_attempt_at = 0, "", None
        if current.claimed_until == badge.claimed_until:
            # The claim ends with the answer recorded, so that the sync queued below can take it.
            current.claimed_until = None
        current.save(
            update_fields=["state", "external_id", "attempts", "error", "next_attempt_at", "claimed_until", "modified"]
        )
        again = current.version != badge.version and needs_sync(current)
        if again:
            transaction.on_commit(lambda: _enqueue_sync(current.pk), robust=True)
    return SyncOutcome(done=not again)


def _failed(badge: ExternalBadge, error: IssuerError) -> SyncOutcome:
    attempts = badge.attempts + 1
    message = f"{error.code.value}: {error.message}"
    if not error.retryable:
        ExternalBadge.objects.filter(pk=badge.pk).update(
            state=ExternalState.ERROR, error=message, attempts=attempts, next_attempt_at=None, modified=timezone.now()
        )
        log.warning("Badge %s on %s failed for good: %s", badge.pk, badge.organization, message)
        return SyncOutcome()
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    delay = max(delay, error.retry_after or 0)
    ExternalBadge.objects.filter(pk=badge.pk).update(
        error=message,
        attempts=attempts,
        next_attempt_at=timezone.now() + datetime.timedelta(seconds=delay),
        modified=timezone.now(),
    )
    log.info("Badge %s on %s: %s; retrying in %.0f s", badge.pk, badge.organization, message, delay)
    return SyncOutcome(retry_in=delay)


def retry_external_badges(*, badge_ids: list[int]) -> int:
    """An operator's retry: badges in the error state go back in the queue (attempts reset). Returns
    how many."""
    with transaction.atomic():
        ids = list(
            ExternalBadge.objects.filter(pk__in=badge_ids, state=ExternalState.ERROR).values_list("pk", flat=True)
        )
        _requeue(ids)
    return len(ids)


def _requeue(ids: list[int]) -> None:
    if not ids:
        return
    # The state goes back to what the service last showed: queued when it never had the badge.
    ExternalBadge.objects.filter(pk__in=ids, external_id="").update(state=ExternalState.QUEUED)
    ExternalBadge.objects.filter(pk__in=ids).exclude(external_id="").update(state=ExternalState.PENDING)
    ExternalBadge.objects.filter(pk__in=ids).update(
        attempts=0, error="", next_attempt_at=None, version=F("version") + 1
    )

    def enqueue() -> None:
        for pk in ids:
            _enqueue_sync(pk)

    transaction.on_commit(enqueue, robust=True)


def list_due_badge_ids(*, limit: int = 1000) -> list[int]:
    """Badges whose service does not show what we want, not held by a worker, and due (never tried
    or past their backoff): what the beat sweep re-queues, so nothing is lost when a task is."""
    now = timezone.now()
    return list(
        ExternalBadge.objects.exclude(state=ExternalState.ERROR)
        .filter(
            Q(wanted=Wanted.ISSUED, state=ExternalState.QUEUED)
            | (Q(wanted=Wanted.REVOKED) & ~Q(state=ExternalState.REVOKED)),
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- webhooks -----------------------------------------------------------------------------------


def apply_webhook(*, organization_uuid: uuid.UUID, event_type: str, object_id: str) -> str:
    """A service's webhook named an event (`object_id` is the event's id; `event_type` is what the
    unsigned body claims, only logged): fetch the event from the service with the organization's token
    and trust only that. A badge event: fetch the badge now and apply its state; a template event:
    sync the organization's templates. Unknown organizations, events the organization does not have,
    badges we did not issue and replays change nothing. Returns what was done, for the log."""
    organization = IssuerOrganization.objects.filter(uuid=organization_uuid, is_active=True).first()
    if organization is None:
        return "unknown organization"
    with closing(get_issuer(issuer_credentials(organization))) as issuer:
        try:
            event = issuer.get_event(object_id)
        except IssuerError as error:
            if error.code in (IssuerErrorCode.NOT_FOUND, IssuerErrorCode.UNSUPPORTED):
                return f"event not followed: {error.code.value}"
            raise
        if event.event_type != event_type:
            log.info("Webhook claimed %s for event %s; the service says %s", event_type, event.id, event.event_type)
        if event.event_type.startswith("badge_template.") and event.template_id is not None:
            sync_templates(organization_id=organization.pk)
            return "templates synced"
        if not (event.event_type.startswith("badge.") and event.badge_id is not None):
            return f"{event.event_type} ignored"
        badge = ExternalBadge.objects.filter(organization=organization, external_id=event.badge_id).first()
        if badge is None:
            return "unknown badge"
        issued = issuer.get_badge(event.badge_id)
    with transaction.atomic():
        current = ExternalBadge.objects.select_for_update().get(pk=badge.pk)
        if current.external_id != issued.id or current.state == ExternalState(issued.state):
            return "no change"
        current.state = ExternalState(issued.state)
        current.save(update_fields=["state", "modified"])
    return f"badge {badge.pk} is {issued.state}"


def _enqueue_sync(badge_id: int) -> None:
    from .tasks import sync_external_badge_task

    sync_external_badge_task.delay(badge_id)
