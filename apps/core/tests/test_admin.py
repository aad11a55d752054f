from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.admin import MISSING_IDENTITY
from apps.core.api import User, get_or_create_learner
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:core_user_changelist")


def _found(admin_client: Client, term: str) -> set[str]:
    response = admin_client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return {str(user) for user in response.context["cl"].result_list}


def test_changelist_and_add_pages_render(admin_client: Client) -> None:
    # given
    UserFactory(username="ada")
    get_or_create_learner(lms_user_id=77)
    # when
    changelist = admin_client.get(CHANGELIST)
    add = admin_client.get(reverse("admin:core_user_add"))
    # then
    assert changelist.status_code == 200
    assert add.status_code == 200
    assert {"ada", "lms-user-77"} <= {str(u) for u in changelist.context["cl"].result_list}
    assert "lms_user_id" in add.context["adminform"].form.fields


def test_change_page_shows_the_lms_identity(admin_client: Client) -> None:
    # given
    user = UserFactory(username="ada", lms_user_id=4242, full_name="Ада Лавлейс")
    # when
    response = admin_client.get(reverse("admin:core_user_change", args=[user.pk]))
    # then
    assert response.status_code == 200
    assert "4242" in response.content.decode()
    assert "Ада Лавлейс" in response.content.decode()


def test_search_by_username_email_lms_id_and_full_name(admin_client: Client) -> None:
    # given
    UserFactory(username="ada", email="countess@example.org", lms_user_id=4242, full_name="Ada Lovelace")
    UserFactory(username="grace", email="grace@example.com", lms_user_id=7, full_name="Grace Hopper")
    # when
    by_name = _found(admin_client, "ada")
    by_email = _found(admin_client, "countess")
    by_lms_id = _found(admin_client, "4242")
    by_full_name = _found(admin_client, "Lovelace")
    # then
    assert by_name == by_email == by_lms_id == by_full_name == {"ada"}
    assert "admin" not in by_lms_id


def test_add_user_requires_a_username(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        reverse("admin:core_user_add"),
        {"username": "", "lms_user_id": "12", "usable_password": "false"},
    )
    # then
    assert response.status_code == 200
    assert "username" in response.context["adminform"].form.errors
    assert not User.objects.filter(lms_user_id=12).exists()


def test_add_user_with_lms_identity(admin_client: Client) -> None:
    # when
    response = admin_client.post(
        reverse("admin:core_user_add"),
        {"username": "operator", "lms_user_id": "12", "full_name": "Юрий Гагарин", "usable_password": "false"},
    )
    # then
    assert response.status_code == 302
    user = User.objects.get(username="operator")
    assert (user.lms_user_id, user.full_name) == (12, "Юрий Гагарин")
    assert not user.has_usable_password()


def _change_data(**fields: str) -> dict[str, str]:
    return {
        "username": "",
        "lms_user_id": "",
        "email": "",
        "full_name": "",
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        **fields,
    }


def test_learner_known_only_by_lms_id_can_be_edited(admin_client: Client) -> None:
    # given: a learner first seen in a grade event, with no username yet
    learner = get_or_create_learner(lms_user_id=77)
    # when
    response = admin_client.post(
        reverse("admin:core_user_change", args=[learner.pk]), _change_data(lms_user_id="77", full_name="Иван Петров")
    )
    # then
    assert response.status_code == 302
    learner.refresh_from_db()
    assert (learner.username, learner.full_name) == (None, "Иван Петров")


def test_clearing_both_username_and_lms_id_is_a_form_error(admin_client: Client) -> None:
    # given
    user = UserFactory(username="ada", lms_user_id=None)
    # when
    response = admin_client.post(reverse("admin:core_user_change", args=[user.pk]), _change_data())
    # then
    assert response.status_code == 200
    assert MISSING_IDENTITY in response.context["adminform"].form.non_field_errors()
    user.refresh_from_db()
    assert user.username == "ada"
