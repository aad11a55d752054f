"""sync_badge_templates: the command form of the template sync."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.badges.issuing.models import ExternalTemplate
from apps.badges.issuing.tests.conftest import Credly
from apps.badges.models import TemplateState

pytestmark = pytest.mark.django_db


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_badge_templates", "--no-progress", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_creates_drafts_and_archives_what_the_service_dropped(credly: Credly) -> None:
    # given: two templates on Credly
    kept = credly.server.add_template(credly.org_id, "Python")
    dropped = credly.server.add_template(credly.org_id, "Rust")
    # when
    first = sync()
    credly.server.remove_template(credly.org_id, dropped.id)
    second = sync("--organization", str(credly.organization.uuid))
    # then
    assert f"{credly.organization}: 2 created (as drafts), 0 updated, 0 archived." in first
    assert f"{credly.organization}: 0 created (as drafts), 0 updated, 1 archived." in second
    states = dict(ExternalTemplate.objects.values_list("external_id", "template__state"))
    assert states == {kept.id: TemplateState.DRAFT, dropped.id: TemplateState.ARCHIVED}


def test_a_refused_token_fails_the_command_naming_the_organization(credly: Credly) -> None:
    # given
    credly.server.refuse_all(401)
    # when / then
    with pytest.raises(CommandError, match="1 organizations could not be synced"):
        sync()
    # an unknown organization is an error too
    with pytest.raises(CommandError, match="name no active organization"):
        sync("--organization", "00000000-0000-0000-0000-000000000000")
