from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.models import UserCredential
from apps.credentials.tests.factories import CourseCertificateFactory

LIST_URL = "/api/v1/credentials/"

pytestmark = pytest.mark.django_db


def uuids(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {item["uuid"] for item in response.json()["results"]}


def test_anonymous_gets_401(api_client: APIClient) -> None:
    assert api_client.get(LIST_URL).status_code == 401


def test_learner_lists_only_their_own_credentials(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    # when
    response = jwt_client("alice").get(LIST_URL)
    # then
    assert response.status_code == 200
    assert uuids(response) == {str(awarded["alice_course"].uuid), str(awarded["alice_program"].uuid)}


def test_learner_cannot_list_another_learners_credentials(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    response = jwt_client("alice").get(LIST_URL, {"username": "bob"})
    assert response.status_code == 403


def test_learner_cannot_read_another_learners_credential(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    # when
    response = jwt_client("alice").get(f"{LIST_URL}{awarded['bob_course'].uuid}/")
    # then: as absent as an unknown one
    assert response.status_code == 404
    assert jwt_client("alice").get(f"{LIST_URL}{uuid.uuid4()}/").status_code == 404


def test_service_user_lists_anyone_and_filters(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    client = jwt_client("credentials_service_user")
    # when / then
    assert uuids(client.get(LIST_URL, {"username": "bob"})) == {str(awarded["bob_course"].uuid)}
    assert uuids(client.get(LIST_URL, {"status": "revoked"})) == {str(awarded["alice_program"].uuid)}
    assert uuids(client.get(LIST_URL, {"type": "program"})) == {str(awarded["alice_program"].uuid)}
    program_uuid = awarded["alice_program"].credential.program.uuid
    assert uuids(client.get(LIST_URL, {"program_uuid": str(program_uuid)})) == {str(awarded["alice_program"].uuid)}
    run_key = awarded["bob_course"].credential.course_run.key
    assert uuids(client.get(LIST_URL, {"course_run_key": run_key})) == {
        str(awarded["alice_course"].uuid),
        str(awarded["bob_course"].uuid),
    }


def test_staff_from_jwt_administrator_claim_sees_everyone(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    response = jwt_client("operator", administrator=True).get(LIST_URL)
    assert len(response.json()["results"]) == 3


def test_detail_describes_the_credential(
    jwt_client: Callable[..., APIClient], awarded: dict[str, UserCredential]
) -> None:
    # given
    credential = awarded["alice_course"]
    # when
    body = jwt_client("alice").get(f"{LIST_URL}{credential.uuid}/").json()
    # then
    assert body["uuid"] == str(credential.uuid)
    assert body["username"] == "alice"
    assert body["status"] == "awarded"
    assert body["credential"] == {
        "type": "course-run",
        "title": credential.credential.course_run.course.title,
        "course_run_key": credential.credential.course_run.key,
        "mode": "verified",
    }
    assert "email" not in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "granted"}, "status"),
        ({"type": "badge-ish"}, "type"),
        ({"program_uuid": "not-a-uuid"}, "program_uuid"),
    ],
)
def test_bad_filters_get_400_with_the_field(
    jwt_client: Callable[..., APIClient], params: dict[str, str], field: str
) -> None:
    response = jwt_client("alice").get(LIST_URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_list_query_count_does_not_grow_with_credentials(
    jwt_client: Callable[..., APIClient], django_assert_max_num_queries: Callable[..., object]
) -> None:
    # given: 20 course certificates and 1 program certificate for one learner
    user = UserFactory(username="busy")
    for _ in range(20):
        config = CourseCertificateFactory()
        services.award_course_certificate(user=user, course_run_key=config.course_run.key, mode="verified")
    client = jwt_client("busy")
    client.get(LIST_URL)  # warm the content-type cache and the user
    # when / then: auth + count + page + one prefetch per credential kind
    with django_assert_max_num_queries(6):
        response = client.get(LIST_URL)
    assert len(response.json()["results"]) == 20
