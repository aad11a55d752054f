"""Data rules: which paths an event's data has, parsing a rule's value for its field's type, and
comparing it with an event's payload. Pure: no database, no settings.

A path names a field of the attrs data classes an openedx-events signal carries, from the signal's
``init_data`` down, joined by dots: ``course_passing_status.course.course_key``. Only scalar leaves
can be compared (bool, int, float, str, datetime and opaque keys such as ``CourseKey``); lists and
dicts in the data have no path.
"""

from __future__ import annotations

import datetime
import enum
import functools
import math
from collections.abc import Mapping
from typing import Any

import attr

# Importing the signal modules registers their signals, so that every event type can be looked up.
import openedx_events.analytics.signals
import openedx_events.authz.signals
import openedx_events.content_authoring.signals
import openedx_events.enterprise.signals
import openedx_events.learning.signals  # noqa: F401
from opaque_keys import InvalidKeyError, OpaqueKey
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import UserData
from openedx_events.tooling import OpenEdxPublicSignal

from .exceptions import BadgesErrorCode, DataRuleError


class Operator(enum.StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"


OPERATOR_LABELS = {
    Operator.EQ: "equals",
    Operator.NE: "does not equal",
    Operator.LT: "is less than",
    Operator.LE: "is at most",
    Operator.GT: "is greater than",
    Operator.GE: "is at least",
    Operator.IN: "is one of (comma-separated)",
    Operator.NOT_IN: "is none of (comma-separated)",
    Operator.CONTAINS: "contains (text)",
    Operator.EXISTS: "is present (no value)",
}

_ORDERING = {Operator.LT, Operator.LE, Operator.GT, Operator.GE}
_SCALARS: tuple[type, ...] = (bool, int, float, str, datetime.datetime)


def get_signal(event_type: str) -> OpenEdxPublicSignal:
    try:
        return OpenEdxPublicSignal.get_signal_by_type(event_type)
    except KeyError:
        raise DataRuleError(
            f"{event_type!r} is not an openedx-events event type.",
            code=BadgesErrorCode.UNKNOWN_EVENT_TYPE,
            field="event_type",
        ) from None


def payload_paths(event_type: str) -> dict[str, type]:
    """The comparable paths into the data of this event type, each with its field's type."""
    return dict(_payload_paths(event_type))


@functools.cache
def _payload_paths(event_type: str) -> tuple[tuple[str, type], ...]:
    paths: list[tuple[str, type]] = []
    for name, data_type in get_signal(event_type).init_data.items():
        _walk(name, data_type, paths)
    return tuple(paths)


def _walk(prefix: str, field_type: Any, paths: list[tuple[str, type]]) -> None:
    if isinstance(field_type, type) and attr.has(field_type):
        for field in attr.fields(field_type):
            _walk(f"{prefix}.{field.name}", field.type, paths)
    elif isinstance(field_type, type) and issubclass(field_type, (*_SCALARS, OpaqueKey)):
        paths.append((prefix, field_type))
    # Anything else (List[...], dict[...]) has no comparable path.


@functools.cache
def learner_path(event_type: str) -> str | None:
    """The path of the first learner (a UserData) in the data of this event type, or None."""
    found: list[str] = []
    for name, data_type in get_signal(event_type).init_data.items():
        _find_user(name, data_type, found)
    return found[0] if found else None


def _find_user(prefix: str, field_type: Any, found: list[str]) -> None:
    if not (isinstance(field_type, type) and attr.has(field_type)):
        return
    if field_type is UserData:
        found.append(prefix)
        return
    for field in attr.fields(field_type):
        _find_user(f"{prefix}.{field.name}", field.type, found)


def learner_of(event_type: str, payload: Mapping[str, Any]) -> UserData | None:
    """The learner an event is about (see `learner_path`), or None when the payload has none."""
    path = learner_path(event_type)
    found = _lookup(payload, path) if path else None
    return found if isinstance(found, UserData) else None


def course_keys_of(event_type: str, payload: Mapping[str, Any]) -> list[CourseKey]:
    """Every course key in the event's data (a CCX's and its master course's), to match a template's
    course run or organization scope."""
    keys = []
    for path, field_type in _payload_paths(event_type):
        if issubclass(field_type, CourseKey):
            value = _lookup(payload, path)
            if isinstance(value, CourseKey):
                keys.append(value)
    return keys


def parse_value(field_type: type, operator: str, raw: str) -> Any:
    """The rule's value as the field's type: a tuple of them for in/not_in, None for exists.
    Raises DataRuleError naming what is wrong (field "operator" or "value")."""
    op = _operator(operator)
    if op is Operator.EXISTS:
        if raw.strip():
            raise _value_error(f"'exists' takes no value; remove {raw!r}.")
        return None
    if op in _ORDERING and (field_type is bool or not issubclass(field_type, (int, float, datetime.datetime))):
        raise DataRuleError(
            f"'{op}' compares numbers and dates; this field is {type_name(field_type)}.",
            code=BadgesErrorCode.UNSUPPORTED_OPERATOR,
            field="operator",
        )
    if op is Operator.CONTAINS and not issubclass(field_type, str):
        raise DataRuleError(
            f"'contains' looks for text in text; this field is {type_name(field_type)}.",
            code=BadgesErrorCode.UNSUPPORTED_OPERATOR,
            field="operator",
        )
    if op in (Operator.IN, Operator.NOT_IN):
        items = [item.strip() for item in raw.split(",")]
        if not any(items) or not all(items):
            raise _value_error(f"'{op}' needs a comma-separated list of values with none empty, not {raw!r}.")
        return tuple(_parse_one(field_type, item) for item in items)
    return _parse_one(field_type, raw)


def _parse_one(field_type: type, raw: str) -> Any:
    if issubclass(field_type, str):
        return raw
    text = raw.strip()
    name = type_name(field_type)
    if field_type is bool:
        if text.lower() not in ("true", "false"):
            raise _value_error(f"{raw!r} is not a bool: write true or false.")
        return text.lower() == "true"
    if issubclass(field_type, OpaqueKey):
        try:
            return field_type.from_string(text)
        except InvalidKeyError:
            raise _value_error(f"{raw!r} is not a valid {name}.") from None
    if issubclass(field_type, datetime.datetime):
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise _value_error(f"{raw!r} is not an ISO 8601 datetime, e.g. 2025-01-31T00:00:00+00:00.") from None
        if moment.tzinfo is None:
            raise _value_error(f"{raw!r} has no UTC offset: add one, e.g. +00:00 or Z.")
        return moment
    if issubclass(field_type, int):
        try:
            return int(text)
        except ValueError:
            raise _value_error(f"{raw!r} is not an int (a whole number).") from None
    if issubclass(field_type, float):
        try:
            number = float(text)
        except ValueError:
            raise _value_error(f"{raw!r} is not a float (a number).") from None
        if not math.isfinite(number):
            raise _value_error(f"{raw!r} is not a finite number.")
        return number
    raise _value_error(f"Fields of type {name} cannot be compared.")


_MISSING = object()


def evaluate(rule_path: str, operator: str, value: Any, payload: Mapping[str, Any] | object) -> bool:
    """Whether the payload (the event's data dict, or an attrs data object) matches the rule.
    `value` is what `parse_value` returned. A path missing from the payload (or None) never matches,
    whatever the operator. Raises DataRuleError when the payload's field is not of the rule's type."""
    op = _operator(operator)
    actual = _lookup(payload, rule_path)
    if actual is _MISSING or actual is None:
        return False
    if op is Operator.EXISTS:
        return True
    if isinstance(actual, datetime.datetime) and actual.tzinfo is None:
        actual = actual.replace(tzinfo=datetime.UTC)  # the LMS's naive datetimes are UTC
    expected = value if op not in (Operator.IN, Operator.NOT_IN) else value[0]
    if not _same_kind(actual, expected):
        raise DataRuleError(
            f"{rule_path} is {type_name(type(actual))} in the payload, the rule's value is "
            f"{type_name(type(expected))}.",
            code=BadgesErrorCode.TYPE_MISMATCH,
            field="data_path",
        )
    match op:
        case Operator.EQ:
            return bool(actual == value)
        case Operator.NE:
            return bool(actual != value)
        case Operator.LT:
            return bool(actual < value)
        case Operator.LE:
            return bool(actual <= value)
        case Operator.GT:
            return bool(actual > value)
        case Operator.GE:
            return bool(actual >= value)
        case Operator.IN:
            return actual in value
        case Operator.NOT_IN:
            return actual not in value
        case Operator.CONTAINS:
            return bool(value in actual)
    raise AssertionError(f"unhandled operator {op}")


def _lookup(payload: Mapping[str, Any] | object, path: str) -> Any:
    current: Any = payload
    for name in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(name, _MISSING)
        elif attr.has(type(current)):
            current = getattr(current, name, _MISSING)
        else:
            return _MISSING
        if current is _MISSING or current is None:
            return current
    return current


def _same_kind(actual: object, expected: object) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool)
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float))
    if isinstance(expected, OpaqueKey):
        return isinstance(actual, OpaqueKey)
    return isinstance(actual, type(expected))


def _operator(operator: str) -> Operator:
    try:
        return Operator(operator)
    except ValueError:
        raise DataRuleError(
            f"{operator!r} is not an operator; use one of {', '.join(Operator)}.",
            code=BadgesErrorCode.UNKNOWN_OPERATOR,
            field="operator",
        ) from None


def _value_error(message: str) -> DataRuleError:
    return DataRuleError(message, code=BadgesErrorCode.INVALID_VALUE, field="value")


def type_name(field_type: type) -> str:
    for key_type in ("CourseKey", "UsageKey"):
        if any(base.__name__ == key_type for base in field_type.__mro__):
            return key_type
    return field_type.__name__
