from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.core.api import User, get_or_create_learner

pytestmark = [pytest.mark.django_db, pytest.mark.urls("apps.core.tests.urls")]

WHOAMI = "/whoami/"


def _get_with_token(api_client: APIClient, token: str) -> Any:
    api_client.credentials(HTTP_AUTHORIZATION=f"JWT {token}")
    return api_client.get(WHOAMI)


def test_valid_token_authenticates_and_creates_the_learner(jwt_client: Callable[..., APIClient]) -> None:
    # given
    client = jwt_client("ada", user_id=41, name="Ada Lovelace")
    # when
    response = client.get(WHOAMI)
    # then
    assert response.status_code == 200
    assert response.json()["username"] == "ada"
    user = User.objects.get(username="ada")
    assert (user.lms_user_id, user.email, user.full_name) == (41, "ada@example.com", "Ada Lovelace")


def test_no_token_gets_401(api_client: APIClient) -> None:
    # when
    response = api_client.get(WHOAMI)
    # then
    assert response.status_code == 401


def test_token_with_a_wrong_signature_gets_401(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    # given
    token = make_jwt("mallory", secret="not-the-lms-secret-but-long-enough-for-hs256")
    # when
    response = _get_with_token(api_client, token)
    # then
    assert response.status_code == 401
    assert not User.objects.filter(username="mallory").exists()


def test_expired_token_gets_401(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    # given
    an_hour_ago = int(time.time()) - 3600
    token = make_jwt("ada", iat=an_hour_ago - 300, exp=an_hour_ago)
    # when
    response = _get_with_token(api_client, token)
    # then
    assert response.status_code == 401


def test_token_for_another_audience_gets_401(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    # given
    token = make_jwt("ada", aud="some-other-service")
    # when
    response = _get_with_token(api_client, token)
    # then
    assert response.status_code == 401


def test_empty_public_key_set_refuses_every_token(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    # given: with an empty set edx-drf-extensions would accept HS256 tokens signed with any key
    token_signed_by_the_lms = make_jwt("ada")
    token_signed_by_anyone = make_jwt("mallory", secret="anything-at-all-of-a-decent-length-for-hs256")
    # when
    with override_settings(JWT_AUTH={**settings.JWT_AUTH, "JWT_PUBLIC_SIGNING_JWK_SET": ""}):
        responses = [_get_with_token(api_client, t) for t in (token_signed_by_the_lms, token_signed_by_anyone)]
    # then
    assert [r.status_code for r in responses] == [401, 401]
    assert not User.objects.exists()


def test_learner_first_seen_by_id_is_completed_not_duplicated(jwt_client: Callable[..., APIClient]) -> None:
    # given: a grade event named the learner by LMS id only
    known = get_or_create_learner(lms_user_id=5)
    assert known.username is None
    # when
    response = jwt_client("grace", user_id=5, preferred_username="grace").get(WHOAMI)
    # then
    assert response.status_code == 200
    assert response.json()["pk"] == known.pk
    assert User.objects.count() == 1
    known.refresh_from_db()
    assert (known.username, known.email) == ("grace", "grace@example.com")


def test_administrator_claim_makes_staff_and_its_absence_removes_it(jwt_client: Callable[..., APIClient]) -> None:
    # when
    as_admin = jwt_client("root", user_id=7, administrator=True).get(WHOAMI)
    as_learner = jwt_client("root", user_id=7, administrator=False).get(WHOAMI)
    # then
    assert as_admin.json()["is_staff"] is True
    assert as_learner.json()["is_staff"] is False
    assert User.objects.get(username="root").is_staff is False


def test_token_without_a_username_gets_401(api_client: APIClient, make_jwt: Callable[..., str]) -> None:
    # given
    token = make_jwt("", user_id=9)
    # when
    response = _get_with_token(api_client, token)
    # then
    assert response.status_code == 401
    assert not User.objects.filter(lms_user_id=9).exists()


def test_identity_conflict_gets_401_not_500(jwt_client: Callable[..., APIClient]) -> None:
    # given: a username-only record, and LMS user 41 known here by another name
    get_or_create_learner(username="ada")
    get_or_create_learner(lms_user_id=41, username="bob")
    # when
    response = jwt_client("ada", user_id=41).get(WHOAMI)
    # then
    assert response.status_code == 401
    assert "two separate records" in response.json()["detail"]


def test_a_known_learner_is_authenticated_in_one_read_without_a_lock(jwt_client: Callable[..., APIClient]) -> None:
    # given: a learner the service knows as their token describes them
    client = jwt_client("ada", user_id=41, name="Ada Lovelace")
    client.get(WHOAMI)
    # when
    with CaptureQueriesContext(connection) as queries:
        response = client.get(WHOAMI)
    # then
    assert response.status_code == 200
    assert len(queries) == 1
    assert "FOR UPDATE" not in queries[0]["sql"]


def test_a_token_with_new_facts_still_updates_the_learner(jwt_client: Callable[..., APIClient]) -> None:
    # given
    jwt_client("ada", user_id=41, name="Ada Lovelace").get(WHOAMI)
    # when: the LMS now knows her by another name
    response = jwt_client("ada", user_id=41, name="Ada King").get(WHOAMI)
    # then
    assert response.status_code == 200
    assert User.objects.get(username="ada").full_name == "Ada King"


def test_a_deactivated_account_is_refused(jwt_client: Callable[..., APIClient]) -> None:
    # given
    jwt_client("ada", user_id=41).get(WHOAMI)
    User.objects.filter(username="ada").update(is_active=False)
    # when
    response = jwt_client("ada", user_id=41).get(WHOAMI)
    # then
    assert response.status_code == 401
