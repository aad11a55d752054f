"""Fake Credly and Accredible servers for tests: real HTTP on a local port, with state and faults.

Each server runs a ThreadingHTTPServer in a daemon thread and speaks the subset of its service's API
that apps/badges/credly/client.py and apps/badges/accredible/client.py use, shaped as the services
document it. The base URL is `server.url`; a `/sandbox` prefix reaches the same state and is recorded
as a sandbox call.

State: organizations (Credly) or the issuer (Accredible) with a rotatable token, templates/groups
(add, change, archive, remove; paged), issued badges/credentials (a duplicate is refused as the
service refuses it) and revocations. Credly also records an event (what its webhooks name) for each
badge issued, state change and revocation, and each template added, changed, archived or removed,
with the object as it was then: `server.events` in order, `server.last_event_id`, served at
GET organizations/{org}/events/{id} (404 for another organization's event).

Faults, each for the next requests that match an optional `method` and `path_contains`, in order:
- `fail_next(n, status=500, retry_after=None, body=None)`: answer with an error status;
- `rate_limit_next(n, retry_after="2")`: 429 with Retry-After;
- `hang_next(n, seconds=2.0, then_process=False)`: answer nothing for `seconds` (past the client's
  timeout), then close the connection, or process the request and try to answer late;
- `drop_next(n, after_processing=True)`: process the request (store the badge) then close the
  connection without answering, as when an answer is lost;
and, not queued:
- `flaky(probability, seed=0, seconds=None, status=500, after_processing=False)`: each request fails
  with `status` at that (seeded) probability, for `seconds` of `server.clock` or until `stop_flaky()`;
  after_processing=True stores first and then answers the error;
- `refuse_all(status=401)` / `accept_all()`: every request refused, whatever its token;
- `limit_rate(max_requests, per_seconds, retry_after="1")`: a server-side rate limit (429).
`server.clock` (time.monotonic by default) may be replaced to drive `flaky` periods and rate windows.

Every request is recorded (`server.requests`: method, path, query, JSON body, headers, time, status,
outcome); `server.calls(method, path_contains)` filters them to count HTTP calls per badge.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from apps.badges.issuers import IssuerCredentials
from apps.core.tests.local_server import LocalHTTPServer

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (None for no body), extra headers
_NOT_JSON = object()


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /sandbox prefix and the query
    query: dict[str, list[str]]
    body: Any  # parsed JSON, or None
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived
    sandbox: bool
    status: int | None = None  # what was answered; None if nothing was
    outcome: str = "pending"  # answered, dropped, hung


@dataclass
class _Fault:
    kind: str  # status, hang, drop
    remaining: int
    method: str | None
    path_contains: str | None
    status: int = 500
    retry_after: str | None = None
    body: Any = None
    seconds: float = 0.0
    process: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class _Flaky:
    probability: float
    rng: random.Random
    until: float | None
    status: int
    after_processing: bool


class FakeIssuerServer(LocalHTTPServer):
    """What both fakes share: the HTTP server, the request log and fault injection."""

    service = "Fake"
    thread_name = "issuer-server"

    def __init__(self) -> None:
        super().__init__()
        self.clock: Callable[[], float] = time.monotonic
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of the fake's own bugs (answered as 500)
        self.page_size = 50
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._flaky: _Flaky | None = None
        self._refuse_status: int | None = None
        self._rate: tuple[int, float, str] | None = None
        self._rate_window: deque[float] = deque()
        self._released = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self._released.set()  # hanging handlers give up
        super().stop()

    # --- the request log --------------------------------------------------------------------------

    def calls(self, method: str | None = None, path_contains: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path_contains is None or path_contains in r.path)
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- faults -----------------------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: str | None = None,
        body: Any = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        self._add_fault(_Fault("status", n, method, path_contains, status=status, retry_after=retry_after, body=body))

    def rate_limit_next(
        self, n: int = 1, *, retry_after: str = "2", method: str | None = None, path_contains: str | None = None
    ) -> None:
        self.fail_next(n, status=429, retry_after=retry_after, method=method, path_contains=path_contains)

    def hang_next(
        self,
        n: int = 1,
        *,
        seconds: float = 2.0,
        then_process: bool = False,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        self._add_fault(_Fault("hang", n, method, path_contains, seconds=seconds, process=then_process))

    def drop_next(
        self,
        n: int = 1,
        *,
        after_processing: bool = True,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        self._add_fault(_Fault("drop", n, method, path_contains, process=after_processing))

    def flaky(
        self,
        probability: float,
        *,
        seed: int = 0,
        seconds: float | None = None,
        status: int = 500,
        after_processing: bool = False,
    ) -> None:
        until = None if seconds is None else self.clock() + seconds
        with self._lock:
            self._flaky = _Flaky(probability, random.Random(seed), until, status, after_processing)

    def stop_flaky(self) -> None:
        with self._lock:
            self._flaky = None

    def refuse_all(self, status: int = 401) -> None:
        with self._lock:
            self._refuse_status = status

    def accept_all(self) -> None:
        with self._lock:
            self._refuse_status = None

    def limit_rate(self, max_requests: int, per_seconds: float, *, retry_after: str = "1") -> None:
        with self._lock:
            self._rate = (max_requests, per_seconds, retry_after)
            self._rate_window.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._flaky = None
            self._refuse_status = None
            self._rate = None

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    # --- serving ----------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        path = split.path
        sandbox = path.startswith("/sandbox/")
        if sandbox:
            path = path.removeprefix("/sandbox")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = _NOT_JSON
        record = RecordedRequest(
            method=handler.command,
            path=path,
            query=parse_qs(split.query),
            body=None if body is _NOT_JSON else body,
            headers=dict(handler.headers.items()),
            at=time.monotonic(),
            sandbox=sandbox,
        )
        with self._lock:
            self.requests.append(record)
        if body is _NOT_JSON:
            self._answer(handler, record, (400, self.error_body("The body is not JSON"), {}))
            return

        def process() -> Answer:
            return self._process(record, split.query)

        fault = self._take_fault(record.method, path)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body_out = fault.body if fault.body is not None else self.error_body(f"Injected {fault.status}")
            self._answer(handler, record, (fault.status, body_out, headers))
            return
        if fault is not None and fault.kind == "hang":
            record.outcome = "hung"
            self._released.wait(fault.seconds)
            if fault.process:
                self._answer(handler, record, process())
            else:
                self._drop(handler)
            return
        if fault is not None and fault.kind == "drop":
            if fault.process:
                process()
            record.outcome = "dropped"
            self._drop(handler)
            return
        refusal = self._refusal()
        if refusal is not None:
            self._answer(handler, record, refusal)
            return
        flaky = self._roll_flaky()
        if flaky is not None:
            if flaky.after_processing:
                process()
            self._answer(handler, record, (flaky.status, self.error_body(f"Injected {flaky.status}"), {}))
            return
        self._answer(handler, record, process())

    def _refusal(self) -> Answer | None:
        with self._lock:
            if self._refuse_status is not None:
                return (self._refuse_status, self.error_body("Refused"), {})
            if self._rate is not None:
                max_requests, per_seconds, retry_after = self._rate
                now = self.clock()
                while self._rate_window and self._rate_window[0] <= now - per_seconds:
                    self._rate_window.popleft()
                if len(self._rate_window) >= max_requests:
                    return (429, self.error_body("Too many requests"), {"Retry-After": retry_after})
                self._rate_window.append(now)
        return None

    def _roll_flaky(self) -> _Flaky | None:
        with self._lock:
            flaky = self._flaky
            if flaky is None:
                return None
            if flaky.until is not None and self.clock() >= flaky.until:
                self._flaky = None
                return None
            return flaky if flaky.rng.random() < flaky.probability else None

    def _process(self, record: RecordedRequest, query: str) -> Answer:
        try:
            with self._lock:
                return self.route(record, query)
        except Exception:  # noqa: BLE001 - a bug in the fake: answered 500 and kept for the fixture to report
            self.errors.append(traceback.format_exc())
            return (500, self.error_body("Fake server error"), {})

    def _answer(self, handler: BaseHTTPRequestHandler, record: RecordedRequest, answer: Answer) -> None:
        status, body, headers = answer
        # Recorded before the client can read the answer, so a test never sees it half-recorded.
        record.status, record.outcome = status, "answered"
        if not self.send_json(handler, status, body, headers):  # the client gave up before the answer
            record.status, record.outcome = None, "hung"

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- per service --------------------------------------------------------------------------

    def route(self, record: RecordedRequest, query: str) -> Answer:
        raise NotImplementedError

    def error_body(self, message: str) -> Any:
        raise NotImplementedError


# ===================================================================================================
# Credly


@dataclass
class CredlyTemplate:
    id: str
    name: str
    description: str = ""
    state: str = "active"  # active, archived, draft
    image_url: str | None = None
    allow_duplicate_badges: bool = False


@dataclass
class CredlyBadge:
    id: str
    template_id: str
    recipient_email: str
    first_name: str
    last_name: str
    issued_at: datetime
    state: str = "pending"
    suppress_badge_notification_email: bool = False
    revocation_reason: str | None = None
    suppress_revoke_notification_email: bool | None = None
    sequence: int = 0


@dataclass
class CredlyEvent:
    """An event as Credly records it: its type, when, and the affected object as it was then, under
    `badge` or `badge_template`."""

    id: str
    organization_id: str
    event_type: str  # badge.created, badge.state.changed, badge_template.created/changed/deleted
    occurred_at: datetime
    object_key: str  # "badge" or "badge_template"
    object_json: dict[str, Any]


@dataclass
class CredlyOrganization:
    id: str
    token: str
    name: str = "Test organization"
    templates: dict[str, CredlyTemplate] = field(default_factory=dict)
    badges: dict[str, CredlyBadge] = field(default_factory=dict)
    events: dict[str, CredlyEvent] = field(default_factory=dict)


class FakeCredlyServer(FakeIssuerServer):
    """Credly's web service API under /v1/ (and /sandbox/v1/), HTTP Basic with the token as username."""

    service = "Credly"

    def __init__(self) -> None:
        super().__init__()
        self.organizations: dict[str, CredlyOrganization] = {}
        # Makes metadata.next_page_url point elsewhere (to test that the client refuses to follow it).
        self.next_page_base: str | None = None
        self.events: list[CredlyEvent] = []  # every organization's, in order
        self._sequence = 0

    # --- state the tests set up -------------------------------------------------------------------

    def add_organization(self, *, token: str | None = None, organization_id: str | None = None) -> CredlyOrganization:
        with self._lock:
            org = CredlyOrganization(id=organization_id or str(uuid.uuid4()), token=token or uuid.uuid4().hex)
            self.organizations[org.id] = org
            return org

    def set_token(self, organization_id: str, token: str) -> None:
        with self._lock:
            self.organizations[organization_id].token = token

    def credentials(
        self, organization_id: str, *, sandbox: bool = False, token: str | None = None
    ) -> IssuerCredentials:
        org = self.organizations[organization_id]
        return IssuerCredentials("credly", org.id, org.token if token is None else token, sandbox)

    def add_template(self, organization_id: str, name: str = "Template", **fields: Any) -> CredlyTemplate:
        with self._lock:
            template = CredlyTemplate(id=fields.pop("id", None) or str(uuid.uuid4()), name=name, **fields)
            org = self.organizations[organization_id]
            org.templates[template.id] = template
            self._record_event(org, "badge_template.created", "badge_template", self._template_json(template))
            return template

    def update_template(self, organization_id: str, template_id: str, **changes: Any) -> CredlyTemplate:
        """Change a template (archiving is a change of state, as Credly's badge_template.changed says)."""
        with self._lock:
            org = self.organizations[organization_id]
            template = org.templates[template_id]
            for name, value in changes.items():
                setattr(template, name, value)
            self._record_event(org, "badge_template.changed", "badge_template", self._template_json(template))
            return template

    def archive_template(self, organization_id: str, template_id: str) -> CredlyTemplate:
        return self.update_template(organization_id, template_id, state="archived")

    def remove_template(self, organization_id: str, template_id: str) -> None:
        with self._lock:
            org = self.organizations[organization_id]
            template = org.templates.pop(template_id)
            self._record_event(org, "badge_template.deleted", "badge_template", self._template_json(template))

    def badges(
        self, organization_id: str, *, template_id: str | None = None, recipient_email: str | None = None
    ) -> list[CredlyBadge]:
        with self._lock:
            return [
                b
                for b in self.organizations[organization_id].badges.values()
                if (template_id is None or b.template_id == template_id)
                and (recipient_email is None or b.recipient_email.casefold() == recipient_email.casefold())
            ]

    def set_badge_state(self, organization_id: str, badge_id: str, state: str) -> None:
        """As when the earner accepts or rejects the badge on Credly."""
        with self._lock:
            org = self.organizations[organization_id]
            badge = org.badges[badge_id]
            badge.state = state
            self._record_event(org, "badge.state.changed", "badge", self._badge_json(org, badge))

    @property
    def last_event_id(self) -> str:
        """The id of the latest event of any organization (what Credly's next webhook would name)."""
        with self._lock:
            assert self.events, "no event recorded yet"
            return self.events[-1].id

    def _record_event(self, org: CredlyOrganization, event_type: str, object_key: str, obj: dict[str, Any]) -> None:
        event = CredlyEvent(
            id=str(uuid.uuid4()),
            organization_id=org.id,
            event_type=event_type,
            occurred_at=datetime.now(UTC),
            object_key=object_key,
            object_json=json.loads(json.dumps(obj)),  # as it is now, not as it will be
        )
        org.events[event.id] = event
        self.events.append(event)

    # --- the API ----------------------------------------------------------------------------------

    def error_body(self, message: str) -> Any:
        return {"data": {"message": message}, "metadata": None}

    def route(self, record: RecordedRequest, query: str) -> Answer:
        parts = record.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "v1" or parts[1] != "organizations":
            return (404, self.error_body("Not found"), {})
        org = self.organizations.get(parts[2])
        if org is None or not self._authorized(record, org):
            return (401, self.error_body("Unauthorized"), {})
        rest, method = parts[3:], record.method
        if rest == [] and method == "GET":
            return (200, {"data": {"id": org.id, "name": org.name}, "metadata": None}, {})
        if rest == ["badge_templates"] and method == "GET":
            templates = list(org.templates.values())
            state = _credly_filter(query).get("state")
            if state:
                templates = [t for t in templates if t.state in state.split(",")]
            return self._page(record, query, [self._template_json(t) for t in templates])
        if len(rest) == 2 and rest[0] == "badge_templates" and method == "GET":
            template = org.templates.get(rest[1])
            if template is None:
                return (404, self.error_body("Badge template not found"), {})
            return (200, {"data": self._template_json(template), "metadata": None}, {})
        if rest == ["badges"] and method == "POST":
            return self._issue(org, record.body)
        if rest == ["badges"] and method == "GET":
            wanted = _credly_filter(query)
            badges = sorted(org.badges.values(), key=lambda b: b.sequence)
            if "recipient_email" in wanted:
                badges = [b for b in badges if b.recipient_email.casefold() == wanted["recipient_email"].casefold()]
            if "badge_template_id" in wanted:
                badges = [b for b in badges if b.template_id == wanted["badge_template_id"]]
            if "state" in wanted:
                badges = [b for b in badges if b.state in wanted["state"].split(",")]
            return self._page(record, query, [self._badge_json(org, b) for b in badges])
        if len(rest) == 2 and rest[0] == "badges" and method == "GET":
            badge = org.badges.get(rest[1])
            if badge is None:
                return (404, self.error_body("Badge not found"), {})
            return (200, {"data": self._badge_json(org, badge), "metadata": None}, {})
        if len(rest) == 3 and rest[0] == "badges" and rest[2] == "revoke" and method == "PUT":
            return self._revoke(org, rest[1], record.body)
        if len(rest) == 2 and rest[0] == "events" and method == "GET":
            event = org.events.get(rest[1])  # another organization's events are not found
            if event is None:
                return (404, self.error_body("Event not found"), {})
            return (200, {"data": self._event_json(event), "metadata": None}, {})
        return (404, self.error_body("Not found"), {})

    @staticmethod
    def _authorized(record: RecordedRequest, org: CredlyOrganization) -> bool:
        scheme, _, encoded = record.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return False
        try:
            username, colon, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return bool(colon) and username == org.token and password == ""

    def _issue(self, org: CredlyOrganization, body: Any) -> Answer:
        if not isinstance(body, dict):
            return (422, self.error_body("The request body must be a JSON object"), {})
        required = ("recipient_email", "issued_to_first_name", "issued_to_last_name", "badge_template_id", "issued_at")
        missing = [name for name in required if not body.get(name)]
        if missing:
            return (422, self.error_body(f"Missing required fields: {', '.join(missing)}"), {})
        template = org.templates.get(str(body["badge_template_id"]))
        if template is None:
            return (422, self.error_body(f"Invalid or missing Badge Template ID: {body['badge_template_id']}"), {})
        if template.state != "active":
            return (422, self.error_body(f"Badge template is {template.state} and cannot issue badges"), {})
        issued_at = _parse_credly_time(str(body["issued_at"]))
        if issued_at is None:
            return (422, self.error_body(f"issued_at is invalid: {body['issued_at']}"), {})
        email = str(body["recipient_email"])
        duplicate = any(
            b.template_id == template.id
            and b.recipient_email.casefold() == email.casefold()
            and b.state in ("pending", "accepted")
            for b in org.badges.values()
        )
        if duplicate and not template.allow_duplicate_badges:
            return (422, self.error_body("User already has this badge and duplicates are not allowed"), {})
        self._sequence += 1
        badge = CredlyBadge(
            id=str(uuid.uuid4()),
            template_id=template.id,
            recipient_email=email,
            first_name=str(body["issued_to_first_name"]),
            last_name=str(body["issued_to_last_name"]),
            issued_at=issued_at,
            suppress_badge_notification_email=bool(body.get("suppress_badge_notification_email", False)),
            sequence=self._sequence,
        )
        org.badges[badge.id] = badge
        self._record_event(org, "badge.created", "badge", self._badge_json(org, badge))
        return (201, {"data": self._badge_json(org, badge), "metadata": None}, {})

    def _revoke(self, org: CredlyOrganization, badge_id: str, body: Any) -> Answer:
        badge = org.badges.get(badge_id)
        if badge is None:
            return (404, self.error_body("Badge not found"), {})
        if not isinstance(body, dict) or not body.get("reason"):
            return (422, self.error_body("A reason is required to revoke a badge"), {})
        if badge.state == "revoked":
            return (422, self.error_body("Badge has already been revoked"), {})
        badge.state = "revoked"
        badge.revocation_reason = str(body["reason"])
        badge.suppress_revoke_notification_email = bool(body.get("suppress_revoke_notification_email", False))
        self._record_event(org, "badge.state.changed", "badge", self._badge_json(org, badge))
        return (200, {"data": self._badge_json(org, badge), "metadata": None}, {})

    def _page(self, record: RecordedRequest, query: str, items: list[Any]) -> Answer:
        params = parse_qs(query)
        page = max(1, int(params.get("page", ["1"])[0]))
        per = self.page_size
        total_pages = max(1, -(-len(items) // per))

        def page_url(number: int) -> str:
            rest = {k: v[0] for k, v in params.items() if k != "page"}
            base = self.next_page_base or self.url
            prefix = "/sandbox" if record.sandbox else ""
            return f"{base}{prefix}{record.path}?{urlencode({**rest, 'page': number})}"

        return (
            200,
            {
                "data": items[(page - 1) * per : page * per],
                "metadata": {
                    "count": len(items[(page - 1) * per : page * per]),
                    "current_page": page,
                    "total_count": len(items),
                    "total_pages": total_pages,
                    "per": per,
                    "previous_page_url": page_url(page - 1) if page > 1 else None,
                    "next_page_url": page_url(page + 1) if page < total_pages else None,
                },
            },
            {},
        )

    def _template_json(self, template: CredlyTemplate) -> dict[str, Any]:
        return {
            "id": template.id,
            "name": template.name,
            "description": template.description,
            "state": template.state,
            "allow_duplicate_badges": template.allow_duplicate_badges,
            "image": {"id": template.id, "url": template.image_url} if template.image_url else None,
            "image_url": template.image_url,
        }

    @staticmethod
    def _event_json(event: CredlyEvent) -> dict[str, Any]:
        return {
            "id": event.id,
            "organization_id": event.organization_id,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            event.object_key: event.object_json,
        }

    def _badge_json(self, org: CredlyOrganization, badge: CredlyBadge) -> dict[str, Any]:
        template = org.templates.get(badge.template_id)
        return {
            "id": badge.id,
            "state": badge.state,
            "recipient_email": badge.recipient_email,
            "issued_to": f"{badge.first_name} {badge.last_name}",
            "issued_to_first_name": badge.first_name,
            "issued_to_last_name": badge.last_name,
            "issued_at": badge.issued_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "revocation_reason": badge.revocation_reason,
            "suppress_badge_notification_email": badge.suppress_badge_notification_email,
            "badge_template": self._template_json(template) if template else {"id": badge.template_id},
        }


def _credly_filter(query: str) -> dict[str, str]:
    """Credly's `filter=key::value|key::value`."""
    raw = parse_qs(query).get("filter", [""])[0]
    pairs = (item.partition("::") for item in raw.split("|") if item)
    return {key: value for key, sep, value in pairs if sep}


def _parse_credly_time(text: str) -> datetime | None:
    for parse in (lambda s: datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z"), datetime.fromisoformat):
        try:
            parsed = parse(text)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else None
    return None


# ===================================================================================================
# Accredible


@dataclass
class AccredibleGroup:
    id: int
    name: str
    course_name: str
    course_description: str = ""


@dataclass
class AccredibleCredential:
    id: int
    group_id: int
    recipient_name: str
    recipient_email: str
    issued_on: date
    approve: bool = True
    expired_on: date | None = None
    meta_data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeAccredibleServer(FakeIssuerServer):
    """Accredible's credential API under /v1/ and /v2/ (and /sandbox/...) for one issuer, with
    `Authorization: Token token=KEY`."""

    service = "Accredible"

    def __init__(self, *, token: str | None = None) -> None:
        super().__init__()
        self.token = token or uuid.uuid4().hex
        self.issuer_id = 4897
        self.groups: dict[int, AccredibleGroup] = {}
        self.credentials_by_id: dict[int, AccredibleCredential] = {}
        self._next_group_id = 100
        self._next_credential_id = 10_000_000

    # --- state the tests set up -------------------------------------------------------------------

    def set_token(self, token: str) -> None:
        with self._lock:
            self.token = token

    def credentials(self, *, sandbox: bool = False, token: str | None = None) -> IssuerCredentials:
        return IssuerCredentials("accredible", str(self.issuer_id), self.token if token is None else token, sandbox)

    def add_group(
        self, name: str = "Group", *, course_name: str | None = None, course_description: str = ""
    ) -> AccredibleGroup:
        with self._lock:
            self._next_group_id += 1
            group = AccredibleGroup(self._next_group_id, name, course_name or name, course_description)
            self.groups[group.id] = group
            return group

    def update_group(self, group_id: int, **changes: Any) -> AccredibleGroup:
        with self._lock:
            group = self.groups[group_id]
            for name, value in changes.items():
                setattr(group, name, value)
            return group

    def remove_group(self, group_id: int) -> None:
        with self._lock:
            del self.groups[group_id]

    def issued(self, *, group_id: int | None = None, recipient_email: str | None = None) -> list[AccredibleCredential]:
        with self._lock:
            return [
                c
                for c in self.credentials_by_id.values()
                if (group_id is None or c.group_id == group_id)
                and (recipient_email is None or c.recipient_email.casefold() == recipient_email.casefold())
            ]

    # --- the API ----------------------------------------------------------------------------------

    def error_body(self, message: str) -> Any:
        return {"errors": [message]}

    def route(self, record: RecordedRequest, query: str) -> Answer:
        if not self._authorized(record):
            return (401, {"error": "Invalid API key"}, {})
        path, method, body = record.path.rstrip("/"), record.method, record.body
        if path == "/v1/issuer/details" and method == "GET":
            return (200, {"issuer": {"id": self.issuer_id, "name": "Example Organization"}}, {})
        if path == "/v1/issuer/groups/search" and method == "POST":
            return self._search_groups(body if isinstance(body, dict) else {})
        if path.startswith("/v1/issuer/groups/") and method == "GET":
            group = self._group(path.rsplit("/", 1)[1])
            if group is None:
                return (404, {"errors": ["Group not found"]}, {})
            return (200, {"group": self._group_json(group)}, {})
        if path == "/v1/credentials" and method == "POST":
            return self._create(body)
        if path.startswith("/v1/credentials/") and method in ("GET", "PUT"):
            credential = self._credential(path.rsplit("/", 1)[1])
            if credential is None:
                return (404, {"errors": ["Credential not found"]}, {})
            if method == "PUT":
                return self._update(credential, body)
            return (200, {"credential": self._credential_json(credential)}, {})
        if path == "/v2/credentials/search" and method == "POST":
            return self._search_credentials(body if isinstance(body, dict) else {})
        return (404, {"errors": ["Not found"]}, {})

    def _authorized(self, record: RecordedRequest) -> bool:
        header = record.headers.get("Authorization", "")
        prefix = "Token token="
        return header.startswith(prefix) and header.removeprefix(prefix).strip('"') == self.token

    def _group(self, raw_id: Any) -> AccredibleGroup | None:
        if isinstance(raw_id, int) or (isinstance(raw_id, str) and raw_id.isdigit()):
            return self.groups.get(int(raw_id))
        return next((g for g in self.groups.values() if g.name == raw_id), None)  # a group name works too

    def _credential(self, raw_id: str) -> AccredibleCredential | None:
        return self.credentials_by_id.get(int(raw_id)) if raw_id.isdigit() else None

    def _search_groups(self, body: dict[str, Any]) -> Answer:
        page = max(1, int(body.get("page", 1)))
        size = max(1, int(body.get("page_size", self.page_size)))
        groups = sorted(self.groups.values(), key=lambda g: g.id)
        total_pages = max(1, -(-len(groups) // size))
        return (
            200,
            {
                "groups": [self._group_json(g) for g in groups[(page - 1) * size : page * size]],
                "meta": {
                    "current_page": page,
                    "next_page": page + 1 if page < total_pages else None,
                    "prev_page": page - 1 if page > 1 else None,
                    "total_pages": total_pages,
                    "total_count": len(groups),
                },
            },
            {},
        )

    def _create(self, body: Any) -> Answer:
        credential = body.get("credential") if isinstance(body, dict) else None
        if not isinstance(credential, dict):
            return (422, {"errors": ["Credential can't be blank"]}, {})
        recipient = _object(credential.get("recipient"))
        if not recipient.get("name") or not recipient.get("email"):
            return (422, {"errors": ["Recipient name and email can't be blank"]}, {})
        group = self._group(credential.get("group_id") or credential.get("group_name"))
        if group is None:
            return (422, {"errors": ["Group can't be blank"]}, {})
        email = str(recipient["email"])
        today = datetime.now(UTC).date()
        if any(
            c.group_id == group.id
            and c.recipient_email.casefold() == email.casefold()
            and (c.expired_on is None or c.expired_on > today)
            for c in self.credentials_by_id.values()
        ):
            return (422, {"errors": ["Recipient already has a credential in this group"]}, {})
        try:
            issued_on = _parse_accredible_date(credential.get("issued_on")) or today
            expired_on = _parse_accredible_date(credential.get("expired_on"))
        except ValueError as exc:
            return (422, {"errors": [str(exc)]}, {})
        self._next_credential_id += 1
        created = AccredibleCredential(
            id=self._next_credential_id,
            group_id=group.id,
            recipient_name=str(recipient["name"]),
            recipient_email=email,
            issued_on=issued_on,
            approve=bool(credential.get("approve", True)),
            expired_on=expired_on,
            meta_data=dict(credential.get("meta_data") or {}),
        )
        self.credentials_by_id[created.id] = created
        return (200, {"credential": self._credential_json(created)}, {})

    def _update(self, credential: AccredibleCredential, body: Any) -> Answer:
        changes = body.get("credential") if isinstance(body, dict) else None
        if not isinstance(changes, dict):
            return (422, {"errors": ["Credential can't be blank"]}, {})
        if "expired_on" in changes:
            try:
                credential.expired_on = _parse_accredible_date(changes["expired_on"])
            except ValueError as exc:
                return (422, {"errors": [str(exc)]}, {})
        if "approve" in changes:
            credential.approve = bool(changes["approve"])
        if isinstance(changes.get("meta_data"), dict):
            credential.meta_data = dict(changes["meta_data"])
        return (200, {"credential": self._credential_json(credential)}, {})

    def _search_credentials(self, body: dict[str, Any]) -> Answer:
        query, page = _object(body.get("query")), _object(body.get("page"))
        found = sorted(self.credentials_by_id.values(), key=lambda c: c.id)
        if "group.id" in query:
            found = [c for c in found if c.group_id == int(query["group.id"])]
        if "recipient_email" in query:
            found = [c for c in found if c.recipient_email.casefold() == str(query["recipient_email"]).casefold()]
        start, size = int(page.get("from", 0)), int(page.get("size", self.page_size))
        return (
            200,
            {
                "credentials": [self._v2_credential_json(c) for c in found[start : start + size]],
                "meta": {"count": len(found), "from": start, "size": size},
            },
            {},
        )

    @staticmethod
    def _group_json(group: AccredibleGroup) -> dict[str, Any]:
        return {
            "id": group.id,
            "name": group.name,
            "course_name": group.course_name,
            "course_description": group.course_description,
            "course_link": None,
            "language": "en",
        }

    def _credential_json(self, c: AccredibleCredential) -> dict[str, Any]:
        group = self.groups.get(c.group_id)
        return {
            "id": c.id,
            "name": group.course_name if group else "",
            "approve": c.approve,
            "complete": True,
            "issued_on": c.issued_on.isoformat(),
            "expired_on": c.expired_on.isoformat() if c.expired_on else None,
            "group_id": c.group_id,
            "group_name": group.name if group else "",
            "url": f"https://www.credential.net/{c.id}",
            "recipient": {"name": c.recipient_name, "email": c.recipient_email, "id": None, "meta_data": None},
            "meta_data": c.meta_data or None,
        }

    def _v2_credential_json(self, c: AccredibleCredential) -> dict[str, Any]:
        # v2 search writes dates its own way ("Tue, 13 Aug 2022 12:11:05 UTC +00:00", "Sat, 23 Aug 2025").
        group = self.groups.get(c.group_id)
        issued = datetime(c.issued_on.year, c.issued_on.month, c.issued_on.day, tzinfo=UTC)
        return {
            "id": c.id,
            "name": group.course_name if group else "",
            "group": {
                "id": c.group_id,
                "name": group.name if group else "",
                "course_name": group.course_name if group else "",
            },
            "approve": c.approve,
            "issued_on": issued.strftime("%a, %d %b %Y %H:%M:%S UTC +00:00"),
            "expired_on": c.expired_on.strftime("%a, %d %b %Y") if c.expired_on else None,
            "recipient_email": c.recipient_email,
            "recipient_name": c.recipient_name,
            "meta_data": c.meta_data or None,
        }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parse_accredible_date(value: Any) -> date | None:
    if not value:
        return None
    text = str(value)
    for date_format in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            continue
    raise ValueError(f"Unreadable Accredible date {text!r}")


@contextmanager
def running(server: FakeIssuerServer) -> Iterator[FakeIssuerServer]:
    """Start a server for a fixture and stop it afterwards, failing if the fake itself broke."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert server.errors == [], "the fake server failed:\n" + "\n".join(server.errors)
