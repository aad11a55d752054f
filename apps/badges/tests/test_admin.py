from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.badges.models import BadgeRequirement, BadgeTemplate, DataRule, TemplateState
from apps.badges.tests.factories import (
    PASSING,
    BadgePenaltyFactory,
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    DataRuleFactory,
    FulfillmentFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ("badgetemplate", "badgerequirement", "badgepenalty", "badgeprogress", "fulfillment")


@pytest.fixture
def configured() -> DataRule:
    rule = DataRuleFactory()
    DataRuleFactory(requirement=None, penalty=BadgePenaltyFactory(template=rule.requirement.template), value="false")
    FulfillmentFactory(progress__template=rule.requirement.template, requirement=rule.requirement)
    return rule


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_pages_render(admin_client: Client, configured: DataRule, model: str) -> None:
    # given
    obj = {
        "badgetemplate": configured.requirement.template,
        "badgerequirement": configured.requirement,
        "badgepenalty": configured.requirement.template.penalties.get(),
        "badgeprogress": configured.requirement.fulfillments.get().progress,
        "fulfillment": configured.requirement.fulfillments.get(),
    }[model]
    # when
    listed = admin_client.get(reverse(f"admin:badges_{model}_changelist"))
    shown = admin_client.get(reverse(f"admin:badges_{model}_change", args=[obj.pk]))
    # then
    assert listed.status_code == 200
    assert shown.status_code == 200


@pytest.mark.parametrize(
    ("model", "query"),
    [("badgeprogress", "learner"), ("fulfillment", "learner"), ("badgeprogress", "Badge"), ("fulfillment", "Badge")],
)
def test_progress_and_fulfillments_are_searchable(admin_client: Client, model: str, query: str) -> None:
    # given
    FulfillmentFactory(progress__user__username="learner-ada", progress__template__name="Badge of Ada")
    FulfillmentFactory(progress__user__username="zed", progress__template__name="Other")
    # when
    response = admin_client.get(reverse(f"admin:badges_{model}_changelist"), {"q": query})
    # then
    assert response.context["cl"].result_count == 1


def test_template_list_filters_by_state_and_origin_and_shows_the_image(admin_client: Client) -> None:
    # given
    BadgeTemplateFactory(name="Shown", image="badge_templates/shown.png")  # a stored name; no file written
    BadgeTemplateFactory(name="Hidden", state=TemplateState.ACTIVE)
    # when
    response = admin_client.get(
        reverse("admin:badges_badgetemplate_changelist"), {"state": "draft", "origin": "native"}
    )
    # then
    assert [t.name for t in response.context["cl"].result_list] == ["Shown"]
    assert '<img src="/media/badge_templates/shown.png" alt="Shown"' in response.content.decode()


def test_requirement_page_offers_the_event_types_paths(admin_client: Client) -> None:
    # given
    requirement = BadgeRequirementFactory()
    # when
    response = admin_client.get(reverse("admin:badges_badgerequirement_change", args=[requirement.pk]))
    # then
    content = response.content.decode()
    assert '<option value="course_passing_status.course.course_key">' in content
    assert "course_passing_status.course.course_key (CourseKey)" in content


def _requirement_post(requirement: BadgeRequirement, **rule: str) -> dict[str, Any]:
    return {
        "template": requirement.template.pk,
        "event_type": requirement.event_type,
        "group": "",
        "description": requirement.description,
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **{f"rules-0-{name}": value for name, value in rule.items()},
    }


def _rule_errors(response: Any) -> list[dict[str, list[str]]]:
    """The data rule inline's form errors, as the page shows them."""
    (rules,) = response.context["inline_admin_formsets"]
    return [dict(form.errors) for form in rules.formset]


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (
            {"data_path": "course_passing_status.grade", "operator": "eq", "value": "1"},
            "'course_passing_status.grade' is not in the data of " + PASSING,
        ),
        (
            {"data_path": "course_passing_status.is_passing", "operator": "eq", "value": "yes"},
            "'yes' is not a bool: write true or false.",
        ),
        (
            {"data_path": "course_passing_status.course.start", "operator": "ge", "value": "2025-01-01"},
            "has no UTC offset",
        ),
    ],
)
def test_requirement_page_shows_a_form_error_for_a_bad_rule(
    admin_client: Client, rule: dict[str, str], error: str
) -> None:
    # given
    requirement = BadgeRequirementFactory()
    url = reverse("admin:badges_badgerequirement_change", args=[requirement.pk])
    # when
    response = admin_client.post(url, _requirement_post(requirement, **rule))
    # then
    assert response.status_code == 200
    assert error in str(_rule_errors(response))
    assert not DataRule.objects.exists()


def test_requirement_page_saves_a_valid_rule(admin_client: Client) -> None:
    # given
    requirement = BadgeRequirementFactory()
    url = reverse("admin:badges_badgerequirement_change", args=[requirement.pk])
    rule = {"data_path": "course_passing_status.course.course_key", "operator": "eq", "value": "course-v1:a+b+c"}
    # when
    response = admin_client.post(url, _requirement_post(requirement, **rule))
    # then
    assert response.status_code == 302
    assert DataRule.objects.get().requirement == requirement


def test_a_new_requirements_rules_are_checked_against_its_event_type(admin_client: Client) -> None:
    # given
    template = BadgeTemplateFactory()
    data = _requirement_post(
        BadgeRequirementFactory.build(template=template),
        data_path="course_passing_status.nope",
        operator="eq",
        value="1",
    )
    # when
    response = admin_client.post(reverse("admin:badges_badgerequirement_add"), data)
    # then
    assert response.status_code == 200
    assert "'course_passing_status.nope' is not in the data of " + PASSING in str(_rule_errors(response))
    assert not BadgeRequirement.objects.exists()


def test_template_page_adds_a_requirement_inline(admin_client: Client) -> None:
    # given
    template = BadgeTemplateFactory(name="Passer")
    data = {
        "name": "Passer",
        "description": "",
        "origin": "native",
        "course_run_key": "",
        "organization_key": "",
        "is_revocable": "on",
        "requirements-TOTAL_FORMS": "1",
        "requirements-INITIAL_FORMS": "0",
        "requirements-MIN_NUM_FORMS": "0",
        "requirements-MAX_NUM_FORMS": "1000",
        "requirements-0-event_type": PASSING,
        "requirements-0-group": "a",
        "requirements-0-description": "Pass",
        "penalties-TOTAL_FORMS": "0",
        "penalties-INITIAL_FORMS": "0",
        "penalties-MIN_NUM_FORMS": "0",
        "penalties-MAX_NUM_FORMS": "1000",
    }
    # when
    response = admin_client.post(reverse("admin:badges_badgetemplate_change", args=[template.pk]), data)
    # then
    assert response.status_code == 302
    assert template.requirements.get().group == "a"


def test_activate_action_shows_the_refusal_as_a_message(admin_client: Client) -> None:
    # given
    empty = BadgeTemplateFactory(name="Empty")
    ready = BadgeRequirementFactory(template__name="Ready").template
    # when
    response = admin_client.post(
        reverse("admin:badges_badgetemplate_changelist"),
        {"action": "activate", "_selected_action": [empty.pk, ready.pk]},
        follow=True,
    )
    # then
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [
        "Badge template 'Empty' has no requirement: add one before activating it.",
        "1 template(s) active.",
    ]
    assert dict(BadgeTemplate.objects.values_list("name", "state")) == {"Empty": "draft", "Ready": "active"}


def test_archive_action_archives(admin_client: Client) -> None:
    # given
    template = BadgeTemplateFactory()
    # when
    admin_client.post(
        reverse("admin:badges_badgetemplate_changelist"), {"action": "archive", "_selected_action": [template.pk]}
    )
    # then
    template.refresh_from_db()
    assert template.state == TemplateState.ARCHIVED


def test_penalty_resets_only_requirements_of_its_template(admin_client: Client) -> None:
    # given
    penalty = BadgePenaltyFactory()
    foreign = BadgeRequirementFactory()
    data = {
        "template": penalty.template.pk,
        "event_type": PASSING,
        "description": "Fail",
        "requirements": [foreign.pk],
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    # when
    response = admin_client.post(reverse("admin:badges_badgepenalty_change", args=[penalty.pk]), data)
    # then
    assert response.status_code == 200
    assert not penalty.requirements.exists()
