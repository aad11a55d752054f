from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from apps.catalog.data import ProgramData
from apps.core.api import NotFoundError
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.records import services
from apps.records.exceptions import RecordsErrorCode
from apps.records.models import ProgramRecordShare

from .factories import ProgramRecordShareFactory

pytestmark = pytest.mark.django_db


def test_create_share_is_idempotent_while_active(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    # when
    first, first_created = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    again, again_created = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    # then
    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk and again.uuid == first.uuid
    assert ProgramRecordShare.objects.filter(user=learner).count() == 1


def test_create_share_after_revoking_makes_a_new_link(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    old, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    services.revoke_program_record_share(user=learner, share_uuid=old.uuid)
    # when
    new, created = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    # then
    assert created is True
    assert new.uuid != old.uuid
    old.refresh_from_db()
    assert old.revoked_at is not None and new.revoked_at is None


def test_learners_get_separate_links_to_the_same_program(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData]
) -> None:
    # given
    program = make_program(course_count=1)
    # when
    alices, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    bobs, _ = services.create_program_record_share(user=other_learner, program_uuid=program.uuid)
    # then
    assert alices.uuid != bobs.uuid
    assert (alices.user_id, bobs.user_id) == (learner.pk, other_learner.pk)


def test_create_share_for_unknown_program_raises_not_found(learner: User) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        services.create_program_record_share(user=learner, program_uuid=uuid.uuid4())
    assert excinfo.value.code is RecordsErrorCode.PROGRAM_NOT_FOUND
    assert not ProgramRecordShare.objects.exists()


def test_revoke_share_is_idempotent(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    share, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    # when
    revoked = services.revoke_program_record_share(user=learner, share_uuid=share.uuid)
    again = services.revoke_program_record_share(user=learner, share_uuid=share.uuid)
    # then
    assert revoked.revoked_at is not None
    assert again.revoked_at == revoked.revoked_at


def test_learner_cannot_revoke_another_learners_share(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData]
) -> None:
    # given
    program = make_program(course_count=1)
    bobs, _ = services.create_program_record_share(user=other_learner, program_uuid=program.uuid)
    # when
    with pytest.raises(NotFoundError) as excinfo:
        services.revoke_program_record_share(user=learner, share_uuid=bobs.uuid)
    # then: as absent as an unknown share, and still live
    assert excinfo.value.code is RecordsErrorCode.SHARE_NOT_FOUND
    bobs.refresh_from_db()
    assert bobs.revoked_at is None


def test_revoke_unknown_share_raises_not_found(learner: User) -> None:
    with pytest.raises(NotFoundError):
        services.revoke_program_record_share(user=learner, share_uuid=uuid.uuid4())


def test_database_allows_one_active_share_per_learner_and_program() -> None:
    # given
    share = ProgramRecordShareFactory()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ProgramRecordShareFactory(user=share.user, program=share.program)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions")
def test_concurrent_creates_make_one_share(
    make_program: Callable[..., ProgramData], concurrently: Callable[..., list[Any]]
) -> None:
    # given
    user = UserFactory()
    program = make_program(course_count=1)
    # when
    results = [
        share
        for share, _ in concurrently(
            lambda _: services.create_program_record_share(user=user, program_uuid=program.uuid), [1, 2, 3, 4]
        )
    ]
    # then
    assert len({share.pk for share in results}) == 1
    assert ProgramRecordShare.objects.filter(user=user).count() == 1
