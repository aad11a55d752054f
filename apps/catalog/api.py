"""The catalog's public interface: reads as frozen data, course runs as the LMS reports them, and the
idempotent catalog import."""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Model, QuerySet
from django.utils.text import slugify
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from .data import CourseData, CourseRunChangeData, CourseRunData, LoadSummary, OrganizationData, ProgramData
from .exceptions import CatalogError, CatalogErrorCode, CatalogNotFoundError
from .models import Course, CourseRun, Organization, PacingType, Program, ProgramCourse
from .serializers import ProgramInputSerializer

__all__ = [
    "CatalogError",
    "CatalogNotFoundError",
    "get_course_run",
    "get_course_runs",
    "get_or_create_course_run",
    "get_program",
    "get_program_by_id",
    "list_programs_with_courses",
    "load_program",
    "record_course_run",
    "set_certificate_available_date",
    "validate_programs",
]

log = logging.getLogger(__name__)


# --- reads ------------------------------------------------------------------------------------


def _read_programs(programs: QuerySet[Program]) -> list[ProgramData]:
    """These programs with their organizations, courses and runs, in their queryset's order, in three
    queries whatever their number. Read as flat rows without building model instances: learner
    records and the program completion engine read programs for every request and batch of events."""
    rows = list(programs.values("id", "uuid", "title", "type", "type_slug", "status"))
    ids = [row["id"] for row in rows]
    organizations: dict[int, list[OrganizationData]] = {}
    for program_id, org_uuid, org_key, name, logo in (
        Organization.objects.filter(programs__in=ids)
        .order_by("key")
        .values_list("programs", "uuid", "key", "name", "certificate_logo_image_url")
    ):
        organizations.setdefault(program_id, []).append(
            OrganizationData(uuid=org_uuid, key=org_key, name=name, certificate_logo_image_url=logo)
        )
    # One row per (program, course, run); a course without runs still gets one, with the run columns NULL.
    course_rows = (
        ProgramCourse.objects.filter(program_id__in=ids)
        .order_by("position", "id", F("course__course_runs__start").asc(nulls_last=True), "course__course_runs__key")
        .values_list(
            "program_id",
            "course_id",
            "course__uuid",
            "course__key",
            "course__title",
            "course__course_runs__id",
            "course__course_runs__key",
            "course__course_runs__title",
            "course__course_runs__start",
            "course__course_runs__end",
            "course__course_runs__pacing_type",
            "course__course_runs__certificate_available_date",
            "course__course_runs__certificate_available_date_from_lms",
        )
    )
    courses: dict[int, dict[int, tuple[tuple[uuid.UUID, str, str], list[CourseRunData]]]] = {}
    for (
        program_id,
        course_id,
        course_uuid,
        key,
        title,
        run_id,
        run_key,
        run_title,
        start,
        end,
        pacing,
        available,
        available_from_lms,
    ) in course_rows:
        _, runs = courses.setdefault(program_id, {}).setdefault(course_id, ((course_uuid, key, title), []))
        if run_id is not None:
            runs.append(
                CourseRunData(
                    id=run_id,
                    key=run_key,
                    title=run_title or title,
                    start=start,
                    end=end,
                    pacing_type=pacing,
                    certificate_available_date=available,
                    certificate_available_date_from_lms=bool(available_from_lms),
                )
            )
    return [
        ProgramData(
            **row,
            organizations=tuple(organizations.get(row["id"], ())),
            courses=tuple(
                CourseData(id=course_id, uuid=course_uuid, key=key, title=title, runs=tuple(runs))
                for course_id, ((course_uuid, key, title), runs) in courses.get(row["id"], {}).items()
            ),
        )
        for row in rows
    ]


def _run_to_data(run: CourseRun, *, course_title: str) -> CourseRunData:
    return CourseRunData(
        id=run.pk,
        key=run.key,
        title=run.title or course_title,
        start=run.start,
        end=run.end,
        pacing_type=run.pacing_type,
        certificate_available_date=run.certificate_available_date,
        certificate_available_date_from_lms=run.certificate_available_date_from_lms,
    )


def get_program(*, program_uuid: uuid.UUID) -> ProgramData:
    """The program with its organizations, courses and runs, in three queries. Raises
    CatalogNotFoundError."""
    programs = _read_programs(Program.objects.filter(uuid=program_uuid))
    if not programs:
        raise CatalogNotFoundError(
            f"No program {program_uuid}.", code=CatalogErrorCode.PROGRAM_NOT_FOUND, field="program_uuid"
        )
    return programs[0]


def get_program_by_id(*, program_id: int) -> ProgramData:
    """The program with this primary key, as `get_program` returns it (one query more). Raises
    CatalogNotFoundError."""
    program_uuid = Program.objects.filter(pk=program_id).values_list("uuid", flat=True).first()
    if program_uuid is None:
        raise CatalogNotFoundError(
            f"No program with id {program_id}.", code=CatalogErrorCode.PROGRAM_NOT_FOUND, field="program_id"
        )
    return get_program(program_uuid=program_uuid)


def list_programs_with_courses(*, course_run_ids: Iterable[int] | None = None) -> list[ProgramData]:
    """Programs (any status but deleted) with their tree, optionally only those containing one of
    the given course runs' courses, by title. Three queries whatever the number of programs."""
    programs = Program.objects.exclude(status="deleted")
    if course_run_ids is not None:
        programs = programs.filter(courses__course_runs__id__in=list(course_run_ids)).distinct()
    return _read_programs(programs.order_by("title", "id"))


def get_course_run(*, key: str) -> CourseRunData:
    """The course run with this key; raises CatalogNotFoundError."""
    return get_course_runs(keys=[key])[key]


def get_course_runs(*, keys: Iterable[str]) -> dict[str, CourseRunData]:
    """The course runs with these keys, keyed by key, in one query whatever their number. Raises
    CatalogNotFoundError naming the first key (in the order given) that is unknown."""
    wanted = list(dict.fromkeys(keys))
    runs = {
        run.key: _run_to_data(run, course_title=run.course.title)
        for run in CourseRun.objects.select_related("course").filter(key__in=wanted)
    }
    for key in wanted:
        if key not in runs:
            raise CatalogNotFoundError(
                f"No course run {key!r}.", code=CatalogErrorCode.COURSE_RUN_NOT_FOUND, field="course_run_key"
            )
    return runs


# --- course runs as the LMS reports them ------------------------------------------------------


def record_course_run(
    *,
    key: str,
    title: str,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
    pacing_type: str,
    lms_last_updated_at: datetime.datetime | None = None,
) -> CourseRunChangeData:
    """Apply the LMS's word on a course run: its title, start, end and pacing. An unknown run is
    created when its course is in the catalog, and ignored (logged) when not: the LMS announces every
    course, ours are only those of our programs. An update older than the last one applied (by the
    LMS's timestamp) changes nothing. Idempotent; locks the run's row. Raises CatalogError for a key
    that is not a course run key or an unknown pacing."""
    if pacing_type not in PacingType.values:
        raise CatalogError(
            f"Unknown pacing {pacing_type!r} for {key}.", code=CatalogErrorCode.INVALID_COURSE_RUN, field="pacing_type"
        )
    values: dict[str, Any] = {"title": title, "start": start, "end": end, "pacing_type": pacing_type}
    with transaction.atomic():
        run = _lock_course_run(key=key)
        if run is None:
            course = Course.objects.filter(key=_course_key_of(key)).first()
            if course is None:
                log.info("Ignoring the LMS's course run %s: its course is not in the catalog.", key)
                return CourseRunChangeData(key=key, before=None, after=None)
            run, created = _create_course_run(
                key=key, course=course, values={**values, "lms_last_updated_at": lms_last_updated_at}
            )
            if created:
                return CourseRunChangeData(key=key, before=None, after=_run_to_data(run, course_title=course.title))
        before = _run_to_data(run, course_title=run.course.title)
        if lms_last_updated_at and run.lms_last_updated_at and lms_last_updated_at < run.lms_last_updated_at:
            return CourseRunChangeData(key=key, before=before, after=before)
        changed = [name for name, value in values.items() if getattr(run, name) != value]
        if lms_last_updated_at and run.lms_last_updated_at != lms_last_updated_at:
            values["lms_last_updated_at"] = lms_last_updated_at
            changed.append("lms_last_updated_at")
        if changed:
            for name in changed:
                setattr(run, name, values[name])
            run.save(update_fields=[*changed, "modified"])
        return CourseRunChangeData(key=key, before=before, after=_run_to_data(run, course_title=run.course.title))


def get_or_create_course_run(*, key: str) -> CourseRunData:
    """The course run with this key, created (untitled, undated, instructor-paced) when its course is
    in the catalog. Idempotent. Raises CatalogNotFoundError when its course is not in the catalog,
    CatalogError for a key that is not a course run key."""
    run = CourseRun.objects.select_related("course").filter(key=key).first()
    if run is None:
        course = Course.objects.filter(key=_course_key_of(key)).first()
        if course is None:
            raise CatalogNotFoundError(
                f"No course for the course run {key!r}.", code=CatalogErrorCode.COURSE_NOT_FOUND, field="course_run_key"
            )
        with transaction.atomic():
            run, _ = _create_course_run(key=key, course=course, values={})
    return _run_to_data(run, course_title=run.course.title)


def _course_key_of(run_key: str) -> str:
    # Course.key is the run key's org and number: course-v1:MITx+6.002x+2025 -> MITx+6.002x.
    try:
        parsed = CourseKey.from_string(run_key)
    except InvalidKeyError:
        raise CatalogError(
            f"{run_key!r} is not a course run key.", code=CatalogErrorCode.INVALID_COURSE_RUN, field="course_run_key"
        ) from None
    return f"{parsed.org}+{parsed.course}"


def _lock_course_run(*, key: str) -> CourseRun | None:
    # of=("self",): lock the run, not the course row joined for its title.
    return CourseRun.objects.select_for_update(of=("self",)).select_related("course").filter(key=key).first()


def _create_course_run(*, key: str, course: Course, values: dict[str, Any]) -> tuple[CourseRun, bool]:
    """Create the run, or lock the one another transaction created meanwhile. The caller holds a
    transaction."""
    try:
        with transaction.atomic():
            return CourseRun.objects.create(key=key, course=course, **values), True
    except IntegrityError:
        run = _lock_course_run(key=key)
        assert run is not None
        return run, False


def set_certificate_available_date(
    *, key: str, certificate_available_date: datetime.datetime | None
) -> CourseRunChangeData:
    """Set the date from which the run's certificates are available, as the LMS announces it with its
    certificate configuration (None: no such date, so they are visible once awarded), and note that the
    LMS set it. Idempotent; locks the run's row. Raises CatalogNotFoundError for an unknown run."""
    with transaction.atomic():
        run = _lock_course_run(key=key)
        if run is None:
            raise CatalogNotFoundError(
                f"No course run {key!r}.", code=CatalogErrorCode.COURSE_RUN_NOT_FOUND, field="course_run_key"
            )
        before = _run_to_data(run, course_title=run.course.title)
        if run.certificate_available_date != certificate_available_date or not run.certificate_available_date_from_lms:
            run.certificate_available_date = certificate_available_date
            run.certificate_available_date_from_lms = True
            run.save(update_fields=["certificate_available_date", "certificate_available_date_from_lms", "modified"])
        return CourseRunChangeData(key=key, before=before, after=_run_to_data(run, course_title=run.course.title))


# --- the catalog import -----------------------------------------------------------------------


def validate_programs(raw: Any) -> list[dict[str, Any]]:
    """Validate a discovery-shaped document (a list, or a page with `results`); raise CatalogError
    naming the first bad field."""
    items = raw.get("results") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise CatalogError(
            "Expected a list of programs or an object with 'results'.", code=CatalogErrorCode.INVALID_CATALOG
        )
    validated = []
    for index, item in enumerate(items):
        serializer = ProgramInputSerializer(data=item)
        if not serializer.is_valid():
            raise CatalogError(
                f"Program #{index} ({item.get('uuid', '?') if isinstance(item, dict) else '?'}): {serializer.errors}",
                code=CatalogErrorCode.INVALID_CATALOG,
            )
        validated.append(serializer.validated_data)
    return validated


def _upsert[M: Model](model: type[M], summary: LoadSummary, lookup: dict[str, Any], values: dict[str, Any]) -> M:
    # _default_manager is `objects` here (no custom managers) and, unlike it, is typed on type[M].
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model._default_manager.create(**lookup, **values)
        summary.count(model.__name__, created=True)
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=[*changed, "modified"] if hasattr(obj, "modified") else changed)
        summary.count(model.__name__, created=False)
    return obj


def _upsert_organizations(rows: list[dict[str, Any]], summary: LoadSummary) -> list[Organization]:
    return [
        _upsert(
            Organization,
            summary,
            {"uuid": row["uuid"]},
            {
                "key": row["key"],
                "name": row["name"],
                "certificate_logo_image_url": row.get("certificate_logo_image_url") or "",
            },
        )
        for row in rows
    ]


def load_program(*, data: dict[str, Any], summary: LoadSummary) -> Program:
    """Create or update one validated program with its organizations, courses and runs.

    Idempotent: loading the same data again changes nothing. The program's course list mirrors the
    data (courses no longer listed leave the program); runs are never deleted, since credentials
    may point at them.
    """
    with transaction.atomic():
        program = _upsert(
            Program,
            summary,
            {"uuid": data["uuid"]},
            {
                "title": data["title"],
                "type": data["type"],
                "type_slug": (data.get("type_attrs") or {}).get("slug") or slugify(data["type"]),
                "status": data.get("status") or "active",
            },
        )
        program.authoring_organizations.set(_upsert_organizations(data.get("authoring_organizations", []), summary))

        wanted_course_ids = []
        for position, course_row in enumerate(data["courses"]):
            course = _upsert(
                Course, summary, {"uuid": course_row["uuid"]}, {"key": course_row["key"], "title": course_row["title"]}
            )
            course.owners.set(_upsert_organizations(course_row.get("owners", []), summary))
            for run_row in course_row.get("course_runs", []):
                values = {
                    "course": course,
                    "title": run_row.get("title") or "",
                    "start": run_row.get("start"),
                    "end": run_row.get("end"),
                    "pacing_type": run_row.get("pacing_type") or "instructor_paced",
                    "certificate_available_date": run_row.get("certificate_available_date"),
                }
                if run_row.get("uuid"):
                    values["uuid"] = run_row["uuid"]
                _upsert(CourseRun, summary, {"key": run_row["key"]}, values)
            _upsert(ProgramCourse, summary, {"program": program, "course": course}, {"position": position})
            wanted_course_ids.append(course.pk)
        removed, _ = ProgramCourse.objects.filter(program=program).exclude(course_id__in=wanted_course_ids).delete()
        if removed:
            summary.count("Program", created=False)
    return program
