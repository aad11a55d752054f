"""recompute_badge_progress: re-evaluating progress from recorded fulfillments after requirements change."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from openedx_events.learning.signals import BADGE_AWARDED, BADGE_REVOKED

from apps.badges import services
from apps.badges.exceptions import BadgesError, BadgesErrorCode
from apps.badges.models import BadgeRequirement, BadgeTemplate
from apps.badges.tests.factories import BadgeRequirementFactory, DataRuleFactory
from apps.badges.tests.scenarios import RUNS, badge_of, course_template, passing, process, published
from apps.credentials.tests.factories import UserDataFactory

pytestmark = pytest.mark.django_db


def recompute(*args: str) -> str:
    out = io.StringIO()
    call_command("recompute_badge_progress", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_removing_the_missing_requirement_awards_learners_now_complete() -> None:
    # given: ada passed two of three runs
    template, [_, _, third] = course_template(*RUNS)
    ada, bob = UserDataFactory(), UserDataFactory()
    process(passing(ada, RUNS[0]), passing(ada, RUNS[1]), passing(bob, RUNS[0]))
    # when: the operator drops the third requirement and recomputes
    BadgeRequirement.objects.filter(pk=third).delete()
    output = recompute()
    # then: ada is awarded, once; bob is not
    assert badge_of(ada, template) is not None
    assert badge_of(bob, template) is None
    assert [event_type for event_type, _ in published()] == [BADGE_AWARDED.event_type]
    assert (
        f"{template.name} ({template.uuid}): 2 learners with progress, 1 complete, 1 newly awarded, 0 revoked."
        in output
    )
    # when: again
    again = recompute("--template", str(template.uuid))
    # then: nothing more
    assert "1 complete, 0 newly awarded, 0 revoked" in again
    assert len(published()) == 1


def test_adding_a_requirement_keeps_badges_unless_asked_to_revoke() -> None:
    # given: ada holds the badge of a one-requirement template
    template, _ = course_template(RUNS[0])
    ada = UserDataFactory()
    process(passing(ada, RUNS[0]))
    DataRuleFactory(requirement=BadgeRequirementFactory(template=template))
    # when
    kept = recompute()
    # then
    assert "0 complete, 0 newly awarded, 0 revoked" in kept
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "awarded"
    # when
    revoked = recompute("--revoke")
    # then
    assert "0 complete, 0 newly awarded, 1 revoked" in revoked
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "revoked"
    assert [event_type for event_type, _ in published()] == [BADGE_AWARDED.event_type, BADGE_REVOKED.event_type]


def test_a_non_revocable_badge_is_never_revoked_by_a_recompute() -> None:
    # given
    template, _ = course_template(RUNS[0], is_revocable=False)
    ada = UserDataFactory()
    process(passing(ada, RUNS[0]))
    DataRuleFactory(requirement=BadgeRequirementFactory(template=template))
    # when
    output = recompute("--revoke")
    # then
    assert "0 revoked" in output
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "awarded"


def test_an_inactive_or_unknown_template_is_refused() -> None:
    # given
    template, _ = course_template(RUNS[0])
    BadgeTemplate.objects.filter(pk=template.pk).update(state="archived")
    # when / then
    with pytest.raises(BadgesError) as caught:
        services.recompute_badge_progress(template_id=template.pk, user_ids=[])
    assert caught.value.code is BadgesErrorCode.NOT_ACTIVE
    with pytest.raises(CommandError, match="No active badge template"):
        recompute("--template", str(template.uuid))
