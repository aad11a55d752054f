"""The processors shipped with the service: who is eligible for a configuration, read from our own
database (grades and credentials the event pipeline recorded) in one query whatever the cohort size.

Each returns learners by user id, each once, named by their full name, else their username. Options
are shared with the generator, so keys a processor does not know are ignored; the ones it knows are
checked by its `validate_options` (see `plugins.checks_options`) and again when it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from apps.credentials import api as credentials_api
from apps.credentials.data import LearnerNameData

from .exceptions import PdfCredentialsErrorCode
from .plugins import ConfigurationData, EligibleLearner, PluginError, checks_options

COURSE_RUN = "course-run"
PROGRAM = "program"
KINDS = (COURSE_RUN, PROGRAM)


def _bad_option(message: str, *, field: str) -> PluginError:
    return PluginError(message, code=PdfCredentialsErrorCode.BAD_OPTIONS, field=field)


def _learners(rows: Iterable[LearnerNameData]) -> list[EligibleLearner]:
    return [EligibleLearner(user_id=row.user_id, name=row.name) for row in rows]


# --- option parsing: the validators and the processors read options through these ---------------


def _threshold(options: Mapping[str, Any]) -> Decimal | None:
    value = options.get("threshold")
    if value is None:
        return None
    # bool is an int to Python, but `"threshold": true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _bad_option(f"threshold must be a number from 0 to 1, not {value!r}.", field="threshold")
    # Through str so that 0.7 means 0.7, not the float's binary expansion.
    threshold = Decimal(str(value))
    if not threshold.is_finite() or not Decimal(0) <= threshold <= Decimal(1):
        raise _bad_option(f"threshold must be from 0 to 1, not {value!r}.", field="threshold")
    return threshold


def _course_run_key(value: Any, *, field: str) -> str:
    if not isinstance(value, str):
        raise _bad_option(f"{field} must be a course run key such as course-v1:Org+Course+Run.", field=field)
    try:
        CourseKey.from_string(value)
    except InvalidKeyError:
        raise _bad_option(f"{value!r} is not a course run key.", field=field) from None
    return value


def _program_uuid(value: Any, *, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise _bad_option(f"{value!r} is not a program uuid.", field=field)


def _mode(options: Mapping[str, Any]) -> str | None:
    mode = options.get("mode")
    if mode is None:
        return None
    if mode not in credentials_api.CertificateMode.values:
        known = ", ".join(credentials_api.CertificateMode.values)
        raise _bad_option(f"mode must be one of {known}, not {mode!r}.", field="mode")
    return str(mode)


def _kind(options: Mapping[str, Any]) -> str:
    kind = options.get("kind")
    if kind not in KINDS:
        raise _bad_option(f"kind must be {COURSE_RUN!r} or {PROGRAM!r}, not {kind!r}.", field="kind")
    if kind == PROGRAM:
        for key in ("course_run_key", "mode"):
            if options.get(key) is not None:
                raise _bad_option(f"{key} names a course certificate; kind is {PROGRAM!r}.", field=key)
    elif options.get("program_uuid") is not None:
        raise _bad_option(f"program_uuid names a program certificate; kind is {COURSE_RUN!r}.", field="program_uuid")
    return str(kind)


def _configured_course_run(configuration: ConfigurationData, *, processor: str) -> str:
    if not configuration.course_run_key:
        raise _bad_option(
            f"Configuration {configuration.id} names no course run, which {processor} needs.", field="course_run_key"
        )
    return configuration.course_run_key


def _configured_program(configuration: ConfigurationData, *, processor: str) -> uuid.UUID:
    if configuration.program_uuid is None:
        raise _bad_option(
            f"Configuration {configuration.id} names no program, which {processor} needs.", field="program_uuid"
        )
    return configuration.program_uuid


# --- learners with a passing grade ---------------------------------------------------------------


def validate_passing_grade_options(options: dict[str, Any]) -> None:
    """`threshold`, optional: a number from 0 to 1."""
    _threshold(options)


@checks_options(validate_passing_grade_options)
def passing_grade(configuration: ConfigurationData, options: Mapping[str, Any]) -> list[EligibleLearner]:
    """Learners with a passing grade in the configuration's course run; with `threshold`, only those
    whose percent grade is also at least that. A failing grade never counts, whatever the threshold.
    Raises PluginError for bad options or a configuration without a course run. One query."""
    threshold = _threshold(options)
    course_run_key = _configured_course_run(configuration, processor="passing_grade")
    return _learners(credentials_api.list_passing_learners(course_run_key=course_run_key, threshold=threshold))


# --- learners who completed a program -------------------------------------------------------------


def validate_program_completed_options(options: dict[str, Any]) -> None:
    """No options of its own."""


@checks_options(validate_program_completed_options)
def program_completed(configuration: ConfigurationData, options: Mapping[str, Any]) -> list[EligibleLearner]:
    """Learners holding an awarded, visible certificate of the configuration's program (revoked ones
    never count; one whose program certificate is not visible yet waits for it, so no PDF announces a
    certificate early). Raises PluginError for a configuration without a program. One query."""
    program_uuid = _configured_program(configuration, processor="program_completed")
    return _learners(credentials_api.list_program_certificate_holders(program_uuid=program_uuid, visible_only=True))


# --- learners awarded a given credential ----------------------------------------------------------


def validate_awarded_credential_options(options: dict[str, Any]) -> None:
    """`kind`: "course-run" (with optional `course_run_key` and `mode`) or "program" (with optional
    `program_uuid`); an omitted key means the configuration's own course run or program."""
    kind = _kind(options)
    if kind == COURSE_RUN:
        if options.get("course_run_key") is not None:
            _course_run_key(options["course_run_key"], field="course_run_key")
        _mode(options)
    elif options.get("program_uuid") is not None:
        _program_uuid(options["program_uuid"], field="program_uuid")


@checks_options(validate_awarded_credential_options)
def awarded_credential(configuration: ConfigurationData, options: Mapping[str, Any]) -> list[EligibleLearner]:
    """Learners holding an awarded credential: a course certificate of a run (in `mode`, or any mode)
    or a program certificate; the run or program defaults to the configuration's own. Revoked ones
    never count. Raises PluginError for bad options, or when neither the options nor the configuration
    name the run or program. One query."""
    validate_awarded_credential_options(dict(options))
    if options["kind"] == COURSE_RUN:
        course_run_key = (
            _course_run_key(options["course_run_key"], field="course_run_key")
            if options.get("course_run_key") is not None
            else _configured_course_run(configuration, processor="awarded_credential")
        )
        holders = credentials_api.list_course_certificate_holders(course_run_key=course_run_key, mode=_mode(options))
    else:
        program_uuid = (
            _program_uuid(options["program_uuid"], field="program_uuid")
            if options.get("program_uuid") is not None
            else _configured_program(configuration, processor="awarded_credential")
        )
        holders = credentials_api.list_program_certificate_holders(program_uuid=program_uuid)
    return _learners(holders)
