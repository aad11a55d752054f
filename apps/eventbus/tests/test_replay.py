from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.test import Client
from openedx_events.learning.data import CourseEnrollmentData
from openedx_events.learning.signals import COURSE_ENROLLMENT_CREATED

from apps.core.api import get_or_create_learner
from apps.core.models import User
from apps.eventbus.consumer import process_messages
from apps.eventbus.models import ParkedEvent, ParkedStatus, ProcessedEvent
from apps.eventbus.services import replay_parked_event
from apps.eventbus.tests.factories import incoming_message
from apps.eventbus.tests.test_consumer import enrollment

pytestmark = pytest.mark.django_db

known_courses: set[str] = set()


def needs_known_course(*, metadata: Any, enrollment: CourseEnrollmentData) -> None:
    if str(enrollment.course.course_key) not in known_courses:
        raise LookupError(f"unknown course {enrollment.course.course_key}")
    get_or_create_learner(lms_user_id=enrollment.user.id, username=enrollment.user.pii.username)


@pytest.fixture(autouse=True)
def course_handler(handler: Callable[..., None]) -> None:
    known_courses.clear()
    handler(COURSE_ENROLLMENT_CREATED, needs_known_course)


def test_replay_applies_a_parked_event_once_its_cause_is_fixed() -> None:
    # given: parked because the course was unknown
    process_messages([incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))])
    parked = ParkedEvent.objects.get()
    still_broken = replay_parked_event(parked_id=parked.pk)
    assert still_broken.status == ParkedStatus.PARKED and still_broken.attempts == 2
    # when: the course becomes known, then replay (twice)
    known_courses.add("course-v1:OrgX+C1+R1")
    replayed = replay_parked_event(parked_id=parked.pk)
    again = replay_parked_event(parked_id=parked.pk)
    # then
    assert replayed.status == again.status == ParkedStatus.REPLAYED
    assert User.objects.filter(username="ann").count() == 1
    assert ProcessedEvent.objects.filter(event_id=parked.event_id).exists()


def test_replay_command_reports_what_it_did() -> None:
    # given: two parked events
    process_messages([incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment(n, i)) for i, n in enumerate("ab")])
    known_courses.add("course-v1:OrgX+C1+R1")
    out = StringIO()
    # when
    call_command("replay_parked_events", "--no-progress", stdout=out)
    # then
    assert "Replayed 2 of 2; 0 failed again" in out.getvalue()
    assert set(ParkedEvent.objects.values_list("status", flat=True)) == {ParkedStatus.REPLAYED}


def test_admin_replay_action(admin_client: Client) -> None:
    # given
    process_messages([incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))])
    parked = ParkedEvent.objects.get()
    known_courses.add("course-v1:OrgX+C1+R1")
    # when
    response = admin_client.post(
        "/admin/eventbus/parkedevent/", {"action": "replay", "_selected_action": [parked.pk]}, follow=True
    )
    # then
    assert response.status_code == 200
    assert "Replayed 1; 0 failed again" in response.content.decode()
    parked.refresh_from_db()
    assert parked.status == ParkedStatus.REPLAYED


def test_admin_pages_show_parked_and_outbox_events(admin_client: Client) -> None:
    process_messages([incoming_message(COURSE_ENROLLMENT_CREATED, **enrollment("ann", 1))])
    parked = ParkedEvent.objects.get()
    for url in (
        "/admin/eventbus/parkedevent/",
        f"/admin/eventbus/parkedevent/{parked.pk}/change/",
        "/admin/eventbus/outboxevent/",
        "/admin/eventbus/processedevent/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert "unknown course" in admin_client.get(f"/admin/eventbus/parkedevent/{parked.pk}/change/").content.decode()
    assert site.is_registered(ParkedEvent)
