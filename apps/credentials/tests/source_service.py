"""A fake openedx/credentials service for the import tests: real HTTP on a local port, with state and
faults. It also plays the LMS's OAuth token endpoint.

Served, shaped as openedx/credentials answers (see apps/credentials/importer/client.py):
- GET /api/v2/credentials/?page=N: DRF's PageNumberPagination, 20 a page, `{"count", "next",
  "previous", "results"}` with absolute links (`previous` of page 2 has no page parameter), 404
  `{"detail": "Invalid page."}` past the end; each result in the serializer's field order, with
  `certificate_url` on this server's host;
- POST /api/credentials/v1/bulk_learner_cert_status/: a list of {username | lms_user_id, course_runs}
  answered with each learner's course-run credentials in those runs and their grade (or null);
- POST /oauth2/access_token: client_credentials with token_type=jwt for the known clients.
Both APIs need `Authorization: JWT <token>` with a token the server knows (`tokens`, or one it
issued, which expires after `issued_token_uses` requests when set): 401 otherwise; a token in
`forbidden_tokens` is a learner's (403).

Faults: `fail_page(n, status=500, times=None, retry_after=None)` answers an error for page n (every
time, or `times` times); `drop_page(n, times=None)` closes the connection without answering;
`fail_grades(status=500, times=None)` answers an error for bulk_learner_cert_status; `heal()` ends
them. Changes while an import reads: `after_page(n, change)` calls `change()` once, after page n's
answer is made and before it is sent (so the next page is read from the changed rows). Every request
is recorded (`requests`); `page_requests()` lists the pages asked for.
"""

from __future__ import annotations

import datetime
import json
import math
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from apps.core.tests.local_server import LocalHTTPServer

PAGE_SIZE = 20
Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (None: none), extra headers


def source_time(when: datetime.datetime) -> str:
    """A datetime as the source's REST_FRAMEWORK DATETIME_FORMAT writes it."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def course_run_credential(
    *,
    username: str,
    course_run_key: str,
    mode: str = "verified",
    status: str = "awarded",
    credential_uuid: uuid.UUID | None = None,
    attributes: Iterable[tuple[str, str]] = (),
    date_override: datetime.datetime | None = None,
    created: datetime.datetime,
    modified: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A course-run credential row as the source stores it (certificate_url is added when served)."""
    return _row(
        username=username,
        credential={"type": "course-run", "course_run_key": course_run_key, "mode": mode},
        status=status,
        credential_uuid=credential_uuid,
        attributes=attributes,
        date_override=date_override,
        created=created,
        modified=modified,
    )


def program_credential(
    *,
    username: str,
    program_uuid: uuid.UUID,
    status: str = "awarded",
    credential_uuid: uuid.UUID | None = None,
    attributes: Iterable[tuple[str, str]] = (),
    created: datetime.datetime,
    modified: datetime.datetime | None = None,
    credential_id: int = 1,
) -> dict[str, Any]:
    """A program credential row as the source stores it."""
    return _row(
        username=username,
        credential={"type": "program", "credential_id": credential_id, "program_uuid": str(program_uuid)},
        status=status,
        credential_uuid=credential_uuid,
        attributes=attributes,
        date_override=None,
        created=created,
        modified=modified,
    )


def _row(
    *,
    username: str,
    credential: dict[str, Any],
    status: str,
    credential_uuid: uuid.UUID | None,
    attributes: Iterable[tuple[str, str]],
    date_override: datetime.datetime | None,
    created: datetime.datetime,
    modified: datetime.datetime | None,
) -> dict[str, Any]:
    return {
        "username": username,
        "credential": credential,
        "status": status,
        "uuid": str(credential_uuid or uuid.uuid4()),
        "attributes": [{"name": name, "value": value} for name, value in attributes],
        "date_override": None if date_override is None else {"date": source_time(date_override)},
        "created": source_time(created),
        "modified": source_time(modified or created),
    }


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    status: int | None = None  # None: the connection was dropped

    @property
    def page(self) -> int | None:
        values = self.query.get("page")
        return int(values[0]) if values and values[0].isdigit() else None


@dataclass
class _PageFault:
    kind: str  # "status" or "drop"
    status: int
    remaining: int | None  # None: every time
    retry_after: str | None


class FakeCredentialsService(LocalHTTPServer):
    """The source service. `credentials` holds its rows (dicts as `course_run_credential` and
    `program_credential` make them), `grades` its grades by (username, course run key)."""

    thread_name = "source-service"

    def __init__(
        self, *, tokens: Iterable[str] = ("source-service-user-jwt",), oauth_clients: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.credentials: list[dict[str, Any]] = []
        self.grades: dict[tuple[str, str], dict[str, Any]] = {}
        self.lms_user_ids: dict[str, int] = {}
        self.tokens = set(tokens)
        self.forbidden_tokens: set[str] = set()
        self.oauth_clients = dict(oauth_clients or {})
        self.issued_tokens: list[str] = []
        # An issued token is refused (expired) after this many requests; None: never.
        self.issued_token_uses: int | None = None
        self._uses: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: dict[int, _PageFault] = {}
        self._grades_fault: _PageFault | None = None
        self._changes: dict[int, Callable[[], None]] = {}
        self._lock = threading.RLock()

    # --- faults and the request log ---------------------------------------------------------------

    def fail_page(
        self, page: int, *, status: int = 500, times: int | None = None, retry_after: str | None = None
    ) -> None:
        with self._lock:
            self._faults[page] = _PageFault("status", status, times, retry_after)

    def drop_page(self, page: int, *, times: int | None = None) -> None:
        with self._lock:
            self._faults[page] = _PageFault("drop", 0, times, None)

    def fail_grades(self, *, status: int = 500, times: int | None = None) -> None:
        with self._lock:
            self._grades_fault = _PageFault("status", status, times, None)

    def after_page(self, page: int, change: Callable[[], None]) -> None:
        """Call `change` (which may edit `credentials`) once, right after page `page`'s answer is made."""
        with self._lock:
            self._changes[page] = change

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()
            self._grades_fault = None

    def page_requests(self) -> list[int]:
        """The pages asked for, in order, every attempt included."""
        with self._lock:
            return [r.page or 1 for r in self.requests if r.path == "/api/v2/credentials/"]

    def calls(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _take_fault(self, page: int) -> _PageFault | None:
        with self._lock:
            fault = self._faults.get(page)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[page]
            return fault

    def _take_grades_fault(self) -> _PageFault | None:
        with self._lock:
            fault = self._grades_fault
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._grades_fault = None
            return fault

    # --- serving ----------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        record = RecordedRequest(
            method=handler.command,
            path=split.path,
            query=parse_qs(split.query),
            authorization=handler.headers.get("Authorization"),
        )
        with self._lock:
            self.requests.append(record)
        if record.method == "POST" and record.path == "/oauth2/access_token":
            self._answer(handler, record, self._access_token(parse_qs(raw.decode())))
            return
        refusal = self._authenticate(record)
        if refusal is not None:
            self._answer(handler, record, refusal)
            return
        if record.method == "GET" and record.path == "/api/v2/credentials/":
            fault = self._take_fault(record.page or 1)
            if fault is not None and fault.kind == "drop":
                self._drop(handler)
                return
            if fault is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._answer(handler, record, (fault.status, {"detail": "Server Error (500)"}, headers))
                return
            answer = self._page(record)
            with self._lock:
                change = self._changes.pop(record.page or 1, None) if answer[0] == 200 else None
            if change is not None:
                change()
            self._answer(handler, record, answer)
            return
        if record.method == "POST" and record.path == "/api/credentials/v1/bulk_learner_cert_status/":
            if (fault := self._take_grades_fault()) is not None:
                self._answer(handler, record, (fault.status, {"detail": "Server Error (500)"}, {}))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            self._answer(handler, record, self._bulk_learner_cert_status(body))
            return
        self._answer(handler, record, (404, {"detail": "Not found."}, {}))

    def _authenticate(self, record: RecordedRequest) -> Answer | None:
        scheme, _, token = (record.authorization or "").partition(" ")
        challenge = {"WWW-Authenticate": 'JWT realm="api"'}
        if scheme != "JWT" or not token:
            return 401, {"detail": "Authentication credentials were not provided."}, challenge
        with self._lock:
            if token in self.issued_tokens:
                self._uses[token] = self._uses.get(token, 0) + 1
                if self.issued_token_uses is not None and self._uses[token] > self.issued_token_uses:
                    self.issued_tokens.remove(token)
            known = token in self.tokens or token in self.issued_tokens
            forbidden = token in self.forbidden_tokens
        if not known:
            return 401, {"detail": "Error decoding token."}, challenge
        if forbidden:
            return 403, {"detail": "You do not have permission to perform this action."}, {}
        return None

    def _page(self, record: RecordedRequest) -> Answer:
        values = record.query.get("page", ["1"])
        with self._lock:
            rows = list(self.credentials)
        pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
        if not values[0].isdigit() or not 1 <= int(values[0]) <= pages:
            return 404, {"detail": "Invalid page."}, {}
        number = int(values[0])
        base = f"{self.url}/api/v2/credentials/"
        previous = None if number == 1 else base if number == 2 else f"{base}?page={number - 1}"
        results = [
            {**row, "certificate_url": f"{self.url}/credentials/{str(row['uuid']).replace('-', '')}/"}
            for row in rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        ]
        body = {
            "count": len(rows),
            "next": f"{base}?page={number + 1}" if number < pages else None,
            "previous": previous,
            "results": results,
        }
        return 200, body, {}

    def _bulk_learner_cert_status(self, body: Any) -> Answer:
        if not isinstance(body, list):
            return 400, None, {}
        answers = []
        with self._lock:
            rows = list(self.credentials)
            user_ids = dict(self.lms_user_ids)
        for query in body:
            if not isinstance(query, dict) or ("username" in query) == ("lms_user_id" in query):
                return 400, None, {}
            username = query.get("username") or next(
                (name for name, user_id in user_ids.items() if user_id == query["lms_user_id"]), None
            )
            runs = set(query.get("course_runs") or [])
            status = [
                {
                    "course_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, row["credential"]["course_run_key"])),
                    "course_run": {
                        "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, row["credential"]["course_run_key"])),
                        "key": row["credential"]["course_run_key"],
                    },
                    "status": row["status"],
                    "type": row["credential"]["mode"],
                    "certificate_available_date": None,
                    "grade": self.grades.get((row["username"], row["credential"]["course_run_key"])),
                }
                for row in rows
                if row["username"] == username
                and row["credential"].get("type") == "course-run"
                and row["credential"].get("course_run_key") in runs
            ]
            answers.append({"lms_user_id": user_ids.get(username or ""), "username": username, "status": status})
        return 200, answers, {}

    def _access_token(self, form: dict[str, list[str]]) -> Answer:
        def field(name: str) -> str:
            return (form.get(name) or [""])[0]

        if field("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        client_id = field("client_id")
        if client_id not in self.oauth_clients or self.oauth_clients[client_id] != field("client_secret"):
            return 401, {"error": "invalid_client"}, {}
        if field("token_type").lower() != "jwt":
            return 200, {"access_token": secrets.token_hex(15), "token_type": "Bearer", "expires_in": 36000}, {}
        token = f"eyJ.lms-issued.{secrets.token_hex(16)}"
        with self._lock:
            self.issued_tokens.append(token)
        return 200, {"access_token": token, "token_type": "JWT", "expires_in": 36000, "scope": "read write"}, {}

    def _answer(self, handler: BaseHTTPRequestHandler, record: RecordedRequest, answer: Answer) -> None:
        status, body, headers = answer
        record.status = status
        self.send_json(handler, status, body, headers)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
