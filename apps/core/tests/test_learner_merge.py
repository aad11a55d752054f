"""Identity resolution merging one person's two partial records: one known only by LMS id (a grade
event made it), one only by username (the LMS's REST calls, the importer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.core import api
from apps.core.api import (
    LearnerIdentity,
    LearnerIdentityError,
    User,
    get_or_create_learner,
    get_or_create_learners,
    register_learner_merge,
)
from apps.core.exceptions import CoreErrorCode
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merges() -> Iterator[list[tuple[int, int, bool]]]:
    """A merge handler registered for the test: records (from, into, whether `from` still existed)."""
    calls: list[tuple[int, int, bool]] = []

    def record(*, from_user_id: int, into_user_id: int) -> None:
        calls.append((from_user_id, into_user_id, User.objects.filter(pk=from_user_id).exists()))

    saved = list(api._MERGE_HANDLERS)
    register_learner_merge(record)
    register_learner_merge(record)  # a second registration changes nothing
    yield calls
    api._MERGE_HANDLERS[:] = saved


def log_entry(user: User) -> LogEntry:
    """A row of a table no merge handler knows (the admin's log)."""
    return LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=str(user),
        action_flag=ADDITION,
    )


# --- the merge -----------------------------------------------------------------------------------


def test_an_identity_naming_both_partial_records_merges_the_username_record_into_the_id_record(
    merges: list[tuple[int, int, bool]],
) -> None:
    # given: LMS user 77 from a grade event; "ada" from a REST call, with her email and name
    by_id = get_or_create_learner(lms_user_id=77)
    by_name = get_or_create_learner(username="ada", email="ada@example.com", full_name="Ada Lovelace")
    entry = log_entry(by_name)
    # when
    user = get_or_create_learner(lms_user_id=77, username="ada")
    # then: the id's record survives, with the username, email and name; the other is gone
    assert user.pk == by_id.pk
    assert (user.lms_user_id, user.username, user.email, user.full_name) == (
        77,
        "ada",
        "ada@example.com",
        "Ada Lovelace",
    )
    stored = User.objects.get()
    assert (stored.pk, stored.lms_user_id, stored.username, stored.email, stored.full_name) == (
        by_id.pk,
        77,
        "ada",
        "ada@example.com",
        "Ada Lovelace",
    )
    assert not stored.has_usable_password()
    # then: each handler ran once, before the record merged away was deleted; core moved the rest
    assert merges == [(by_name.pk, by_id.pk, True)]
    entry.refresh_from_db()
    assert entry.user_id == by_id.pk


def test_what_the_id_record_and_the_identity_say_wins_over_the_username_record() -> None:
    # given: the id's record has an email; the username's has another and a name
    by_id = UserFactory(lms_user_id=77, username=None, email="77@example.com", full_name="", password=None)
    get_or_create_learner(username="ada", email="ada@old.example.com", full_name="Ada")
    # when: the identity brings a new name
    user = get_or_create_learner(lms_user_id=77, username="ada", full_name="Ada Lovelace")
    # then
    assert user.pk == by_id.pk
    assert (user.email, user.full_name) == ("77@example.com", "Ada Lovelace")
    assert User.objects.get().email == "77@example.com"


def test_a_merge_is_idempotent() -> None:
    # given
    by_id = get_or_create_learner(lms_user_id=77)
    get_or_create_learner(username="ada")
    get_or_create_learner(lms_user_id=77, username="ada")
    # when
    with CaptureQueriesContext(connection) as queries:
        again = get_or_create_learner(lms_user_id=77, username="ada")
    # then
    assert again.pk == by_id.pk
    assert [q["sql"].split()[0].upper() for q in queries] == ["SELECT"]


def test_a_batch_merges_and_points_earlier_identities_at_the_survivor() -> None:
    # given: 77 and 78 known only by id, "bea" only by username
    ada_id = get_or_create_learner(lms_user_id=77).pk
    bea_id = get_or_create_learner(lms_user_id=78).pk
    get_or_create_learner(username="bea", email="bea@example.com")
    # when: "ada" is new in the batch, then named with 77; "bea" is named alone, then with 78
    users = get_or_create_learners(
        [
            LearnerIdentity(username="ada"),
            LearnerIdentity(lms_user_id=77, username="ada"),
            LearnerIdentity(username="bea"),
            LearnerIdentity(lms_user_id=78, username="bea"),
            LearnerIdentity(lms_user_id=79, username="cy"),
        ]
    )
    # then: two records merged, one created; every identity names a stored learner
    assert [u.pk for u in users[:4]] == [ada_id, ada_id, bea_id, bea_id]
    assert [(u.lms_user_id, u.username) for u in users] == [
        (77, "ada"),
        (77, "ada"),
        (78, "bea"),
        (78, "bea"),
        (79, "cy"),
    ]
    stored = sorted(User.objects.values_list("pk", "lms_user_id", "username", "email"))
    assert stored == [
        (ada_id, 77, "ada", ""),
        (bea_id, 78, "bea", "bea@example.com"),
        (users[4].pk, 79, "cy", ""),
    ]


def test_an_id_record_new_in_the_batch_is_not_created_when_a_username_record_takes_its_id() -> None:
    # given
    by_name = get_or_create_learner(username="ada")
    entry = log_entry(by_name)
    # when: LMS user 77 is new, then named with "ada"
    first, second = get_or_create_learners(
        [LearnerIdentity(lms_user_id=77, email="ada@example.com"), LearnerIdentity(lms_user_id=77, username="ada")]
    )
    # then: one learner, the stored one, with the id and what the batch said of it
    assert first.pk == second.pk == by_name.pk
    assert (second.lms_user_id, second.username, second.email) == (77, "ada", "ada@example.com")
    assert list(User.objects.values_list("pk", "lms_user_id", "username", "email")) == [
        (by_name.pk, 77, "ada", "ada@example.com")
    ]
    entry.refresh_from_db()
    assert entry.user_id == by_name.pk


def test_the_merged_learner_keeps_both_records_memberships() -> None:
    # given
    readers, learners = Group.objects.create(name="readers"), Group.objects.create(name="learners")
    by_id = get_or_create_learner(lms_user_id=77)
    by_id.groups.add(readers)
    get_or_create_learner(username="ada").groups.add(learners)
    # when
    get_or_create_learner(lms_user_id=77, username="ada")
    # then
    assert set(User.objects.get(pk=by_id.pk).groups.values_list("name", flat=True)) == {"readers", "learners"}


@pytest.mark.urls("apps.core.tests.urls")
def test_the_learners_jwt_login_merges_her_two_records(jwt_client: Callable[..., APIClient]) -> None:
    # given
    by_id = get_or_create_learner(lms_user_id=77)
    get_or_create_learner(username="ada")
    # when
    response = jwt_client("ada", user_id=77, name="Ada Lovelace").get("/whoami/")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "ada"
    assert list(User.objects.values_list("pk", "lms_user_id", "username", "full_name")) == [
        (by_id.pk, 77, "ada", "Ada Lovelace")
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")
def test_identities_naming_both_records_at_once_merge_them_once(concurrently: Callable[..., list[Any]]) -> None:
    # given
    by_id = get_or_create_learner(lms_user_id=77)
    get_or_create_learner(username="ada")

    def resolve(_: object) -> int:
        with transaction.atomic():
            return get_or_create_learner(lms_user_id=77, username="ada").pk

    # when: three calls at the same moment (a JWT login, a certificate event, the program award)
    pks = concurrently(resolve, [1, 2, 3])
    # then: the first merged under both locks; the others waited and found the merged learner
    assert pks == [by_id.pk] * 3
    assert list(User.objects.values_list("pk", "lms_user_id", "username")) == [(by_id.pk, 77, "ada")]


# --- what is not merged ---------------------------------------------------------------------------


def test_rows_that_clash_in_a_table_without_a_handler_refuse_the_merge_and_change_nothing(
    merges: list[tuple[int, int, bool]],
) -> None:
    # given: both records belong to one group (a unique pair that no handler resolves)
    group = Group.objects.create(name="learners")
    by_id = get_or_create_learner(lms_user_id=77)
    by_name = get_or_create_learner(username="ada")
    by_id.groups.add(group)
    by_name.groups.add(group)
    entry = log_entry(by_name)
    # when: inside the caller's transaction
    with transaction.atomic():
        with pytest.raises(LearnerIdentityError) as error:
            get_or_create_learner(lms_user_id=77, username="ada")
        # then: the caller's transaction is still usable, and nothing moved
        assert User.objects.count() == 2
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert "core_user_groups" in error.value.message
    assert str(error.value).startswith("LMS user 77 and username 'ada' are two separate records here")
    assert sorted(User.objects.values_list("lms_user_id", "username"), key=str) == [(77, None), (None, "ada")]
    entry.refresh_from_db()
    assert entry.user_id == by_name.pk
    assert merges == [(by_name.pk, by_id.pk, True)]


def test_an_id_record_with_another_username_is_a_true_conflict() -> None:
    # given: LMS user 77 is "bob" here; "ada" is a username-only record
    get_or_create_learner(lms_user_id=77, username="bob")
    get_or_create_learner(username="ada")
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learner(lms_user_id=77, username="ada")
    # then
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert error.value.message == (
        "LMS user 77 and username 'ada' are two separate records here, and they cannot be merged: "
        "LMS user 77 is 'bob' here."
    )
    assert sorted(User.objects.values_list("lms_user_id", "username"), key=str) == [(77, "bob"), (None, "ada")]


@pytest.mark.parametrize("operator", [{"is_staff": True}, {"is_superuser": True}, {"password": "secret"}])
def test_an_operators_account_is_never_merged_into_a_learner(operator: dict[str, object]) -> None:
    # given: "ada" is an account made here (staff, superuser, or with a password)
    get_or_create_learner(lms_user_id=77)
    UserFactory(username="ada", lms_user_id=None, **{"password": None, **operator})
    # when
    with pytest.raises(LearnerIdentityError) as error:
        get_or_create_learner(lms_user_id=77, username="ada")
    # then
    assert error.value.code is CoreErrorCode.IDENTITY_CONFLICT
    assert error.value.message.endswith("cannot be merged: 'ada' is an operator's account.")
    assert User.objects.count() == 2


def test_a_username_held_by_another_lms_id_still_moves_as_a_rename() -> None:
    # given: LMS user 1 was "ada"; LMS user 2 is known only by id
    old_holder = get_or_create_learner(lms_user_id=1, username="ada")
    new_holder = get_or_create_learner(lms_user_id=2)
    # when: the LMS now calls LMS user 2 "ada"
    user = get_or_create_learner(lms_user_id=2, username="ada")
    # then: no merge: the username moved
    assert user.pk == new_holder.pk
    assert sorted(User.objects.values_list("pk", "lms_user_id", "username")) == [
        (old_holder.pk, 1, None),
        (new_holder.pk, 2, "ada"),
    ]


# --- cost ----------------------------------------------------------------------------------------


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0].upper() for q in queries]


def test_resolving_without_a_merge_costs_what_it_did() -> None:
    # given: twenty known learners
    get_or_create_learners([LearnerIdentity(lms_user_id=n, username=f"old{n}") for n in range(20)])
    mixed = [LearnerIdentity(lms_user_id=n, username=f"new{n}" if n % 2 else f"old{n}") for n in range(40)]
    # when / then: renames and new learners: one locking read, then the writes in one savepoint
    with CaptureQueriesContext(connection) as queries:
        get_or_create_learners(mixed)
    assert _statements(queries) == ["SELECT", "SAVEPOINT", "UPDATE", "INSERT", "UPDATE", "RELEASE"]
    # when / then: a repeat reads only
    with CaptureQueriesContext(connection) as queries:
        get_or_create_learners(mixed)
    assert _statements(queries) == ["SELECT"]
    # when / then: new learners
    with CaptureQueriesContext(connection) as queries:
        get_or_create_learners([LearnerIdentity(lms_user_id=500), LearnerIdentity(username="zed")])
    assert _statements(queries) == ["SELECT", "SAVEPOINT", "INSERT", "RELEASE"]
    # when / then: partial records completed (no merge: each names one record)
    with CaptureQueriesContext(connection) as queries:
        get_or_create_learners(
            [LearnerIdentity(lms_user_id=500, username="x500"), LearnerIdentity(lms_user_id=501, username="zed")]
        )
    assert _statements(queries) == ["SELECT", "SAVEPOINT", "UPDATE", "RELEASE"]


def test_a_username_freed_by_a_merge_can_go_to_a_new_learner_of_the_same_batch() -> None:
    # given: LMS user 5 (a grade event's record) and "bob" (a REST call's record)
    get_or_create_learner(lms_user_id=5)
    get_or_create_learner(username="bob")
    # when: one batch says LMS user 5 is bob, then that the LMS renamed: "bob" is now LMS user 9
    first, second = get_or_create_learners(
        [LearnerIdentity(lms_user_id=5, username="bob"), LearnerIdentity(lms_user_id=9, username="bob")]
    )
    # then: one record each, "bob" with LMS user 9
    assert (first.lms_user_id, second.lms_user_id) == (5, 9)
    assert User.objects.get(username="bob").lms_user_id == 9
    assert User.objects.get(lms_user_id=5).username is None
    assert User.objects.count() == 2
