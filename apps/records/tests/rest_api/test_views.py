from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.catalog.data import ProgramData
from apps.catalog.models import Program
from apps.catalog.tests.factories import OrganizationFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import api as credentials_api
from apps.records import services
from apps.records.exports import CSV_HEADER
from apps.records.models import ProgramRecordShare

from ..conftest import ALICE_EMAIL, BOB_EMAIL

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/records/programs/"


def detail_url(program_uuid: object) -> str:
    return f"{LIST_URL}{program_uuid}/"


def share_url(program_uuid: object) -> str:
    return f"{LIST_URL}{program_uuid}/share/"


def revoke_url(share_uuid: object) -> str:
    return f"/api/v1/records/shares/{share_uuid}/"


def public_json_url(share_uuid: object) -> str:
    return f"/api/v1/records/public/{share_uuid}/"


def public_page_url(share_uuid: object) -> str:
    return f"/records/public/{share_uuid}/"


def public_csv_url(share_uuid: object) -> str:
    return f"/records/public/{share_uuid}/csv/"


@pytest.fixture
def programs(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> dict[str, ProgramData]:
    """Alice completed one of two courses in `alices`; Bob completed the only course of `bobs`."""
    alices = make_program(course_count=2, title="Alice's program")
    Program.objects.get(uuid=alices.uuid).authoring_organizations.add(
        OrganizationFactory(key="WonderX", name="Wonderland University")
    )
    bobs = make_program(course_count=1, title="Bob's program")
    earn(learner, alices.courses[0].runs[0].key, "0.88", letter="B+")
    earn(other_learner, bobs.courses[0].runs[0].key, "0.97", letter="A")
    return {"alice": alices, "bob": bobs}


@pytest.fixture
def alices_share(learner: User, programs: dict[str, ProgramData]) -> ProgramRecordShare:
    share, _ = services.create_program_record_share(user=learner, program_uuid=programs["alice"].uuid)
    return share


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", LIST_URL),
        ("get", detail_url(uuid.uuid4())),
        ("post", share_url(uuid.uuid4())),
        ("delete", revoke_url(uuid.uuid4())),
    ],
)
def test_anonymous_gets_401(api_client: APIClient, method: str, url: str) -> None:
    assert getattr(api_client, method)(url).status_code == 401


def test_session_login_works_too(api_client: APIClient, learner: User, programs: dict[str, ProgramData]) -> None:
    # given
    api_client.force_login(learner)
    # when
    response = api_client.get(LIST_URL)
    # then
    assert response.status_code == 200
    assert [r["uuid"] for r in response.json()] == [str(programs["alice"].uuid)]


# --- list ----------------------------------------------------------------------------------------


def test_learner_lists_only_their_own_program_records(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # when
    response = jwt_client("alice").get(LIST_URL)
    # then
    assert response.status_code == 200
    assert response.json() == [
        {
            "uuid": str(programs["alice"].uuid),
            "title": "Alice's program",
            "type": "MicroMasters",
            "completed_courses": 1,
            "total_courses": 2,
            "completion_percent": 50.0,
            "certificate_status": "none",
            "last_updated": response.json()[0]["last_updated"],
        }
    ]
    assert response.json()[0]["last_updated"] is not None


def test_learner_cannot_list_another_learners_records(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # when
    response = jwt_client("alice").get(LIST_URL, {"username": "bob"})
    # then
    assert response.status_code == 403
    assert "Bob" not in response.content.decode()


def test_learner_may_name_themselves(jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]) -> None:
    response = jwt_client("alice").get(LIST_URL, {"username": "alice"})
    assert [r["uuid"] for r in response.json()] == [str(programs["alice"].uuid)]


@pytest.mark.parametrize("claims", [{"administrator": True}, {}])
def test_staff_and_service_users_list_anyones_records(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData], claims: dict[str, bool]
) -> None:
    # given: an LMS administrator, or the configured service user
    username = "operator" if claims else "credentials_service_user"
    # when
    response = jwt_client(username, **claims).get(LIST_URL, {"username": "bob"})
    # then
    assert response.status_code == 200
    assert [r["uuid"] for r in response.json()] == [str(programs["bob"].uuid)]


def test_staff_naming_an_unknown_learner_gets_404(jwt_client: Callable[..., APIClient]) -> None:
    response = jwt_client("operator", administrator=True).get(LIST_URL, {"username": "nobody"})
    assert response.status_code == 404
    assert "username" in response.json()


@pytest.mark.parametrize("username", ["not a username!", "x" * 151, "<script>"])
def test_malformed_username_gets_400_naming_the_field(jwt_client: Callable[..., APIClient], username: str) -> None:
    # when
    response = jwt_client("operator", administrator=True).get(LIST_URL, {"username": username})
    # then
    assert response.status_code == 400
    assert "username" in response.json()


# --- detail --------------------------------------------------------------------------------------


def test_detail_shows_best_grades_certificates_and_completion(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # given
    program = programs["alice"]
    # when
    response = jwt_client("alice").get(detail_url(program.uuid))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["program"] == {
        "uuid": str(program.uuid),
        "title": program.title,
        "type": "MicroMasters",
        "organizations": [{"key": "WonderX", "name": "Wonderland University"}],
    }
    assert body["learner"] == {"username": "alice", "full_name": "Alice Liddell"}
    assert (body["completed_courses"], body["total_courses"], body["completion_percent"]) == (1, 2, 50.0)
    assert body["certificate_status"] == "none"
    done, untouched = body["courses"]
    assert done["course_key"] == program.courses[0].key
    assert done["best_grade"] == {
        "course_run_key": program.courses[0].runs[0].key,
        "letter_grade": "B+",
        "percent_grade": 0.88,
        "passed": True,
    }
    assert done["certificate"]["status"] == "awarded"
    assert done["certificate"]["mode"] == "verified"
    assert done["certificate"]["issued_date"] is not None
    assert done["completed"] is True
    assert untouched["best_grade"] is None
    assert untouched["certificate"] == {
        "status": "none",
        "mode": None,
        "course_run_key": None,
        "visible_date": None,
        "issued_date": None,
    }


def test_detail_never_shows_email_or_lms_id(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    content = jwt_client("alice").get(detail_url(programs["alice"].uuid)).content.decode()
    assert ALICE_EMAIL not in content
    assert "email" not in content
    assert "424242" not in content


def test_learner_cannot_read_another_learners_record(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # when
    response = jwt_client("alice").get(detail_url(programs["bob"].uuid), {"username": "bob"})
    # then
    assert response.status_code == 403
    assert BOB_EMAIL not in response.content.decode()
    assert "0.97" not in response.content.decode()


def test_learner_reading_anothers_program_sees_only_their_own_empty_record(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # when: Alice opens the program Bob completed, without naming anyone
    body = jwt_client("alice").get(detail_url(programs["bob"].uuid)).json()
    # then
    assert body["learner"]["username"] == "alice"
    assert body["courses"][0]["best_grade"] is None
    assert body["completed_courses"] == 0


def test_staff_reads_a_learners_record(jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]) -> None:
    # when
    body = jwt_client("operator", administrator=True).get(detail_url(programs["bob"].uuid), {"username": "bob"}).json()
    # then
    assert body["learner"] == {"username": "bob", "full_name": "Bob Builder"}
    assert body["completion_percent"] == 100.0


def test_unknown_program_gets_404(jwt_client: Callable[..., APIClient], learner: User) -> None:
    response = jwt_client("alice").get(detail_url(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["code"] == "program_not_found"


@pytest.mark.parametrize("method", ["get", "post"])
def test_malformed_program_uuid_gets_400_naming_the_field(jwt_client: Callable[..., APIClient], method: str) -> None:
    # when
    client = jwt_client("alice")
    response = client.get(detail_url("not-a-uuid")) if method == "get" else client.post(share_url("not-a-uuid"))
    # then
    assert response.status_code == 400
    assert "program_uuid" in response.json()


def test_detail_query_count_does_not_grow_with_courses(
    jwt_client: Callable[..., APIClient],
    learner: User,
    complete_program: Callable[..., ProgramData],
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    # given
    small = complete_program(learner, course_count=5)
    large = complete_program(learner, course_count=50)
    client = jwt_client("alice")
    client.get(detail_url(small.uuid))  # warm the content-type cache
    # when
    counts = []
    for program in (small, large):
        with CaptureQueriesContext(connection) as context:
            assert client.get(detail_url(program.uuid)).status_code == 200
        counts.append(len(context.captured_queries))
    # then: the record's six plus the JWT user lookup (a locking read in its own savepoint)
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(9):
        client.get(detail_url(large.uuid))


# --- sharing -------------------------------------------------------------------------------------


def test_share_creates_a_link_once_then_returns_it(
    jwt_client: Callable[..., APIClient], programs: dict[str, ProgramData]
) -> None:
    # given
    client = jwt_client("alice")
    # when
    first = client.post(share_url(programs["alice"].uuid))
    again = client.post(share_url(programs["alice"].uuid))
    # then
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    share = ProgramRecordShare.objects.get()
    assert first.json()["uuid"] == str(share.uuid)
    assert first.json()["url"] == f"http://testserver/records/public/{share.uuid}/"
    assert first.json()["created"]


def test_share_of_unknown_program_gets_404(jwt_client: Callable[..., APIClient], learner: User) -> None:
    assert jwt_client("alice").post(share_url(uuid.uuid4())).status_code == 404


def test_owner_revokes_a_share_and_the_link_stops_working(
    jwt_client: Callable[..., APIClient], alices_share: ProgramRecordShare
) -> None:
    # given
    client = jwt_client("alice")
    # when
    response = client.delete(revoke_url(alices_share.uuid))
    again = client.delete(revoke_url(alices_share.uuid))
    # then
    assert (response.status_code, again.status_code) == (204, 204)
    assert Client().get(public_page_url(alices_share.uuid)).status_code == 404


def test_learner_cannot_revoke_another_learners_share(
    jwt_client: Callable[..., APIClient], alices_share: ProgramRecordShare
) -> None:
    # when
    response = jwt_client("bob").delete(revoke_url(alices_share.uuid))
    # then: as absent as an unknown share, and the link still works
    assert response.status_code == 404
    assert jwt_client("bob").delete(revoke_url(uuid.uuid4())).status_code == 404
    assert APIClient().get(public_json_url(alices_share.uuid)).status_code == 200


def test_malformed_share_uuid_gets_400(jwt_client: Callable[..., APIClient]) -> None:
    response = jwt_client("alice").delete(revoke_url("nope"))
    assert response.status_code == 400
    assert "share_uuid" in response.json()


# --- public views --------------------------------------------------------------------------------


def test_public_json_shows_the_record_without_login_or_email(
    api_client: APIClient, alices_share: ProgramRecordShare, programs: dict[str, ProgramData]
) -> None:
    # when
    response = api_client.get(public_json_url(alices_share.uuid))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["learner"] == {"username": "alice", "full_name": "Alice Liddell"}
    assert body["program"]["uuid"] == str(programs["alice"].uuid)
    assert body["courses"][0]["best_grade"]["percent_grade"] == 0.88
    assert ALICE_EMAIL not in response.content.decode()
    assert "424242" not in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_public_json_ignores_a_bad_token(api_client: APIClient, alices_share: ProgramRecordShare) -> None:
    # given: a stale token must not turn a public link into a 401
    api_client.credentials(HTTP_AUTHORIZATION="JWT not.a.token")
    # when / then
    assert api_client.get(public_json_url(alices_share.uuid)).status_code == 200


def test_public_page_shows_the_record_without_email(
    alices_share: ProgramRecordShare, programs: dict[str, ProgramData]
) -> None:
    # when
    response = Client().get(public_page_url(alices_share.uuid))
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Alice Liddell" in page
    assert "Alice&#x27;s program" in page
    assert "Wonderland University" in page
    for course in programs["alice"].courses:
        assert course.title in page
    assert "88.00%" in page
    assert "1 of 2 courses completed (50%)" in page
    assert "Awarded" in page and "Not earned" in page
    assert ALICE_EMAIL not in page
    assert "424242" not in page
    assert "<script" not in page
    assert f"/records/public/{alices_share.uuid}/csv/" in page
    assert "no-store" in response["Cache-Control"]


def test_public_csv_downloads_one_row_per_course_without_email(
    alices_share: ProgramRecordShare, programs: dict[str, ProgramData]
) -> None:
    # when
    response = Client().get(public_csv_url(alices_share.uuid))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alices-program-record.csv"'
    content = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert list(rows[0]) == CSV_HEADER
    assert [r["Course key"] for r in rows] == [c.key for c in programs["alice"].courses]
    assert rows[0]["Learner"] == "Alice Liddell"
    assert rows[0]["Best grade (%)"] == "88.00"
    assert rows[0]["Certificate"] == "awarded"
    assert rows[0]["Completed"] == "yes"
    assert rows[1]["Best grade (%)"] == "" and rows[1]["Completed"] == "no"
    assert ALICE_EMAIL not in content
    assert "424242" not in content


def test_public_csv_keeps_formula_like_names_as_text(make_program: Callable[..., ProgramData]) -> None:
    # given
    user = UserFactory(full_name='=HYPERLINK("http://evil.example")')
    program = make_program(course_count=1)
    share, _ = services.create_program_record_share(user=user, program_uuid=program.uuid)
    # when
    rows = list(csv.DictReader(io.StringIO(Client().get(public_csv_url(share.uuid)).content.decode())))
    # then
    assert rows[0]["Learner"] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize("url", [public_json_url, public_page_url, public_csv_url])
def test_revoked_share_gets_404_everywhere(
    learner: User, alices_share: ProgramRecordShare, url: Callable[[object], str]
) -> None:
    # given
    services.revoke_program_record_share(user=learner, share_uuid=alices_share.uuid)
    # when
    response = Client().get(url(alices_share.uuid))
    # then
    assert response.status_code == 404
    assert b"Alice" not in response.content


@pytest.mark.parametrize("url", [public_json_url, public_page_url, public_csv_url])
def test_unknown_share_gets_404_everywhere(url: Callable[[object], str]) -> None:
    assert Client().get(url(uuid.uuid4())).status_code == 404


@pytest.mark.parametrize(("url", "status"), [(public_json_url, 400), (public_page_url, 404), (public_csv_url, 404)])
def test_malformed_share_uuid_is_a_client_error_on_public_urls(url: Callable[[object], str], status: int) -> None:
    # The JSON API names the bad field; the pages' URL pattern only matches a uuid.
    assert Client().get(url("not-a-uuid")).status_code == status


def test_public_pages_follow_the_learners_later_progress(
    learner: User, alices_share: ProgramRecordShare, programs: dict[str, ProgramData], earn: Callable[..., None]
) -> None:
    # given: the link was made before the second course was done
    earn(learner, programs["alice"].courses[1].runs[0].key)
    credentials_api.award_program_certificate(user=learner, program_uuid=programs["alice"].uuid)
    # when
    body = APIClient().get(public_json_url(alices_share.uuid)).json()
    # then
    assert body["completion_percent"] == 100.0
    assert body["certificate_status"] == "awarded"


# --- schema --------------------------------------------------------------------------------------


def test_schema_documents_the_records_endpoints(jwt_client: Callable[..., APIClient]) -> None:
    # when
    response = jwt_client("alice").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    # then
    paths = response.json()["paths"]
    assert {
        "/api/v1/records/programs/",
        "/api/v1/records/programs/{program_uuid}/",
        "/api/v1/records/programs/{program_uuid}/share/",
        "/api/v1/records/shares/{share_uuid}/",
        "/api/v1/records/public/{share_uuid}/",
    } <= set(paths)
    assert paths["/api/v1/records/programs/{program_uuid}/"]["get"]["parameters"][0]["schema"]["format"] == "uuid"
