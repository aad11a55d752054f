"""Contract tests of /api/v2/course_certificates/ with the bodies the LMS really sends.

The bodies are built as edx-platform's `update_credentials_course_certificate_configuration_available_date`
(openedx/core/djangoapps/programs/tasks.py) builds them for `post_course_certificate_configuration`:
`json={"course_id": str(course_key), "certificate_type": <the run's one certificate-relevant mode>,
"certificate_available_date": <str(datetime) or None>, "is_active": True}`. The date is str() of a
datetime ("2024-05-01 00:00:00+00:00"), None for self-paced runs and EARLY_NO_INFO, and the string
"None" when the run has no end under the END display behaviour. The LMS signs the call with its
service user's JWT (administrator: true) and takes anything but 201 as a failure.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import CourseRun
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.models import CourseCertificate, UserCredential
from apps.credentials.tests.factories import CourseCertificateFactory, SignatoryFactory

URL = "/api/v2/course_certificates/"
AVAILABLE = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)

pytestmark = pytest.mark.django_db


def lms_configuration_body(*, course_key: str, mode: str, certificate_available_date: Any) -> dict[str, Any]:
    """post_course_certificate_configuration's `json`; the date as the task got it (str(datetime),
    None, or str(None))."""
    return {
        "course_id": course_key,
        "certificate_type": mode,
        "certificate_available_date": certificate_available_date,
        "is_active": True,
    }


@pytest.fixture
def lms(jwt_client: Callable[..., APIClient]) -> APIClient:
    """The LMS: its service user's JWT, as create_jwt_for_user signs it."""
    return jwt_client("credentials_service_user", administrator=True, user_id=3)


@pytest.fixture
def run() -> CourseRun:
    return CourseRunFactory(course=CourseFactory(key="edX+DemoX"), key="course-v1:edX+DemoX+2024")


def test_the_lms_body_configures_the_run_and_answers_201_as_the_original(lms: APIClient, run: CourseRun) -> None:
    # given
    body = lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=str(AVAILABLE))
    assert body["certificate_available_date"] == "2024-05-01 00:00:00+00:00"
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 201, response.content
    configuration = CourseCertificate.objects.get(course_run=run, certificate_type="verified")
    assert response.json() == {
        "id": configuration.pk,
        "course_id": "course-v1:edX+DemoX+2024",
        "course_run": "course-v1:edX+DemoX+2024",
        "certificate_type": "verified",
        "certificate_available_date": "2024-05-01T00:00:00Z",
        "is_active": True,
    }
    assert configuration.is_active
    run.refresh_from_db()
    assert run.certificate_available_date == AVAILABLE


def test_posting_again_updates_and_answers_201_again_leaving_title_and_signatories(
    lms: APIClient, run: CourseRun
) -> None:
    # given: a configuration with what the LMS's API never carries
    configuration = CourseCertificateFactory(course_run=run, certificate_type="verified", title="Demo certificate")
    signatory = SignatoryFactory()
    configuration.signatories.add(signatory)
    body = lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=str(AVAILABLE))
    # when
    first = lms.post(URL, {**body, "is_active": False}, format="json")
    second = lms.post(URL, body, format="json")
    # then
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == second.json()["id"] == configuration.pk
    assert (first.json()["is_active"], second.json()["is_active"]) == (False, True)
    configuration.refresh_from_db()
    assert configuration.title == "Demo certificate"
    assert list(configuration.signatories.all()) == [signatory]
    assert CourseCertificate.objects.count() == 1


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(None, id="null (self-paced, EARLY_NO_INFO)"),
        pytest.param(str(None), id="'None' (END without an end)"),
    ],
)
def test_no_date_clears_the_runs_date(lms: APIClient, run: CourseRun, sent: Any) -> None:
    # given
    lms.post(
        URL,
        lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=str(AVAILABLE)),
        format="json",
    )
    # when
    response = lms.post(
        URL, lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=sent), format="json"
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["certificate_available_date"] is None
    run.refresh_from_db()
    assert run.certificate_available_date is None


def test_an_iso_date_is_taken_too(lms: APIClient, run: CourseRun) -> None:
    body = lms_configuration_body(
        course_key=run.key, mode="honor", certificate_available_date="2024-05-01T02:00:00+02:00"
    )
    response = lms.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["certificate_available_date"] == "2024-05-01T00:00:00Z"


def test_a_new_date_moves_the_visible_date_of_certificates_already_awarded(lms: APIClient, run: CourseRun) -> None:
    # given: an instructor-paced run that ended, and a certificate awarded in it (visible at once)
    CourseCertificateFactory(course_run=run, certificate_type="verified")
    learner = UserFactory()
    credential = services.award_course_certificate(user=learner, course_run_key=run.key, mode="verified")
    assert credential.visible_date is None
    later = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)
    # when: the LMS announces that certificates become available later
    moved = lms.post(
        URL,
        lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=str(later)),
        format="json",
    )
    # then
    assert moved.status_code == 201, moved.content
    assert UserCredential.objects.get(pk=credential.pk).visible_date == later
    # when: and then that there is no such date (the run's end has passed)
    cleared = lms.post(
        URL, lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=None), format="json"
    )
    # then
    assert cleared.status_code == 201, cleared.content
    assert UserCredential.objects.get(pk=credential.pk).visible_date is None


def test_a_run_unknown_here_whose_course_is_in_the_catalog_is_created(lms: APIClient, run: CourseRun) -> None:
    # given: a new run of a course we know
    body = lms_configuration_body(
        course_key="course-v1:edX+DemoX+2025", mode="verified", certificate_available_date=str(AVAILABLE)
    )
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 201, response.content
    created = CourseRun.objects.get(key="course-v1:edX+DemoX+2025")
    assert created.course_id == run.course_id
    assert created.certificate_available_date == AVAILABLE
    assert CourseCertificate.objects.filter(course_run=created, certificate_type="verified").exists()


def test_a_run_of_a_course_outside_the_catalog_is_400_naming_it(lms: APIClient) -> None:
    # given
    body = lms_configuration_body(
        course_key="course-v1:Elsewhere+X1+2024", mode="verified", certificate_available_date=None
    )
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 400
    assert list(response.json()) == ["course_id"]
    assert "course-v1:Elsewhere+X1+2024" in response.json()["course_id"][0]
    assert not CourseCertificate.objects.exists()


def test_a_course_id_that_is_not_a_run_key_is_400(lms: APIClient) -> None:
    body = lms_configuration_body(course_key="not a key", mode="verified", certificate_available_date=None)
    response = lms.post(URL, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["course_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"certificate_type": "platinum"}, "certificate_type"),
        ({"certificate_available_date": "first of May"}, "certificate_available_date"),
        ({"is_active": None}, "is_active"),
    ],
)
def test_bad_fields_are_400_with_the_field(lms: APIClient, run: CourseRun, change: dict[str, Any], field: str) -> None:
    # given
    body = {**lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=None), **change}
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not CourseCertificate.objects.exists()


def test_get_shows_the_runs_configuration_by_its_key(lms: APIClient, run: CourseRun) -> None:
    # given
    lms.post(
        URL,
        lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=str(AVAILABLE)),
        format="json",
    )
    # when: the key, with its ':' and '+', in the path
    response = lms.get(f"{URL}course-v1:edX+DemoX+2024/")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["course_id"] == "course-v1:edX+DemoX+2024"
    assert response.json()["certificate_type"] == "verified"
    assert response.json()["certificate_available_date"] == "2024-05-01T00:00:00Z"
    # and a percent-encoded key names the same run
    assert lms.get(f"{URL}course-v1%3AedX%2BDemoX%2B2024/").json() == response.json()


def test_get_of_a_run_with_several_modes_needs_the_certificate_type(lms: APIClient, run: CourseRun) -> None:
    # given
    for mode in ("honor", "verified"):
        lms.post(
            URL, lms_configuration_body(course_key=run.key, mode=mode, certificate_available_date=None), format="json"
        )
    # when
    ambiguous = lms.get(f"{URL}{run.key}/")
    chosen = lms.get(f"{URL}{run.key}/", {"certificate_type": "honor"})
    # then
    assert ambiguous.status_code == 400
    assert "honor, verified" in ambiguous.json()["certificate_type"][0]
    assert chosen.status_code == 200
    assert chosen.json()["certificate_type"] == "honor"


def test_get_without_a_configuration_is_404(lms: APIClient, run: CourseRun) -> None:
    assert lms.get(f"{URL}{run.key}/").status_code == 404
    assert lms.get(f"{URL}course-v1:Nobody+N1+2024/").status_code == 404


def test_a_learner_token_is_403(jwt_client: Callable[..., APIClient], run: CourseRun) -> None:
    # given
    learner = jwt_client("ada", user_id=77)
    # when
    posted = learner.post(
        URL, lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=None), format="json"
    )
    read = learner.get(f"{URL}{run.key}/")
    # then
    assert (posted.status_code, read.status_code) == (403, 403)
    assert not CourseCertificate.objects.exists()


def test_no_token_is_401(api_client: APIClient, run: CourseRun) -> None:
    body = lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=None)
    assert api_client.post(URL, body, format="json").status_code == 401
    assert api_client.get(f"{URL}{run.key}/").status_code == 401


def test_a_forged_service_token_is_401(api_client: APIClient, make_jwt: Callable[..., str], run: CourseRun) -> None:
    # given
    token = make_jwt("credentials_service_user", administrator=True, secret="not-the-lms-secret-0123456789abcdef0123")
    api_client.credentials(HTTP_AUTHORIZATION=f"JWT {token}")
    # when
    response = api_client.post(
        URL, lms_configuration_body(course_key=run.key, mode="verified", certificate_available_date=None), format="json"
    )
    # then
    assert response.status_code == 401
