from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from apps.catalog import api
from apps.catalog.exceptions import CatalogErrorCode
from apps.catalog.tests.factories import CourseRunFactory, OrganizationFactory, ProgramFactory

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
