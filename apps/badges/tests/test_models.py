from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.badges.models import DataRule
from apps.badges.tests.factories import (
    BadgePenaltyFactory,
    BadgeProgressFactory,
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    DataRuleFactory,
    FulfillmentFactory,
)
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_data_rule_needs_an_owner() -> None:
    # when
    with pytest.raises(IntegrityError), transaction.atomic():
        DataRuleFactory(requirement=None)


def test_a_data_rule_cannot_belong_to_a_requirement_and_a_penalty() -> None:
    # given
    requirement = BadgeRequirementFactory()
    penalty = BadgePenaltyFactory(template=requirement.template)
    # when
    with pytest.raises(IntegrityError), transaction.atomic():
        DataRuleFactory(requirement=requirement, penalty=penalty)
    # then
    assert not DataRule.objects.exists()


def test_a_data_rule_of_a_penalty_is_stored() -> None:
    # when
    rule = DataRuleFactory(requirement=None, penalty=BadgePenaltyFactory(), value="false")
    # then
    assert rule.penalty is not None
    assert rule.requirement is None


def test_one_progress_per_learner_and_template() -> None:
    # given
    progress = BadgeProgressFactory()
    # when
    with pytest.raises(IntegrityError), transaction.atomic():
        BadgeProgressFactory(template=progress.template, user=progress.user)
    # then another learner, or another template, is fine
    BadgeProgressFactory(template=progress.template, user=UserFactory())
    BadgeProgressFactory(template=BadgeTemplateFactory(), user=progress.user)


def test_one_fulfillment_per_progress_and_requirement() -> None:
    # given
    fulfillment = FulfillmentFactory()
    # when
    with pytest.raises(IntegrityError), transaction.atomic():
        FulfillmentFactory(progress=fulfillment.progress, requirement=fulfillment.requirement)
    # then
    FulfillmentFactory(
        progress=fulfillment.progress, requirement=BadgeRequirementFactory(template=fulfillment.progress.template)
    )


def test_clean_rejects_a_rule_without_exactly_one_owner() -> None:
    # given
    requirement = BadgeRequirementFactory()
    penalty = BadgePenaltyFactory(template=requirement.template)
    rule = DataRule(
        requirement=requirement, penalty=penalty, data_path="course_passing_status.is_passing", value="true"
    )
    # when
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    # then
    assert "exactly one requirement or one penalty" in str(caught.value)


def test_clean_names_the_valid_paths_for_an_unknown_one() -> None:
    # given
    rule = DataRule(requirement=BadgeRequirementFactory(), data_path="course_passing_status.grade", value="1")
    # when
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    # then
    message = caught.value.message_dict["data_path"][0]
    assert "'course_passing_status.grade' is not in the data of org.openedx.learning.course.passing" in message
    assert "course_passing_status.is_passing" in message


@pytest.mark.parametrize(
    ("path", "operator", "value", "field", "words"),
    [
        ("course_passing_status.is_passing", "eq", "yes", "value", "'yes' is not a bool"),
        ("course_passing_status.course.course_key", "eq", "DemoX", "value", "not a valid CourseKey"),
        ("course_passing_status.user.id", "in", "1,two", "value", "'two' is not an int"),
        ("course_passing_status.is_passing", "gt", "true", "operator", "this field is bool"),
    ],
)
def test_clean_rejects_a_value_that_does_not_parse(
    path: str, operator: str, value: str, field: str, words: str
) -> None:
    # given
    rule = DataRule(requirement=BadgeRequirementFactory(), data_path=path, operator=operator, value=value)
    # when
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    # then
    assert words in caught.value.message_dict[field][0]


def test_clean_accepts_a_valid_rule() -> None:
    # given
    rule = DataRule(
        requirement=BadgeRequirementFactory(),
        data_path="course_passing_status.course.course_key",
        operator="in",
        value="course-v1:edX+DemoX+2025, course-v1:edX+Other+2025",
    )
    # when / then
    rule.full_clean()


def test_a_requirement_needs_a_known_event_type() -> None:
    # given
    requirement = BadgeRequirementFactory.build(template=BadgeTemplateFactory(), event_type="org.openedx.nope.v1")
    # when
    with pytest.raises(ValidationError) as caught:
        requirement.full_clean()
    # then
    assert "'org.openedx.nope.v1' is not an openedx-events event type" in caught.value.message_dict["event_type"][0]


def test_a_requirement_listens_only_to_event_types_fed_to_the_badge_processor() -> None:
    # given
    requirement = BadgeRequirementFactory.build(
        template=BadgeTemplateFactory(), event_type="org.openedx.learning.certificate.created.v1"
    )
    # when
    with pytest.raises(ValidationError) as caught:
        requirement.full_clean()
    # then
    assert caught.value.message_dict["event_type"][0].startswith(
        "org.openedx.learning.certificate.created.v1 is not fed to the badge processor: add it to BADGES_EVENT_TYPES"
    )


def test_changing_a_requirements_event_type_must_keep_its_rules_valid(settings: Any) -> None:
    # given
    settings.BADGES_EVENT_TYPES = [*settings.BADGES_EVENT_TYPES, "org.openedx.learning.certificate.created.v1"]
    rule = DataRuleFactory(data_path="course_passing_status.is_passing")
    requirement = rule.requirement
    requirement.event_type = "org.openedx.learning.certificate.created.v1"
    # when
    with pytest.raises(ValidationError) as caught:
        requirement.full_clean()
    # then
    assert "course_passing_status.is_passing" in caught.value.message_dict["event_type"][0]


def test_a_template_scope_must_be_a_course_run_key() -> None:
    # given
    template = BadgeTemplateFactory.build(course_run_key="DemoX")
    # when
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    # then
    assert "'DemoX' is not a course run key" in caught.value.message_dict["course_run_key"][0]


def test_a_rule_matches_an_event_payload() -> None:
    # given
    rule = DataRuleFactory(data_path="course_passing_status.user.pii.username", operator="contains", value="ali")
    # when / then
    assert rule.matches({"course_passing_status": {"user": {"pii": {"username": "alice"}}}})
    assert not rule.matches({"course_passing_status": {"user": {"pii": {"username": "bob"}}}})
    assert not rule.matches({})
