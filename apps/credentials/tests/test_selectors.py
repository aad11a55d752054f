from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.catalog.tests.factories import CourseRunFactory
from apps.core.api import LearnerIdentity
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import selectors, services
from apps.credentials.data import GradeUpdate, LearnerNameData
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory

pytestmark = pytest.mark.django_db

NumQueries = Callable[[int], AbstractContextManager[object]]


def grade(user: User, run_key: str, percent: str, *, passed: bool) -> None:
    services.record_grade(user=user, course_run_key=run_key, percent_grade=Decimal(percent), passed=passed)


# --- list_passing_learners ---------------------------------------------------------------------


def test_passing_learners_are_those_whose_grade_in_the_run_passed() -> None:
    # given
    run, other_run = CourseRunFactory(), CourseRunFactory()
    passed = UserFactory(full_name="Ada Lovelace")
    failed = UserFactory()
    elsewhere = UserFactory()
    grade(passed, run.key, "0.80", passed=True)
    grade(failed, run.key, "0.40", passed=False)
    grade(elsewhere, other_run.key, "0.90", passed=True)
    # when
    learners = selectors.list_passing_learners(course_run_key=run.key)
    # then
    assert learners == [LearnerNameData(user_id=passed.pk, name="Ada Lovelace")]


def test_a_threshold_also_needs_the_percent_and_never_admits_a_failing_grade() -> None:
    # given
    run = CourseRunFactory()
    above, at, below, failed_above = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    grade(above, run.key, "0.95", passed=True)
    grade(at, run.key, "0.90", passed=True)
    grade(below, run.key, "0.89", passed=True)
    grade(failed_above, run.key, "0.95", passed=False)
    # when
    learners = selectors.list_passing_learners(course_run_key=run.key, threshold=Decimal("0.9"))
    # then
    assert [learner.user_id for learner in learners] == [above.pk, at.pk]


def test_passing_learners_of_an_unknown_run_are_none() -> None:
    # when
    learners = selectors.list_passing_learners(course_run_key="course-v1:Nobody+Nothing+Never")
    # then
    assert learners == []


def test_a_learner_is_named_by_full_name_else_username_else_nothing() -> None:
    # given
    run = CourseRunFactory()
    named = UserFactory(username="ada", full_name="Ada Lovelace")
    unnamed = UserFactory(username="grace", full_name="")
    blank = UserFactory(username="alan", full_name="   ")
    # A grade event names a learner by LMS user id only: no username, no full name.
    anonymous = services.record_grades(
        updates=[
            GradeUpdate(
                learner=LearnerIdentity(lms_user_id=987_654), course_run_key=run.key, percent_grade=None, passed=True
            )
        ]
    )[0].user
    for user in (named, unnamed, blank):
        grade(user, run.key, "0.8", passed=True)
    # when
    names = {learner.user_id: learner.name for learner in selectors.list_passing_learners(course_run_key=run.key)}
    # then
    assert names == {named.pk: "Ada Lovelace", unnamed.pk: "grace", blank.pk: "alan", anonymous.pk: ""}


# --- list_course_certificate_holders -----------------------------------------------------------


def test_course_certificate_holders_in_a_mode_or_in_any_mode_each_once() -> None:
    # given
    run = CourseRunFactory()
    CourseCertificateFactory(course_run=run, certificate_type="verified")
    CourseCertificateFactory(course_run=run, certificate_type="honor")
    verified, honor, both = UserFactory(), UserFactory(), UserFactory()
    services.award_course_certificate(user=verified, course_run_key=run.key, mode="verified")
    services.award_course_certificate(user=honor, course_run_key=run.key, mode="honor")
    services.award_course_certificate(user=both, course_run_key=run.key, mode="honor")
    services.award_course_certificate(user=both, course_run_key=run.key, mode="verified")
    # when
    in_verified = selectors.list_course_certificate_holders(course_run_key=run.key, mode="verified")
    in_any = selectors.list_course_certificate_holders(course_run_key=run.key)
    # then
    assert [learner.user_id for learner in in_verified] == [verified.pk, both.pk]
    assert [learner.user_id for learner in in_any] == [verified.pk, honor.pk, both.pk]


def test_revoked_course_certificates_and_other_runs_do_not_count() -> None:
    # given
    certificate, other = CourseCertificateFactory(), CourseCertificateFactory()
    run_key = certificate.course_run.key
    holder, revoked, elsewhere = UserFactory(), UserFactory(), UserFactory()
    services.award_course_certificate(user=holder, course_run_key=run_key, mode="verified")
    services.award_course_certificate(user=revoked, course_run_key=run_key, mode="verified")
    services.revoke_course_certificate(user=revoked, course_run_key=run_key, mode="verified")
    services.award_course_certificate(user=elsewhere, course_run_key=other.course_run.key, mode="verified")
    # when
    learners = selectors.list_course_certificate_holders(course_run_key=run_key)
    # then
    assert [learner.user_id for learner in learners] == [holder.pk]
    assert selectors.list_course_certificate_holders(course_run_key="course-v1:Nobody+Nothing+Never") == []


# --- list_program_certificate_holders ----------------------------------------------------------


def test_program_certificate_holders_are_the_awarded_ones_of_that_program() -> None:
    # given
    program, other = ProgramCertificateFactory().program, ProgramCertificateFactory().program
    holder, revoked, elsewhere = UserFactory(full_name=""), UserFactory(), UserFactory()
    services.award_program_certificate(user=holder, program_uuid=program.uuid)
    services.award_program_certificate(user=revoked, program_uuid=program.uuid)
    services.revoke_program_certificate(user=revoked, program_uuid=program.uuid)
    services.award_program_certificate(user=elsewhere, program_uuid=other.uuid)
    # when
    learners = selectors.list_program_certificate_holders(program_uuid=program.uuid)
    # then
    assert learners == [LearnerNameData(user_id=holder.pk, name=holder.username)]
    assert selectors.list_program_certificate_holders(program_uuid=uuid.uuid4()) == []


def test_each_holder_list_is_one_query_even_with_a_cold_content_type_cache(
    django_assert_num_queries: NumQueries,
) -> None:
    # given
    certificate, program_certificate = CourseCertificateFactory(), ProgramCertificateFactory()
    run_key, program_uuid = certificate.course_run.key, program_certificate.program.uuid
    for user in UserFactory.create_batch(3):
        grade(user, run_key, "0.9", passed=True)
        services.award_course_certificate(user=user, course_run_key=run_key, mode="verified")
        services.award_program_certificate(user=user, program_uuid=program_uuid)
    ContentType.objects.clear_cache()
    # when
    with django_assert_num_queries(1):
        passing = selectors.list_passing_learners(course_run_key=run_key, threshold=Decimal("0.5"))
    with django_assert_num_queries(1):
        course_holders = selectors.list_course_certificate_holders(course_run_key=run_key, mode="verified")
    with django_assert_num_queries(1):
        program_holders = selectors.list_program_certificate_holders(program_uuid=program_uuid)
    # then
    assert len(passing) == len(course_holders) == len(program_holders) == 3
