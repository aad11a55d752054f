"""Scenario builders for badge tests: active templates over course runs, LMS-shaped passing-status
events for the processor, and what it left in the outbox and the credentials."""

from __future__ import annotations

from collections.abc import Collection

from ccx_keys.locator import CCXLocator
from django.db import transaction
from openedx_events.learning.data import (
    BadgeData,
    CcxCourseData,
    CcxCoursePassingStatusData,
    CoursePassingStatusData,
    UserData,
)
from openedx_events.learning.signals import (
    BADGE_AWARDED,
    BADGE_REVOKED,
    CCX_COURSE_PASSING_STATUS_UPDATED,
    COURSE_PASSING_STATUS_UPDATED,
)

from apps.badges import services
from apps.badges.models import BadgeTemplate
from apps.badges.processor import BadgeEvent
from apps.badges.tests.factories import (
    BadgePenaltyFactory,
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    DataRuleFactory,
)
from apps.core.api import LearnerIdentity
from apps.credentials.models import UserCredential
from apps.credentials.tests.factories import course_data
from apps.eventbus.codec import deserialize
from apps.eventbus.models import OutboxEvent

PASSING = COURSE_PASSING_STATUS_UPDATED.event_type
CCX_PASSING = CCX_COURSE_PASSING_STATUS_UPDATED.event_type


def course_template(
    *runs: str,
    groups: list[str] | None = None,
    is_revocable: bool = True,
    penalties: bool = False,
    ccx_runs: Collection[str] = (),
) -> tuple[BadgeTemplate, list[int]]:
    """An active template with one requirement per run ("pass this run"), in `groups` (default: each
    its own), and, with `penalties`, one penalty per run ("fail this run") resetting its requirement.
    The requirements and penalties of `ccx_runs` listen to CCX passing statuses on custom courses of
    that (master) run instead."""
    template = BadgeTemplateFactory(is_revocable=is_revocable, image="badge_templates/star.png")
    ids = []
    for index, run in enumerate(runs):
        event_type, run_path = (
            (CCX_PASSING, "course_passing_status.course.master_course_key")
            if run in ccx_runs
            else (PASSING, "course_passing_status.course.course_key")
        )
        requirement = BadgeRequirementFactory(
            template=template,
            event_type=event_type,
            description=f"Pass {run}",
            group=(groups or [""] * len(runs))[index],
        )
        DataRuleFactory(requirement=requirement, data_path="course_passing_status.is_passing", value="true")
        DataRuleFactory(requirement=requirement, data_path=run_path, value=run)
        ids.append(requirement.pk)
        if penalties:
            penalty = BadgePenaltyFactory(template=template, event_type=event_type, description=f"Fail {run}")
            penalty.requirements.add(requirement)
            DataRuleFactory(
                requirement=None, penalty=penalty, data_path="course_passing_status.is_passing", value="false"
            )
            DataRuleFactory(requirement=None, penalty=penalty, data_path=run_path, value=run)
    services.activate_badge_template(template_id=template.pk)
    template.refresh_from_db()
    return template, ids


def passing_status(user: UserData, run: str, *, is_passing: bool = True) -> CoursePassingStatusData:
    """The payload of the LMS's COURSE_PASSING_STATUS_UPDATED for the learner in the run."""
    return CoursePassingStatusData(is_passing=is_passing, course=course_data(run), user=user)


def ccx_passing_status(user: UserData, ccx: str, *, is_passing: bool = True) -> CcxCoursePassingStatusData:
    """The payload of the LMS's CCX_COURSE_PASSING_STATUS_UPDATED for the learner in a custom course
    (`ccx-v1:…+ccx@N`) of a master run."""
    key = CCXLocator.from_string(ccx)
    return CcxCoursePassingStatusData(
        is_passing=is_passing,
        course=CcxCourseData(ccx_course_key=key, master_course_key=key.to_course_locator(), display_name="CCX"),
        user=user,
    )


def passing(user: UserData, run: str, *, is_passing: bool = True) -> BadgeEvent:
    data = passing_status(user, run, is_passing=is_passing)
    return BadgeEvent(
        event_type=PASSING,
        learner=LearnerIdentity(
            lms_user_id=user.id, username=user.pii.username, email=user.pii.email, full_name=user.pii.name
        ),
        payload={"course_passing_status": data},
    )


def process(*events: BadgeEvent) -> services.ProcessingResult:
    with transaction.atomic():
        return services.process_badge_events(events=list(events))


def published() -> list[tuple[str, BadgeData]]:
    """The badge events in the outbox, in order, decoded with the openedx-events schema."""
    signals = {BADGE_AWARDED.event_type: BADGE_AWARDED, BADGE_REVOKED.event_type: BADGE_REVOKED}
    return [
        (row.event_type, deserialize(bytes(row.payload), signals[row.event_type])["badge"])
        for row in OutboxEvent.objects.filter(event_type__in=signals).order_by("pk")
    ]


def badge_of(user: UserData, template: BadgeTemplate) -> UserCredential | None:
    return UserCredential.objects.filter(
        user__lms_user_id=user.id, credential_content_type__model="badgetemplate", credential_id=template.pk
    ).first()


RUNS = ("course-v1:OrgX+C1+R1", "course-v1:OrgX+C2+R1", "course-v1:OrgX+C3+R1")
