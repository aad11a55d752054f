"""Contract tests of /api/v2/credentials/: the LMS's real calls, replayed.

The bodies are built the way edx-platform builds them (as facts, not copied code):
- openedx/core/djangoapps/programs/tasks.py: `post_course_certificate` (a course run's certificate:
  username, status, credential {course_run_key, mode, type "course-run"}, date_override {date} or
  null; LMS versions before mid-2024 also sent attributes [{name: visible_date, value}]),
  `award_program_certificate` (username, lms_user_id, credential {type "program", program_uuid}; no
  status) and `revoke_program_certificate` (username, status "revoked", credential {type, program_uuid});
- openedx/core/djangoapps/credentials/utils.py `get_credentials`: GET with the LEARNER's own JWT,
  ?username=<self>&status=awarded&only_visible=True[&type=program][&program_uuid=], following `next`
  with ?page=N and reading results[].credential.program_uuid and results[].certificate_url.
Writes are signed as the LMS's service user (credentials_service_user, administrator: true).
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED, PROGRAM_CERTIFICATE_REVOKED
from rest_framework.test import APIClient

from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.models import User
from apps.credentials.models import (
    CourseCertificate,
    CredentialStatus,
    ProgramCertificate,
    UserCredential,
    UserCredentialAttribute,
)
from apps.credentials.tests.factories import ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db

URL = "/api/v2/credentials/"
SERVICE_USER = "credentials_service_user"
LMS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # the original's DATETIME_FORMAT


def lms_time(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def course_certificate_body(
    username: str,
    course_run_key: str,
    *,
    mode: str = "verified",
    awarded: bool = True,
    date_override: datetime.datetime | None = None,
    visible_date: datetime.datetime | None = None,
) -> dict[str, Any]:
    """post_course_certificate's body; `visible_date` gives the attribute older LMS versions sent."""
    body: dict[str, Any] = {
        "username": username,
        "status": "awarded" if awarded else "revoked",
        "credential": {"course_run_key": course_run_key, "mode": mode, "type": "course-run"},
        "date_override": {"date": lms_time(date_override)} if date_override else None,
    }
    if visible_date is not None:
        body["attributes"] = [{"name": "visible_date", "value": lms_time(visible_date)}]
    return body


def program_award_body(username: str, lms_user_id: int, program_uuid: uuid.UUID) -> dict[str, Any]:
    return {
        "username": username,
        "lms_user_id": lms_user_id,
        "credential": {"type": "program", "program_uuid": str(program_uuid)},
    }


def program_revoke_body(username: str, program_uuid: uuid.UUID) -> dict[str, Any]:
    return {
        "username": username,
        "status": "revoked",
        "credential": {"type": "program", "program_uuid": str(program_uuid)},
    }


@pytest.fixture
def lms(jwt_client: Callable[..., APIClient]) -> APIClient:
    """The LMS's worker: a JWT of its service user, staff as the LMS creates it."""
    return jwt_client(SERVICE_USER, administrator=True, user_id=1)


def program_events(event_type: str) -> int:
    return OutboxEvent.objects.filter(event_type=event_type).count()


# --- POST: a course run's certificate -------------------------------------------------------------


def test_posting_a_course_certificate_awards_it_and_answers_like_the_original(lms: APIClient) -> None:
    # given
    run = CourseRunFactory()
    override = timezone.now().replace(microsecond=0) - datetime.timedelta(days=3)
    # when
    response = lms.post(URL, course_certificate_body("ada", run.key, date_override=override), format="json")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == [
        "username",
        "credential",
        "status",
        "uuid",
        "attributes",
        "date_override",
        "created",
        "modified",
        "certificate_url",
    ]
    credential = UserCredential.objects.get(user__username="ada")
    configuration = CourseCertificate.objects.get(course_run=run, certificate_type="verified")
    assert body["username"] == "ada"
    assert body["credential"] == {
        "type": "course-run",
        "credential_id": configuration.pk,
        "course_run_key": run.key,
        "mode": "verified",
    }
    assert body["status"] == "awarded"
    assert body["uuid"] == str(credential.uuid)
    assert body["attributes"] == []
    assert body["date_override"] == {"date": lms_time(override)}
    assert LMS_TIME.match(body["created"]) and LMS_TIME.match(body["modified"])
    assert body["certificate_url"].endswith(f"/credentials/{credential.uuid.hex}/")
    assert credential.status == CredentialStatus.AWARDED
    assert credential.date_override == override


def test_posting_the_same_course_certificate_twice_keeps_one_credential(lms: APIClient) -> None:
    # given
    run = CourseRunFactory()
    body = course_certificate_body("ada", run.key)
    # when
    first = lms.post(URL, body, format="json")
    second = lms.post(URL, body, format="json")
    # then: 201 both times (the original's update-or-create), one credential, one uuid
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["uuid"] == second.json()["uuid"]
    assert UserCredential.objects.filter(user__username="ada").count() == 1


def test_a_revoked_status_revokes_and_a_missing_date_override_removes_it(lms: APIClient) -> None:
    # given
    run = CourseRunFactory()
    lms.post(URL, course_certificate_body("ada", run.key, date_override=timezone.now()), format="json")
    # when
    response = lms.post(URL, course_certificate_body("ada", run.key, awarded=False), format="json")
    # then
    assert response.status_code == 201
    assert response.json()["status"] == "revoked"
    assert response.json()["date_override"] is None
    credential = UserCredential.objects.get(user__username="ada")
    assert credential.status == CredentialStatus.REVOKED and credential.revoked_at is not None
    assert credential.date_override is None


def test_attributes_are_kept_by_name_and_never_deleted(lms: APIClient) -> None:
    # given: an LMS of before mid-2024 sends the visible date as an attribute
    run = CourseRunFactory()
    first_date = timezone.now() - datetime.timedelta(days=2)
    lms.post(URL, course_certificate_body("ada", run.key, visible_date=first_date), format="json")
    # when: a later call moves it, another names a second attribute, a newer LMS sends none
    later_date = first_date + datetime.timedelta(days=1)
    lms.post(URL, course_certificate_body("ada", run.key, visible_date=later_date), format="json")
    body = course_certificate_body("ada", run.key)
    body["attributes"] = [{"name": "whitelist_reason", "value": "Granted by the course team."}]
    lms.post(URL, body, format="json")
    response = lms.post(URL, course_certificate_body("ada", run.key), format="json")
    # then
    assert response.json()["attributes"] == [
        {"name": "visible_date", "value": lms_time(later_date)},
        {"name": "whitelist_reason", "value": "Granted by the course team."},
    ]
    assert UserCredentialAttribute.objects.count() == 2


# --- POST: a program's certificate ----------------------------------------------------------------


def test_posting_a_program_award_creates_the_learner_and_announces_it_once(lms: APIClient) -> None:
    # given
    configuration = ProgramCertificateFactory()
    body = program_award_body("grace", 4242, configuration.program.uuid)
    # when
    first = lms.post(URL, body, format="json")
    second = lms.post(URL, body, format="json")
    # then
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["credential"] == {
        "type": "program",
        "credential_id": configuration.pk,
        "program_uuid": str(configuration.program.uuid),
    }
    grace = User.objects.get(username="grace")
    assert grace.lms_user_id == 4242
    assert program_events(PROGRAM_CERTIFICATE_AWARDED.event_type) == 1


def test_posting_a_program_revocation_revokes_and_announces_it(lms: APIClient) -> None:
    # given
    configuration = ProgramCertificateFactory()
    lms.post(URL, program_award_body("grace", 4242, configuration.program.uuid), format="json")
    # when
    response = lms.post(URL, program_revoke_body("grace", configuration.program.uuid), format="json")
    # then
    assert response.status_code == 201
    assert response.json()["status"] == "revoked"
    assert program_events(PROGRAM_CERTIFICATE_REVOKED.event_type) == 1


def test_a_program_completed_by_rest_calls_only_is_awarded_and_announced_once(lms: APIClient) -> None:
    # given: a program of two courses with a certificate configured; a learner seen before by LMS id
    User.objects.create(username="ada", lms_user_id=77)
    program = ProgramFactory(course_count=2)
    ProgramCertificateFactory(program=program)
    first, second = (pc.course.course_runs.get() for pc in program.program_courses.order_by("position"))
    # when: the LMS posts both course certificates (COURSE_CERT_CHANGED → award_course_certificate)
    lms.post(URL, course_certificate_body("ada", first.key), format="json")
    assert not UserCredential.objects.filter(credential_content_type__model="programcertificate").exists()
    lms.post(URL, course_certificate_body("ada", second.key), format="json")
    # then: our completion engine awarded the program certificate and announced it
    program_credential = UserCredential.objects.get(
        user__username="ada", credential_content_type=ContentType.objects.get_for_model(ProgramCertificate)
    )
    assert program_credential.status == CredentialStatus.AWARDED
    events = OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type)
    assert events.count() == 1
    assert str(program_credential.uuid).encode() in bytes(events.get().payload)  # Avro strings are UTF-8
    # when: the LMS's own program award follows (COURSE_CERT_AWARDED → award_program_certificates), and
    # a course certificate is posted again
    assert lms.post(URL, program_award_body("ada", 77, program.uuid), format="json").status_code == 201
    lms.post(URL, course_certificate_body("ada", second.key), format="json")
    # then: nothing more is announced
    assert events.count() == 1


def test_a_program_of_a_learner_without_lms_id_waits_for_the_lms_program_award(lms: APIClient) -> None:
    # given: a learner the service knows only from the LMS's course certificate calls (no LMS id)
    program = ProgramFactory(course_count=2)
    ProgramCertificateFactory(program=program)
    runs = [pc.course.course_runs.get() for pc in program.program_courses.order_by("position")]
    # when: both course certificates arrive
    responses = [lms.post(URL, course_certificate_body("ada", run.key), format="json") for run in runs]
    # then: recorded, but the program certificate (whose event names learners by LMS id) waits
    assert [r.status_code for r in responses] == [201, 201]
    assert UserCredential.objects.filter(user__username="ada").count() == 2
    assert program_events(PROGRAM_CERTIFICATE_AWARDED.event_type) == 0
    # when: the LMS's program award brings the id
    response = lms.post(URL, program_award_body("ada", 88, program.uuid), format="json")
    # then: awarded and announced once
    assert response.status_code == 201 and response.json()["status"] == "awarded"
    assert User.objects.get(username="ada").lms_user_id == 88
    assert program_events(PROGRAM_CERTIFICATE_AWARDED.event_type) == 1


def test_a_program_award_without_lms_id_for_an_unknown_id_is_a_400(lms: APIClient) -> None:
    # given: LMS versions before lms_user_id was sent (about 2019)
    configuration = ProgramCertificateFactory()
    body = program_award_body("ada", 1, configuration.program.uuid)
    del body["lms_user_id"]
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 400
    assert "LMS user id" in response.json()["lms_user_id"][0]
    assert program_events(PROGRAM_CERTIFICATE_AWARDED.event_type) == 0


def test_revoking_a_course_certificate_by_rest_revokes_the_program_when_revocation_is_enabled(
    lms: APIClient,
) -> None:
    # given
    User.objects.create(username="ada", lms_user_id=77)  # seen before (an event, a login)
    program = ProgramFactory(course_count=1)
    ProgramCertificateFactory(program=program, is_revocation_enabled=True)
    run = program.program_courses.get().course.course_runs.get()
    lms.post(URL, course_certificate_body("ada", run.key), format="json")
    # when
    lms.post(URL, course_certificate_body("ada", run.key, awarded=False), format="json")
    # then
    assert program_events(PROGRAM_CERTIFICATE_AWARDED.event_type) == 1
    assert program_events(PROGRAM_CERTIFICATE_REVOKED.event_type) == 1


# --- POST: the LMS's error cases ------------------------------------------------------------------


def test_an_unknown_program_is_a_400_naming_it(lms: APIClient) -> None:
    unknown = uuid.uuid4()
    response = lms.post(URL, program_award_body("ada", 5, unknown), format="json")
    assert response.status_code == 400
    assert response.json()["credential"]["program_uuid"] == [
        f"No active ProgramCertificate exists for program [{unknown}]."
    ]
    assert not User.objects.filter(username="ada").exists()


def test_an_inactive_program_certificate_is_not_awarded_but_can_be_revoked(lms: APIClient) -> None:
    # given
    configuration = ProgramCertificateFactory(is_active=False)
    # when
    award = lms.post(URL, program_award_body("ada", 5, configuration.program.uuid), format="json")
    revoke = lms.post(URL, program_revoke_body("ada", configuration.program.uuid), format="json")
    # then
    assert award.status_code == 400
    assert revoke.status_code == 201
    assert revoke.json()["status"] == "revoked"


def test_a_course_run_outside_the_catalog_is_a_400(lms: APIClient) -> None:
    response = lms.post(URL, course_certificate_body("ada", "course-v1:Nowhere+X+2024"), format="json")
    assert response.status_code == 400
    assert "course-v1:Nowhere+X+2024" in response.json()["credential"]["course_run_key"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("username"), "username"),
        (lambda body: body.pop("credential"), "credential"),
        (lambda body: body["credential"].pop("mode"), "credential"),
        (lambda body: body["credential"].update(course_run_key=None), "credential"),
        (lambda body: body.update(status="lost"), "status"),
        (lambda body: body.update(date_override={"date": "yesterday"}), "date_override"),
        (lambda body: body["credential"].update(mode="platinum"), "credential"),
        (
            lambda body: body.update(attributes=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]),
            "attributes",
        ),
        (lambda body: body.update(lms_user_id="not a number"), "lms_user_id"),
    ],
)
def test_bad_bodies_are_400s_with_field_errors(
    lms: APIClient, change: Callable[[dict[str, Any]], Any], field: str
) -> None:
    # given
    body = course_certificate_body("ada", CourseRunFactory().key)
    change(body)
    # when
    response = lms.post(URL, body, format="json")
    # then
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not UserCredential.objects.exists()


def test_a_username_now_held_by_another_lms_user_follows_the_lms_id(lms: APIClient) -> None:
    # given: "ada" belongs to LMS user 1 here
    configuration = ProgramCertificateFactory()
    User.objects.create(username="ada", lms_user_id=1)
    # when: the LMS names LMS user 2 "ada" (a rename in the LMS)
    response = lms.post(URL, program_award_body("ada", 2, configuration.program.uuid), format="json")
    # then: the LMS id is authoritative (core.api.get_or_create_learners): LMS user 2 now holds "ada"
    assert response.status_code == 201
    assert User.objects.get(username="ada").lms_user_id == 2


def test_learners_cannot_write(jwt_client: Callable[..., APIClient]) -> None:
    run = CourseRunFactory()
    response = jwt_client("ada").post(URL, course_certificate_body("ada", run.key), format="json")
    assert response.status_code == 403
    assert not UserCredential.objects.exists()


def test_no_token_or_a_forged_token_is_a_401(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    run = CourseRunFactory()
    body = course_certificate_body("ada", run.key)
    assert api_client.post(URL, body, format="json").status_code == 401
    forged = make_jwt(SERVICE_USER, secret="not-the-lms-secret", administrator=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"JWT {forged}")
    assert api_client.post(URL, body, format="json").status_code == 401
    expired = make_jwt(SERVICE_USER, administrator=True, exp=int(timezone.now().timestamp()) - 60)
    api_client.credentials(HTTP_AUTHORIZATION=f"JWT {expired}")
    assert api_client.post(URL, body, format="json").status_code == 401
    assert not UserCredential.objects.exists()


# --- GET: the LMS's get_credentials, as the learner --------------------------------------------------


@pytest.fixture
def ada_holdings(lms: APIClient) -> dict[str, Any]:
    """Ada: a program (two courses, both certified, so the program is awarded), a course outside it,
    and a revoked one; Bob: one course certificate of the program."""
    User.objects.create(username="ada", lms_user_id=77)
    program = ProgramFactory(course_count=2)
    ProgramCertificateFactory(program=program)
    runs = [pc.course.course_runs.get() for pc in program.program_courses.order_by("position")]
    outside, revoked = CourseRunFactory(), CourseRunFactory()
    for run in [*runs, outside]:
        lms.post(URL, course_certificate_body("ada", run.key), format="json")
    lms.post(URL, course_certificate_body("ada", revoked.key, awarded=False), format="json")
    lms.post(URL, course_certificate_body("bob", runs[0].key), format="json")
    return {"program": program, "runs": runs, "outside": outside, "revoked": revoked}


def learner_get(jwt_client: Callable[..., APIClient], as_user: str, **params: Any) -> Any:
    # get_credentials' client: the learner's own JWT (scopes email, profile, user_id).
    return jwt_client(as_user, administrator=False).get(URL, params)


def test_the_lms_reads_a_learners_program_certificates_with_their_own_token(
    jwt_client: Callable[..., APIClient], ada_holdings: dict[str, Any]
) -> None:
    # when: get_certified_programs / get_certificates
    response = learner_get(jwt_client, "ada", username="ada", status="awarded", only_visible="True", type="program")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    [result] = body["results"]
    assert result["credential"]["program_uuid"] == str(ada_holdings["program"].uuid)
    credential = UserCredential.objects.get(uuid=result["uuid"])
    assert result["certificate_url"].endswith(f"/credentials/{credential.uuid.hex}/")


def test_the_program_uuid_filter_includes_the_course_certificates_of_its_runs(
    jwt_client: Callable[..., APIClient], ada_holdings: dict[str, Any]
) -> None:
    response = learner_get(jwt_client, "ada", username="ada", program_uuid=str(ada_holdings["program"].uuid))
    kinds = sorted(
        (r["credential"]["type"], r["credential"].get("course_run_key", "")) for r in response.json()["results"]
    )
    assert kinds == sorted([("program", ""), *(("course-run", run.key) for run in ada_holdings["runs"])])


def test_status_type_and_visibility_filters(
    lms: APIClient, jwt_client: Callable[..., APIClient], ada_holdings: dict[str, Any]
) -> None:
    # given: one more certificate, not visible for another week
    later = CourseRunFactory(
        pacing_type="instructor_paced", certificate_available_date=timezone.now() + datetime.timedelta(days=7)
    )
    lms.post(URL, course_certificate_body("ada", later.key), format="json")

    def keys(**params: Any) -> set[str]:
        results = learner_get(jwt_client, "ada", username="ada", **params).json()["results"]
        return {r["credential"].get("course_run_key") or r["credential"]["program_uuid"] for r in results}

    runs = {run.key for run in ada_holdings["runs"]}
    # then
    assert keys(status="revoked") == {ada_holdings["revoked"].key}
    assert keys(type="course-run", status="awarded") == runs | {ada_holdings["outside"].key, later.key}
    assert keys(type="course-run", status="awarded", only_visible="True") == runs | {ada_holdings["outside"].key}
    assert keys(type="badge") == keys()  # an unknown type filters nothing, as the original


def test_a_learner_cannot_list_another_learner(
    jwt_client: Callable[..., APIClient], ada_holdings: dict[str, Any]
) -> None:
    assert learner_get(jwt_client, "ada", username="bob").status_code == 403
    # without a username a learner sees only their own
    results = learner_get(jwt_client, "bob").json()["results"]
    assert {r["username"] for r in results} == {"bob"}
    # the comparison ignores case, as the original's
    assert learner_get(jwt_client, "ada", username="ADA").status_code == 200


def test_pages_of_twenty_followed_with_page_numbers(lms: APIClient) -> None:
    # given: 45 course certificates of one learner
    for run in CourseRunFactory.create_batch(45):
        lms.post(URL, course_certificate_body("ada", run.key), format="json")
    # when: _traverse_pagination: page=2, 3… while `next` is set
    seen, page, pages = [], 1, 0
    while True:
        body = lms.get(URL, {"username": "ada", "page": page}).json()
        seen += [r["uuid"] for r in body["results"]]
        pages += 1
        if not body["next"]:
            break
        assert f"page={page + 1}" in body["next"]
        page += 1
    # then
    assert body["count"] == 45
    assert pages == 3
    assert len(seen) == len(set(seen)) == 45
    assert lms.get(URL, {"username": "ada", "page": 9}).status_code == 404


def test_a_page_costs_the_same_queries_whatever_its_size(lms: APIClient) -> None:
    # given
    program = ProgramCertificateFactory()

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert lms.get(URL).status_code == 200
        return len(queries)

    for run in CourseRunFactory.create_batch(2):
        lms.post(URL, course_certificate_body("ada", run.key, visible_date=timezone.now()), format="json")
    lms.post(URL, program_award_body("ada", 9, program.program.uuid), format="json")
    small = page_queries()  # both kinds present: one prefetch query per kind
    # when
    for index, run in enumerate(CourseRunFactory.create_batch(15)):
        lms.post(URL, course_certificate_body(f"learner{index}", run.key, visible_date=timezone.now()), format="json")
    lms.post(URL, program_award_body("grace", 10, program.program.uuid), format="json")
    # then
    assert page_queries() == small


def test_bad_filters_are_400s(lms: APIClient) -> None:
    assert lms.get(URL, {"status": "lost"}).status_code == 400
    assert lms.get(URL, {"program_uuid": "not-a-uuid"}).status_code == 400


# --- one credential: GET, PATCH, DELETE -----------------------------------------------------------


def test_one_credential_read_patched_and_revoked(
    lms: APIClient, jwt_client: Callable[..., APIClient], ada_holdings: dict[str, Any]
) -> None:
    # given
    credential = UserCredential.objects.filter(user__username="ada", status=CredentialStatus.AWARDED).first()
    assert credential is not None
    url = f"{URL}{credential.uuid}/"
    # when / then: the owner reads it, another learner cannot see it
    assert learner_get(jwt_client, "ada").status_code == 200
    assert jwt_client("ada").get(url).json()["uuid"] == str(credential.uuid)
    assert jwt_client("bob").get(url).status_code == 404
    assert jwt_client("ada").patch(url, {"status": "revoked"}, format="json").status_code == 403
    # the LMS's service user changes its status; DELETE revokes, never deletes
    service = jwt_client(SERVICE_USER, administrator=True)
    assert service.patch(url, {"status": "revoked"}, format="json").json()["status"] == "revoked"
    assert service.patch(url, {"status": "awarded"}, format="json").json()["status"] == "awarded"
    assert service.patch(url, {"status": "gone"}, format="json").status_code == 400
    assert service.delete(url).json()["status"] == "revoked"
    assert UserCredential.objects.get(pk=credential.pk).status == CredentialStatus.REVOKED
    assert service.get(f"{URL}{uuid.uuid4()}/").status_code == 404


# --- the certificate page the answers link to -----------------------------------------------------


def test_the_certificate_url_shows_the_certificate_and_says_when_it_is_revoked(lms: APIClient) -> None:
    # given
    program = ProgramFactory(title="Data Science", course_count=0)
    configuration = ProgramCertificateFactory(program=program)
    body = lms.post(URL, program_award_body("grace", 4242, program.uuid), format="json").json()
    User.objects.filter(username="grace").update(full_name="Grace Hopper", email="grace@example.com")
    path = body["certificate_url"].split("127.0.0.1:8000", 1)[-1]
    anonymous = APIClient()
    # when
    page = anonymous.get(path)
    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert "Grace Hopper" in html and "Data Science" in html and "Valid" in html
    assert "grace@example.com" not in html
    # when revoked
    lms.post(URL, program_revoke_body("grace", configuration.program.uuid), format="json")
    revoked = anonymous.get(path)
    assert revoked.status_code == 410 and "Revoked" in revoked.content.decode()
    assert anonymous.get(f"/credentials/{uuid.uuid4().hex}/").status_code == 404


def test_a_certificate_not_yet_visible_has_no_page(lms: APIClient) -> None:
    run = CourseRunFactory(
        pacing_type="instructor_paced", certificate_available_date=timezone.now() + datetime.timedelta(days=7)
    )
    body = lms.post(URL, course_certificate_body("ada", run.key), format="json").json()
    assert APIClient().get(f"/credentials/{uuid.UUID(body['uuid']).hex}/").status_code == 404


def test_program_certificate_events_link_to_the_certificate_page(lms: APIClient) -> None:
    configuration = ProgramCertificateFactory()
    body = lms.post(URL, program_award_body("grace", 4242, configuration.program.uuid), format="json").json()
    event = OutboxEvent.objects.get(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type)
    assert body["certificate_url"].encode() in bytes(event.payload)


# --- what a review of the drop-in found ------------------------------------------------------------


def test_the_lms_revokes_a_program_certificate_of_a_learner_without_lms_id(lms: APIClient) -> None:
    # given: an imported program certificate of a learner known only by username
    configuration = ProgramCertificateFactory()
    learner = User.objects.create(username="ada")
    UserCredential.objects.create(
        user=learner,
        credential_content_type=ContentType.objects.get_for_model(ProgramCertificate),
        credential_id=configuration.pk,
        awarded_at=timezone.now(),
    )
    # when: revoke_program_certificate's body (no lms_user_id)
    response = lms.post(URL, program_revoke_body("ada", configuration.program.uuid), format="json")
    # then: revoked; nothing announced (no award of theirs ever was, and no event could name them)
    assert response.status_code == 201
    assert response.json()["status"] == "revoked"
    assert program_events(PROGRAM_CERTIFICATE_REVOKED.event_type) == 0


@pytest.mark.parametrize("mode", ["paid-bootcamp", "unpaid-executive-education", "unpaid-bootcamp", "credit"])
def test_every_certificate_mode_the_lms_issues_is_taken(lms: APIClient, mode: str) -> None:
    run = CourseRunFactory()
    response = lms.post(URL, course_certificate_body("ada", run.key, mode=mode), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["credential"]["mode"] == mode


def test_an_early_no_info_run_shows_its_certificates_at_once(lms: APIClient) -> None:
    # given: two instructor-paced runs ending next month; the LMS says one has no available date
    # (update_certificate_available_date_on_course_update: EARLY_NO_INFO → None)
    ends = timezone.now() + datetime.timedelta(days=30)
    early, at_end = (
        CourseRunFactory(pacing_type="instructor_paced", end=ends),
        CourseRunFactory(pacing_type="instructor_paced", end=ends),
    )
    body = {
        "course_id": early.key,
        "certificate_type": "verified",
        "certificate_available_date": None,
        "is_active": True,
    }
    assert lms.post("/api/v2/course_certificates/", body, format="json").status_code == 201
    # when
    for run in (early, at_end):
        lms.post(URL, course_certificate_body("ada", run.key), format="json")
    # then: the early run's is visible now; the other waits for the run's end, as before
    visible = lms.get(URL, {"username": "ada", "only_visible": "True"}).json()["results"]
    assert [r["credential"]["course_run_key"] for r in visible] == [early.key]


def test_a_program_award_by_the_lms_is_visible_when_the_completion_is(lms: APIClient) -> None:
    # given: a program whose only course's certificates become visible next week
    User.objects.create(username="ada", lms_user_id=77)
    later = timezone.now() + datetime.timedelta(days=7)
    program = ProgramFactory(course_count=0)
    run = CourseRunFactory(pacing_type="instructor_paced", certificate_available_date=later)
    program.program_courses.create(course=run.course, position=0)
    configuration = ProgramCertificateFactory(program=program, is_active=False)  # the engine awards nothing
    lms.post(URL, course_certificate_body("ada", run.key), format="json")
    ProgramCertificate.objects.filter(pk=configuration.pk).update(is_active=True)
    # when: the LMS awards the program itself
    response = lms.post(URL, program_award_body("ada", 77, program.uuid), format="json")
    # then: hidden until the course certificate is visible, as the engine would have dated it
    assert response.status_code == 201
    credential = UserCredential.objects.get(uuid=response.json()["uuid"])
    assert credential.visible_date == later
    assert lms.get(URL, {"username": "ada", "only_visible": "True", "type": "program"}).json()["count"] == 0


def test_an_lms_user_id_out_of_range_is_a_400(lms: APIClient) -> None:
    configuration = ProgramCertificateFactory()
    response = lms.post(URL, program_award_body("ada", 2**70, configuration.program.uuid), format="json")
    assert response.status_code == 400
    assert "lms_user_id" in response.json()
