from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.api import LearnerIdentityError, NotFoundError, User, get_learner, get_or_create_learner
from apps.core.exceptions import CoreErrorCode
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creates_a_learner_known_only_by_lms_id() -> None:
    # when
    user = get_or_create_learner(lms_user_id=5)
    # then
    assert user.pk is not None
    assert (user.lms_user_id, user.username) == (5, None)
    assert not user.has_usable_password()
    assert str(user) == "lms-user-5"


def test_creates_a_learner_known_only_by_username() -> None:
    # when
    user = get_or_create_learner(username="ada", email="ada@example.com")
    # then
    assert (user.username, user.lms_user_id, user.email) == ("ada", None, "ada@example.com")
    assert not user.has_usable_password()


def test_completes_a_learner_first_seen_by_id() -> None:
    # given
    known = get_or_create_learner(lms_user_id=5)
    # when
    user = get_or_create_learner(lms_user_id=5, username="ada", email="ada@example.com", full_name="Ада Лавлейс")
    # then
    assert user.pk == known.pk
    user.refresh_from_db()
    assert (user.username, user.email, user.full_name) == ("ada", "ada@example.com", "Ада Лавлейс")
    assert User.objects.count() == 1


def test_completes_a_learner_first_seen_by_username() -> None:
    # given
    known = get_or_create_learner(username="ada")
    # when
    user = get_or_create_learner(lms_user_id=5, username="ada")
    # then
    assert user.pk == known.pk
    assert User.objects.get(pk=known.pk).lms_user_id == 5


def test_empty_values_do_not_erase_what_is_known() -> None:
    # given
    known = get_or_create_learner(lms_user_id=5, username="ada", email="ada@example.com", full_name="Ada")
    # when
    get_or_create_learner(lms_user_id=5, username="ada", email="", full_name=None)
    # then
    known.refresh_from_db()
    assert (known.email, known.full_name) == ("ada@example.com", "Ada")


def test_username_moves_to_the_new_lms_id_that_now_holds_it() -> None:
    # given: LMS user 1 was renamed and user 2 took the freed username
    old_holder = get_or_create_learner(lms_user_id=1, username="ada")
    # when
    new_holder = get_or_create_learner(lms_user_id=2, username="ada")
    # then
    assert new_holder.pk != old_holder.pk
    assert (new_holder.lms_user_id, new_holder.username) == (2, "ada")
    old_holder.refresh_from_db()
    assert (old_holder.lms_user_id, old_holder.username) == (1, None)


def test_known_learner_renamed_onto_a_username_another_lms_id_held() -> None:
    # given
    old_holder = get_or_create_learner(lms_user_id=1, username="ada")
    renamed = get_or_create_learner(lms_user_id=2, username="bob")
    # when
    user = get_or_create_learner(lms_user_id=2, username="ada")
    # then
    assert user.pk == renamed.pk
    assert User.objects.get(pk=renamed.pk).username == "ada"
    assert User.objects.get(pk=old_holder.pk).username is None
    assert User.objects.count() == 2


def test_two_partial_records_of_one_person_raise_a_conflict() -> None:
    # given
    by_name = get_or_create_learner(username="ada")
    by_id = get_or_create_learner(lms_user_id=5)
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learner(lms_user_id=5, username="ada")
    # then
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert User.objects.get(pk=by_name.pk).lms_user_id is None
    assert User.objects.get(pk=by_id.pk).username is None


def test_neither_id_nor_username_is_refused() -> None:
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learner(email="nobody@example.com")
    # then
    assert error.value.code is CoreErrorCode.MISSING_IDENTITY
    assert error.value.field == "username"
    assert not User.objects.exists()


def test_is_idempotent_and_a_repeat_writes_nothing() -> None:
    # given
    first = get_or_create_learner(lms_user_id=5, username="ada", email="ada@example.com", full_name="Ada")
    # when
    with CaptureQueriesContext(connection) as queries:
        second = get_or_create_learner(lms_user_id=5, username="ada", email="ada@example.com", full_name="Ada")
    # then
    assert second.pk == first.pk
    assert User.objects.count() == 1
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert writes == []


def test_get_learner_finds_by_username_or_raises_not_found() -> None:
    # given
    user = UserFactory(username="ada")
    # when
    found = get_learner(username="ada")
    with pytest.raises(NotFoundError) as error:
        get_learner(username="nobody")
    # then
    assert found.pk == user.pk
    assert error.value.status_code == 404
    assert "nobody" in error.value.message
