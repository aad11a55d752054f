"""Reads: learners' badges and their progress towards badge templates. Query counts are pinned by tests
and do not grow with the number of templates, requirements, fulfillments or badges.

Awarded badges are the credentials app's UserCredential rows whose configuration is a BadgeTemplate;
they are read only through `credentials.api.list_user_credentials`.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Sequence

from apps.core.api import User
from apps.credentials import api as credentials_api

from . import completion
from .data import BadgeProgressData, BadgeStatus, BadgeTemplateData, LearnerBadgeData, RequirementProgressData
from .exceptions import BadgesErrorCode, BadgesNotFoundError
from .models import BadgeProgress, BadgeRequirement, BadgeTemplate, Fulfillment, TemplateState


def list_learner_badges(
    *, user: User, status: BadgeStatus | None = None, template_uuid: uuid.UUID | None = None
) -> list[LearnerBadgeData]:
    """The learner's badge credentials, awarded or revoked, newest first; only those in `status` or of
    the template `template_uuid` when given (an unknown template: none). Two queries whatever their number."""
    named = BadgeTemplate.objects.filter(uuid=template_uuid).first() if template_uuid is not None else None
    if template_uuid is not None and named is None:
        return []
    credentials = credentials_api.list_user_credentials(
        configuration_model=BadgeTemplate,
        user_ids=[user.pk],
        configuration_ids=[named.pk] if named is not None else None,
        status=status.value if status is not None else None,
    )
    templates = (
        {named.pk: named}
        if named is not None
        else BadgeTemplate.objects.in_bulk({credential.configuration_id for credential in credentials})
    )
    return [
        LearnerBadgeData(
            uuid=credential.uuid,
            status=BadgeStatus(credential.status),
            awarded_at=credential.awarded_at,
            revoked_at=credential.revoked_at,
            template=_template_data(templates[credential.configuration_id]),
        )
        for credential in credentials
        # A credential may outlive its template (the generic relation does not protect it).
        if credential.configuration_id in templates
    ]


def list_badge_progress(
    *, user: User, template_uuid: uuid.UUID | None = None, in_progress: bool = False
) -> list[BadgeProgressData]:
    """The learner's progress towards each template they have progress on, except draft templates, by
    template name; only the template `template_uuid` when given, only those not awarded when
    `in_progress`. Four queries whatever the number of templates, requirements or fulfillments."""
    progress_rows = (
        BadgeProgress.objects.filter(user=user)
        .exclude(template__state=TemplateState.DRAFT)
        .select_related("template")
        .order_by("template__name", "template_id")
    )
    if template_uuid is not None:
        progress_rows = progress_rows.filter(template__uuid=template_uuid)
    rows = list(progress_rows)
    if not rows:
        return []
    awarded = {
        credential.configuration_id
        for credential in credentials_api.list_user_credentials(
            configuration_model=BadgeTemplate,
            user_ids=[user.pk],
            configuration_ids=[row.template_id for row in rows],
            status=BadgeStatus.AWARDED.value,
        )
    }
    if in_progress:
        rows = [row for row in rows if row.template_id not in awarded]
        if not rows:
            return []

    requirements: dict[int, list[BadgeRequirement]] = defaultdict(list)
    for requirement in BadgeRequirement.objects.filter(template_id__in=[row.template_id for row in rows]).order_by(
        "group", "pk"
    ):
        requirements[requirement.template_id].append(requirement)
    fulfilled_at: dict[int, dict[int, datetime.datetime]] = defaultdict(dict)
    for progress_id, requirement_id, created in Fulfillment.objects.filter(
        progress_id__in=[row.pk for row in rows]
    ).values_list("progress_id", "requirement_id", "created"):
        fulfilled_at[progress_id][requirement_id] = created

    return [
        _progress_data(
            row,
            requirements=requirements[row.template_id],
            fulfilled_at=fulfilled_at[row.pk],
            is_awarded=row.template_id in awarded,
        )
        for row in rows
    ]


def list_active_templates(*, uuids: Sequence[uuid.UUID] | None = None) -> list[BadgeTemplate]:
    """The active templates, by name; only these when `uuids` are given, raising BadgesNotFoundError
    for one that is unknown or not active. One query."""
    templates = BadgeTemplate.objects.filter(state=TemplateState.ACTIVE).order_by("name", "pk")
    if uuids is None:
        return list(templates)
    found = list(templates.filter(uuid__in=uuids))
    found_uuids = {template.uuid for template in found}
    missing = [str(u) for u in dict.fromkeys(uuids) if u not in found_uuids]
    if missing:
        raise BadgesNotFoundError(
            f"No active badge template {', '.join(missing)}.", code=BadgesErrorCode.TEMPLATE_NOT_FOUND, field="template"
        )
    return found


def list_learner_ids_with_progress(*, template_id: int) -> list[int]:
    """The ids of the learners with progress towards the template, ascending. One query."""
    return list(
        BadgeProgress.objects.filter(template_id=template_id).order_by("user_id").values_list("user_id", flat=True)
    )


def _progress_data(
    progress: BadgeProgress,
    *,
    requirements: list[BadgeRequirement],
    fulfilled_at: dict[int, datetime.datetime],
    is_awarded: bool,
) -> BadgeProgressData:
    # The rule is completion's: this only reports what it decides.
    refs = [completion.RequirementRef(id=requirement.pk, group=requirement.group) for requirement in requirements]
    fulfilled = {requirement.pk for requirement in requirements if requirement.pk in fulfilled_at}
    total = len(completion.groups(refs))
    missing = completion.unsatisfied_groups(refs, fulfilled)
    satisfied = total - len(missing)
    return BadgeProgressData(
        template=_template_data(progress.template),
        state=progress.template.state,
        is_awarded=is_awarded,
        groups_satisfied=satisfied,
        groups_total=total,
        percent=round(100 * satisfied / total, 2) if total else 0.0,
        requirements=tuple(
            RequirementProgressData(
                id=requirement.pk,
                description=requirement.description,
                event_type=requirement.event_type,
                group=requirement.group,
                fulfilled=requirement.pk in fulfilled,
                fulfilled_at=fulfilled_at.get(requirement.pk),
            )
            for requirement in requirements
        ),
        missing_groups=tuple(tuple(ids) for ids in missing),
    )


def _template_data(template: BadgeTemplate) -> BadgeTemplateData:
    return BadgeTemplateData(
        uuid=template.uuid,
        origin=template.origin,
        name=template.name,
        description=template.description,
        image_url=template.image_url,
    )
