from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.badges import selectors
from apps.badges.data import BadgeStatus, BadgeTemplateData
from apps.badges.exceptions import BadgesErrorCode, BadgesNotFoundError
from apps.badges.models import BadgeRequirement, BadgeTemplate, TemplateOrigin, TemplateState
from apps.badges.tests.factories import (
    BadgeProgressFactory,
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    FulfillmentFactory,
    award_badge,
)
from apps.core.models import User
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACTIVE = TemplateState.ACTIVE


def or_template(
    name: str = "Pythonista", *, state: str = ACTIVE, **fields: object
) -> tuple[BadgeTemplate, list[BadgeRequirement]]:
    """A template (active by default) of two groups: "course" (either of two requirements) and one
    requirement alone."""
    template = BadgeTemplateFactory(name=name, state=state, **fields)
    either = BadgeRequirementFactory(template=template, group="course", description="Pass Python 101")
    other = BadgeRequirementFactory(template=template, group="course", description="Pass Python 102")
    alone = BadgeRequirementFactory(template=template, group="", description="Pass the capstone")
    return template, [either, other, alone]


# --- badges --------------------------------------------------------------------------------------


def test_learner_badges_are_their_awarded_and_revoked_credentials_newest_first() -> None:
    # given
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    first = BadgeTemplateFactory(name="First", state=ACTIVE, origin=TemplateOrigin.CREDLY, description="The first")
    second = BadgeTemplateFactory(name="Second", state=ACTIVE)
    award_badge(user=alice, template=first)
    award_badge(user=alice, template=second)
    revoked = award_badge(user=alice, template=second, award=False)
    award_badge(user=bob, template=first)
    # when
    badges = selectors.list_learner_badges(user=alice)
    # then
    assert [(b.template.name, b.status) for b in badges] == [
        ("Second", BadgeStatus.REVOKED),
        ("First", BadgeStatus.AWARDED),
    ]
    assert badges[0].uuid == revoked.uuid
    assert badges[0].revoked_at is not None
    assert badges[1].awarded_at is not None and badges[1].revoked_at is None
    assert badges[1].template == BadgeTemplateData(
        uuid=first.uuid, origin="credly", name="First", description="The first", image_url=None
    )


def test_learner_badges_filter_by_status_and_template() -> None:
    # given
    alice = UserFactory()
    kept, lost = BadgeTemplateFactory(state=ACTIVE), BadgeTemplateFactory(state=ACTIVE)
    award_badge(user=alice, template=kept)
    award_badge(user=alice, template=lost)
    award_badge(user=alice, template=lost, award=False)
    # when
    awarded = selectors.list_learner_badges(user=alice, status=BadgeStatus.AWARDED)
    revoked = selectors.list_learner_badges(user=alice, status=BadgeStatus.REVOKED)
    of_kept = selectors.list_learner_badges(user=alice, template_uuid=kept.uuid)
    revoked_of_kept = selectors.list_learner_badges(user=alice, template_uuid=kept.uuid, status=BadgeStatus.REVOKED)
    unknown = selectors.list_learner_badges(user=alice, template_uuid=uuid.uuid4())
    # then
    assert [b.template.uuid for b in awarded] == [kept.uuid]
    assert [b.template.uuid for b in revoked] == [lost.uuid]
    assert [b.template.uuid for b in of_kept] == [kept.uuid]
    assert revoked_of_kept == unknown == []


def test_a_learner_without_badges_has_none() -> None:
    assert selectors.list_learner_badges(user=UserFactory()) == []


def test_image_url_is_absolute_under_the_public_url(settings: Any) -> None:
    # given
    settings.CREDENTIALS_PUBLIC_URL = "https://credentials.example.com"
    alice = UserFactory()
    pictured = BadgeTemplateFactory(name="A", state=ACTIVE, image="badge_templates/python.png")
    plain = BadgeTemplateFactory(name="B", state=ACTIVE)
    award_badge(user=alice, template=pictured)
    award_badge(user=alice, template=plain)
    # when
    badges = {b.template.name: b for b in selectors.list_learner_badges(user=alice)}
    # then
    assert badges["A"].template.image_url == "https://credentials.example.com/media/badge_templates/python.png"
    assert badges["B"].template.image_url is None


# --- progress ------------------------------------------------------------------------------------


def test_fulfilling_either_requirement_of_a_group_satisfies_that_group() -> None:
    # given
    template, (either, other, alone) = or_template()
    progress = BadgeProgressFactory(template=template)
    fulfillment = FulfillmentFactory(progress=progress, requirement=either)
    # when
    (result,) = selectors.list_badge_progress(user=progress.user)
    # then
    assert result.template.uuid == template.uuid
    assert (result.state, result.is_awarded) == ("active", False)
    assert (result.groups_satisfied, result.groups_total, result.percent) == (1, 2, 50.0)
    assert result.missing_groups == ((alone.pk,),)
    assert [(r.id, r.group, r.description, r.fulfilled, r.fulfilled_at) for r in result.requirements] == [
        (alone.pk, "", "Pass the capstone", False, None),  # by group, then creation
        (either.pk, "course", "Pass Python 101", True, fulfillment.created),
        (other.pk, "course", "Pass Python 102", False, None),
    ]
    assert {r.event_type for r in result.requirements} == {"org.openedx.learning.course.passing.status.updated.v1"}


def test_progress_with_nothing_fulfilled_misses_every_group() -> None:
    # given
    template, (either, other, alone) = or_template()
    progress = BadgeProgressFactory(template=template)
    # when
    (result,) = selectors.list_badge_progress(user=progress.user)
    # then
    assert (result.groups_satisfied, result.groups_total, result.percent) == (0, 2, 0.0)
    assert result.missing_groups == ((alone.pk,), (either.pk, other.pk))


def test_progress_with_every_group_satisfied_is_complete_and_says_whether_awarded() -> None:
    # given
    template, (_, other, alone) = or_template()
    progress = BadgeProgressFactory(template=template)
    FulfillmentFactory(progress=progress, requirement=other)
    FulfillmentFactory(progress=progress, requirement=alone)
    # when
    before = selectors.list_badge_progress(user=progress.user)
    award_badge(user=progress.user, template=template)
    after = selectors.list_badge_progress(user=progress.user)
    # then
    assert [(p.percent, p.missing_groups, p.is_awarded) for p in before] == [(100.0, (), False)]
    assert [p.is_awarded for p in after] == [True]


def test_progress_leaves_out_draft_templates_and_keeps_archived_ones() -> None:
    # given
    alice = UserFactory()
    for name, state in (("Draft", TemplateState.DRAFT), ("Archived", TemplateState.ARCHIVED), ("Active", ACTIVE)):
        template, _ = or_template(name, state=state)
        BadgeProgressFactory(template=template, user=alice)
    # when
    result = selectors.list_badge_progress(user=alice)
    # then: by template name
    assert [(p.template.name, p.state) for p in result] == [("Active", "active"), ("Archived", "archived")]


def test_progress_is_only_the_learners_own() -> None:
    # given
    alice, bob = UserFactory(), UserFactory()
    template, (either, _, _) = or_template()
    FulfillmentFactory(progress=BadgeProgressFactory(template=template, user=bob), requirement=either)
    BadgeProgressFactory(template=template, user=alice)
    # when
    (result,) = selectors.list_badge_progress(user=alice)
    # then
    assert result.groups_satisfied == 0
    assert not any(r.fulfilled for r in result.requirements)
    assert selectors.list_badge_progress(user=UserFactory()) == []


def test_progress_filters_by_template_and_in_progress() -> None:
    # given
    alice = UserFactory()
    earned, _ = or_template("Earned")
    started, _ = or_template("Started")
    for template in (earned, started):
        BadgeProgressFactory(template=template, user=alice)
    award_badge(user=alice, template=earned)
    # when
    of_earned = selectors.list_badge_progress(user=alice, template_uuid=earned.uuid)
    in_progress = selectors.list_badge_progress(user=alice, in_progress=True)
    earned_in_progress = selectors.list_badge_progress(user=alice, template_uuid=earned.uuid, in_progress=True)
    unknown = selectors.list_badge_progress(user=alice, template_uuid=uuid.uuid4())
    # then
    assert [(p.template.name, p.is_awarded) for p in of_earned] == [("Earned", True)]
    assert [(p.template.name, p.is_awarded) for p in in_progress] == [("Started", False)]
    assert earned_in_progress == unknown == []


def test_a_revoked_badge_is_not_awarded_in_progress() -> None:
    # given
    alice = UserFactory()
    template, _ = or_template()
    BadgeProgressFactory(template=template, user=alice)
    award_badge(user=alice, template=template)
    award_badge(user=alice, template=template, award=False)
    # when
    result = selectors.list_badge_progress(user=alice, in_progress=True)
    # then
    assert [p.is_awarded for p in result] == [False]


# --- query counts --------------------------------------------------------------------------------


def make_learner_with(count: int, *, username: str) -> User:
    """A learner with progress on `count` templates of three requirements each (one fulfilled) and
    the badge of every other one."""
    learner = UserFactory(username=username)
    for n in range(count):
        template, (either, _, _) = or_template(f"{username} {n}")
        FulfillmentFactory(progress=BadgeProgressFactory(template=template, user=learner), requirement=either)
        if n % 2:
            award_badge(user=learner, template=template)
    return learner


@pytest.mark.parametrize(
    ("read", "sizes", "pinned"),
    [
        (lambda user: selectors.list_learner_badges(user=user), [1, 10], 2),
        (lambda user: selectors.list_badge_progress(user=user), [2, 20], 4),
    ],
    ids=["badges", "progress"],
)
def test_query_count_does_not_grow_with_templates_requirements_or_badges(
    read: Callable[[User], list[object]],
    sizes: list[int],
    pinned: int,
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    # given
    small, large = make_learner_with(2, username="small"), make_learner_with(20, username="large")
    read(small)  # warm the content-type cache
    # when
    counts, lengths = [], []
    for learner in (small, large):
        with CaptureQueriesContext(connection) as context:
            lengths.append(len(read(learner)))
        counts.append(len(context.captured_queries))
    # then
    assert lengths == sizes
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(pinned):
        read(large)


# --- for recompute_badge_progress ----------------------------------------------------------------


def test_active_templates_are_listed_by_name_and_named_ones_must_be_active() -> None:
    # given
    zeta, alpha = or_template("Zeta")[0], or_template("Alpha")[0]
    archived = or_template("Archived", state=TemplateState.ARCHIVED)[0]
    or_template("Draft", state=TemplateState.DRAFT)
    # when
    every = selectors.list_active_templates()
    named = selectors.list_active_templates(uuids=[zeta.uuid])
    with pytest.raises(BadgesNotFoundError) as caught:
        selectors.list_active_templates(uuids=[alpha.uuid, archived.uuid])
    # then
    assert [t.name for t in every] == ["Alpha", "Zeta"]
    assert named == [zeta]
    assert caught.value.code is BadgesErrorCode.TEMPLATE_NOT_FOUND
    assert caught.value.message == f"No active badge template {archived.uuid}."


def test_learner_ids_with_progress_are_those_of_the_template_only() -> None:
    # given
    template, other = or_template("One")[0], or_template("Two")[0]
    learners = [UserFactory(), UserFactory()]
    for learner in reversed(learners):
        BadgeProgressFactory(template=template, user=learner)
    BadgeProgressFactory(template=other)
    # when
    ids = selectors.list_learner_ids_with_progress(template_id=template.pk)
    # then
    assert ids == sorted(learner.pk for learner in learners)
