from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.utils import timezone

from apps.catalog import api
from apps.catalog.exceptions import CatalogErrorCode
from apps.catalog.models import CourseRun, PacingType
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, OrganizationFactory, ProgramFactory

pytestmark = pytest.mark.django_db

MaxQueries = Callable[[int], AbstractContextManager[object]]


def test_get_program_returns_its_tree_in_four_queries(django_assert_max_num_queries: MaxQueries) -> None:
    # given
    program = ProgramFactory(course_count=3)
    program.authoring_organizations.add(OrganizationFactory(key="HarvardX"), OrganizationFactory(key="MITx"))
    first_course = program.program_courses.first().course
    CourseRunFactory.create_batch(2, course=first_course)
    # when
    with django_assert_max_num_queries(4):
        data = api.get_program(program_uuid=program.uuid)
    # then
    assert data.uuid == program.uuid
    assert sorted(o.key for o in data.organizations) == ["HarvardX", "MITx"]
    assert len(data.courses) == 3
    assert [len(c.runs) for c in data.courses] == [3, 1, 1]
    assert len(data.course_run_ids) == 5


def test_get_program_uses_the_course_title_for_untitled_runs() -> None:
    # given
    program = ProgramFactory(course_count=1)
    course = program.program_courses.get().course
    # when
    data = api.get_program(program_uuid=program.uuid)
    # then
    assert data.courses[0].runs[0].title == course.title


def test_get_program_for_an_unknown_uuid_raises_not_found() -> None:
    # given
    unknown = uuid.uuid4()
    # when
    with pytest.raises(api.CatalogNotFoundError) as error:
        api.get_program(program_uuid=unknown)
    # then
    assert error.value.code is CatalogErrorCode.PROGRAM_NOT_FOUND
    assert error.value.status_code == 404
    assert str(unknown) in error.value.message


def test_get_program_by_id_is_get_program_by_primary_key() -> None:
    # given
    program = ProgramFactory(course_count=2)
    # when
    data = api.get_program_by_id(program_id=program.pk)
    # then
    assert data == api.get_program(program_uuid=program.uuid)
    with pytest.raises(api.CatalogNotFoundError):
        api.get_program_by_id(program_id=program.pk + 1000)


def test_get_course_run_by_key_or_not_found() -> None:
    # given
    run = CourseRunFactory(title="")
    # when
    found = api.get_course_run(key=run.key)
    with pytest.raises(api.CatalogNotFoundError) as error:
        api.get_course_run(key="course-v1:Nobody+None+Never")
    # then
    assert (found.id, found.title) == (run.pk, run.course.title)
    assert error.value.code is CatalogErrorCode.COURSE_RUN_NOT_FOUND


# --- course runs as the LMS reports them -----------------------------------------------------------

START = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
END = datetime.datetime(2026, 4, 5, 9, 0, tzinfo=datetime.UTC)


def test_record_course_run_updates_a_known_run() -> None:
    # given
    run = CourseRunFactory(pacing_type=PacingType.INSTRUCTOR_PACED)
    sent_at = timezone.now()
    # when
    change = api.record_course_run(
        key=run.key, title="Spring run", start=START, end=END, pacing_type="self_paced", lms_last_updated_at=sent_at
    )
    # then
    run.refresh_from_db()
    assert (run.title, run.start, run.end, run.pacing_type) == ("Spring run", START, END, "self_paced")
    assert run.lms_last_updated_at == sent_at
    assert change.changed and not change.ignored
    assert change.before is not None and change.before.pacing_type == "instructor_paced"
    assert change.after == api.get_course_run(key=run.key)


def test_record_course_run_twice_changes_nothing_the_second_time() -> None:
    # given
    run = CourseRunFactory()
    values = {"key": run.key, "title": "Run", "start": START, "end": END, "pacing_type": "self_paced"}
    api.record_course_run(**values)
    modified = CourseRun.objects.get(pk=run.pk).modified
    # when
    change = api.record_course_run(**values)
    # then
    assert not change.changed
    assert change.before == change.after
    assert CourseRun.objects.get(pk=run.pk).modified == modified


def test_record_course_run_creates_an_unknown_run_of_a_known_course() -> None:
    # given
    course = CourseFactory(key="MITx+6.002x")
    # when
    change = api.record_course_run(
        key="course-v1:MITx+6.002x+2026_Fall", title="Circuits", start=START, end=END, pacing_type="instructor_paced"
    )
    # then
    run = CourseRun.objects.get(key="course-v1:MITx+6.002x+2026_Fall")
    assert (run.course, run.title, run.start, run.end) == (course, "Circuits", START, END)
    assert change.before is None and change.after is not None and change.after.id == run.pk
    assert change.changed


def test_record_course_run_ignores_a_course_outside_the_catalog(caplog: pytest.LogCaptureFixture) -> None:
    # when
    with caplog.at_level(logging.INFO, logger="apps.catalog.api"):
        change = api.record_course_run(
            key="course-v1:Other+Course+Run", title="Not ours", start=START, end=None, pacing_type="self_paced"
        )
    # then
    assert change.ignored and not change.changed
    assert not CourseRun.objects.exists()
    assert "course-v1:Other+Course+Run" in caplog.text


def test_record_course_run_ignores_an_update_older_than_the_last_one() -> None:
    # given
    run = CourseRunFactory()
    newer = timezone.now()
    api.record_course_run(
        key=run.key, title="New", start=START, end=END, pacing_type="self_paced", lms_last_updated_at=newer
    )
    # when
    change = api.record_course_run(
        key=run.key,
        title="Old",
        start=START,
        end=None,
        pacing_type="instructor_paced",
        lms_last_updated_at=newer - datetime.timedelta(minutes=1),
    )
    # then
    run.refresh_from_db()
    assert (run.title, run.end, run.pacing_type, run.lms_last_updated_at) == ("New", END, "self_paced", newer)
    assert not change.changed


@pytest.mark.parametrize(
    ("key", "pacing", "field"),
    [("course-v1:OrgX+C1+R1", "weekly", "pacing_type"), ("not a key", "self_paced", "course_run_key")],
)
def test_record_course_run_rejects_an_unknown_pacing_or_a_bad_key(key: str, pacing: str, field: str) -> None:
    # when
    with pytest.raises(api.CatalogError) as error:
        api.record_course_run(key=key, title="", start=START, end=None, pacing_type=pacing)
    # then
    assert error.value.code is CatalogErrorCode.INVALID_COURSE_RUN
    assert error.value.field == field


def test_get_or_create_course_run_creates_a_run_only_for_a_known_course() -> None:
    # given
    course = CourseFactory(key="HarvardX+CS50")
    existing = CourseRunFactory(course=course)
    # when
    found = api.get_or_create_course_run(key=existing.key)
    created = api.get_or_create_course_run(key="course-v1:HarvardX+CS50+2027")
    with pytest.raises(api.CatalogNotFoundError) as error:
        api.get_or_create_course_run(key="course-v1:Other+Course+Run")
    # then
    assert found == api.get_course_run(key=existing.key)
    assert (created.title, created.start, created.pacing_type) == (course.title, None, "instructor_paced")
    assert CourseRun.objects.filter(course=course).count() == 2
    assert error.value.code is CatalogErrorCode.COURSE_NOT_FOUND
