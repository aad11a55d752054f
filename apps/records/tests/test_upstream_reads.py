"""What records relies on from catalog.api and credentials.api's flat-row reads: run order, courses
without runs, every status, and nobody else's rows."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable

import pytest

from apps.catalog import api as catalog_api
from apps.catalog.data import ProgramData
from apps.catalog.models import Program, ProgramCourse
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, OrganizationFactory
from apps.core.models import User
from apps.credentials import api as credentials_api

pytestmark = pytest.mark.django_db


def test_get_program_keeps_course_order_and_runs_by_start(make_program: Callable[..., ProgramData]) -> None:
    # given: organizations, several runs (one without a start date), a course without runs
    program_data = make_program(course_count=3, runs_per_course=2)
    program = Program.objects.get(uuid=program_data.uuid)
    program.authoring_organizations.add(OrganizationFactory(key="ZetaX"), OrganizationFactory(key="AlphaX"))
    first_course = program.program_courses.order_by("position").first()
    assert first_course is not None
    CourseRunFactory(course=first_course.course, start=None, title="Undated run")
    ProgramCourse.objects.create(program=program, course=CourseFactory(), position=1)
    # when
    outline = catalog_api.get_program(program_uuid=program.uuid)
    # then
    assert [len(c.runs) for c in outline.courses] == [3, 2, 0, 2]
    assert [c.key for c in outline.courses] == [
        pc.course.key for pc in program.program_courses.order_by("position", "id")
    ]
    assert outline.courses[0].runs[-1].title == "Undated run", "runs without a start sort last"
    assert [o.key for o in outline.organizations] == ["AlphaX", "ZetaX"]


def test_get_program_of_unknown_program_raises_not_found() -> None:
    with pytest.raises(catalog_api.CatalogNotFoundError):
        catalog_api.get_program(program_uuid=uuid.uuid4())


def test_course_results_hold_every_status_and_only_the_learners_rows(
    learner: User,
    other_learner: User,
    make_program: Callable[..., ProgramData],
    earn: Callable[..., None],
) -> None:
    # given: awarded, revoked, graded-only and someone else's
    program = make_program(course_count=4)
    run_keys = [c.runs[0].key for c in program.courses]
    earn(learner, run_keys[0], visible_date=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    earn(learner, run_keys[1])
    credentials_api.revoke_course_certificate(user=learner, course_run_key=run_keys[1], mode="verified")
    earn(learner, run_keys[2], certificate=False)
    earn(other_learner, run_keys[3])
    run_ids = program.course_run_ids
    # when
    grades, certificates = credentials_api.list_course_results(user=learner, course_run_ids=run_ids)
    # then
    run_ids_by_key = {c.runs[0].key: c.runs[0].id for c in program.courses}
    assert {g.course_run_id for g in grades} == {run_ids_by_key[k] for k in run_keys[:3]}
    assert {c.course_run_id: c.status for c in certificates} == {
        run_ids_by_key[run_keys[0]]: "awarded",
        run_ids_by_key[run_keys[1]]: "revoked",
    }
    assert {c.mode for c in certificates} == {"verified"}


def test_program_certificate_statuses_are_keyed_by_program(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData]
) -> None:
    # given
    awarded, revoked, never = (make_program(course_count=1) for _ in range(3))
    unconfigured = make_program(course_count=1, certificate=False)
    credentials_api.award_program_certificate(user=learner, program_uuid=awarded.uuid)
    credentials_api.award_program_certificate(user=learner, program_uuid=revoked.uuid)
    credentials_api.revoke_program_certificate(user=learner, program_uuid=revoked.uuid)
    credentials_api.award_program_certificate(user=other_learner, program_uuid=never.uuid)
    program_ids = [p.id for p in (awarded, revoked, never, unconfigured)]
    # when
    statuses = credentials_api.list_program_certificate_statuses(user=learner, program_ids=program_ids)
    # then
    assert {program_id: s.status for program_id, s in statuses.items()} == {
        awarded.id: "awarded",
        revoked.id: "revoked",
    }
    assert credentials_api.get_program_certificate_status(user=learner, program_id=never.id) is None
    assert credentials_api.get_program_certificate_status(user=learner, program_id=awarded.id) == statuses[awarded.id]
