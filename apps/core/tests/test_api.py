from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.api import (
    LearnerIdentity,
    LearnerIdentityError,
    NotFoundError,
    User,
    get_learner,
    get_or_create_learner,
    get_or_create_learners,
)
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


def test_a_username_record_and_an_id_record_of_another_name_raise_a_conflict() -> None:
    # given: LMS user 5 is "bob" here (two partial records of one person merge: test_learner_merge.py)
    by_name = get_or_create_learner(username="ada")
    by_id = get_or_create_learner(lms_user_id=5, username="bob")
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learner(lms_user_id=5, username="ada")
    # then
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert User.objects.get(pk=by_name.pk).lms_user_id is None
    assert User.objects.get(pk=by_id.pk).username == "bob"


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


# --- many at once --------------------------------------------------------------------------------

# Renames, a username taken over by a new LMS id, completions of partial records, repeats.
IDENTITIES = [
    LearnerIdentity(lms_user_id=1, username="ada", email="ada@example.com"),
    LearnerIdentity(lms_user_id=2, username="bob"),
    LearnerIdentity(lms_user_id=3),
    LearnerIdentity(username="cy", full_name="Cy"),
    LearnerIdentity(lms_user_id=1, username="ada", email="ada@new.example.com", full_name="Ada L"),
    LearnerIdentity(lms_user_id=2, username="ada"),  # ada renamed in the LMS; 2 now holds the name
    LearnerIdentity(lms_user_id=1, username="ada1"),
    LearnerIdentity(lms_user_id=3, username="bob"),  # bob's name freed by 2's rename, taken by 3
    LearnerIdentity(lms_user_id=4, username="cy"),  # completes the username-only record
    LearnerIdentity(lms_user_id=5, username="eve", email="eve@example.com"),
    LearnerIdentity(lms_user_id=5, username="eve", email="", full_name=None),  # blanks change nothing
]


def _learners() -> list[tuple[object, ...]]:
    return sorted(User.objects.values_list("lms_user_id", "username", "email", "full_name"), key=str)


def test_many_at_once_resolve_as_one_at_a_time_would() -> None:
    # given: the same identities resolved one at a time
    one_at_a_time = [
        get_or_create_learner(lms_user_id=i.lms_user_id, username=i.username, email=i.email, full_name=i.full_name).pk
        for i in IDENTITIES
    ]
    expected = _learners()
    User.objects.all().delete()
    # when
    users = get_or_create_learners(IDENTITIES)
    # then
    assert _learners() == expected
    assert _same_learner_at(users=[u.pk for u in users]) == _same_learner_at(users=one_at_a_time)


def _same_learner_at(*, users: list[int]) -> list[int]:
    """For each position, the first position naming the same learner: equal whatever the pks."""
    return [users.index(pk) for pk in users]


def test_each_identity_gets_the_learner_as_it_left_them() -> None:
    # when: one learner's email changes between two identities
    first, second = get_or_create_learners(
        [
            LearnerIdentity(lms_user_id=1, username="ada", email="ada@old.example.com"),
            LearnerIdentity(lms_user_id=1, username="ada", email="ada@new.example.com"),
        ]
    )
    # then
    assert first.pk == second.pk
    assert (first.email, second.email) == ("ada@old.example.com", "ada@new.example.com")
    assert User.objects.get().email == "ada@new.example.com"


def test_many_at_once_raise_on_a_conflict_and_write_nothing() -> None:
    # given
    get_or_create_learner(username="ada")
    get_or_create_learner(lms_user_id=5, username="bob")
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learners(
            [LearnerIdentity(lms_user_id=6, username="new"), LearnerIdentity(lms_user_id=5, username="ada")]
        )
    # then
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert not User.objects.filter(lms_user_id=6).exists()


def test_many_at_once_take_a_fixed_number_of_queries() -> None:
    # given: twenty known learners, ten of them renamed, and twenty new ones
    get_or_create_learners([LearnerIdentity(lms_user_id=n, username=f"old{n}") for n in range(20)])
    identities = [LearnerIdentity(lms_user_id=n, username=f"new{n}" if n % 2 else f"old{n}") for n in range(40)]
    # when
    with CaptureQueriesContext(connection) as queries:
        get_or_create_learners(identities)
    # then: a savepoint around one locking read, the freed usernames, the inserts, the updates
    statements = [q["sql"].split()[0].upper() for q in queries]
    assert statements.count("SELECT") == 1
    assert len(statements) <= 8, statements
    assert User.objects.filter(username__startswith="new").count() == 20
