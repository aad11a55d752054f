"""Contract tests of POST /api/v2/grades/ with the bodies the LMS really sends.

The bodies are built as edx-platform's `send_grade_to_credentials`
(openedx/core/djangoapps/credentials/tasks/v1/tasks.py) builds them: a dict posted with requests'
`data=`, so form-encoded, with None values dropped and the rest turned into strings (`verified` is
always True, so "True"; the percent is str(float); `lms_last_updated_at` is the grade's time after
celery's JSON round trip, an ISO string with microseconds and an offset). The LMS signs the call with
its service user's JWT (administrator: true).
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test.client import Client
from rest_framework.test import APIClient

from apps.catalog.models import CourseRun
from apps.catalog.tests.factories import CourseRunFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials.models import UserGrade

URL = "/api/v2/grades/"
LMS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
GRADED_AT = datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)

pytestmark = pytest.mark.django_db


def lms_grade_body(
    *,
    username: str,
    course_run_key: str,
    letter_grade: str | None,
    percent_grade: float,
    grade_last_updated: datetime.datetime | None,
) -> dict[str, str]:
    """send_grade_to_credentials' `data`, as requests puts it on the wire."""
    data: dict[str, Any] = {
        "username": username,
        "course_run": course_run_key,
        "letter_grade": letter_grade,
        "percent_grade": percent_grade,
        "verified": True,
        # A datetime in the task's arguments comes back from celery's JSON as its isoformat().
        "lms_last_updated_at": grade_last_updated.isoformat() if grade_last_updated else None,
    }
    return {name: str(value) for name, value in data.items() if value is not None}


def post_form(client: Client, body: dict[str, str]) -> Any:
    return client.post(URL, urlencode(body), content_type="application/x-www-form-urlencoded")


@pytest.fixture
def lms(jwt_client: Callable[..., APIClient]) -> APIClient:
    """The LMS: its service user's JWT, as create_jwt_for_user signs it."""
    return jwt_client("credentials_service_user", administrator=True, user_id=3)


@pytest.fixture
def run() -> CourseRun:
    return CourseRunFactory(key="course-v1:edX+DemoX+2024")


def test_the_lms_form_body_records_the_grade_and_answers_201_as_the_original(lms: APIClient, run: CourseRun) -> None:
    # given
    learner = UserFactory(username="ada")
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="B", percent_grade=0.82, grade_last_updated=GRADED_AT
    )
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 201, response.content
    answer = response.json()
    grade = UserGrade.objects.get(user=learner, course_run=run)
    assert answer == {
        "id": grade.pk,
        "username": "ada",
        "course_run": "course-v1:edX+DemoX+2024",
        "letter_grade": "B",
        "percent_grade": "0.8200",
        "verified": True,
        "lms_last_updated_at": "2024-01-02T03:04:05Z",
        "created": answer["created"],
        "modified": answer["modified"],
    }
    assert LMS_TIME.match(answer["created"]) and LMS_TIME.match(answer["modified"])
    assert grade.percent_grade == Decimal("0.8200")
    assert grade.lms_last_updated_at == GRADED_AT  # kept to the microsecond, shown to the second
    assert grade.verified is True


def test_letter_grade_and_time_may_be_absent(lms: APIClient, run: CourseRun) -> None:
    # given: the LMS had None for both, which requests drops from the form
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade=None, percent_grade=0.5, grade_last_updated=None
    )
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 201, response.content
    assert response.json()["letter_grade"] == ""
    assert response.json()["lms_last_updated_at"] is None
    assert response.json()["percent_grade"] == "0.5000"


def test_a_json_body_is_taken_too(lms: APIClient, run: CourseRun) -> None:
    # when
    response = lms.post(
        URL,
        {"username": "ada", "course_run": run.key, "letter_grade": "", "percent_grade": 0.9, "verified": False},
        format="json",
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["percent_grade"] == "0.9000"
    assert response.json()["verified"] is False
    assert UserGrade.objects.get(course_run=run).verified is False


def test_a_percent_with_float_noise_is_rounded_to_four_places(lms: APIClient, run: CourseRun) -> None:
    # given: str() of a float the LMS computed
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="A", percent_grade=0.1 + 0.7, grade_last_updated=None
    )
    assert body["percent_grade"] == "0.7999999999999999"
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 201, response.content
    assert response.json()["percent_grade"] == "0.8000"


def test_posting_again_updates_the_same_grade_and_answers_201_again(lms: APIClient, run: CourseRun) -> None:
    # given
    first = post_form(
        lms,
        lms_grade_body(
            username="ada", course_run_key=run.key, letter_grade="C", percent_grade=0.61, grade_last_updated=GRADED_AT
        ),
    )
    # when
    later = GRADED_AT + datetime.timedelta(hours=1)
    second = post_form(
        lms,
        lms_grade_body(
            username="ada", course_run_key=run.key, letter_grade="B", percent_grade=0.82, grade_last_updated=later
        ),
    )
    # then
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["letter_grade"], second.json()["percent_grade"]) == ("B", "0.8200")
    assert UserGrade.objects.count() == 1


@pytest.mark.parametrize("order", ["older_first", "newer_first"])
def test_an_older_grade_never_overwrites_a_newer_one(lms: APIClient, run: CourseRun, order: str) -> None:
    # given: two grades the LMS computed an hour apart, delivered in either order
    older = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="C", percent_grade=0.61, grade_last_updated=GRADED_AT
    )
    newer = lms_grade_body(
        username="ada",
        course_run_key=run.key,
        letter_grade="B",
        percent_grade=0.82,
        grade_last_updated=GRADED_AT + datetime.timedelta(hours=1),
    )
    bodies = [older, newer] if order == "older_first" else [newer, older]
    # when
    responses = [post_form(lms, body) for body in bodies]
    # then: both accepted (the LMS retries anything else), the newer one kept
    assert [r.status_code for r in responses] == [201, 201]
    grade = UserGrade.objects.get(course_run=run)
    assert (grade.letter_grade, grade.percent_grade) == ("B", Decimal("0.8200"))
    assert grade.lms_last_updated_at == GRADED_AT + datetime.timedelta(hours=1)
    assert responses[-1].json()["percent_grade"] == "0.8200"


def test_a_username_never_seen_creates_the_learner(lms: APIClient, run: CourseRun) -> None:
    # given
    assert not User.objects.filter(username="newcomer").exists()
    body = lms_grade_body(
        username="newcomer", course_run_key=run.key, letter_grade="A", percent_grade=0.95, grade_last_updated=None
    )
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 201, response.content
    assert UserGrade.objects.get(user__username="newcomer").percent_grade == Decimal("0.9500")


def test_an_unknown_course_run_is_400_in_the_originals_words(lms: APIClient) -> None:
    # given
    body = lms_grade_body(
        username="ada",
        course_run_key="course-v1:Nobody+Nothing+Never",
        letter_grade="A",
        percent_grade=0.9,
        grade_last_updated=None,
    )
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 400
    assert response.json() == {"course_run": ["No CourseRun exists for key [course-v1:Nobody+Nothing+Never]"]}
    assert not User.objects.filter(username="ada").exists()  # nothing written


@pytest.mark.parametrize("percent", ["1.01", "-0.1", "eighty", "NaN", "Infinity", ""])
def test_a_percent_outside_0_to_1_or_not_a_number_is_400(lms: APIClient, run: CourseRun, percent: str) -> None:
    # given
    body = {"username": "ada", "course_run": run.key, "percent_grade": percent, "verified": "True"}
    # when
    response = post_form(lms, body)
    # then
    assert response.status_code == 400
    assert list(response.json()) == ["percent_grade"]
    assert not UserGrade.objects.exists()


def test_a_missing_username_is_400(lms: APIClient, run: CourseRun) -> None:
    # when
    response = post_form(lms, {"course_run": run.key, "percent_grade": "0.5", "verified": "True"})
    # then
    assert response.status_code == 400
    assert list(response.json()) == ["username"]


def test_a_learner_token_is_403(jwt_client: Callable[..., APIClient], run: CourseRun) -> None:
    # given: a learner posting a grade for themselves
    learner = jwt_client("ada", user_id=77)
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="A", percent_grade=1.0, grade_last_updated=None
    )
    # when
    response = post_form(learner, body)
    # then
    assert response.status_code == 403
    assert not UserGrade.objects.exists()


def test_no_token_is_401(api_client: APIClient, run: CourseRun) -> None:
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="A", percent_grade=1.0, grade_last_updated=None
    )
    assert post_form(api_client, body).status_code == 401


@pytest.mark.parametrize(
    "token_claims",
    [
        pytest.param({"exp": int(time.time()) - 60, "iat": int(time.time()) - 600}, id="expired"),
        pytest.param({"secret": "not-the-lms-secret-0123456789abcdef0123"}, id="forged"),
    ],
)
def test_an_expired_or_forged_service_token_is_401(
    api_client: APIClient, make_jwt: Callable[..., str], run: CourseRun, token_claims: dict[str, Any]
) -> None:
    # given
    token = make_jwt("credentials_service_user", administrator=True, **token_claims)
    api_client.credentials(HTTP_AUTHORIZATION=f"JWT {token}")
    body = lms_grade_body(
        username="ada", course_run_key=run.key, letter_grade="A", percent_grade=1.0, grade_last_updated=None
    )
    # when
    response = post_form(api_client, body)
    # then
    assert response.status_code == 401
    assert not UserGrade.objects.exists()


def test_verified_absent_from_a_form_keeps_the_stored_value(lms: APIClient, run: CourseRun) -> None:
    # given: a stored unverified grade (DRF reads an absent boolean in a form as False by default)
    post_form(lms, {"username": "ada", "course_run": run.key, "percent_grade": "0.5", "verified": "False"})
    # when
    response = post_form(lms, {"username": "ada", "course_run": run.key, "percent_grade": "0.6"})
    # then
    assert response.status_code == 201, response.content
    assert response.json()["verified"] is False
    # and a new grade without it starts verified, as the original's did
    other = CourseRunFactory()
    assert post_form(lms, {"username": "ada", "course_run": other.key, "percent_grade": "0.6"}).json()["verified"]
