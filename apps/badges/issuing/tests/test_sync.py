"""Template sync: our badge templates follow an organization's templates on its issuing service, through
the service, the admin action and the celery task, against the fake servers."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.badges.issuing import services, tasks
from apps.badges.issuing.models import ExternalTemplate, IssuerBackend
from apps.badges.issuing.tests.conftest import Accredible, Credly
from apps.badges.issuing.tests.factories import ExternalTemplateFactory, IssuerOrganizationFactory
from apps.badges.models import BadgeTemplate, TemplateOrigin, TemplateState
from apps.badges.tests.factories import BadgeTemplateFactory

pytestmark = pytest.mark.django_db


def synced(credly: Credly) -> dict[str, tuple[str, str, str, str]]:
    """Our templates linked to the organization's: Credly id -> (name, description, image, state)."""
    return {
        link.external_id: (link.template.name, link.template.description, link.template.image_link, link.template.state)
        for link in ExternalTemplate.objects.select_related("template").filter(organization=credly.organization)
    }


@pytest.fixture
def other_organizations(credly: Credly) -> list[BadgeTemplate]:
    """Templates that are not the organization's: another Credly organization's (on the same server,
    synced before) and a native one."""
    remote = credly.server.add_organization()
    other = IssuerOrganizationFactory(external_id=remote.id, api_token=remote.token, name="Other org")
    theirs = ExternalTemplateFactory(organization=other, template__name="Theirs").template
    return [theirs, BadgeTemplateFactory(name="Native", state=TemplateState.ACTIVE)]


def test_a_first_sync_creates_a_draft_template_for_each_active_one(
    credly: Credly, other_organizations: list[BadgeTemplate]
) -> None:
    # given: templates over several pages, some not active
    credly.server.page_size = 2
    python = credly.server.add_template(
        credly.org_id, "Python", description="Write Python", image_url="https://img.example/python.png"
    )
    rust = credly.server.add_template(credly.org_id, "Rust")
    credly.server.add_template(credly.org_id, "Not yet", state="draft")
    credly.server.add_template(credly.org_id, "Gone", state="archived")
    # when
    result = services.sync_templates(organization_id=credly.organization.pk)
    # then
    assert result == services.SyncResult(created=2, updated=0, archived=0)
    assert synced(credly) == {
        python.id: ("Python", "Write Python", "https://img.example/python.png", "draft"),
        rust.id: ("Rust", "", "", "draft"),
    }
    assert set(
        BadgeTemplate.objects.filter(external__organization=credly.organization).values_list("origin", flat=True)
    ) == {TemplateOrigin.CREDLY}
    credly.organization.refresh_from_db()
    assert credly.organization.last_synced_at is not None
    assert len(credly.server.calls("GET", "/badge_templates")) == 2  # two pages


def test_a_sync_updates_changed_templates_and_archives_the_ones_no_longer_active(
    credly: Credly, other_organizations: list[BadgeTemplate]
) -> None:
    # given: a first sync, an operator activating one template, then changes on Credly
    python = credly.server.add_template(credly.org_id, "Python", image_url="https://img.example/python.png")
    rust = credly.server.add_template(credly.org_id, "Rust")
    java = credly.server.add_template(credly.org_id, "Java")
    services.sync_templates(organization_id=credly.organization.pk)
    BadgeTemplate.objects.filter(external__external_id=python.id).update(state=TemplateState.ACTIVE)
    before = {template.pk: template.modified for template in other_organizations}
    credly.server.update_template(
        credly.org_id, python.id, name="Python 3", description="Now 3", image_url="https://img.example/python3.png"
    )
    credly.server.remove_template(credly.org_id, rust.id)
    credly.server.archive_template(credly.org_id, java.id)
    go = credly.server.add_template(credly.org_id, "Go")
    # when
    result = services.sync_templates(organization_id=credly.organization.pk)
    # then: archived, not deleted; the operator's activation kept
    assert result == services.SyncResult(created=1, updated=1, archived=2)
    assert synced(credly) == {
        python.id: ("Python 3", "Now 3", "https://img.example/python3.png", "active"),
        rust.id: ("Rust", "", "", "archived"),
        java.id: ("Java", "", "", "archived"),
        go.id: ("Go", "", "", "draft"),
    }
    # and: other organizations' templates and native ones untouched
    for template in other_organizations:
        template.refresh_from_db()
        assert (template.state, template.modified) == (TemplateState.ACTIVE, before[template.pk])


def test_a_sync_run_again_changes_nothing(credly: Credly) -> None:
    # given
    credly.server.add_template(credly.org_id, "Python", description="Write Python")
    gone = credly.server.add_template(credly.org_id, "Gone")
    services.sync_templates(organization_id=credly.organization.pk)
    credly.server.remove_template(credly.org_id, gone.id)
    services.sync_templates(organization_id=credly.organization.pk)
    before = dict(BadgeTemplate.objects.values_list("pk", "modified"))
    # when
    result = services.sync_templates(organization_id=credly.organization.pk)
    # then
    assert result == services.SyncResult()
    assert dict(BadgeTemplate.objects.values_list("pk", "modified")) == before


def test_the_admin_action_syncs_the_selected_organizations(credly: Credly, admin_client: Client) -> None:
    # given
    python = credly.server.add_template(credly.org_id, "Python")
    # when
    response = admin_client.post(
        reverse("admin:badge_issuing_issuerorganization_changelist"),
        {"action": "sync_templates", "_selected_action": [credly.organization.pk]},
    )
    # then
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Credly org (Credly): 1 created (as drafts), 0 updated, 0 archived."
    ]
    assert synced(credly) == {python.id: ("Python", "", "", "draft")}


def test_the_admin_action_shows_the_services_refusal(credly: Credly, admin_client: Client) -> None:
    # given
    credly.server.refuse_all(401)
    # when
    response = admin_client.post(
        reverse("admin:badge_issuing_issuerorganization_changelist"),
        {"action": "sync_templates", "_selected_action": [credly.organization.pk]},
    )
    # then
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error"
    assert str(message) == (
        f"Credly org (Credly): Credly answered 401 to GET /v1/organizations/{credly.org_id}/badge_templates: Refused"
    )
    assert credly.token not in str(message)


def test_the_task_syncs_one_organization(credly: Credly) -> None:
    # given
    python = credly.server.add_template(credly.org_id, "Python")
    # when
    tasks.sync_issuer_templates_task.delay(credly.organization.pk)
    # then
    assert synced(credly) == {python.id: ("Python", "", "", "draft")}


def test_the_scheduled_task_syncs_every_active_organization_despite_one_refusing(credly: Credly) -> None:
    # given: an organization whose token Credly no longer takes (synced first: by name), ours, an inactive one
    refused = credly.server.add_organization()
    IssuerOrganizationFactory(external_id=refused.id, api_token="revoked-token", name="A refused org")
    asleep = credly.server.add_organization()
    IssuerOrganizationFactory(external_id=asleep.id, api_token=asleep.token, is_active=False)
    credly.server.add_template(refused.id, "Refused")
    credly.server.add_template(asleep.id, "Asleep")
    python = credly.server.add_template(credly.org_id, "Python")
    # when
    tasks.sync_issuer_templates_task.delay()
    # then
    assert synced(credly) == {python.id: ("Python", "", "", "draft")}
    assert list(BadgeTemplate.objects.values_list("name", flat=True)) == ["Python"]


def test_accredible_groups_sync_as_templates(accredible: Accredible) -> None:
    # given
    kept = accredible.server.add_group("Python", course_name="Python for all", course_description="Learn")
    gone = accredible.server.add_group("Rust")
    services.sync_templates(organization_id=accredible.organization.pk)
    accredible.server.remove_group(gone.id)
    # when
    result = services.sync_templates(organization_id=accredible.organization.pk)
    # then
    assert result == services.SyncResult(archived=1)
    templates = {
        link.external_id: (link.template.origin, link.template.name, link.template.description, link.template.state)
        for link in ExternalTemplate.objects.select_related("template")
    }
    assert templates == {
        str(kept.id): (IssuerBackend.ACCREDIBLE, "Python for all", "Learn", "draft"),
        str(gone.id): (IssuerBackend.ACCREDIBLE, "Rust", "", "archived"),
    }
