"""Records fixtures: programs whose runs have certificate configurations, and a way for a learner to
earn grades and certificates through the credentials services."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from apps.catalog.api import get_program
from apps.catalog.data import ProgramData
from apps.catalog.models import ProgramCourse
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, ProgramFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import api as credentials_api
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory

# Distinctive, so a test can assert that they appear nowhere in what it gets back.
ALICE_EMAIL = "alice.private@mail.example"
BOB_EMAIL = "bob.private@mail.example"


@pytest.fixture
def learner() -> User:
    return UserFactory(username="alice", full_name="Alice Liddell", email=ALICE_EMAIL, lms_user_id=424242)


@pytest.fixture
def other_learner() -> User:
    return UserFactory(username="bob", full_name="Bob Builder", email=BOB_EMAIL, lms_user_id=535353)


@pytest.fixture
def make_program() -> Callable[..., ProgramData]:
    """Make a program of `course_count` courses, each with `runs_per_course` runs that have a verified
    certificate configuration, and (by default) a program certificate configuration."""

    def make(*, course_count: int, runs_per_course: int = 1, certificate: bool = True, **fields: Any) -> ProgramData:
        program = ProgramFactory(**fields)
        for position in range(course_count):
            course = CourseFactory()
            for run in range(runs_per_course):
                start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=100 * run)
                CourseCertificateFactory(course_run=CourseRunFactory(course=course, start=start))
            ProgramCourse.objects.create(program=program, course=course, position=position)
        if certificate:
            ProgramCertificateFactory(program=program)
        return get_program(program_uuid=program.uuid)

    return make


@pytest.fixture
def earn() -> Callable[..., None]:
    """Record the learner's grade in a run and, when `certificate`, award its verified certificate."""

    def record(
        user: User,
        course_run_key: str,
        percent: str = "0.85",
        *,
        letter: str = "B",
        passed: bool = True,
        certificate: bool = True,
        visible_date: datetime.datetime | None = None,
    ) -> None:
        credentials_api.record_grade(
            user=user, course_run_key=course_run_key, percent_grade=Decimal(percent), passed=passed, letter_grade=letter
        )
        if certificate:
            credentials_api.award_course_certificate(
                user=user, course_run_key=course_run_key, mode="verified", visible_date=visible_date
            )

    return record


@pytest.fixture
def complete_program(make_program: Callable[..., ProgramData], earn: Callable[..., None]) -> Callable[..., ProgramData]:
    """A program of `course_count` courses in which the learner has a grade and a certificate in each."""

    def make(user: User, *, course_count: int) -> ProgramData:
        program = make_program(course_count=course_count)
        for course in program.courses:
            earn(user, course.runs[0].key)
        return program

    return make
