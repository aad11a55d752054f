"""Issuing and revoking learners' badges on Credly and Accredible: the real services, tasks (eager) and
clients against the fake servers, set up through the services (an award before its revocation)."""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openedx_events.learning.data import UserData, UserPersonalData

from apps.badges.issuing import services
from apps.badges.issuing.models import ExternalBadge, ExternalState, Wanted
from apps.badges.issuing.tests.conftest import Accredible, Clock, Credly, Record, Sweep
from apps.badges.issuing.tests.factories import ExternalBadgeFactory, ExternalTemplateFactory, LearnerFactory
from apps.badges.models import BadgeTemplate, TemplateOrigin
from apps.badges.tests.factories import BadgeTemplateFactory
from apps.badges.tests.scenarios import RUNS, course_template, passing, process, published
from apps.core.api import User

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks across connections")

# 14:30:15 in Paris is 12:30:15 UTC.
AWARDED_AT = datetime.datetime(2024, 5, 1, 14, 30, 15, 250_000, tzinfo=ZoneInfo("Europe/Paris"))
REASON = "The learner no longer meets the badge's requirements."


def change(user: User, template: BadgeTemplate, *, awarded: bool) -> ExternalBadge | None:
    """What the handlers do, outside any test transaction (tests with transaction=True): the sync
    runs eagerly once the change commits."""
    return services.record_badge_change(
        credential_uuid=uuid.uuid4(),
        template_uuid=template.uuid,
        lms_user_id=user.lms_user_id,
        awarded=awarded,
        at=timezone.now(),
    )


# --- issuing --------------------------------------------------------------------------------------


def test_an_award_issues_one_badge_on_credly_in_one_call(credly: Credly, learner: User, record: Record) -> None:
    # given
    link = credly.add_template()
    # when
    badge = record(learner, link.template, at=AWARDED_AT)
    # then
    [issued] = credly.badges()
    assert (issued.template_id, issued.recipient_email) == (link.external_id, "ada@example.com")
    assert (issued.first_name, issued.last_name) == ("Ada King", "Lovelace")
    assert issued.issued_at == AWARDED_AT.replace(microsecond=0)
    [call] = credly.server.calls()
    assert call.method == "POST"
    assert call.body["issued_at"] == "2024-05-01 12:30:15 +0000"
    assert call.body["suppress_badge_notification_email"] is False
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.state, badge.external_id, badge.attempts, badge.error) == ("pending", issued.id, 0, "")
    assert badge.issued_at == AWARDED_AT


def test_issuing_a_badge_takes_a_fixed_number_of_queries(
    credly: Credly, django_assert_num_queries: Callable[..., Any]
) -> None:
    # given: a queued badge, as record_badge_change leaves it
    badge = ExternalBadgeFactory(link=credly.add_template())
    # when: claim; read the badge with its organization, template link and learner; lock and record the
    # answer (in a savepoint here); release the claim
    with django_assert_num_queries(7):
        outcome = services.sync_external_badge(badge_id=badge.pk)
    # then
    assert outcome == services.SyncOutcome(done=True)
    assert len(credly.issue_calls()) == 1


def test_a_quiet_organization_issues_without_credlys_email(credly: Credly, learner: User, record: Record) -> None:
    # given
    credly.organization.notify_learners = False
    credly.organization.save()
    link = credly.add_template()
    # when
    record(learner, link.template)
    # then
    [issued] = credly.badges()
    assert issued.suppress_badge_notification_email is True


@pytest.mark.parametrize(
    ("full_name", "username", "sent"),
    [("Plato", "plato", ("Plato", "Plato")), ("", "socrates", ("socrates", "socrates"))],
    ids=["one-word-name", "username-only"],
)
def test_a_learner_with_a_one_word_name_gets_a_badge(
    credly: Credly, record: Record, full_name: str, username: str, sent: tuple[str, str]
) -> None:
    # given: Credly requires a last name
    link = credly.add_template()
    learner = LearnerFactory(username=username, full_name=full_name)
    # when
    badge = record(learner, link.template)
    # then: the one name is sent as both
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.state, badge.error) == ("pending", "")
    [issued] = credly.badges()
    assert (issued.first_name, issued.last_name) == sent


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [("Ada King Lovelace", ("Ada King", "Lovelace")), ("Plato", ("Plato", "Plato")), ("", ("", "")), ("  ", ("", ""))],
)
def test_split_name(full_name: str, expected: tuple[str, str]) -> None:
    assert services.split_name(full_name) == expected


def test_a_name_credly_refused_is_replaced_in_the_admin_and_sent_on_the_retry(
    credly: Credly, record: Record, admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    # given: Credly refused the badge for its name
    link = credly.add_template()
    learner = LearnerFactory(username="plato", full_name="Plato")
    credly.server.fail_next(1, status=422, body={"data": {"message": "Issued to last name is invalid"}})
    badge = record(learner, link.template)
    assert badge is not None
    badge.refresh_from_db()
    assert badge.state == "error"
    # when: an operator sets the names in the badge's change form, then retries it
    url = reverse("admin:badge_issuing_externalbadge_change", args=[badge.pk])
    form = admin_client.get(url)
    assert 'name="recipient_first_name"' in form.content.decode()
    assert 'name="state"' not in form.content.decode()  # the rest is read-only
    saved = admin_client.post(url, {"recipient_first_name": " Plato ", "recipient_last_name": "of Athens"})
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:badge_issuing_externalbadge_changelist"), {"action": "retry", "_selected_action": [badge.pk]}
        )
    # then: the override is what Credly received
    assert saved.status_code == 302
    retry = credly.issue_calls()[-1]
    assert (retry.body["issued_to_first_name"], retry.body["issued_to_last_name"]) == ("Plato", "of Athens")
    [issued] = credly.badges()
    assert (issued.first_name, issued.last_name) == ("Plato", "of Athens")
    badge.refresh_from_db()
    assert (badge.state, badge.external_id, badge.recipient_first_name) == ("pending", issued.id, "Plato")


def test_an_award_recorded_again_changes_nothing(credly: Credly, learner: User, record: Record) -> None:
    # given
    link = credly.add_template()
    first = record(learner, link.template)
    # when: the same award, redelivered
    again = record(learner, link.template)
    # then
    assert again == first
    assert len(credly.server.calls()) == 1


def test_a_native_badge_is_not_issued_anywhere(credly: Credly, learner: User, record: Record) -> None:
    # given
    template = BadgeTemplateFactory(origin=TemplateOrigin.NATIVE)
    # when
    badge = record(learner, template)
    # then
    assert badge is None
    assert not ExternalBadge.objects.exists()
    assert credly.server.calls() == []


def test_the_badge_processors_awards_and_revocations_reach_credly_through_the_consumer(
    credly: Credly,
    consume_outbox: Callable[[], Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # given: an active Credly template over one run, whose badge failing the run revokes
    course_template_of_origin_credly(credly)
    grace = UserData(
        id=5151,
        is_active=True,
        pii=UserPersonalData(username="grace", email="grace@example.com", name="Grace Brewster Hopper"),
    )
    results = []
    # when: she passes, fails, passes again; the outbox is delivered each time (so earlier events again)
    for is_passing in (True, False, True):
        process(passing(grace, RUNS[0], is_passing=is_passing))
        with django_capture_on_commit_callbacks(execute=True):
            results.append(consume_outbox())
    # then: the core published each change once; the consumer applied each once
    assert [event_type.rsplit(".", 2)[-2] for event_type, _ in published()] == ["awarded", "revoked", "awarded"]
    assert [(r.processed, r.duplicates, r.parked) for r in results] == [(1, 0, 0), (1, 1, 0), (1, 2, 0)]
    first, second = sorted(credly.badges(), key=lambda b: b.sequence)
    assert (first.state, first.revocation_reason) == ("revoked", REASON)
    assert (second.state, second.first_name, second.last_name) == ("pending", "Grace Brewster", "Hopper")
    assert len(credly.issue_calls()) == 2
    badge = ExternalBadge.objects.get()
    assert (badge.wanted, badge.state, badge.external_id) == ("issued", "pending", second.id)
    # issued_at is the time of the (second) BADGE_AWARDED, in UTC
    assert second.issued_at == badge.issued_at.replace(microsecond=0)
    assert badge.issued_at.utcoffset() == datetime.timedelta(0)


def course_template_of_origin_credly(credly: Credly) -> BadgeTemplate:
    """scenarios.course_template over the first run (failing it revokes), made a Credly template."""
    template, _ = course_template(RUNS[0], penalties=True)
    BadgeTemplate.objects.filter(pk=template.pk).update(origin=TemplateOrigin.CREDLY)
    remote = credly.server.add_template(credly.org_id, "Python")
    ExternalTemplateFactory(template=template, organization=credly.organization, external_id=remote.id)
    return template


# --- lost answers, outages, refusals --------------------------------------------------------------


@pytest.mark.parametrize("loss", ["dropped", "timed out"])
def test_a_retry_after_a_lost_answer_finds_the_badge_instead_of_issuing_it_again(
    credly: Credly,
    learner: User,
    record: Record,
    sweep: Sweep,
    settings: Any,
    wait_until: Callable[..., None],
    loss: str,
) -> None:
    # given: Credly stores the badge, but its answer never arrives
    settings.BADGE_ISSUER_HTTP_TIMEOUT = 0.3
    link = credly.add_template()
    if loss == "dropped":
        credly.server.drop_next(1, after_processing=True, method="POST")
    else:
        credly.server.hang_next(1, seconds=0.6, then_process=True, method="POST")
    badge = record(learner, link.template)
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.state, badge.attempts) == ("queued", 1)
    wait_until(lambda: len(credly.badges()) == 1)
    # when: the sweep, once the backoff has passed
    before_backoff = sweep(services.BACKOFF_BASE_SECONDS - 1)
    at_backoff = sweep(1)
    # then
    assert (before_backoff, at_backoff) == (0, 1)
    [issued] = credly.badges()
    badge.refresh_from_db()
    assert (badge.state, badge.external_id, badge.attempts, badge.error) == ("pending", issued.id, 0, "")
    assert len(credly.issue_calls()) == 1


@pytest.mark.parametrize("stored", [False, True], ids=["refused", "stored-then-refused"])
def test_ten_minutes_of_half_failures_issue_every_badge_exactly_once(
    credly: Credly, record: Record, sweep: Sweep, clock: Clock, stored: bool
) -> None:
    # given: 30 learners awarded as Credly starts failing half its requests for 10 minutes (with
    # `stored`, a failed issue call has stored the badge all the same: an answer lost)
    link = credly.add_template()
    learners = LearnerFactory.create_batch(30)
    credly.server.flaky(0.5, seed=7, seconds=600, status=503, after_processing=stored)
    outage_ends = clock.now + 600
    for learner in learners:
        record(learner, link.template)
    # when: the beat sweeps every minute, through the outage and after it
    while clock.now < outage_ends or ExternalBadge.objects.exclude(state=ExternalState.PENDING).exists():
        assert clock.now - outage_ends < 20 * 60, "still not issued 20 minutes after Credly recovered"
        sweep()
    # then: every badge exactly once, though Credly failed more calls than there are badges
    assert sum(1 for r in credly.server.requests if r.status == 503) > 30
    issued = credly.badges()
    assert sorted(b.recipient_email for b in issued) == sorted(learner.email for learner in learners)
    assert set(ExternalBadge.objects.values_list("external_id", flat=True)) == {b.id for b in issued}
    assert not ExternalBadge.objects.exclude(attempts=0, error="", next_attempt_at=None).exists()


def test_a_refused_token_stops_issuing_until_an_operator_replaces_it_in_the_admin(
    credly: Credly,
    record: Record,
    sweep: Sweep,
    admin_client: Client,
    organization_form: Callable[..., dict[str, str]],
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: Credly refuses our token
    caplog.set_level(logging.DEBUG)
    old_token = credly.token
    link = credly.add_template()
    learners = LearnerFactory.create_batch(3)
    credly.server.refuse_all(401)
    for learner in learners:
        record(learner, link.template)
    # when: the beat keeps sweeping for a day
    queued = [sweep(3600) for _ in range(24)]
    # then: each badge was tried once and waits for an operator, with Credly's answer
    assert queued == [0] * 24
    assert len(credly.server.calls()) == 3
    assert set(ExternalBadge.objects.values_list("state", "error")) == {
        ("error", f"unauthorized: Credly answered 401 to POST /v1/organizations/{credly.org_id}/badges: Refused")
    }
    # when: the operator makes a new token on Credly and types it into the admin
    credly.server.accept_all()
    credly.server.set_token(credly.org_id, "new-token-0123456789")
    url = reverse("admin:badge_issuing_issuerorganization_change", args=[credly.organization.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, organization_form(credly.organization, api_token="new-token-0123456789"))
    # then: the badges are queued again and issued with it
    assert response.status_code == 302
    assert sorted(b.recipient_email for b in credly.badges()) == sorted(learner.email for learner in learners)
    assert set(ExternalBadge.objects.values_list("state", "error", "attempts")) == {("pending", "", 0)}
    check, *issues = credly.server.calls()[3:]
    assert (check.method, check.path) == ("GET", f"/v1/organizations/{credly.org_id}")
    assert [call.method for call in issues] == ["POST"] * 3
    assert old_token not in caplog.text
    assert "new-token-0123456789" not in caplog.text


def test_a_rate_limited_issue_waits_as_long_as_credly_says(
    credly: Credly, learner: User, record: Record, sweep: Sweep
) -> None:
    # given
    link = credly.add_template()
    credly.server.rate_limit_next(1, retry_after="300", method="POST")
    # when
    before = timezone.now()
    badge = record(learner, link.template)
    after = timezone.now()
    # then
    assert badge is not None
    badge.refresh_from_db()
    assert badge.state == "queued"
    assert badge.error.startswith("rate_limited: Credly answered 429")
    assert badge.next_attempt_at is not None
    assert before + datetime.timedelta(seconds=300) <= badge.next_attempt_at <= after + datetime.timedelta(seconds=300)
    # when: the sweep runs just before and at that time
    assert sweep(299) == 0
    assert sweep(1) == 1
    # then
    [issued] = credly.badges()
    badge.refresh_from_db()
    assert (badge.state, badge.external_id) == ("pending", issued.id)


def test_an_inactive_organizations_badges_wait_until_it_is_active_again(
    credly: Credly, learner: User, record: Record, sweep: Sweep
) -> None:
    # given
    link = credly.add_template()
    credly.organization.is_active = False
    credly.organization.save()
    badge = record(learner, link.template)
    # when
    sweep(3600)
    # then: nothing sent
    assert credly.server.calls() == []
    assert badge is not None
    badge.refresh_from_db()
    assert badge.state == "queued"
    # when
    credly.organization.is_active = True
    credly.organization.save()
    sweep(3600)
    # then
    [issued] = credly.badges()
    badge.refresh_from_db()
    assert (badge.state, badge.external_id) == ("pending", issued.id)


def test_a_token_no_key_decrypts_is_an_error_for_an_operator(
    credly: Credly, learner: User, record: Record, settings: Any
) -> None:
    # given: the key the token was encrypted with is gone
    link = credly.add_template()
    settings.BADGE_ISSUER_TOKEN_KEYS = ["Xt6-mJ5vrgHk0iXCW9G3f3RdSUljx3rY0YxHkMT8RLg="]
    # when
    badge = record(learner, link.template)
    # then
    assert badge is not None
    badge.refresh_from_db()
    assert badge.state == "error"
    assert badge.error.startswith("unauthorized: No key in BADGE_ISSUER_TOKEN_KEYS decrypts this API token")
    assert credly.server.calls() == []


# --- revoking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("notify", [True, False])
def test_a_revoked_badge_is_revoked_on_credly_with_its_reason(
    credly: Credly, learner: User, record: Record, notify: bool
) -> None:
    # given
    credly.organization.notify_learners = notify
    credly.organization.save()
    link = credly.add_template()
    record(learner, link.template)
    # when
    badge = record(learner, link.template, awarded=False)
    # then
    [issued] = credly.badges()
    assert (issued.state, issued.revocation_reason) == ("revoked", REASON)
    assert issued.suppress_badge_notification_email is not notify
    assert issued.suppress_revoke_notification_email is not notify
    [revoke] = credly.server.calls("PUT")
    assert revoke.path == f"/v1/organizations/{credly.org_id}/badges/{issued.id}/revoke"
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.wanted, badge.state, badge.external_id) == ("revoked", "revoked", issued.id)


def test_a_badge_awarded_again_after_its_revocation_is_a_new_badge_on_credly(
    credly: Credly, learner: User, record: Record
) -> None:
    # given
    link = credly.add_template()
    record(learner, link.template)
    record(learner, link.template, awarded=False)
    # when
    badge = record(learner, link.template, at=AWARDED_AT)
    # then
    old, new = sorted(credly.badges(), key=lambda b: b.sequence)
    assert (old.state, new.state) == ("revoked", "pending")
    assert new.issued_at == AWARDED_AT.replace(microsecond=0)
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.wanted, badge.state, badge.external_id) == ("issued", "pending", new.id)


def test_a_badge_revoked_before_credly_ever_had_it_is_never_issued(
    credly: Credly, learner: User, record: Record, sweep: Sweep
) -> None:
    # given: Credly is down when the badge is awarded
    link = credly.add_template()
    credly.server.fail_next(1, status=503)
    record(learner, link.template)
    # when
    badge = record(learner, link.template, awarded=False)
    sweep(3600)
    # then: it looked the badge up (the failed call might have reached Credly) and found none
    assert credly.badges() == []
    assert [call.method for call in credly.server.calls()] == ["POST", "GET"]
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.wanted, badge.state, badge.external_id) == ("revoked", "revoked", "")


def test_revoking_a_badge_never_awarded_records_nothing(credly: Credly, learner: User, record: Record) -> None:
    # given
    link = credly.add_template()
    # when
    badge = record(learner, link.template, awarded=False)
    # then
    assert badge is None
    assert credly.server.calls() == []


# --- concurrency (PostgreSQL) -----------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_syncing_one_badge_issue_it_once(credly: Credly, concurrently: Callable[..., list[Any]]) -> None:
    # given: a queued badge, and a slow Credly
    badge = ExternalBadgeFactory(link=credly.add_template())
    credly.server.hang_next(1, seconds=0.3, then_process=True, method="POST")
    # when
    outcomes = concurrently(lambda _: services.sync_external_badge(badge_id=badge.pk), [1, 2])
    # then: the second found the badge held by the first
    assert sorted(outcome.done for outcome in outcomes) == [False, True]
    assert len(credly.issue_calls()) == 1
    [issued] = credly.badges()
    badge.refresh_from_db()
    assert (badge.state, badge.external_id, badge.claimed_until) == ("pending", issued.id, None)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_revocation_recorded_while_the_badge_is_being_issued_follows_at_once(
    credly: Credly, learner: User, concurrently: Callable[..., list[Any]], wait_until: Callable[..., None]
) -> None:
    # given: issuing the badge takes Credly a while
    link = credly.add_template()
    credly.server.hang_next(1, seconds=0.5, then_process=True, method="POST")

    def work(step: str) -> None:
        if step == "revoke":
            wait_until(lambda: credly.issue_calls())
        change(learner, link.template, awarded=step == "award")

    # when: the badge is revoked while Credly is issuing it
    concurrently(work, ["award", "revoke"])
    # then: revoked on Credly as soon as the issue call returned, without waiting for the sweep
    [issued] = credly.badges()
    assert issued.state == "revoked"
    badge = ExternalBadge.objects.get()
    assert (badge.wanted, badge.state, badge.external_id, badge.claimed_until) == (
        "revoked",
        "revoked",
        issued.id,
        None,
    )


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_award_recorded_while_the_badge_is_being_revoked_issues_a_new_one(
    credly: Credly, learner: User, concurrently: Callable[..., list[Any]], wait_until: Callable[..., None]
) -> None:
    # given: an issued badge, whose revocation takes Credly a while
    link = credly.add_template()
    change(learner, link.template, awarded=True)
    credly.server.hang_next(1, seconds=0.5, then_process=True, method="PUT")

    def work(step: str) -> None:
        if step == "award":
            wait_until(lambda: credly.server.calls("PUT"))
        change(learner, link.template, awarded=step == "award")

    # when: the badge is awarded again while Credly is revoking it
    concurrently(work, ["revoke", "award"])
    # then: a new badge, issued as soon as the revocation returned
    old, new = sorted(credly.badges(), key=lambda b: b.sequence)
    assert (old.state, new.state) == ("revoked", "pending")
    badge = ExternalBadge.objects.get()
    assert (badge.wanted, badge.state, badge.external_id) == (Wanted.ISSUED, ExternalState.PENDING, new.id)


# --- Accredible ---------------------------------------------------------------------------------------


def test_accredible_credentials_are_issued_and_expired_through_the_same_services(
    accredible: Accredible, learner: User, record: Record
) -> None:
    # given
    link = accredible.add_template()
    # when
    badge = record(learner, link.template, at=AWARDED_AT)
    # then
    [credential] = accredible.credentials()
    assert (credential.group_id, credential.recipient_email) == (int(link.external_id), "ada@example.com")
    assert (credential.recipient_name, credential.issued_on) == ("Ada King Lovelace", datetime.date(2024, 5, 1))
    assert len(accredible.server.calls()) == 1
    assert badge is not None
    badge.refresh_from_db()
    assert (badge.state, badge.external_id) == ("accepted", str(credential.id))
    # when: revoked
    record(learner, link.template, awarded=False)
    # then: expired today, with the reason
    assert credential.expired_on == timezone.now().astimezone(datetime.UTC).date()
    assert credential.meta_data == {"revocation_reason": REASON}
    badge.refresh_from_db()
    assert (badge.wanted, badge.state) == ("revoked", "revoked")
    # when: awarded again
    record(learner, link.template)
    # then: a new credential
    old, new = sorted(accredible.credentials(), key=lambda c: c.id)
    assert old.id == credential.id
    badge.refresh_from_db()
    assert (badge.state, badge.external_id) == ("accepted", str(new.id))


def test_accredible_gets_a_one_word_name_once(accredible: Accredible, record: Record) -> None:
    # given
    link = accredible.add_template()
    # when
    record(LearnerFactory(username="plato", full_name="Plato"), link.template)
    # then: not "Plato Plato"
    [credential] = accredible.credentials()
    assert credential.recipient_name == "Plato"
