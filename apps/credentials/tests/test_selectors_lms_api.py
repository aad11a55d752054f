"""The reads behind the LMS's APIs: course certificate configurations and learner certificate statuses."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.catalog.models import CourseRun
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import selectors, services
from apps.credentials.data import LearnerCertStatusQuery, LearnerGradeStatusData
from apps.credentials.models import CourseCertificate, UserCredential
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory

pytestmark = pytest.mark.django_db

NumQueries = Callable[[int], AbstractContextManager[object]]
AVAILABLE = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)


def award(user: User, run: CourseRun, mode: str = "verified") -> UserCredential:
    CourseCertificate.objects.get_or_create(course_run=run, certificate_type=mode)
    return services.award_course_certificate(user=user, course_run_key=run.key, mode=mode)


# --- course certificate configurations ------------------------------------------------------------


def test_list_course_certificate_configurations_in_one_query(django_assert_num_queries: NumQueries) -> None:
    # given
    run = CourseRunFactory(certificate_available_date=AVAILABLE)
    verified = CourseCertificateFactory(course_run=run, certificate_type="verified")
    honor = CourseCertificateFactory(course_run=run, certificate_type="honor", is_active=False)
    CourseCertificateFactory()  # another run's
    # when
    with django_assert_num_queries(1):
        every_mode = selectors.list_course_certificate_configurations(course_run_key=run.key)
    # then: by mode, each with the run's date
    assert [(c.id, c.mode, c.is_active) for c in every_mode] == [
        (honor.pk, "honor", False),
        (verified.pk, "verified", True),
    ]
    assert {c.certificate_available_date for c in every_mode} == {AVAILABLE}
    assert {c.course_run_key for c in every_mode} == {run.key}
    assert [
        c.id for c in selectors.list_course_certificate_configurations(course_run_key=run.key, mode="verified")
    ] == [verified.pk]
    assert selectors.list_course_certificate_configurations(course_run_key="course-v1:No+Such+Run") == []


# --- learner certificate statuses -----------------------------------------------------------------


@pytest.fixture
def runs() -> dict[str, CourseRun]:
    course = CourseFactory()
    return {
        "first": CourseRunFactory(course=course, uuid=uuid.uuid4(), certificate_available_date=AVAILABLE),
        "second": CourseRunFactory(course=course, uuid=uuid.uuid4()),
        "other": CourseRunFactory(),
    }


def test_a_learners_certificates_in_the_runs_and_courses_asked_about(runs: dict[str, CourseRun]) -> None:
    # given: awarded in the first run (graded), revoked in the second, awarded in another course
    learner = UserFactory(lms_user_id=41)
    for run in runs.values():
        award(learner, run)
    services.revoke_course_certificate(user=learner, course_run_key=runs["second"].key, mode="verified")
    services.record_grade(
        user=learner, course_run_key=runs["first"].key, percent_grade=Decimal("0.82"), passed=True, letter_grade="B"
    )
    award(UserFactory(), runs["first"])  # someone else's
    # when
    by_key, by_uuid, by_course = selectors.list_learner_cert_statuses(
        queries=[
            LearnerCertStatusQuery(username=learner.username, course_runs=frozenset({runs["first"].key})),
            LearnerCertStatusQuery(lms_user_id=41, course_runs=frozenset({str(runs["second"].uuid)})),
            LearnerCertStatusQuery(lms_user_id=41, course_uuids=frozenset({runs["first"].course.uuid})),
        ]
    )
    # then
    assert (by_key.username, by_key.lms_user_id) == (learner.username, 41)
    [first] = by_key.certificates
    assert (first.course_run_key, first.course_run_uuid, first.course_uuid) == (
        runs["first"].key,
        runs["first"].uuid,
        runs["first"].course.uuid,
    )
    assert (first.mode, first.status, first.certificate_available_date) == ("verified", "awarded", AVAILABLE)
    assert first.grade == LearnerGradeStatusData(letter_grade="B", percent_grade=Decimal("0.8200"), verified=True)
    assert [(c.course_run_key, c.status, c.grade) for c in by_uuid.certificates] == [
        (runs["second"].key, "revoked", None)
    ]
    # every run of the course, by run key
    assert [c.course_run_key for c in by_course.certificates] == sorted([runs["first"].key, runs["second"].key])


def test_every_mode_of_a_run_and_no_program_certificate(runs: dict[str, CourseRun]) -> None:
    # given
    learner = UserFactory()
    award(learner, runs["first"], mode="verified")
    award(learner, runs["first"], mode="honor")
    program = ProgramCertificateFactory()
    services.award_program_certificate(user=learner, program_uuid=program.program.uuid)
    # when
    [answer] = selectors.list_learner_cert_statuses(
        queries=[LearnerCertStatusQuery(username=learner.username, course_runs=frozenset({runs["first"].key}))]
    )
    # then
    assert [c.mode for c in answer.certificates] == ["honor", "verified"]


def test_an_unknown_learner_is_answered_as_asked_in_one_query(
    runs: dict[str, CourseRun], django_assert_num_queries: NumQueries
) -> None:
    # when
    with django_assert_num_queries(1):
        by_name, by_id = selectors.list_learner_cert_statuses(
            queries=[
                LearnerCertStatusQuery(username="ghost", course_runs=frozenset({runs["first"].key})),
                LearnerCertStatusQuery(lms_user_id=404, course_runs=frozenset({runs["first"].key})),
            ]
        )
    # then
    assert (by_name.username, by_name.lms_user_id, by_name.certificates) == ("ghost", None, ())
    assert (by_id.username, by_id.lms_user_id, by_id.certificates) == (None, 404, ())


@pytest.mark.parametrize("learner_count", [1, 10])
def test_three_queries_whatever_the_number_of_learners(
    runs: dict[str, CourseRun], django_assert_num_queries: NumQueries, learner_count: int
) -> None:
    # given: learners with certificates in two runs and a grade in one
    learners = UserFactory.create_batch(learner_count)
    for learner in learners:
        award(learner, runs["first"])
        award(learner, runs["other"])
        services.record_grade(user=learner, course_run_key=runs["first"].key, percent_grade=Decimal("0.7"), passed=True)
    queries = [
        LearnerCertStatusQuery(
            lms_user_id=learner.lms_user_id,
            course_runs=frozenset({runs["first"].key, str(runs["second"].uuid)}),
            course_uuids=frozenset({runs["other"].course.uuid}),
        )
        for learner in learners
    ]
    ContentType.objects.get_for_model(CourseCertificate)  # the generic relation's content type, cached
    # when: the learners, their certificates, their grades
    with django_assert_num_queries(3):
        answers = selectors.list_learner_cert_statuses(queries=queries)
    # then
    assert [len(answer.certificates) for answer in answers] == [2] * learner_count
    assert all(answer.certificates[0].grade is not None for answer in answers)
