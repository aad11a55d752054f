"""The issuing app in the admin: organizations' tokens are write-only and checked with the service before
they are saved; badges on the services show their state and error, and can be retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.badges.issuing.crypto import decrypt_token
from apps.badges.issuing.models import ExternalBadge, IssuerBackend, IssuerOrganization
from apps.badges.issuing.tests.conftest import Credly, Record
from apps.badges.issuing.tests.factories import ExternalBadgeFactory, LearnerFactory
from apps.badges.tests.issuer_servers import FakeCredlyServer

pytestmark = pytest.mark.django_db

OrganizationForm = Callable[..., dict[str, str]]


def change_url(organization: IssuerOrganization) -> str:
    return reverse("admin:badge_issuing_issuerorganization_change", args=[organization.pk])


def test_the_token_is_never_shown_in_clear_or_encrypted(credly: Credly, admin_client: Client) -> None:
    # given
    organization = IssuerOrganization.objects.get()
    # when
    pages = [
        admin_client.get(change_url(organization)),
        admin_client.get(reverse("admin:badge_issuing_issuerorganization_changelist")),
    ]
    searched = admin_client.get(reverse("admin:badge_issuing_issuerorganization_changelist"), {"q": credly.token})
    # then
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert credly.token not in html
        assert organization.api_token_encrypted not in html
    assert searched.context["cl"].result_count == 0  # nor does searching for it find the organization


def test_the_database_holds_only_the_tokens_ciphertext(credly: Credly) -> None:
    # when
    row = IssuerOrganization.objects.filter(pk=credly.organization.pk).values().get()
    # then
    assert not any(credly.token in str(value) for value in row.values())
    assert decrypt_token(row["api_token_encrypted"]) == credly.token


def test_an_organization_is_added_with_a_token_credly_accepts(
    credly_server: FakeCredlyServer, admin_client: Client, organization_form: OrganizationForm
) -> None:
    # given
    remote = credly_server.add_organization(token="a-good-token-0123456789")
    form = organization_form(
        IssuerOrganization(backend=IssuerBackend.CREDLY, name="New org", external_id=remote.id),
        api_token="a-good-token-0123456789",
    )
    # when
    response = admin_client.post(reverse("admin:badge_issuing_issuerorganization_add"), form)
    # then
    assert response.status_code == 302
    organization = IssuerOrganization.objects.get()
    assert organization.api_token == "a-good-token-0123456789"
    assert "a-good-token-0123456789" not in organization.api_token_encrypted
    [check] = credly_server.calls()
    assert (check.method, check.path) == ("GET", f"/v1/organizations/{remote.id}")


def test_an_organization_is_not_added_without_a_token(
    credly_server: FakeCredlyServer, admin_client: Client, organization_form: OrganizationForm
) -> None:
    # given
    form = organization_form(IssuerOrganization(backend=IssuerBackend.CREDLY, name="New org", external_id="x"))
    # when
    response = admin_client.post(reverse("admin:badge_issuing_issuerorganization_add"), form)
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"api_token": ["An API token is needed."]}
    assert not IssuerOrganization.objects.exists()
    assert credly_server.calls() == []


def test_a_token_credly_refuses_is_a_form_error_and_nothing_is_saved(
    credly: Credly, admin_client: Client, organization_form: OrganizationForm
) -> None:
    # given
    before = IssuerOrganization.objects.values().get()
    # when
    response = admin_client.post(
        change_url(credly.organization), organization_form(credly.organization, api_token="a-refused-token-987654")
    )
    # then: Credly answered 401; the form says so, without the token
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "api_token": [
            f"The credly API refused the token for organization {credly.org_id}: "
            f"Credly answered 401 to GET /v1/organizations/{credly.org_id}: Unauthorized"
        ]
    }
    assert [call.status for call in credly.server.calls()] == [401]
    assert "a-refused-token-987654" not in response.content.decode()
    assert IssuerOrganization.objects.values().get() == before


def test_a_change_that_does_not_touch_the_token_or_the_address_is_saved_without_asking_credly(
    credly: Credly, admin_client: Client, organization_form: OrganizationForm
) -> None:
    # given
    credly.server.refuse_all(401)
    # when
    response = admin_client.post(
        change_url(credly.organization), organization_form(credly.organization, name="Renamed", notify_learners=False)
    )
    # then: the token is kept
    assert response.status_code == 302
    credly.organization.refresh_from_db()
    assert (credly.organization.name, credly.organization.notify_learners) == ("Renamed", False)
    assert credly.organization.api_token == credly.token
    assert credly.server.calls() == []


def test_a_new_address_is_checked_with_the_current_token(
    credly: Credly, admin_client: Client, organization_form: OrganizationForm
) -> None:
    # given: the token does not act for the other organization
    other = credly.server.add_organization()
    # when
    response = admin_client.post(
        change_url(credly.organization), organization_form(credly.organization, external_id=other.id)
    )
    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["api_token"]
    credly.organization.refresh_from_db()
    assert credly.organization.external_id == credly.org_id


def test_the_badge_list_shows_state_and_error_and_filters_by_state(
    credly: Credly, admin_client: Client, record: Record
) -> None:
    # given: one badge issued, one refused by Credly
    link = credly.add_template()
    record(LearnerFactory(), link.template)
    credly.server.fail_next(1, status=422, body={"data": {"message": "Recipient email is invalid"}})
    record(LearnerFactory(), link.template)
    # when
    listed = admin_client.get(reverse("admin:badge_issuing_externalbadge_changelist"))
    errors = admin_client.get(reverse("admin:badge_issuing_externalbadge_changelist"), {"state__exact": "error"})
    # then
    html = listed.content.decode()
    assert "Pending (issued, not accepted yet)" in html
    assert "Error (needs an operator)" in html
    assert "invalid: Credly answered 422 to POST" in html
    assert "Recipient email is invalid" in html
    [failed] = errors.context["cl"].result_list
    shown = admin_client.get(reverse("admin:badge_issuing_externalbadge_change", args=[failed.pk]))
    assert "Recipient email is invalid" in shown.content.decode()


def test_the_retry_action_queues_badges_in_error_again_and_they_are_issued(
    credly: Credly,
    admin_client: Client,
    record: Record,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given: a badge Credly refused for a reason an operator has fixed since
    link = credly.add_template()
    credly.server.fail_next(1, status=422, body={"data": {"message": "Template is not ready"}})
    badge = record(LearnerFactory(), link.template)
    assert badge is not None
    pending = ExternalBadgeFactory(link=link)  # not in error: left alone
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:badge_issuing_externalbadge_changelist"),
            {"action": "retry", "_selected_action": [badge.pk, pending.pk]},
        )
    # then
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 badges queued again."]
    [issued] = credly.badges()
    badge.refresh_from_db()
    assert (badge.state, badge.external_id, badge.error, badge.attempts) == ("pending", issued.id, "", 0)
    pending.refresh_from_db()
    assert pending.state == "queued"


@pytest.mark.parametrize("model", ["issuerorganization", "externaltemplate", "externalbadge"], ids=lambda model: model)
def test_every_page_renders(credly: Credly, admin_client: Client, record: Record, model: str) -> None:
    # given
    link = credly.add_template()
    badge = record(LearnerFactory(), link.template)
    assert badge is not None
    obj = {"issuerorganization": credly.organization, "externaltemplate": link, "externalbadge": badge}[model]
    # when
    listed = admin_client.get(reverse(f"admin:badge_issuing_{model}_changelist"))
    shown = admin_client.get(reverse(f"admin:badge_issuing_{model}_change", args=[obj.pk]))
    # then
    assert (listed.status_code, shown.status_code) == (200, 200)
    assert credly.token not in listed.content.decode() + shown.content.decode()


def test_badges_and_template_links_are_not_added_by_hand(admin_client: Client) -> None:
    # when
    pages = [admin_client.get(reverse(f"admin:badge_issuing_{m}_add")) for m in ("externaltemplate", "externalbadge")]
    # then
    assert [page.status_code for page in pages] == [403, 403]
    assert not ExternalBadge.objects.exists()


def test_a_template_link_is_not_deleted_by_hand(credly: Credly, admin_client: Client, record: Record) -> None:
    # given: a link with a badge issued through it (deleting the link would leave the badge unsyncable)
    link = credly.add_template()
    record(LearnerFactory(), link.template)
    # when
    page = admin_client.get(reverse("admin:badge_issuing_externaltemplate_delete", args=[link.pk]))
    posted = admin_client.post(reverse("admin:badge_issuing_externaltemplate_delete", args=[link.pk]), {"post": "yes"})
    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert link.template.external == link
