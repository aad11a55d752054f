from __future__ import annotations

from typing import Any

from apps.badges.checks import check_badges_event_types


def test_the_default_badge_event_types_pass(settings: Any) -> None:
    # then
    assert check_badges_event_types(None) == []


def test_an_unknown_event_type_is_named(settings: Any) -> None:
    # given
    settings.BADGES_EVENT_TYPES = ["org.openedx.learning.nope.v1"]
    # when
    [error] = check_badges_event_types(None)
    # then
    assert error.id == "badges.E001"
    assert "BADGES_EVENT_TYPES names 'org.openedx.learning.nope.v1'" in error.msg


def test_an_event_type_without_a_learner_is_named(settings: Any) -> None:
    # given: the grade summary names the learner by id only, not as UserData
    settings.BADGES_EVENT_TYPES = ["org.openedx.learning.course.persistent_grade_summary.changed.v1"]
    # when
    [error] = check_badges_event_types(None)
    # then
    assert error.id == "badges.E002"
    assert "names no learner" in error.msg
