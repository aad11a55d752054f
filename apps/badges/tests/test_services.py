from __future__ import annotations

import pytest

from apps.badges import services
from apps.badges.exceptions import BadgesError, BadgesErrorCode, BadgesNotFoundError
from apps.badges.models import TemplateState
from apps.badges.tests.factories import BadgeRequirementFactory, BadgeTemplateFactory

pytestmark = pytest.mark.django_db


def test_activating_a_template_without_requirements_is_refused() -> None:
    # given
    template = BadgeTemplateFactory(name="Empty")
    # when
    with pytest.raises(BadgesError) as caught:
        services.activate_badge_template(template_id=template.pk)
    # then
    assert caught.value.code is BadgesErrorCode.NO_REQUIREMENTS
    assert caught.value.message == "Badge template 'Empty' has no requirement: add one before activating it."
    template.refresh_from_db()
    assert template.state == TemplateState.DRAFT


def test_a_template_with_one_requirement_is_activated() -> None:
    # given
    template = BadgeRequirementFactory().template
    # when
    activated = services.activate_badge_template(template_id=template.pk)
    # then
    template.refresh_from_db()
    assert activated.state == template.state == TemplateState.ACTIVE
    assert services.activate_badge_template(template_id=template.pk).state == TemplateState.ACTIVE


def test_an_archived_template_is_activated_again() -> None:
    # given
    template = BadgeRequirementFactory().template
    services.activate_badge_template(template_id=template.pk)
    # when
    archived = services.archive_badge_template(template_id=template.pk)
    reactivated = services.activate_badge_template(template_id=template.pk)
    # then
    assert archived.state == TemplateState.ARCHIVED
    assert reactivated.state == TemplateState.ACTIVE


def test_an_unknown_template_is_not_found() -> None:
    # when
    with pytest.raises(BadgesNotFoundError) as caught:
        services.archive_badge_template(template_id=999_999)
    # then
    assert caught.value.code is BadgesErrorCode.TEMPLATE_NOT_FOUND
