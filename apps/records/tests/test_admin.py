from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from apps.catalog.data import ProgramData
from apps.core.models import User
from apps.core.tests.factories import StaffFactory
from apps.records import services
from apps.records.models import ProgramRecordShare

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/records/programrecordshare/"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_admin_revoke_action_revokes_through_the_service(
    admin_client: Client,
    learner: User,
    other_learner: User,
    make_program: Callable[..., ProgramData],
) -> None:
    # given
    program = make_program(course_count=1)
    alices, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    bobs, _ = services.create_program_record_share(user=other_learner, program_uuid=program.uuid)
    # when
    response = admin_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [alices.pk]})
    # then
    assert response.status_code == 302
    alices.refresh_from_db()
    bobs.refresh_from_db()
    assert alices.revoked_at is not None
    assert bobs.revoked_at is None


def test_admin_lists_searches_and_filters_shares(
    admin_client: Client, learner: User, other_learner: User, make_program: Callable[..., ProgramData]
) -> None:
    # given
    program = make_program(course_count=1, title="Data Science")
    alices, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    services.create_program_record_share(user=other_learner, program_uuid=program.uuid)
    services.revoke_program_record_share(user=learner, share_uuid=alices.uuid)
    # when
    by_name = admin_client.get(CHANGELIST, {"q": "alice"})
    by_title = admin_client.get(CHANGELIST, {"q": "Data Science"})
    active = admin_client.get(CHANGELIST, {"revoked": "no"})
    # then
    assert by_name.status_code == by_title.status_code == active.status_code == 200
    assert [s.user.username for s in by_name.context["cl"].result_list] == ["alice"]
    assert by_title.context["cl"].result_count == 2
    assert [s.user.username for s in active.context["cl"].result_list] == ["bob"]
    assert ProgramRecordShare.objects.count() == 2
