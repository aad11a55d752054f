"""Writes: the life of badge templates, and the badge processor. Each service owns its transaction."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from openedx_events.learning.data import BadgeData, BadgeTemplateData, UserData, UserPersonalData
from openedx_events.learning.signals import BADGE_AWARDED, BADGE_REVOKED

from apps.core.api import User, get_or_create_learners, lock_learners
from apps.credentials.api import (
    CredentialChange,
    CredentialStatus,
    UserCredentialData,
    apply_credential_changes,
    list_user_credentials,
)
from apps.eventbus.api import OutgoingEvent, enqueue_events

from .completion import is_complete
from .exceptions import BadgesError, BadgesErrorCode, BadgesNotFoundError
from .models import BadgePenalty, BadgeProgress, BadgeRequirement, BadgeTemplate, DataRule, Fulfillment, TemplateState
from .processor import (
    BadgeEvent,
    Change,
    CompiledRule,
    CompiledTemplate,
    LearnerTemplateState,
    Matcher,
    Ruleset,
    compile_rule,
    requirement_refs,
)

log = logging.getLogger(__name__)


def activate_badge_template(*, template_id: int) -> BadgeTemplate:
    """Make a draft or archived template active, so its events are processed. A template without any
    requirement would be awarded for nothing, so it is refused. Idempotent."""
    with transaction.atomic():
        template = _lock_template(template_id)
        if template.state == TemplateState.ACTIVE:
            return template
        if not template.requirements.exists():
            raise BadgesError(
                f"Badge template {template.name!r} has no requirement: add one before activating it.",
                code=BadgesErrorCode.NO_REQUIREMENTS,
                field="requirements",
            )
        template.state = TemplateState.ACTIVE
        template.save(update_fields=["state", "modified"])
    log.info("Activated badge template %s (%s)", template.pk, template.uuid)
    return template


def archive_badge_template(*, template_id: int) -> BadgeTemplate:
    """Stop processing a template's events; learners keep the badges and progress they have. Idempotent."""
    with transaction.atomic():
        template = _lock_template(template_id)
        if template.state == TemplateState.ARCHIVED:
            return template
        template.state = TemplateState.ARCHIVED
        template.save(update_fields=["state", "modified"])
    log.info("Archived badge template %s (%s)", template.pk, template.uuid)
    return template


def _lock_template(template_id: int) -> BadgeTemplate:
    try:
        return BadgeTemplate.objects.select_for_update().get(pk=template_id)
    except BadgeTemplate.DoesNotExist:
        raise BadgesNotFoundError(
            f"No badge template {template_id}.", code=BadgesErrorCode.TEMPLATE_NOT_FOUND, field="template_id"
        ) from None


# --- the badge processor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessingResult:
    """What a batch of events did: how many matched a template, badges awarded and revoked."""

    matched: int = 0
    awarded: int = 0
    revoked: int = 0


def process_badge_events(*, events: Sequence[BadgeEvent]) -> ProcessingResult:
    """Apply events, in order, to the active templates listening to their types: record fulfilled
    requirements, reset the ones penalties name, award a learner's badge when the template becomes
    complete and revoke it (revocable templates) when a penalty makes it incomplete, each change
    announced by one BADGE_AWARDED or BADGE_REVOKED through the outbox. Idempotent in effect: an event
    applied twice fulfils nothing new. A fixed number of queries whatever the number of events,
    templates and requirements. Locks the learners (pk order), as every credential change does.
    Raises LearnerIdentityError for a learner the event cannot name."""
    ruleset = load_ruleset(event_types={event.event_type for event in events})
    matched = [(event, match) for event in events if (match := ruleset.match(event.event_type, event.payload))]
    if not matched:
        return ProcessingResult()
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        users = get_or_create_learners([event.learner for event, _ in matched])
        user_ids = {user.pk for user in users}
        template_ids = {template_id for _, match in matched for template_id in match}
        progress = {
            (row.user_id, row.template_id): row
            for row in BadgeProgress.objects.filter(user_id__in=user_ids, template_id__in=template_ids)
        }
        stored: dict[tuple[int, int], dict[int, int]] = {}  # (user, template) -> requirement -> fulfillment pk
        for pk, user_id, template_id, requirement_id in Fulfillment.objects.filter(
            progress__in=[row.pk for row in progress.values()]
        ).values_list("pk", "progress__user_id", "progress__template_id", "requirement_id"):
            stored.setdefault((user_id, template_id), {})[requirement_id] = pk
        awarded = {
            (credential.user_id, credential.configuration_id)
            for credential in list_user_credentials(
                configuration_model=BadgeTemplate,
                user_ids=user_ids,
                configuration_ids=template_ids,
                status=CredentialStatus.AWARDED,
            )
        }
        states: dict[tuple[int, int], LearnerTemplateState] = {}
        changes: list[tuple[User, CompiledTemplate, Change]] = []
        for (_, match), user in zip(matched, users, strict=True):
            for template_id, template_match in match.items():
                key = (user.pk, template_id)
                if key not in states:
                    states[key] = LearnerTemplateState(fulfilled=set(stored.get(key, ())), awarded=key in awarded)
                template = ruleset.templates[template_id]
                if change := states[key].apply(template_match, template):
                    changes.append((user, template, change))
        _save_progress(states=states, progress=progress, stored=stored, now=now)
        _apply_badge_changes(changes)
    awards = sum(1 for _, _, change in changes if change is Change.AWARD)
    return ProcessingResult(matched=len(matched), awarded=awards, revoked=len(changes) - awards)


def load_ruleset(*, event_types: Collection[str]) -> Ruleset:
    """The active templates with a requirement or penalty listening to one of these event types, with
    all their requirements (completion needs every group), the penalties and the data rules: five
    queries whatever their number; none when no template listens."""
    ruleset = Ruleset()
    if not event_types:
        return ruleset
    templates = list(
        BadgeTemplate.objects.filter(state=TemplateState.ACTIVE)
        .filter(Q(requirements__event_type__in=event_types) | Q(penalties__event_type__in=event_types))
        .distinct()
    )
    if not templates:
        return ruleset
    template_ids = [template.pk for template in templates]
    requirements = list(
        BadgeRequirement.objects.filter(template__in=template_ids)
        .order_by("pk")
        .values_list("pk", "template_id", "event_type", "group")
    )
    penalties = list(
        BadgePenalty.objects.filter(template__in=template_ids, event_type__in=event_types)
        .order_by("pk")
        .values_list("pk", "template_id", "event_type")
    )
    resets: dict[int, set[int]] = {}
    for penalty_id, requirement_id in BadgePenalty.requirements.through.objects.filter(
        badgepenalty_id__in=[pk for pk, _, _ in penalties]
    ).values_list("badgepenalty_id", "badgerequirement_id"):
        resets.setdefault(penalty_id, set()).add(requirement_id)
    owner_types = {("r", pk): event_type for pk, _, event_type, _ in requirements}
    owner_types.update({("p", pk): event_type for pk, _, event_type in penalties})
    owner_rules: dict[tuple[str, int], list[CompiledRule]] = {}
    for pk, requirement_id, penalty_id, data_path, operator, value in (
        DataRule.objects.filter(Q(requirement__template__in=template_ids) | Q(penalty__in=[p[0] for p in penalties]))
        .order_by("pk")
        .values_list("pk", "requirement_id", "penalty_id", "data_path", "operator", "value")
    ):
        owner = ("r", requirement_id) if requirement_id is not None else ("p", penalty_id)
        owner_rules.setdefault(owner, []).append(
            compile_rule(pk, event_type=owner_types[owner], data_path=data_path, operator=operator, value=value)
        )
    requirement_rows: dict[int, list[tuple[int, str]]] = {}
    for pk, template_id, event_type, group in requirements:
        requirement_rows.setdefault(template_id, []).append((pk, group))
        if event_type in event_types:
            ruleset.requirements.setdefault(event_type, []).append(
                Matcher(
                    id=pk, template_id=template_id, event_type=event_type, rules=tuple(owner_rules.get(("r", pk), ()))
                )
            )
    for pk, template_id, event_type in penalties:
        ruleset.penalties.setdefault(event_type, []).append(
            Matcher(
                id=pk,
                template_id=template_id,
                event_type=event_type,
                rules=tuple(owner_rules.get(("p", pk), ())),
                resets=frozenset(resets.get(pk, ())),
            )
        )
    for template in templates:
        ruleset.templates[template.pk] = _compile_template(template, requirement_rows.get(template.pk, ()))
    return ruleset


def _compile_template(template: BadgeTemplate, requirements: Iterable[tuple[int, str]]) -> CompiledTemplate:
    return CompiledTemplate(
        id=template.pk,
        uuid=template.uuid,
        origin=template.origin,
        name=template.name,
        description=template.description,
        image_url=template.image_url,
        course_run_key=template.course_run_key,
        organization_key=template.organization_key,
        is_revocable=template.is_revocable,
        requirements=requirement_refs(requirements),
    )


def _save_progress(
    *,
    states: dict[tuple[int, int], LearnerTemplateState],
    progress: dict[tuple[int, int], BadgeProgress],
    stored: dict[tuple[int, int], dict[int, int]],
    now: datetime.datetime,
) -> None:
    """Write what the batch did to fulfillments: a requirement reset during the batch loses its row
    (a later fulfilment gets a new one, dated now). Progress is created for a learner who fulfilled
    something; a penalty alone creates none."""
    missing = [key for key, state in states.items() if key not in progress and state.fulfilled]
    if missing:
        # Another consumer may create the same ones meanwhile: keep theirs.
        BadgeProgress.objects.bulk_create(
            [BadgeProgress(user_id=user_id, template_id=template_id) for user_id, template_id in missing],
            ignore_conflicts=True,
        )
        created = BadgeProgress.objects.filter(
            Q(user_id__in={u for u, _ in missing}) & Q(template_id__in={t for _, t in missing})
        )
        progress.update({(row.user_id, row.template_id): row for row in created})
    delete: list[int] = []
    create: list[Fulfillment] = []
    touched: list[int] = []
    for key, state in states.items():
        before = stored.get(key, {})
        kept = {
            requirement for requirement in before if requirement in state.fulfilled and requirement not in state.reset
        }
        delete.extend(pk for requirement, pk in before.items() if requirement not in kept)
        new = state.fulfilled - kept
        if key in progress and (new or len(kept) != len(before)):
            touched.append(progress[key].pk)
            create.extend(Fulfillment(progress_id=progress[key].pk, requirement_id=req) for req in sorted(new))
    if delete:
        Fulfillment.objects.filter(pk__in=delete).delete()
    if create:
        Fulfillment.objects.bulk_create(create, ignore_conflicts=True)
    if touched:
        BadgeProgress.objects.filter(pk__in=touched).update(modified=now)


@dataclass(frozen=True)
class RecomputeResult:
    """What re-evaluating learners' progress did."""

    learners: int = 0
    complete: int = 0
    awarded: int = 0
    revoked: int = 0


def recompute_badge_progress(*, template_id: int, user_ids: Sequence[int], revoke: bool = False) -> RecomputeResult:
    """Re-evaluate these learners' progress towards an active template from their recorded
    fulfillments, after its requirements or groups changed: award the badge to each learner who is now
    complete and does not hold it; with `revoke`, also revoke a revocable template's badge from each
    learner who is no longer complete. Each change publishes its event, as the processor does. Past
    events are not re-read: a requirement added later is fulfilled only by events from then on.
    Idempotent. One transaction, a fixed number of queries. Raises BadgesNotFoundError for an unknown
    template and BadgesError for one that is not active."""
    with transaction.atomic():
        template = _lock_template(template_id)
        if template.state != TemplateState.ACTIVE:
            raise BadgesError(
                f"Badge template {template.name!r} is {template.state}: only an active template is processed.",
                code=BadgesErrorCode.NOT_ACTIVE,
                field="template_id",
            )
        compiled = _compile_template(template, template.requirements.order_by("pk").values_list("pk", "group"))
        locked = lock_learners(user_ids=user_ids)
        users = {user.pk: user for user in User.objects.filter(pk__in=locked)}
        fulfilled: dict[int, set[int]] = {user_id: set() for user_id in locked}
        for user_id, requirement_id in Fulfillment.objects.filter(
            progress__template=template, progress__user_id__in=locked
        ).values_list("progress__user_id", "requirement_id"):
            fulfilled[user_id].add(requirement_id)
        awarded = {
            credential.user_id
            for credential in list_user_credentials(
                configuration_model=BadgeTemplate,
                user_ids=locked,
                configuration_ids=[template.pk],
                status=CredentialStatus.AWARDED,
            )
        }
        changes: list[tuple[User, CompiledTemplate, Change]] = []
        complete = 0
        for user_id in locked:
            is_done = is_complete(compiled.requirements, fulfilled[user_id])
            complete += is_done
            if is_done and user_id not in awarded:
                changes.append((users[user_id], compiled, Change.AWARD))
            elif revoke and not is_done and user_id in awarded and compiled.is_revocable:
                changes.append((users[user_id], compiled, Change.REVOKE))
        _apply_badge_changes(changes)
    awards = sum(1 for _, _, change in changes if change is Change.AWARD)
    return RecomputeResult(learners=len(locked), complete=complete, awarded=awards, revoked=len(changes) - awards)


def _apply_badge_changes(changes: Sequence[tuple[User, CompiledTemplate, Change]]) -> None:
    """Award or revoke the learners' badges, in order, and enqueue one event per real change. The
    caller holds a transaction and the learners' locks."""
    credentials = apply_credential_changes(
        changes=[
            CredentialChange(
                user_id=user.pk,
                configuration_model=BadgeTemplate,
                configuration_id=template.id,
                award=change is Change.AWARD,
            )
            for user, template, change in changes
        ]
    )
    enqueue_events(
        [
            _badge_event(user=user, template=template, credential=credential)
            for (user, template, _), credential in zip(changes, credentials, strict=True)
            if credential.status_changed
        ]
    )


def _badge_event(*, user: User, template: CompiledTemplate, credential: UserCredentialData) -> OutgoingEvent:
    """BADGE_AWARDED or BADGE_REVOKED for the badge as it is now, keyed by learner and template so the
    relay keeps one learner's awards and revocations of a badge in order."""
    return OutgoingEvent(
        signal=BADGE_AWARDED if credential.status == CredentialStatus.AWARDED else BADGE_REVOKED,
        key=f"{user.lms_user_id}:{template.uuid}",
        data={
            "badge": BadgeData(
                uuid=str(credential.uuid),
                user=UserData(
                    id=user.lms_user_id,
                    is_active=user.is_active,
                    pii=UserPersonalData(username=user.username or "", email=user.email or "", name=user.full_name),
                ),
                template=BadgeTemplateData(
                    uuid=str(template.uuid),
                    origin=template.origin,
                    name=template.name,
                    description=template.description,
                    image_url=template.image_url,
                ),
            )
        },
    )
