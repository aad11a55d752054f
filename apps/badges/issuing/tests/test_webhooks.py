"""The issuing services' webhooks: the view trusts nothing in the body, and the task (eager) fetches the
event the body names from Credly with the organization's own token, then the badge or templates."""

from __future__ import annotations

import json
import uuid
from contextlib import closing
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.badges.issuers import BadgeRequest, get_issuer
from apps.badges.issuing.models import ExternalBadge, ExternalTemplate
from apps.badges.issuing.tests.conftest import Accredible, Credly, Record
from apps.badges.issuing.tests.factories import IssuerOrganizationFactory
from apps.core.api import User
from credentials_service.celery import app as celery_app

pytestmark = pytest.mark.django_db


def post(client: Client, organization_uuid: uuid.UUID, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(reverse("badge_issuing:webhook", args=[organization_uuid]), raw, content_type="application/json")


def event(credly: Credly, event_id: str, event_type: str = "badge.state.changed", **changes: Any) -> dict[str, Any]:
    """A Credly webhook body: the id of the event, its type, nothing more."""
    return {
        "id": event_id,
        "organization_id": credly.org_id,
        "event_type": event_type,
        "occurred_at": "2024-05-01T12:30:15.000Z",
        **changes,
    }


def paths(credly: Credly) -> list[tuple[str, str, int | None]]:
    return [(call.method, call.path, call.status) for call in credly.server.calls()]


@pytest.fixture
def issued(credly: Credly, learner: User, record: Record) -> ExternalBadge:
    """The learner's badge, issued on Credly (pending there)."""
    link = credly.add_template()
    badge = record(learner, link.template)
    assert badge is not None
    badge.refresh_from_db()
    credly.server.clear_requests()
    return badge


@pytest.mark.parametrize("state", ["accepted", "rejected", "revoked"])
def test_a_badge_the_learner_accepted_on_credly_is_accepted_here(
    credly: Credly, issued: ExternalBadge, client: Client, state: str
) -> None:
    # given
    credly.server.set_badge_state(credly.org_id, issued.external_id, state)
    event_id = credly.server.last_event_id
    # when
    response = post(client, credly.organization.uuid, event(credly, event_id))
    # then: the event, then the badge it names, fetched from Credly
    assert response.status_code == 204
    issued.refresh_from_db()
    assert issued.state == state
    assert paths(credly) == [
        ("GET", f"/v1/organizations/{credly.org_id}/events/{event_id}", 200),
        ("GET", f"/v1/organizations/{credly.org_id}/badges/{issued.external_id}", 200),
    ]


def test_an_event_id_credly_does_not_know_changes_nothing(
    credly: Credly, issued: ExternalBadge, client: Client
) -> None:
    # given: the badge was accepted on Credly, but the body is forged
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    modified = issued.modified
    forged = str(uuid.uuid4())
    # when: it names an event Credly never recorded (or the badge's id, as if it were an event's)
    for object_id in (forged, issued.external_id):
        response = post(client, credly.organization.uuid, event(credly, object_id, "badge.accepted", state="accepted"))
        assert response.status_code == 204
    # then: Credly said 404 both times; nothing else was asked or changed
    assert [(method, status) for method, _, status in paths(credly)] == [("GET", 404), ("GET", 404)]
    issued.refresh_from_db()
    assert (issued.state, issued.modified) == ("pending", modified)


def test_a_body_whose_event_type_lies_follows_the_type_credly_gives(
    credly: Credly, issued: ExternalBadge, client: Client
) -> None:
    # given: the badge was accepted on Credly
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    # when: the body calls its event a template event
    response = post(
        client, credly.organization.uuid, event(credly, credly.server.last_event_id, "badge_template.created")
    )
    # then: Credly's badge.state.changed won: the badge was fetched and applied, no templates were synced
    assert response.status_code == 204
    issued.refresh_from_db()
    assert issued.state == "accepted"
    assert [path.rsplit("/", 2)[-2] for _, path, _ in paths(credly)] == ["events", "badges"]
    assert ExternalTemplate.objects.count() == 1


def test_another_organizations_event_named_at_our_address_changes_nothing(
    credly: Credly, issued: ExternalBadge, client: Client, record: Record
) -> None:
    # given: another organization on the same service, whose learner's badge was accepted there
    remote = credly.server.add_organization()
    other = Credly(
        server=credly.server,
        organization=IssuerOrganizationFactory(external_id=remote.id, api_token=remote.token, name="Other"),
    )
    theirs = record(issued.user, other.add_template("Theirs").template)
    assert theirs is not None
    theirs.refresh_from_db()
    credly.server.set_badge_state(other.org_id, theirs.external_id, "accepted")
    credly.server.clear_requests()
    # when: their event's id is posted to our organization's address
    response = post(client, credly.organization.uuid, event(credly, credly.server.last_event_id))
    # then: looked up among our organization's events only (not found), and neither badge changed
    assert response.status_code == 204
    [lookup] = paths(credly)
    assert lookup == ("GET", f"/v1/organizations/{credly.org_id}/events/{credly.server.last_event_id}", 404)
    theirs.refresh_from_db()
    issued.refresh_from_db()
    assert (theirs.state, issued.state) == ("pending", "pending")


def test_an_event_about_a_badge_we_did_not_issue_changes_nothing(
    credly: Credly, issued: ExternalBadge, client: Client
) -> None:
    # given: a badge issued on Credly without us, then accepted
    request = BadgeRequest(
        template_id=issued.template.external.external_id,
        recipient_email="someone@example.com",
        first_name="Some",
        last_name="One",
        issued_at=issued.issued_at,
    )
    with closing(get_issuer(credly.server.credentials(credly.org_id))) as issuer:
        by_hand = issuer.issue_badge(request)
    credly.server.set_badge_state(credly.org_id, by_hand.id, "accepted")
    credly.server.clear_requests()
    # when
    response = post(client, credly.organization.uuid, event(credly, credly.server.last_event_id))
    # then: only the event was fetched
    assert response.status_code == 204
    assert [path.rsplit("/", 2)[-2] for _, path, _ in paths(credly)] == ["events"]
    issued.refresh_from_db()
    assert issued.state == "pending"


def test_a_body_naming_another_organization_changes_nothing(
    credly: Credly, issued: ExternalBadge, client: Client
) -> None:
    # given
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    # when
    response = post(
        client, credly.organization.uuid, event(credly, credly.server.last_event_id, organization_id=str(uuid.uuid4()))
    )
    # then
    assert response.status_code == 204
    assert credly.server.calls() == []
    issued.refresh_from_db()
    assert issued.state == "pending"


@pytest.mark.parametrize("active", [False, None], ids=["inactive", "unknown"])
def test_an_unknown_or_inactive_organization_is_answered_and_ignored(
    credly: Credly, issued: ExternalBadge, client: Client, active: bool | None
) -> None:
    # given
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    address = credly.organization.uuid if active is False else uuid.uuid4()
    if active is False:
        credly.organization.is_active = False
        credly.organization.save()
    # when
    response = post(client, address, event(credly, credly.server.last_event_id))
    # then
    assert response.status_code == 204
    assert credly.server.calls() == []
    issued.refresh_from_db()
    assert issued.state == "pending"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[]", b'"badge"', b"null", b'{"id": "x"}', b'{"event_type": "badge.created"}'],
)
def test_a_malformed_body_is_refused(credly: Credly, client: Client, body: bytes) -> None:
    # when
    response = post(client, credly.organization.uuid, body)
    # then
    assert response.status_code == 400
    assert credly.server.calls() == []


def test_a_replayed_webhook_changes_nothing(credly: Credly, issued: ExternalBadge, client: Client) -> None:
    # given: the acceptance was applied
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    body = event(credly, credly.server.last_event_id)
    post(client, credly.organization.uuid, body)
    issued.refresh_from_db()
    modified = issued.modified
    # when: Credly sends it again
    response = post(client, credly.organization.uuid, body)
    # then
    assert response.status_code == 204
    issued.refresh_from_db()
    assert (issued.state, issued.modified) == ("accepted", modified)


def test_an_old_webhook_replayed_later_follows_what_credly_says_now(
    credly: Credly, issued: ExternalBadge, client: Client
) -> None:
    # given: accepted, then revoked on Credly
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    body = event(credly, credly.server.last_event_id)
    post(client, credly.organization.uuid, body)
    credly.server.set_badge_state(credly.org_id, issued.external_id, "revoked")
    # when: the acceptance's webhook arrives again
    post(client, credly.organization.uuid, body)
    # then
    issued.refresh_from_db()
    assert issued.state == "revoked"


def test_a_webhook_credly_fails_to_answer_for_is_retried(credly: Credly, issued: ExternalBadge, client: Client) -> None:
    # given: eager tasks keep their errors, as the test settings have it (Celery runs an eager task's
    # retry at once only then); Credly fails the first lookup
    celery_app.conf.task_eager_propagates = False  # loud_tasks puts it back
    credly.server.set_badge_state(credly.org_id, issued.external_id, "accepted")
    credly.server.fail_next(1, status=503)
    # when
    response = post(client, credly.organization.uuid, event(credly, credly.server.last_event_id))
    # then: the event lookup failed, then the retry fetched the event and the badge
    assert response.status_code == 204
    assert [call.status for call in credly.server.calls()] == [503, 200, 200]
    issued.refresh_from_db()
    assert issued.state == "accepted"


def test_a_template_webhook_syncs_the_organizations_templates(credly: Credly, client: Client) -> None:
    # given
    python = credly.server.add_template(credly.org_id, "Python")
    # when: the body claims a badge event; Credly says the event is the template's creation
    response = post(client, credly.organization.uuid, event(credly, credly.server.last_event_id))
    # then
    assert response.status_code == 204
    link = ExternalTemplate.objects.select_related("template").get()
    assert (link.external_id, link.template.name, link.template.state) == (python.id, "Python", "draft")


def test_the_webhook_takes_posts_without_a_csrf_token_and_nothing_else(credly: Credly) -> None:
    # given
    client = Client(enforce_csrf_checks=True)
    url = reverse("badge_issuing:webhook", args=[credly.organization.uuid])
    # when
    posted = client.post(url, json.dumps(event(credly, "unknown")), content_type="application/json")
    fetched = client.get(url)
    # then
    assert (posted.status_code, fetched.status_code) == (204, 405)


def test_an_accredible_organizations_webhook_is_answered_and_ignored(accredible: Accredible, client: Client) -> None:
    # given: Accredible webhooks are not followed here (the client cannot look an event up)
    group = accredible.server.add_group("Python")
    # when
    response = post(
        client,
        accredible.organization.uuid,
        {"id": str(group.id), "organization_id": accredible.organization.external_id, "event_type": "group.created"},
    )
    # then
    assert response.status_code == 204
    assert accredible.server.calls() == []
    assert not ExternalTemplate.objects.exists()
