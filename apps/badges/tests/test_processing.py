"""The badge processor: fulfilments, AND-of-OR completion, awards and revocations with their events."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openedx_events.learning.signals import BADGE_AWARDED, BADGE_REVOKED

from apps.badges import services
from apps.badges.models import BadgeProgress, BadgeTemplate, Fulfillment, TemplateState
from apps.badges.tests.factories import (
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    DataRuleFactory,
)
from apps.badges.tests.scenarios import RUNS, badge_of, course_template, passing, process, published
from apps.core.models import User
from apps.credentials.tests.factories import UserDataFactory

pytestmark = pytest.mark.django_db


def test_a_three_requirement_template_is_not_awarded_until_all_three_are_fulfilled() -> None:
    # given
    template, _ = course_template(*RUNS)
    ada = UserDataFactory()
    # when: the first two
    process(passing(ada, RUNS[0]))
    process(passing(ada, RUNS[1]))
    # then: progress, no badge, nothing published
    assert badge_of(ada, template) is None
    assert published() == []
    assert Fulfillment.objects.filter(progress__user__lms_user_id=ada.id).count() == 2
    # when: the third
    result = process(passing(ada, RUNS[2]))
    # then: one badge, one event carrying the template
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "awarded"
    assert (result.awarded, result.revoked) == (1, 0)
    [(event_type, data)] = published()
    assert event_type == BADGE_AWARDED.event_type
    assert data.uuid == str(badge.uuid)
    assert (data.user.id, data.user.pii.username) == (ada.id, ada.pii.username)
    assert (data.template.uuid, data.template.origin, data.template.name) == (
        str(template.uuid),
        "native",
        template.name,
    )
    assert data.template.image_url == f"{settings.CREDENTIALS_PUBLIC_URL}/media/badge_templates/star.png"


def test_the_same_event_twice_awards_once() -> None:
    # given
    course_template(RUNS[0])
    ada = UserDataFactory()
    # when
    process(passing(ada, RUNS[0]), passing(ada, RUNS[0]))
    process(passing(ada, RUNS[0]))
    # then
    assert [event_type for event_type, _ in published()] == [BADGE_AWARDED.event_type]
    assert Fulfillment.objects.count() == 1
    assert BadgeProgress.objects.count() == 1


def test_one_requirement_of_a_group_satisfies_it_but_every_group_is_needed() -> None:
    # given: (C1 or C2) and C3
    template, _ = course_template(*RUNS, groups=["either", "either", ""])
    ada, bob = UserDataFactory(), UserDataFactory()
    # when
    process(passing(ada, RUNS[1]), passing(ada, RUNS[2]), passing(bob, RUNS[0]), passing(bob, RUNS[1]))
    # then: ada has C2 and C3; bob only the "either" group
    assert badge_of(ada, template) is not None
    assert badge_of(bob, template) is None


def test_a_failing_status_or_another_course_fulfils_nothing() -> None:
    # given
    course_template(RUNS[0])
    ada = UserDataFactory()
    # when
    result = process(passing(ada, RUNS[0], is_passing=False), passing(ada, "course-v1:Other+C9+R9"))
    # then: no learner or progress was even created
    assert result.matched == 0
    assert not BadgeProgress.objects.exists()
    assert not User.objects.filter(lms_user_id=ada.id).exists()


def test_a_penalty_revokes_a_revocable_badge_and_passing_again_awards_it_again() -> None:
    # given
    template, [requirement] = course_template(RUNS[0], penalties=True)
    ada = UserDataFactory()
    process(passing(ada, RUNS[0]))
    first = badge_of(ada, template)
    # when: failed, then passed again
    process(passing(ada, RUNS[0], is_passing=False))
    revoked = badge_of(ada, template)
    process(passing(ada, RUNS[0]))
    # then: the same badge, awarded again; three events in order
    assert revoked is not None and revoked.status == "revoked"
    again = badge_of(ada, template)
    assert first is not None and again is not None
    assert (again.uuid, again.status) == (first.uuid, "awarded")
    assert [event_type for event_type, _ in published()] == [
        BADGE_AWARDED.event_type,
        BADGE_REVOKED.event_type,
        BADGE_AWARDED.event_type,
    ]
    assert Fulfillment.objects.filter(requirement_id=requirement).count() == 1


def test_award_revoke_and_award_in_one_batch_publish_three_events_in_order() -> None:
    # given
    template, _ = course_template(RUNS[0], penalties=True)
    ada = UserDataFactory()
    # when
    process(passing(ada, RUNS[0]), passing(ada, RUNS[0], is_passing=False), passing(ada, RUNS[0]))
    # then
    assert [event_type for event_type, _ in published()] == [
        BADGE_AWARDED.event_type,
        BADGE_REVOKED.event_type,
        BADGE_AWARDED.event_type,
    ]
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "awarded"


def test_a_non_revocable_badge_is_kept_when_a_penalty_resets_its_requirement() -> None:
    # given
    template, _ = course_template(RUNS[0], is_revocable=False, penalties=True)
    ada = UserDataFactory()
    process(passing(ada, RUNS[0]))
    # when
    process(passing(ada, RUNS[0], is_passing=False))
    # then: the requirement is reset, the badge stays
    badge = badge_of(ada, template)
    assert badge is not None and badge.status == "awarded"
    assert not Fulfillment.objects.exists()
    assert [event_type for event_type, _ in published()] == [BADGE_AWARDED.event_type]


def test_a_penalty_for_a_learner_without_progress_creates_nothing() -> None:
    # given
    course_template(RUNS[0], penalties=True)
    # when
    process(passing(UserDataFactory(), RUNS[0], is_passing=False))
    # then
    assert not BadgeProgress.objects.exists()
    assert published() == []


@pytest.mark.parametrize("state", [TemplateState.DRAFT, TemplateState.ARCHIVED])
def test_only_active_templates_are_processed(state: str) -> None:
    # given
    template, _ = course_template(RUNS[0])
    BadgeTemplate.objects.filter(pk=template.pk).update(state=state)
    # when
    result = process(passing(UserDataFactory(), RUNS[0]))
    # then
    assert result.matched == 0
    assert not BadgeProgress.objects.exists()


def test_a_scoped_template_counts_only_events_of_its_course_run_or_organization() -> None:
    # given: requirements without course rules, scoped by the template instead
    by_run = BadgeTemplateFactory(course_run_key=RUNS[0])
    by_org = BadgeTemplateFactory(organization_key="OrgY")
    for template in (by_run, by_org):
        DataRuleFactory(requirement=BadgeRequirementFactory(template=template))
        services.activate_badge_template(template_id=template.pk)
    ada = UserDataFactory()
    # when
    process(passing(ada, RUNS[1]), passing(ada, "course-v1:OrgZ+C1+R1"))
    # then
    assert badge_of(ada, by_run) is None and badge_of(ada, by_org) is None
    # when
    process(passing(ada, RUNS[0]), passing(ada, "course-v1:OrgY+C1+R1"))
    # then
    assert badge_of(ada, by_run) is not None and badge_of(ada, by_org) is not None


def test_a_rule_that_does_not_fit_the_payload_is_skipped_with_a_logged_reason(caplog: Any) -> None:
    # given: a rule comparing the course key with an int (stored before validation existed) on one
    # template, and a sound template listening to the same event
    broken, [broken_requirement] = course_template(RUNS[0])
    DataRuleFactory(requirement_id=broken_requirement, data_path="course_passing_status.user.id", value="not a number")
    sound, _ = course_template(RUNS[0])
    ada = UserDataFactory()
    # when
    with caplog.at_level(logging.WARNING, logger="apps.badges.processor"):
        process(passing(ada, RUNS[0]))
    # then
    assert badge_of(ada, sound) is not None
    assert badge_of(ada, broken) is None
    assert f"requirement {broken_requirement}" in caplog.text
    assert "is not an int" in caplog.text


@pytest.mark.parametrize("requirements", [1, 10, 30])
def test_queries_per_batch_do_not_grow_with_requirements_or_events(requirements: int) -> None:
    # given: one template of N requirements (one per run); 40 events for 20 learners, each passing
    # every run once in the end
    runs = [f"course-v1:OrgX+C{n}+R1" for n in range(requirements)]
    course_template(*runs)
    learners = [UserDataFactory() for _ in range(20)]
    events = [passing(learner, run) for learner in learners for run in runs[:2]]
    process(*events)
    rest = [passing(learner, run) for learner in learners for run in runs[2:]] or [
        passing(learner, runs[0]) for learner in learners
    ]
    # when
    with CaptureQueriesContext(connection) as queries:
        result = process(*rest)
    # then: every learner is awarded, in a fixed number of queries
    assert BadgeProgress.objects.count() == 20
    assert result.awarded == (20 if requirements > 2 else 0)
    assert len(queries) <= 24, "\n".join(q["sql"][:150] for q in queries.captured_queries)
