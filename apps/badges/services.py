"""Writes: the life of badge templates. Each service owns its transaction."""

from __future__ import annotations

import logging

from django.db import transaction

from .exceptions import BadgesError, BadgesErrorCode, BadgesNotFoundError
from .models import BadgeTemplate, TemplateState

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
