"""Contract tests of /api/credentials/v1/learner_cert_status/ and bulk_learner_cert_status/.

The body is built as edx-platform's `get_courses_completion_status`
(openedx/core/djangoapps/credentials/utils.py, 2024) builds it: as the service user, it posts
`json={"username": username, "course_runs": course_run_ids}` and keeps the items of
`response.json()["status"]` whose `["course_run"]["key"]` is one it asked about and whose `["status"]`
is settings.CREDENTIALS_COURSE_COMPLETION_STATE ("awarded"). The other shapes (`lms_user_id`, `courses`,
run uuids, the bulk list) are those openedx/credentials documents for the same endpoints.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.catalog.models import Course, CourseRun
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory

URL = "/api/credentials/v1/learner_cert_status/"
BULK_URL = "/api/credentials/v1/bulk_learner_cert_status/"
AVAILABLE = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
CREDENTIALS_COURSE_COMPLETION_STATE = "awarded"  # the LMS setting's default
RUN_KEY = "course-v1:edX+DemoX+1T2024"

pytestmark = pytest.mark.django_db


@pytest.fixture
def lms(jwt_client: Callable[..., APIClient]) -> APIClient:
    """The LMS: its service user's JWT, as create_jwt_for_user signs it."""
    return jwt_client("credentials_service_user", administrator=True, user_id=3)


@pytest.fixture
def course() -> Course:
    return CourseFactory(key="edX+DemoX")


@pytest.fixture
def runs(course: Course) -> dict[str, CourseRun]:
    """Two runs of one course (the first with a certificate available date) and a run of another."""
    return {
        "first": CourseRunFactory(course=course, key=RUN_KEY, uuid=uuid.uuid4(), certificate_available_date=AVAILABLE),
        "second": CourseRunFactory(course=course, key="course-v1:edX+DemoX+2T2024", uuid=uuid.uuid4()),
        "other": CourseRunFactory(key="course-v1:edX+Other+1T2024"),
    }


@pytest.fixture
def ada(runs: dict[str, CourseRun]) -> User:
    """Awarded in the first run (with a grade), revoked in the second, awarded in the other course."""
    learner = UserFactory(username="ada", lms_user_id=11)
    for run in runs.values():
        CourseCertificateFactory(course_run=run, certificate_type="verified")
        services.award_course_certificate(user=learner, course_run_key=run.key, mode="verified")
    services.revoke_course_certificate(user=learner, course_run_key=runs["second"].key, mode="verified")
    services.record_grade(
        user=learner, course_run_key=runs["first"].key, percent_grade=Decimal(1), passed=True, letter_grade="Pass"
    )
    return learner


def get_courses_completion_status(client: APIClient, username: str, course_run_ids: list[str]) -> list[str]:
    """The LMS's function: the keys of the runs it asked about in which the learner's certificate is awarded."""
    response = client.post(URL, {"username": username, "course_runs": course_run_ids}, format="json")
    assert response.status_code == 200, response.content
    return [
        item["course_run"]["key"]
        for item in response.json()["status"]
        if item["course_run"]["key"] in course_run_ids and item["status"] == CREDENTIALS_COURSE_COMPLETION_STATE
    ]


def test_the_lms_body_gets_the_learners_certificates_in_the_runs_asked_about(
    lms: APIClient, runs: dict[str, CourseRun], ada: User
) -> None:
    # given
    asked = [runs["first"].key, runs["second"].key]
    # when
    response = lms.post(URL, {"username": "ada", "course_runs": asked}, format="json")
    # then: awarded and revoked alike, nothing of the run not asked about
    assert response.status_code == 200, response.content
    course_uuid = str(runs["first"].course.uuid)
    assert response.json() == {
        "lms_user_id": 11,
        "username": "ada",
        "status": [
            {
                "course_uuid": course_uuid,
                "course_run": {"uuid": str(runs["first"].uuid), "key": runs["first"].key},
                "status": "awarded",
                "type": "verified",
                "certificate_available_date": "2024-05-01T00:00:00Z",
                "grade": {"letter_grade": "Pass", "percent_grade": 1.0, "verified": True},
            },
            {
                "course_uuid": course_uuid,
                "course_run": {"uuid": str(runs["second"].uuid), "key": runs["second"].key},
                "status": "revoked",
                "type": "verified",
                "certificate_available_date": None,
                "grade": None,
            },
        ],
    }
    # and the LMS's own reading of it
    assert get_courses_completion_status(lms, "ada", asked) == [runs["first"].key]


def test_a_learner_by_lms_user_id_and_courses_by_uuid(
    lms: APIClient, course: Course, runs: dict[str, CourseRun], ada: User
) -> None:
    # when
    response = lms.post(URL, {"lms_user_id": 11, "courses": [str(course.uuid)]}, format="json")
    # then: every run of the course
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "ada"
    assert [item["course_run"]["key"] for item in response.json()["status"]] == [
        runs["first"].key,
        runs["second"].key,
    ]


def test_runs_by_uuid_and_a_run_without_one(lms: APIClient, runs: dict[str, CourseRun], ada: User) -> None:
    # when
    response = lms.post(
        URL, {"username": "ada", "course_runs": [runs["second"].uuid.hex, runs["other"].key]}, format="json"
    )
    # then: by run key
    assert response.status_code == 200, response.content
    statuses = response.json()["status"]
    assert [item["course_run"] for item in statuses] == [
        {"uuid": str(runs["second"].uuid), "key": runs["second"].key},
        {"uuid": None, "key": runs["other"].key},
    ]


def test_program_certificates_are_not_reported(lms: APIClient, course: Course, ada: User) -> None:
    # given
    program = ProgramCertificateFactory()
    services.award_program_certificate(user=ada, program_uuid=program.program.uuid)
    # when
    response = lms.post(URL, {"username": "ada", "courses": [str(course.uuid)]}, format="json")
    # then
    assert {item["type"] for item in response.json()["status"]} == {"verified"}


@pytest.mark.parametrize(
    ("body", "echoed"),
    [
        (
            {"username": "ghost", "course_runs": [RUN_KEY]},
            {"lms_user_id": None, "username": "ghost"},
        ),
        ({"lms_user_id": 999, "course_runs": [RUN_KEY]}, {"lms_user_id": 999, "username": None}),
    ],
)
def test_an_unknown_learner_is_200_with_no_status(
    lms: APIClient, ada: User, body: dict[str, Any], echoed: dict[str, Any]
) -> None:
    response = lms.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {**echoed, "status": []}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        pytest.param({"course_runs": [RUN_KEY]}, "non_field_errors", "exactly one", id="no learner"),
        pytest.param(
            {"username": "ada", "lms_user_id": 11, "course_runs": [RUN_KEY]},
            "non_field_errors",
            "exactly one",
            id="both",
        ),
        pytest.param({"username": "ada"}, "non_field_errors", "at least one", id="nothing to report on"),
        pytest.param({"username": "ada", "courses": ["not-a-uuid"]}, "courses", "UUID", id="bad course uuid"),
    ],
)
def test_a_bad_request_is_400_saying_why(lms: APIClient, body: dict[str, Any], field: str, says: str) -> None:
    # when
    response = lms.post(URL, body, format="json")
    # then: unlike the original's empty 400
    assert response.status_code == 400
    assert says in str(response.json()[field])


def test_bulk_answers_each_request_in_order(lms: APIClient, runs: dict[str, CourseRun], ada: User) -> None:
    # given
    bob = UserFactory(username="bob", lms_user_id=12)
    services.award_course_certificate(user=bob, course_run_key=runs["other"].key, mode="verified")
    body = [
        {"lms_user_id": 12, "course_runs": [runs["other"].key]},
        {"username": "ghost", "course_runs": [runs["other"].key]},
        {"username": "ada", "course_runs": [runs["other"].key]},
    ]
    # when
    response = lms.post(BULK_URL, body, format="json")
    # then
    assert response.status_code == 200, response.content
    answers = response.json()
    assert [(a["username"], a["lms_user_id"]) for a in answers] == [("bob", 12), ("ghost", None), ("ada", 11)]
    assert [[item["status"] for item in a["status"]] for a in answers] == [["awarded"], [], ["awarded"]]


def test_bulk_takes_only_a_list(lms: APIClient) -> None:
    response = lms.post(BULK_URL, {"username": "ada", "course_runs": ["x"]}, format="json")
    assert response.status_code == 400


def test_bulk_runs_as_many_queries_for_ten_learners_as_for_one(lms: APIClient, runs: dict[str, CourseRun]) -> None:
    # given: ten learners, each with a certificate and a grade in the first run
    CourseCertificateFactory(course_run=runs["first"], certificate_type="verified")
    learners = UserFactory.create_batch(10)
    for learner in learners:
        services.award_course_certificate(user=learner, course_run_key=runs["first"].key, mode="verified")
        services.record_grade(user=learner, course_run_key=runs["first"].key, percent_grade=Decimal("0.9"), passed=True)
    bodies = [{"username": learner.username, "course_runs": [runs["first"].key]} for learner in learners]
    lms.post(BULK_URL, bodies[:1], format="json")  # the service user and the content types, once
    # when
    with CaptureQueriesContext(connection) as one:
        lms.post(BULK_URL, bodies[:1], format="json")
    with CaptureQueriesContext(connection) as ten:
        response = lms.post(BULK_URL, bodies, format="json")
    # then
    assert len(ten.captured_queries) == len(one.captured_queries)
    assert [len(answer["status"]) for answer in response.json()] == [1] * 10
    assert all(answer["status"][0]["grade"]["percent_grade"] == 0.9 for answer in response.json())


def test_a_learner_token_is_403(jwt_client: Callable[..., APIClient], ada: User) -> None:
    # given: a learner asking about themselves
    learner = jwt_client("ada", user_id=11)
    body = {"username": "ada", "course_runs": [RUN_KEY]}
    # when / then
    assert learner.post(URL, body, format="json").status_code == 403
    assert learner.post(BULK_URL, [body], format="json").status_code == 403


def test_no_token_is_401(api_client: APIClient) -> None:
    body = {"username": "ada", "course_runs": [RUN_KEY]}
    assert api_client.post(URL, body, format="json").status_code == 401
    assert api_client.post(BULK_URL, [body], format="json").status_code == 401
