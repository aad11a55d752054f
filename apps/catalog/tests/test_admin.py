from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.catalog.models import ProgramCourse
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, OrganizationFactory, ProgramFactory

pytestmark = pytest.mark.django_db

MODELS = ("organization", "course", "courserun", "program")


def _found(admin_client: Client, model: str, term: str) -> list[str]:
    response = admin_client.get(reverse(f"admin:catalog_{model}_changelist"), {"q": term})
    assert response.status_code == 200
    return [str(obj) for obj in response.context["cl"].result_list]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_add_pages_render(admin_client: Client, model: str) -> None:
    # given
    program = ProgramFactory(course_count=2)
    program.authoring_organizations.add(OrganizationFactory())
    # when
    changelist = admin_client.get(reverse(f"admin:catalog_{model}_changelist"))
    add = admin_client.get(reverse(f"admin:catalog_{model}_add"))
    # then
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1
    assert add.status_code == 200


def test_program_change_page_shows_its_courses_inline(admin_client: Client) -> None:
    # given
    program = ProgramFactory(course_count=2)
    course_keys = [pc.course.key for pc in program.program_courses.all()]
    # when
    response = admin_client.get(reverse("admin:catalog_program_change", args=[program.pk]))
    # then
    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0]
    assert [form.original.course.key for form in inline if form.original] == course_keys


def test_program_search_by_title_and_uuid(admin_client: Client) -> None:
    # given
    program = ProgramFactory(title="Data Science Foundations")
    ProgramFactory(title="Circuits")
    # when
    by_title = _found(admin_client, "program", "science")
    by_uuid = _found(admin_client, "program", str(program.uuid))
    # then
    assert by_title == by_uuid == ["Data Science Foundations"]


def test_program_filters_by_status_and_type(admin_client: Client) -> None:
    # given
    ProgramFactory(title="Active one", type="MicroMasters")
    ProgramFactory(title="Retired one", status="retired", type="XSeries")
    # when
    response = admin_client.get(reverse("admin:catalog_program_changelist"), {"status": "retired", "type": "XSeries"})
    # then
    assert [str(p) for p in response.context["cl"].result_list] == ["Retired one"]


def test_course_run_search_by_key_and_title_and_filter_by_pacing(admin_client: Client) -> None:
    # given
    CourseRunFactory(key="course-v1:HarvardX+DS101+2025_T1", title="Intro to Data", pacing_type="self_paced")
    CourseRunFactory(key="course-v1:MITx+6.002x+2025_T1", title="Circuits")
    # when
    by_key = _found(admin_client, "courserun", "DS101")
    by_title = _found(admin_client, "courserun", "intro")
    self_paced = admin_client.get(reverse("admin:catalog_courserun_changelist"), {"pacing_type": "self_paced"})
    # then
    assert by_key == by_title == ["course-v1:HarvardX+DS101+2025_T1"]
    assert [str(r) for r in self_paced.context["cl"].result_list] == ["course-v1:HarvardX+DS101+2025_T1"]


def test_course_run_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, django_assert_max_num_queries: Callable[[int], AbstractContextManager[object]]
) -> None:
    # given
    CourseRunFactory()
    url = reverse("admin:catalog_courserun_changelist")
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(url)
    CourseRunFactory.create_batch(15)
    # when / then
    with django_assert_max_num_queries(len(one_row)):
        response = admin_client.get(url)
    assert response.context["cl"].result_count == 16


def test_course_search_and_autocomplete_for_program_inline(admin_client: Client) -> None:
    # given
    CourseFactory(key="HarvardX+DS101", title="Introduction to Data Science")
    CourseFactory(key="MITx+6.002x", title="Circuits")
    # when
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"term": "data", "app_label": "catalog", "model_name": "programcourse", "field_name": "course"},
    )
    # then
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["HarvardX+DS101: Introduction to Data Science"]


def test_adding_a_course_to_a_program_in_the_admin(admin_client: Client) -> None:
    # given
    program = ProgramFactory(title="Circuits")
    course = CourseFactory()
    url = reverse("admin:catalog_program_change", args=[program.pk])
    data = {
        "title": "Circuits",
        "type": program.type,
        "type_slug": program.type_slug,
        "status": "active",
        "uuid": str(program.uuid),
        "program_courses-TOTAL_FORMS": "1",
        "program_courses-INITIAL_FORMS": "0",
        "program_courses-0-course": str(course.pk),
        "program_courses-0-position": "0",
    }
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302
    assert list(ProgramCourse.objects.filter(program=program).values_list("course_id", flat=True)) == [course.pk]
