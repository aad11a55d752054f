"""The Credly and Accredible clients, through real HTTP against the fake servers of issuer_servers.py."""

from __future__ import annotations

import base64
import logging
import pickle
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from apps.badges.accredible.client import AccredibleClient
from apps.badges.accredible.throttle import TokenBucket, bucket_for_token
from apps.badges.credly.client import CredlyClient
from apps.badges.issuers import (
    BadgeRequest,
    ExternalBadge,
    Issuer,
    IssuerCredentials,
    IssuerError,
    IssuerErrorCode,
    IssuerEvent,
    get_issuer,
)
from apps.badges.tests.issuer_servers import FakeAccredibleServer, FakeCredlyServer, FakeIssuerServer
from apps.core.api import parse_retry_after

ISSUED_AT = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def badge_request(template_id: str, email: str = "ada@example.com", *, notify: bool = True) -> BadgeRequest:
    return BadgeRequest(
        template_id=template_id,
        recipient_email=email,
        first_name="Ada",
        last_name="Lovelace",
        issued_at=ISSUED_AT,
        notify=notify,
    )


@dataclass
class Service:
    """One fake service with an organization on it, seen the same way for both backends."""

    backend: str
    server: FakeIssuerServer
    token: str
    credentials: IssuerCredentials
    add_template: Callable[[str], str]  # name -> template id
    stored_badges: Callable[[], int]
    rotate_token: Callable[[str], None]
    list_path: str  # the path of a template list request

    def issuer(self, **changes: Any) -> Issuer:
        credentials = IssuerCredentials(
            self.credentials.backend,
            changes.get("organization_id", self.credentials.organization_id),
            changes.get("api_token", self.credentials.api_token),
            changes.get("sandbox", self.credentials.sandbox),
        )
        return get_issuer(credentials)


@pytest.fixture(params=["credly", "accredible"])
def service(request: pytest.FixtureRequest) -> Service:
    # A token of its own for each test, so no test inherits another's Accredible throttle bucket.
    token = f"tok-{uuid.uuid4().hex}"
    if request.param == "credly":
        credly: FakeCredlyServer = request.getfixturevalue("credly_server")
        org = credly.add_organization(token=token)
        return Service(
            backend="credly",
            server=credly,
            token=token,
            credentials=credly.credentials(org.id),
            add_template=lambda name: credly.add_template(org.id, name).id,
            stored_badges=lambda: len(credly.badges(org.id)),
            rotate_token=lambda new: credly.set_token(org.id, new),
            list_path="/badge_templates",
        )
    accredible: FakeAccredibleServer = request.getfixturevalue("accredible_server")
    accredible.set_token(token)
    return Service(
        backend="accredible",
        server=accredible,
        token=token,
        credentials=accredible.credentials(),
        add_template=lambda name: str(accredible.add_group(name).id),
        stored_badges=lambda: len(accredible.issued()),
        rotate_token=accredible.set_token,
        list_path="/groups/search",
    )


def issue_with_retries(issuer: Issuer, request: BadgeRequest, attempts: int = 80) -> ExternalBadge:
    """What the issuing task does, without the waiting: retry while the error says it may help."""
    for _ in range(attempts):
        try:
            return issuer.issue_badge(request)
        except IssuerError as exc:
            if not exc.retryable:
                raise
    raise AssertionError(f"not issued after {attempts} attempts")


# --- the interface --------------------------------------------------------------------------------


def test_credentials_repr_hides_the_token() -> None:
    credentials = IssuerCredentials("credly", "org-1", "very-secret", sandbox=True)
    assert "very-secret" not in repr(credentials)
    assert "very-secret" not in str(credentials)
    assert "org-1" in repr(credentials)


def test_badge_request_needs_an_aware_time_and_keeps_it_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BadgeRequest("t", "a@example.com", "A", "B", datetime(2024, 5, 1, 12, 30), notify=True)
    local = BadgeRequest(
        "t", "a@example.com", "A", "B", datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    )
    assert local.issued_at == ISSUED_AT
    assert local.issued_at.tzinfo == UTC


def test_get_issuer_dispatches_on_the_backend() -> None:
    assert isinstance(get_issuer(IssuerCredentials("credly", "org", "t")), CredlyClient)
    assert isinstance(get_issuer(IssuerCredentials("accredible", "1", "t")), AccredibleClient)
    with pytest.raises(ValueError, match="badgr"):
        get_issuer(IssuerCredentials("badgr", "org", "t"))


def test_issuer_error_survives_pickling() -> None:
    # Celery pickles the exception it retries with.
    error = IssuerError("Credly answered 429", IssuerErrorCode.RATE_LIMITED, retry_after=7.0, status=429)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.code, copy.retryable, copy.retry_after, copy.status) == (
        "Credly answered 429",
        IssuerErrorCode.RATE_LIMITED,
        True,
        7.0,
        429,
    )
    assert str(copy) == "Credly answered 429"


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- both backends --------------------------------------------------------------------------------


def test_check_token_accepts_the_organizations_token(service: Service) -> None:
    # when
    service.issuer().check_token()
    # then
    assert len(service.server.requests) == 1
    assert service.server.requests[0].status == 200


def test_a_refused_token_is_a_permanent_unauthorized_error(service: Service) -> None:
    # when
    with pytest.raises(IssuerError) as caught:
        service.issuer(api_token="tok-wrong").check_token()
    # then
    assert caught.value.code is IssuerErrorCode.UNAUTHORIZED
    assert caught.value.retryable is False
    assert caught.value.status == 401


def test_a_rotated_token_works_once_the_client_has_it(service: Service) -> None:
    # given
    new_token = f"tok-{uuid.uuid4().hex}"
    service.rotate_token(new_token)
    # when / then
    with pytest.raises(IssuerError) as caught:
        service.issuer().check_token()
    assert caught.value.code is IssuerErrorCode.UNAUTHORIZED
    service.issuer(api_token=new_token).check_token()


def test_a_server_refusing_everyone_refuses_the_right_token_too(service: Service) -> None:
    # given
    issuer = service.issuer()
    service.server.refuse_all()
    # when / then
    with pytest.raises(IssuerError) as caught:
        issuer.check_token()
    assert caught.value.code is IssuerErrorCode.UNAUTHORIZED
    service.server.accept_all()
    issuer.check_token()


def test_sandbox_credentials_reach_the_sandbox_url(service: Service) -> None:
    # when
    service.issuer(sandbox=True).check_token()
    service.issuer().check_token()
    # then
    assert [r.sandbox for r in service.server.requests] == [True, False]


def test_list_templates_reads_every_page(service: Service) -> None:
    # given 120 templates, 50 to a page
    ids = [service.add_template(f"Template {n}") for n in range(120)]
    # when
    templates = list(service.issuer().list_templates())
    # then
    assert [t.id for t in templates] == ids
    assert len(service.server.calls(path_contains=service.list_path)) == 3
    assert templates[5].name == "Template 5"
    assert all(t.is_active for t in templates)


def test_get_template_and_a_missing_one(service: Service) -> None:
    # given
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    # when
    template = issuer.get_template(template_id)
    with pytest.raises(IssuerError) as caught:
        issuer.get_template("999999")
    # then
    assert (template.id, template.name) == (template_id, "Python 101")
    assert caught.value.code is IssuerErrorCode.NOT_FOUND
    assert caught.value.retryable is False
    assert "not found" in caught.value.message


def test_issue_creates_one_badge_with_one_call(service: Service) -> None:
    # given
    template_id = service.add_template("Python 101")
    # when
    badge = service.issuer().issue_badge(badge_request(template_id))
    # then
    assert (badge.template_id, badge.recipient_email) == (template_id, "ada@example.com")
    assert badge.state in ("pending", "accepted")
    assert badge.issued_at is not None and badge.issued_at.date() == ISSUED_AT.date()
    assert service.stored_badges() == 1
    assert len(service.server.requests) == 1


def test_issuing_again_returns_the_existing_badge(service: Service) -> None:
    # given
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    first = issuer.issue_badge(badge_request(template_id))
    service.server.clear_requests()
    # when
    again = issuer.issue_badge(badge_request(template_id, email="ADA@example.com"))
    # then
    assert again.id == first.id
    assert service.stored_badges() == 1
    assert [(r.method, r.status) for r in service.server.requests] == [
        ("POST", 422),
        (service.server.requests[1].method, 200),
    ]


def test_a_retry_after_a_lost_answer_finds_the_stored_badge(service: Service) -> None:
    # given the service stores the badge but the answer never arrives
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    service.server.drop_next(method="POST")
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.issue_badge(badge_request(template_id))
    badge = issuer.issue_badge(badge_request(template_id))
    # then
    assert caught.value.code is IssuerErrorCode.UNAVAILABLE
    assert caught.value.retryable is True
    assert service.stored_badges() == 1
    assert issuer.get_badge(badge.id) == badge


def test_find_badge(service: Service) -> None:
    # given
    python, rust = service.add_template("Python 101"), service.add_template("Rust 101")
    issuer = service.issuer()
    assert issuer.find_badge(template_id=python, recipient_email="ada@example.com") is None
    issued = issuer.issue_badge(badge_request(python))
    issuer.issue_badge(badge_request(python, email="grace@example.com"))
    # when / then
    assert issuer.find_badge(template_id=python, recipient_email="Ada@Example.com") == issued
    assert issuer.find_badge(template_id=rust, recipient_email="ada@example.com") is None


def test_a_revoked_badge_can_be_issued_again(service: Service) -> None:
    # given
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    first = issuer.issue_badge(badge_request(template_id))
    # when
    revoked = issuer.revoke_badge(first.id, reason="Issued in error", notify=False)
    again = issuer.revoke_badge(first.id, reason="Issued in error", notify=False)
    second = issuer.issue_badge(badge_request(template_id))
    # then
    assert revoked.state == again.state == "revoked"
    assert issuer.get_badge(first.id).state == "revoked"
    assert second.id != first.id
    assert second.is_live
    assert service.stored_badges() == 2
    assert issuer.find_badge(template_id=template_id, recipient_email="ada@example.com") == second


def _inject(service: Service, fault: str) -> None:
    server = service.server
    if fault == "500":
        server.fail_next(status=500)
    elif fault == "503":
        server.fail_next(status=503)
    elif fault == "429 seconds":
        server.rate_limit_next(retry_after="7")
    elif fault == "429 date":
        when = datetime.now(UTC) + timedelta(seconds=120)
        server.rate_limit_next(retry_after=format_datetime(when, usegmt=True))
    elif fault == "timeout":
        server.hang_next(seconds=1.0)
    elif fault == "dropped":
        server.drop_next()
    elif fault == "refused":
        server.stop()


@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        ("500", IssuerErrorCode.UNAVAILABLE, None),
        ("503", IssuerErrorCode.UNAVAILABLE, None),
        ("429 seconds", IssuerErrorCode.RATE_LIMITED, 7.0),
        ("429 date", IssuerErrorCode.RATE_LIMITED, 120.0),
        ("timeout", IssuerErrorCode.TIMEOUT, None),
        ("dropped", IssuerErrorCode.UNAVAILABLE, None),
        ("refused", IssuerErrorCode.UNAVAILABLE, None),
    ],
)
def test_transient_failures_are_retryable(
    service: Service, settings: Any, fault: str, code: IssuerErrorCode, retry_after: float | None
) -> None:
    # given
    settings.BADGE_ISSUER_HTTP_TIMEOUT = 0.3
    issuer = service.issuer()
    _inject(service, fault)
    # when
    started = time.monotonic()
    with pytest.raises(IssuerError) as caught:
        issuer.check_token()
    # then
    assert caught.value.code is code
    assert caught.value.retryable is True
    if retry_after is None:
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after == pytest.approx(retry_after, abs=3)
    assert time.monotonic() - started < 0.9  # the timeout is the client's, not the server's
    if fault not in ("refused", "429 seconds", "429 date"):  # (Accredible holds back after a 429)
        issuer.check_token()  # and the next call goes through


def test_a_badge_stored_after_the_client_gave_up_is_found_on_retry(service: Service, settings: Any) -> None:
    # given a service that answers the issue call only after the client's timeout, having stored it
    settings.BADGE_ISSUER_HTTP_TIMEOUT = 0.2
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    service.server.hang_next(seconds=0.4, then_process=True, method="POST")
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.issue_badge(badge_request(template_id))
    deadline = time.monotonic() + 3
    while service.stored_badges() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    badge = issuer.issue_badge(badge_request(template_id))
    # then
    assert caught.value.code is IssuerErrorCode.TIMEOUT
    assert service.stored_badges() == 1
    assert issuer.find_badge(template_id=template_id, recipient_email="ada@example.com") == badge


def test_a_server_side_rate_limit_answers_429(service: Service) -> None:
    # given
    service.server.limit_rate(2, per_seconds=60, retry_after="30")
    issuer = service.issuer()
    issuer.check_token()
    issuer.check_token()
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.check_token()
    # then
    assert (caught.value.code, caught.value.retry_after, caught.value.status) == (
        IssuerErrorCode.RATE_LIMITED,
        30.0,
        429,
    )


def test_permanent_failures_carry_the_services_message(service: Service) -> None:
    # given
    issuer = service.issuer()
    # when
    with pytest.raises(IssuerError) as unknown_template:
        issuer.issue_badge(badge_request("424242"))
    with pytest.raises(IssuerError) as unknown_badge:
        issuer.get_badge("424242")
    # then
    assert unknown_template.value.code is IssuerErrorCode.INVALID
    assert unknown_template.value.status == 422
    assert unknown_template.value.retryable is False
    expected = "Invalid or missing Badge Template ID: 424242" if service.backend == "credly" else "Group can't be blank"
    assert expected in unknown_template.value.message
    assert unknown_badge.value.code is IssuerErrorCode.NOT_FOUND
    assert "not found" in unknown_badge.value.message
    assert service.stored_badges() == 0


def test_every_badge_is_issued_exactly_once_through_a_flaky_period(service: Service) -> None:
    # given ten minutes (on the server's clock) in which half the answers are 5xx, some after storing
    now = [0.0]
    service.server.clock = lambda: now[0]
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    service.server.flaky(0.5, seed=7, seconds=600, after_processing=True)
    emails = [f"learner{n}@example.com" for n in range(15)]
    # when
    badges = [issue_with_retries(issuer, badge_request(template_id, email)) for email in emails]
    now[0] = 601.0  # the outage ends
    recovered = issuer.issue_badge(badge_request(template_id, "late@example.com"))
    # then
    assert service.stored_badges() == len(emails) + 1
    assert sorted(b.recipient_email for b in badges) == sorted(emails)
    assert len({b.id for b in [*badges, recovered]}) == len(emails) + 1
    assert any(r.status == 500 for r in service.server.requests)


def test_the_token_never_leaks(service: Service, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    settings.BADGE_ISSUER_HTTP_TIMEOUT = 0.3
    template_id = service.add_template("Python 101")
    issuer = service.issuer()
    body = (
        {"data": {"message": f"token {service.token} is odd"}}
        if service.backend == "credly"
        else {"errors": [f"token {service.token} is odd"]}
    )
    seen: list[str] = [repr(service.credentials), str(service.credentials), repr(issuer)]

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except IssuerError as exc:
            seen.extend([str(exc), repr(exc), *map(str, exc.args)])

    # when
    attempt(issuer.check_token)
    attempt(service.issuer(api_token="tok-wrong").check_token)
    service.server.fail_next(status=422, body=body)  # a service that echoes the token back
    attempt(lambda: issuer.issue_badge(badge_request(template_id)))
    service.server.fail_next(status=500)
    attempt(issuer.check_token)
    service.server.hang_next(seconds=1.0)
    attempt(issuer.check_token)
    service.server.drop_next()
    attempt(issuer.check_token)
    attempt(lambda: issuer.get_badge("424242"))
    attempt(lambda: issuer.issue_badge(badge_request(template_id)))
    # then
    seen.extend(record.getMessage() for record in caplog.records)
    basic = base64.b64encode(f"{service.token}:".encode()).decode()
    assert any("[redacted]" in text for text in seen)
    assert [text for text in seen if service.token in text or basic in text] == []


# --- Credly ---------------------------------------------------------------------------------------


def test_credly_issue_sends_the_documented_request(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization(token="tok-credly")
    template = credly_server.add_template(org.id, "Python 101")
    issuer = get_issuer(credly_server.credentials(org.id))
    # when
    issuer.issue_badge(badge_request(template.id))
    issuer.issue_badge(badge_request(template.id, "grace@example.com", notify=False))
    # then
    first, second = credly_server.calls("POST")
    assert first.path == f"/v1/organizations/{org.id}/badges"
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"tok-credly:").decode()
    assert first.body == {
        "recipient_email": "ada@example.com",
        "issued_to_first_name": "Ada",
        "issued_to_last_name": "Lovelace",
        "badge_template_id": template.id,
        "issued_at": "2024-05-01 12:30:00 +0000",
        "suppress_badge_notification_email": False,
    }
    assert second.body["suppress_badge_notification_email"] is True


def test_credly_revoke_sends_the_reason_and_the_notification_choice(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization()
    template = credly_server.add_template(org.id, "Python 101")
    issuer = get_issuer(credly_server.credentials(org.id))
    quiet = issuer.issue_badge(badge_request(template.id))
    told = issuer.issue_badge(badge_request(template.id, "grace@example.com"))
    # when
    issuer.revoke_badge(quiet.id, reason="Issued in error", notify=False)
    issuer.revoke_badge(told.id, reason="Academic misconduct", notify=True)
    # then
    first, second = credly_server.calls("PUT")
    assert first.path == f"/v1/organizations/{org.id}/badges/{quiet.id}/revoke"
    assert first.body == {"reason": "Issued in error", "suppress_revoke_notification_email": True}
    assert second.body == {"reason": "Academic misconduct", "suppress_revoke_notification_email": False}
    stored = {b.id: b for b in credly_server.badges(org.id)}
    assert stored[told.id].state == "revoked"
    assert stored[told.id].revocation_reason == "Academic misconduct"


def test_credly_badge_states_follow_the_earner(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization()
    template = credly_server.add_template(org.id, "Python 101")
    issuer = get_issuer(credly_server.credentials(org.id))
    badge = issuer.issue_badge(badge_request(template.id))
    # when / then
    assert badge.state == "pending"
    for state in ("accepted", "rejected", "replaced"):
        credly_server.set_badge_state(org.id, badge.id, state)
        assert issuer.get_badge(badge.id).state == ("revoked" if state == "replaced" else state)


def test_credly_templates_that_are_not_active_are_listed_as_inactive(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization()
    active = credly_server.add_template(org.id, "Active", image_url="https://images.example.com/a.png")
    archived = credly_server.add_template(org.id, "Archived")
    draft = credly_server.add_template(org.id, "Draft", state="draft")
    credly_server.archive_template(org.id, archived.id)
    # when
    templates = {t.id: t for t in get_issuer(credly_server.credentials(org.id)).list_templates()}
    # then
    assert {i: t.is_active for i, t in templates.items()} == {active.id: True, archived.id: False, draft.id: False}
    assert templates[active.id].image_url == "https://images.example.com/a.png"


def test_credly_find_uses_the_documented_filter(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization()
    template = credly_server.add_template(org.id, "Python 101")
    issuer = get_issuer(credly_server.credentials(org.id))
    # when
    issuer.find_badge(template_id=template.id, recipient_email="ada+test@example.com")
    # then
    (call,) = credly_server.calls("GET")
    assert call.query["filter"] == [f"recipient_email::ada+test@example.com|badge_template_id::{template.id}"]


def test_credly_does_not_follow_a_next_page_url_to_another_host(credly_server: FakeCredlyServer) -> None:
    # given a next_page_url that would send the token elsewhere
    org = credly_server.add_organization()
    for n in range(60):
        credly_server.add_template(org.id, f"Template {n}")
    credly_server.next_page_base = "http://attacker.example"
    # when
    with pytest.raises(IssuerError) as caught:
        list(get_issuer(credly_server.credentials(org.id)).list_templates())
    # then
    assert caught.value.code is IssuerErrorCode.UNEXPECTED
    assert len(credly_server.requests) == 1


def test_credly_get_event_reads_the_badge_or_template_the_event_holds(credly_server: FakeCredlyServer) -> None:
    # given: a template added, a badge issued and accepted
    org = credly_server.add_organization(token="tok-credly")
    template = credly_server.add_template(org.id, "Python 101")
    template_event = credly_server.last_event_id
    issuer = get_issuer(credly_server.credentials(org.id))
    badge = issuer.issue_badge(badge_request(template.id))
    created_event = credly_server.last_event_id
    credly_server.set_badge_state(org.id, badge.id, "accepted")
    changed_event = credly_server.last_event_id
    credly_server.clear_requests()
    # when
    events = [issuer.get_event(event_id) for event_id in (template_event, created_event, changed_event)]
    # then
    assert events == [
        IssuerEvent(id=template_event, event_type="badge_template.created", badge_id=None, template_id=template.id),
        IssuerEvent(id=created_event, event_type="badge.created", badge_id=badge.id, template_id=None),
        IssuerEvent(id=changed_event, event_type="badge.state.changed", badge_id=badge.id, template_id=None),
    ]
    call = credly_server.calls()[0]
    assert (call.method, call.path) == ("GET", f"/v1/organizations/{org.id}/events/{template_event}")
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"tok-credly:").decode()


def test_credly_records_an_event_for_every_change(credly_server: FakeCredlyServer) -> None:
    # given
    org = credly_server.add_organization()
    template = credly_server.add_template(org.id, "Python 101")
    issuer = get_issuer(credly_server.credentials(org.id))
    badge = issuer.issue_badge(badge_request(template.id))
    # when
    credly_server.set_badge_state(org.id, badge.id, "accepted")
    issuer.revoke_badge(badge.id, reason="Issued in error", notify=False)
    credly_server.update_template(org.id, template.id, name="Python 102")
    credly_server.archive_template(org.id, template.id)
    credly_server.remove_template(org.id, template.id)
    # then
    assert [(e.event_type, e.object_json["id"]) for e in credly_server.events] == [
        ("badge_template.created", template.id),
        ("badge.created", badge.id),
        ("badge.state.changed", badge.id),
        ("badge.state.changed", badge.id),
        ("badge_template.changed", template.id),
        ("badge_template.changed", template.id),
        ("badge_template.deleted", template.id),
    ]
    # each holds the object as it was then
    assert [e.object_json["state"] for e in credly_server.events[1:4]] == ["pending", "accepted", "revoked"]


def test_credly_get_event_of_an_unknown_id_or_another_organization_is_not_found(
    credly_server: FakeCredlyServer,
) -> None:
    # given: an event of another organization
    ours, theirs = credly_server.add_organization(), credly_server.add_organization()
    credly_server.add_template(theirs.id, "Theirs")
    issuer = get_issuer(credly_server.credentials(ours.id))
    # when / then
    for event_id in (str(uuid.uuid4()), credly_server.last_event_id):
        with pytest.raises(IssuerError) as caught:
            issuer.get_event(event_id)
        assert (caught.value.code, caught.value.permanent, caught.value.status) == (
            IssuerErrorCode.NOT_FOUND,
            True,
            404,
        )


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"event_type": "badge.state.changed", "badge": {"id": "b"}},
        {"id": "e1", "badge": {"id": "b"}},
        {"id": "e1", "event_type": "badge.state.changed"},
        {"id": "e1", "event_type": "badge.state.changed", "badge": {"state": "accepted"}},
        {"id": "e1", "event_type": "badge_template.changed", "badge": {"id": "b"}},
        {"id": "another-event", "event_type": "badge.created", "badge": {"id": "b"}},
    ],
    ids=["not-an-object", "no-id", "no-type", "no-badge", "badge-without-id", "no-template", "another-event"],
)
def test_credly_get_event_refuses_an_answer_it_cannot_read(credly_server: FakeCredlyServer, data: Any) -> None:
    # given
    org = credly_server.add_organization()
    issuer = get_issuer(credly_server.credentials(org.id))
    credly_server.fail_next(1, status=200, body={"data": data, "metadata": None})
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.get_event("e1")
    # then
    assert (caught.value.code, caught.value.permanent) == (IssuerErrorCode.UNEXPECTED, True)


def test_credly_get_event_of_another_kind_names_no_object(credly_server: FakeCredlyServer) -> None:
    # given: an event type this code does not follow, holding neither a badge nor a template
    org = credly_server.add_organization()
    credly_server.fail_next(
        1, status=200, body={"data": {"id": "e1", "event_type": "pending_badge_notification.sent"}, "metadata": None}
    )
    # when
    event = get_issuer(credly_server.credentials(org.id)).get_event("e1")
    # then
    assert event == IssuerEvent(id="e1", event_type="pending_badge_notification.sent", badge_id=None, template_id=None)


# --- Accredible -----------------------------------------------------------------------------------


def test_accredible_issue_sends_the_documented_request(accredible_server: FakeAccredibleServer) -> None:
    # given
    group = accredible_server.add_group("python-101", course_name="Python 101")
    issuer = get_issuer(accredible_server.credentials())
    # when
    issuer.issue_badge(badge_request(str(group.id)))
    # then
    (call,) = accredible_server.calls("POST")
    assert call.path == "/v1/credentials"
    assert call.headers["Authorization"] == f"Token token={accredible_server.token}"
    assert call.body == {
        "credential": {
            "group_id": group.id,
            "recipient": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "issued_on": "2024-05-01",
            "approve": True,
        }
    }
    assert issuer.get_template(str(group.id)).name == "Python 101"


def test_accredible_revoke_expires_the_credential_today(accredible_server: FakeAccredibleServer) -> None:
    # given
    group = accredible_server.add_group("Python 101")
    issuer = get_issuer(accredible_server.credentials())
    badge = issuer.issue_badge(badge_request(str(group.id)))
    # when
    revoked = issuer.revoke_badge(badge.id, reason="Issued in error", notify=True)
    # then
    (call,) = accredible_server.calls("PUT")
    assert call.path == f"/v1/credentials/{badge.id}"
    today = datetime.now(UTC).date()
    assert call.body == {
        "credential": {"expired_on": today.isoformat(), "meta_data": {"revocation_reason": "Issued in error"}}
    }
    assert revoked.state == "revoked"
    (stored,) = accredible_server.issued()
    assert stored.expired_on == today


def test_token_bucket_lets_a_burst_through_then_spaces_requests() -> None:
    now = [100.0]
    bucket = TokenBucket(capacity=2, refill_per_second=1.0, clock=lambda: now[0])
    assert [bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()] == [0.0, 0.0, 1.0, 2.0]
    assert bucket.reserve(max_wait=2.5) is None  # would be 3.0: refused, nothing taken
    now[0] += 3.0  # the two queued callers have had their tokens
    assert bucket.reserve() == 0.0
    bucket.pause(5.0)  # a 429 with Retry-After: 5
    assert bucket.reserve() == pytest.approx(6.0)


def test_accredible_clients_of_one_key_share_a_bucket(settings: Any) -> None:
    key = f"tok-{uuid.uuid4().hex}"
    first = get_issuer(IssuerCredentials("accredible", "1", key))
    second = get_issuer(IssuerCredentials("accredible", "1", key, sandbox=True))
    other = get_issuer(IssuerCredentials("accredible", "1", f"tok-{uuid.uuid4().hex}"))
    assert isinstance(first, AccredibleClient) and isinstance(second, AccredibleClient)
    assert isinstance(other, AccredibleClient)
    assert first.bucket is second.bucket is bucket_for_token(key)
    assert other.bucket is not first.bucket


def test_accredible_client_waits_for_its_bucket(accredible_server: FakeAccredibleServer) -> None:
    # given a bucket of 2 that refills 10 a second
    issuer = AccredibleClient(accredible_server.credentials(), bucket=TokenBucket(capacity=2, refill_per_second=10))
    # when
    started = time.monotonic()
    for _ in range(6):
        issuer.check_token()
    # then the last four waited 0.1 s each
    assert time.monotonic() - started >= 0.35
    times = [r.at for r in accredible_server.requests]
    assert times[-1] - times[1] >= 0.35


def test_accredible_client_refuses_to_wait_past_its_limit(accredible_server: FakeAccredibleServer) -> None:
    # given
    issuer = AccredibleClient(
        accredible_server.credentials(),
        bucket=TokenBucket(capacity=1, refill_per_second=0.2),
        max_throttle_wait=0.5,
    )
    issuer.check_token()
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.check_token()
    # then
    assert caught.value.code is IssuerErrorCode.RATE_LIMITED
    assert caught.value.retryable is True
    assert len(accredible_server.requests) == 1


def test_an_accredible_429_holds_back_every_client_of_the_key(accredible_server: FakeAccredibleServer) -> None:
    # given two clients of one key
    bucket = TokenBucket(capacity=100, refill_per_second=100)
    told = AccredibleClient(accredible_server.credentials(), bucket=bucket)
    other = AccredibleClient(accredible_server.credentials(), bucket=bucket)
    accredible_server.rate_limit_next(retry_after="1")
    # when
    with pytest.raises(IssuerError) as caught:
        told.check_token()
    started = time.monotonic()
    other.check_token()
    # then
    assert caught.value.code is IssuerErrorCode.RATE_LIMITED
    assert caught.value.retry_after == 1.0
    assert time.monotonic() - started >= 0.9


def test_accredible_events_are_not_supported(accredible_server: FakeAccredibleServer) -> None:
    # given
    issuer = get_issuer(accredible_server.credentials())
    # when
    with pytest.raises(IssuerError) as caught:
        issuer.get_event("123")
    # then: permanent, and nothing was asked
    assert (caught.value.code, caught.value.permanent) == (IssuerErrorCode.UNSUPPORTED, True)
    assert accredible_server.requests == []
