from __future__ import annotations

import datetime
from typing import Any

import pytest
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import CourseData, CoursePassingStatusData, UserData, UserPersonalData
from openedx_events.learning.signals import COURSE_PASSING_STATUS_UPDATED

from apps.badges.exceptions import BadgesErrorCode, DataRuleError
from apps.badges.rules import Operator, evaluate, parse_value, payload_paths

UTC = datetime.UTC
KEY = "course-v1:edX+DemoX+2025"
OTHER_KEY = "course-v1:edX+Other+2025"


def _matches(field_type: type, operator: str, raw: str, actual: Any) -> bool:
    value = parse_value(field_type, operator, raw)
    return evaluate("data.field", operator, value, {"data": {"field": actual}})


def test_payload_paths_of_course_passing_status_updated() -> None:
    # when
    paths = payload_paths(COURSE_PASSING_STATUS_UPDATED.event_type)
    # then
    assert paths == {
        "course_passing_status.is_passing": bool,
        "course_passing_status.course.course_key": CourseKey,
        "course_passing_status.course.display_name": str,
        "course_passing_status.course.start": datetime.datetime,
        "course_passing_status.course.end": datetime.datetime,
        "course_passing_status.user.id": int,
        "course_passing_status.user.is_active": bool,
        "course_passing_status.user.pii.username": str,
        "course_passing_status.user.pii.email": str,
        "course_passing_status.user.pii.name": str,
    }


def test_payload_paths_of_an_unknown_event_type_is_an_error() -> None:
    # when
    with pytest.raises(DataRuleError) as caught:
        payload_paths("org.openedx.learning.nothing.v1")
    # then
    assert caught.value.code is BadgesErrorCode.UNKNOWN_EVENT_TYPE
    assert "org.openedx.learning.nothing.v1" in caught.value.message


T0 = datetime.datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
T0_RAW = "2025-01-31T12:00:00+00:00"

# (type, operator, raw value, payload value, expected)
CASES: list[tuple[type, str, str, Any, bool]] = [
    # bool
    (bool, "eq", "true", True, True),
    (bool, "eq", "false", True, False),
    (bool, "eq", "FALSE", False, True),
    (bool, "ne", "true", False, True),
    (bool, "ne", "true", True, False),
    (bool, "in", "true, false", False, True),
    (bool, "not_in", "true", True, False),
    # int (compared as numbers: 10 > 9, where "10" < "9" as text)
    (int, "eq", "10", 10, True),
    (int, "ne", "10", 10, False),
    (int, "lt", "10", 9, True),
    (int, "lt", "10", 10, False),
    (int, "le", "10", 10, True),
    (int, "le", "9", 10, False),
    (int, "gt", "9", 10, True),
    (int, "gt", "10", 10, False),
    (int, "ge", "10", 10, True),
    (int, "ge", "11", 10, False),
    (int, "in", "1, 10,100", 10, True),
    (int, "in", "1,100", 10, False),
    (int, "not_in", "1,100", 10, True),
    (int, "not_in", "1,10", 10, False),
    # float
    (float, "eq", "0.5", 0.5, True),
    (float, "ne", "0.5", 0.75, True),
    (float, "lt", "0.8", 0.75, True),
    (float, "le", "0.75", 0.75, True),
    (float, "gt", "0.8", 0.75, False),
    (float, "ge", "0.7", 0.75, True),
    (float, "ge", "1", 1, True),
    (float, "in", "0.5, 0.75", 0.75, True),
    (float, "not_in", "0.5, 0.75", 0.75, False),
    # datetime
    (datetime.datetime, "eq", T0_RAW, T0, True),
    (datetime.datetime, "eq", "2025-01-31T13:00:00+01:00", T0, True),
    (datetime.datetime, "ne", T0_RAW, T0, False),
    (datetime.datetime, "lt", "2025-02-01T00:00:00Z", T0, True),
    (datetime.datetime, "le", T0_RAW, T0, True),
    (datetime.datetime, "gt", "2025-02-01T00:00:00Z", T0, False),
    (datetime.datetime, "ge", "2025-01-01T00:00:00Z", T0, True),
    (datetime.datetime, "in", f"2024-01-01T00:00:00Z,{T0_RAW}", T0, True),
    (datetime.datetime, "not_in", "2024-01-01T00:00:00Z", T0, True),
    # CourseKey
    (CourseKey, "eq", KEY, CourseKey.from_string(KEY), True),
    (CourseKey, "eq", OTHER_KEY, CourseKey.from_string(KEY), False),
    (CourseKey, "ne", OTHER_KEY, CourseKey.from_string(KEY), True),
    (CourseKey, "in", f"{OTHER_KEY}, {KEY}", CourseKey.from_string(KEY), True),
    (CourseKey, "not_in", OTHER_KEY, CourseKey.from_string(KEY), True),
    (CourseKey, "not_in", KEY, CourseKey.from_string(KEY), False),
    # str
    (str, "eq", "alice", "alice", True),
    (str, "eq", "Alice", "alice", False),
    (str, "ne", "bob", "alice", True),
    (str, "in", "alice,bob", "bob", True),
    (str, "in", "alice,bob", "carol", False),
    (str, "not_in", "alice,bob", "carol", True),
    (str, "contains", "@example.", "alice@example.com", True),
    (str, "contains", "@edx.", "alice@example.com", False),
    # exists: any type, no value
    (bool, "exists", "", False, True),
    (int, "exists", "", 0, True),
    (str, "exists", "", "", True),
    (datetime.datetime, "exists", "", T0, True),
]


@pytest.mark.parametrize(("field_type", "operator", "raw", "actual", "expected"), CASES)
def test_operator_compares_with_the_fields_type(
    field_type: type, operator: str, raw: str, actual: Any, expected: bool
) -> None:
    # when
    matched = _matches(field_type, operator, raw, actual)
    # then
    assert matched is expected


def test_every_operator_is_covered() -> None:
    assert {case[1] for case in CASES} == set(Operator)


@pytest.mark.parametrize("operator", list(Operator))
@pytest.mark.parametrize("payload", [{}, {"data": {}}, {"data": None}, {"data": {"field": None}}, {"data": 3}])
def test_a_missing_path_never_matches(operator: str, payload: dict[str, Any]) -> None:
    # given
    field_type = str if operator == "contains" else int
    value = parse_value(field_type, operator, "" if operator == "exists" else "1")
    # when
    matched = evaluate("data.field", operator, value, payload)
    # then
    assert matched is False


def test_evaluates_the_attrs_data_of_a_real_event() -> None:
    # given
    payload = {
        "course_passing_status": CoursePassingStatusData(
            is_passing=True,
            course=CourseData(course_key=CourseKey.from_string(KEY), display_name="Demo"),
            user=UserData(id=7, is_active=True, pii=UserPersonalData(username="alice", email="a@x.org", name="Alice")),
        )
    }
    paths = payload_paths(COURSE_PASSING_STATUS_UPDATED.event_type)

    def match(path: str, operator: str, raw: str) -> bool:
        return evaluate(path, operator, parse_value(paths[path], operator, raw), payload)

    # then
    assert match("course_passing_status.is_passing", "eq", "true")
    assert match("course_passing_status.course.course_key", "eq", KEY)
    assert not match("course_passing_status.course.course_key", "eq", OTHER_KEY)
    assert match("course_passing_status.user.id", "ge", "7")
    assert match("course_passing_status.user.pii.username", "in", "bob,alice")
    assert not match("course_passing_status.course.start", "exists", "")  # None in the payload


def test_a_naive_payload_datetime_is_taken_as_utc() -> None:
    # when
    matched = _matches(datetime.datetime, "eq", T0_RAW, T0.replace(tzinfo=None))
    # then
    assert matched is True


def test_a_payload_of_another_type_is_an_error_not_a_string_comparison() -> None:
    # when
    with pytest.raises(DataRuleError) as caught:
        _matches(int, "eq", "10", "10")
    # then
    assert caught.value.code is BadgesErrorCode.TYPE_MISMATCH
    assert "data.field is str in the payload" in caught.value.message


# (type, operator, raw value, code, field, words the message names)
PARSE_ERRORS: list[tuple[type, str, str, BadgesErrorCode, str, str]] = [
    (bool, "eq", "yes", BadgesErrorCode.INVALID_VALUE, "value", "'yes' is not a bool: write true or false"),
    (bool, "eq", "1", BadgesErrorCode.INVALID_VALUE, "value", "'1' is not a bool"),
    (int, "eq", "1.5", BadgesErrorCode.INVALID_VALUE, "value", "'1.5' is not an int"),
    (int, "eq", "", BadgesErrorCode.INVALID_VALUE, "value", "'' is not an int"),
    (float, "gt", "half", BadgesErrorCode.INVALID_VALUE, "value", "'half' is not a float"),
    (float, "gt", "nan", BadgesErrorCode.INVALID_VALUE, "value", "not a finite number"),
    (datetime.datetime, "lt", "31/01/2025", BadgesErrorCode.INVALID_VALUE, "value", "not an ISO 8601 datetime"),
    (datetime.datetime, "lt", "2025-01-31T00:00:00", BadgesErrorCode.INVALID_VALUE, "value", "has no UTC offset"),
    (CourseKey, "eq", "DemoX", BadgesErrorCode.INVALID_VALUE, "value", "'DemoX' is not a valid CourseKey"),
    (int, "in", "1,,2", BadgesErrorCode.INVALID_VALUE, "value", "comma-separated list"),
    (int, "not_in", "1,x", BadgesErrorCode.INVALID_VALUE, "value", "'x' is not an int"),
    (int, "exists", "1", BadgesErrorCode.INVALID_VALUE, "value", "'exists' takes no value"),
    (bool, "lt", "true", BadgesErrorCode.UNSUPPORTED_OPERATOR, "operator", "this field is bool"),
    (str, "gt", "a", BadgesErrorCode.UNSUPPORTED_OPERATOR, "operator", "this field is str"),
    (CourseKey, "ge", KEY, BadgesErrorCode.UNSUPPORTED_OPERATOR, "operator", "this field is CourseKey"),
    (int, "contains", "1", BadgesErrorCode.UNSUPPORTED_OPERATOR, "operator", "'contains' looks for text"),
    (int, "like", "1", BadgesErrorCode.UNKNOWN_OPERATOR, "operator", "'like' is not an operator"),
]


@pytest.mark.parametrize(("field_type", "operator", "raw", "code", "field", "words"), PARSE_ERRORS)
def test_parse_errors_name_the_problem(
    field_type: type, operator: str, raw: str, code: BadgesErrorCode, field: str, words: str
) -> None:
    # when
    with pytest.raises(DataRuleError) as caught:
        parse_value(field_type, operator, raw)
    # then
    assert caught.value.code is code
    assert caught.value.field == field
    assert words in caught.value.message


def test_parsed_values_have_the_fields_type() -> None:
    assert parse_value(int, "in", " 1, 2 ") == (1, 2)
    assert parse_value(CourseKey, "eq", KEY) == CourseKey.from_string(KEY)
    assert parse_value(datetime.datetime, "eq", "2025-01-31T12:00:00Z") == T0
    assert parse_value(str, "eq", " spaced ") == " spaced "
    assert parse_value(bool, "exists", "") is None
