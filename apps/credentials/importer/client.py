"""The source: an openedx/credentials service's REST API, and the LMS's OAuth token endpoint. The only
module of the importer that talks HTTP (R10).

What this relies on (openedx/credentials, `credentials/apps/api/v2` and `credentials/apps/credentials/
rest_api/v1`; see the app's README):
- GET {source}/api/v2/credentials/?page=N with `Authorization: JWT <token>`: DRF's
  PageNumberPagination, 20 a page, `{"count", "next", "previous", "results"}`, `next` null on the last
  page and 404 past it. Without a username filter a token of a user with `view_usercredential` (staff,
  the LMS's credentials_service_user) lists every credential of the Site its host names; 401 without a
  valid token, 403 without the permission;
- each result: `username`, `credential` {`type`, `program_uuid` | `course_run_key` + `mode`}, `status`,
  `uuid`, `attributes` [{`name`, `value`}], `date_override` null | {`date`}, `created`, `modified`,
  `certificate_url`; datetimes as "%Y-%m-%dT%H:%M:%SZ";
- POST {source}/api/credentials/v1/bulk_learner_cert_status/ with a JSON list of {`username`,
  `course_runs`: [keys]} (staff or LEARNER_STATUS_WORKER) answers a list of {`lms_user_id`, `username`,
  `status`: [{`course_run`: {`key`}, ..., `grade`: null | {`letter_grade`, `percent_grade`,
  `verified`}}]}: a grade only where the learner holds a course certificate of the run;
- POST {lms}/oauth2/access_token, form grant_type=client_credentials, client_id, client_secret,
  token_type=jwt, answers {`access_token`, `token_type`: "JWT", `expires_in`}.

Every call is retried on 5xx, 429 (after its Retry-After), a timeout or a lost connection, with
exponential backoff; 401, 403, 404 and other 4xx fail at once with a message naming the URL and the
status. A 401 with a token bought from the LMS buys a new one once (a long import outlives a token).
Neither the token nor the client secret ever appears in an error or a log line.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

import requests
from django.utils.dateparse import parse_datetime

from apps.core.api import parse_retry_after

from .data import (
    COURSE_RUN,
    PROGRAM,
    CredentialsPage,
    LearnerRunsQuery,
    LmsApplication,
    SourceAttribute,
    SourceCredential,
    SourceGrade,
)
from .exceptions import ImportErrorCode, SourceError

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # seconds between two attempts, whatever the backoff's growth
MAX_RETRY_AFTER = 300.0  # a longer Retry-After is waited this long, then the call is tried again
_MAX_DETAIL = 200
_MAX_USERNAME = 150  # core.User.username
_MAX_ATTRIBUTE = 255  # UserCredentialAttribute.name and value
_MAX_LETTER = 32  # UserGrade.letter_grade
_STATUSES = ("awarded", "revoked")
# Stands in for the uuid of a row without a valid one, so its skip can still be recorded (and found again).
_UNREADABLE_ROW_NAMESPACE = uuid.UUID("6f0b7a51-8a55-4f1c-9d7e-1c2b35c0a2e1")

_SOURCE_HINTS = {
    401: "the source refused the token (expired, or not signed by the LMS this service trusts); give a fresh "
    "--jwt, or --lms-url, --client-id and --client-secret",
    403: "the token's user may not list every credential: use a staff or service user's token (the LMS's JWT "
    "for credentials_service_user)",
    404: "not found: is this the credentials service's root URL? (A page past the end is a 404 too: the source "
    "may hold fewer credentials than when the import started; run again with --restart.)",
}
_LMS_HINTS = {
    400: "the LMS refused the token request",
    401: "the LMS refused the client id and secret",
    403: "the LMS refused the client id and secret",
    404: "not found: is this the LMS's root URL?",
}


class SourceClient:
    """One source service, reached with a JWT given as is or bought from the LMS with an OAuth
    application's client credentials. One requests.Session; close it (or use `with`)."""

    def __init__(
        self,
        source_url: str,
        *,
        jwt: str | None = None,
        lms: LmsApplication | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (jwt is None) == (lms is None):
            raise ValueError("SourceClient needs either a jwt or an LMS application")
        self._base_url = source_url.rstrip("/")
        self._token = jwt
        self._lms = lms
        self._secrets = [secret for secret in (jwt, lms.client_secret if lms else None) if secret]
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json"})

    def __repr__(self) -> str:
        return f"SourceClient({self._base_url!r}, lms={self._lms!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # --- the source's API ------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Buy the JWT from the LMS now (when configured to), so a refused secret fails before any page."""
        self._auth_header()

    def get_credentials_page(self, number: int) -> CredentialsPage:
        """Page `number` (from 1) of every credential the source holds, in its own order."""
        url = f"{self._base_url}/api/v2/credentials/?{urlencode({'page': number})}"
        body = self._call("GET", url, hints=_SOURCE_HINTS)
        if not (
            isinstance(body, dict) and isinstance(body.get("results"), list) and isinstance(body.get("count"), int)
        ):
            raise SourceError(
                f"GET {url} answered something that is not a page of credentials (no count and results)",
                code=ImportErrorCode.UNEXPECTED,
            )
        credentials = tuple(_credential(raw) for raw in body["results"])
        has_next = bool(body.get("next"))
        if has_next and not credentials:
            raise SourceError(
                f"GET {url} answered an empty page that names a next one", code=ImportErrorCode.UNEXPECTED
            )
        return CredentialsPage(number=number, count=body["count"], has_next=has_next, credentials=credentials)

    def get_grades(self, queries: Sequence[LearnerRunsQuery]) -> list[SourceGrade]:
        """The learners' grades in the course runs asked about, where the source holds one (it holds
        one only where the learner has a course certificate of the run). One call for all of them."""
        url = f"{self._base_url}/api/credentials/v1/bulk_learner_cert_status/"
        payload = [{"username": query.username, "course_runs": list(query.course_run_keys)} for query in queries]
        body = self._call("POST", url, json=payload, hints=_SOURCE_HINTS)
        if not isinstance(body, list) or not all(
            isinstance(learner, dict) and isinstance(learner.get("status") or [], list) for learner in body
        ):
            raise SourceError(
                f"POST {url} answered something that is not a list of learners' statuses",
                code=ImportErrorCode.UNEXPECTED,
            )
        asked = {(query.username, key) for query in queries for key in query.course_run_keys}
        grades: dict[tuple[str, str], SourceGrade] = {}
        for learner in body:
            username = learner.get("username")
            for item in learner.get("status") or []:
                run = item.get("course_run") if isinstance(item, dict) else None
                key = run.get("key") if isinstance(run, dict) else None
                grade = item.get("grade") if isinstance(item, dict) else None
                # A learner holds one course certificate per mode: their grade in the run repeats.
                if not (isinstance(username, str) and isinstance(key, str)):
                    continue
                if grade and (username, key) in asked and (username, key) not in grades:
                    grades[(username, key)] = _grade(username=username, course_run_key=key, raw=grade)
        return list(grades.values())

    # --- HTTP ---------------------------------------------------------------------------------------

    def _auth_header(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._buy_token()
        return {"Authorization": f"JWT {self._token}"}

    def _buy_token(self) -> str:
        assert self._lms is not None
        url = f"{self._lms.lms_url.rstrip('/')}/oauth2/access_token"
        form = {
            "grant_type": "client_credentials",
            "client_id": self._lms.client_id,
            "client_secret": self._lms.client_secret,
            "token_type": "jwt",
        }
        body = self._call("POST", url, data=form, hints=_LMS_HINTS, authenticated=False)
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = str(body.get("token_type") or "jwt") if isinstance(body, dict) else ""
        if not isinstance(token, str) or not token or token_type.lower() != "jwt":
            raise SourceError(f"POST {url} answered no JWT access token", code=ImportErrorCode.UNEXPECTED)
        self._secrets.append(token)
        log.info("Bought a JWT from %s for client %s", url, self._lms.client_id)
        return token

    def _call(
        self,
        method: str,
        url: str,
        *,
        hints: Mapping[int, str],
        json: Any = None,
        data: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> Any:
        """Send one request, retrying what may pass later; return the 2xx answer's JSON body. Raises
        SourceError naming the method, the URL and the status."""
        where = f"{method} {url}"
        attempt, bought_again = 0, False
        while True:
            attempt += 1
            retry_after: float | None = None
            status: int | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=self._auth_header() if authenticated else None,
                    json=json,
                    data=data,
                    timeout=self._timeout,
                )
            except requests.Timeout:
                problem = f"no answer within {self._timeout:g}s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                problem = "the connection failed or closed without a (whole) answer"
            except requests.RequestException as exc:
                raise SourceError(f"{where} failed: {type(exc).__name__}", code=ImportErrorCode.UNEXPECTED) from None
            else:
                status = response.status_code
                if status == 401 and authenticated and self._lms is not None and not bought_again:
                    # The bought token expired during a long import: buy another, once.
                    bought_again, self._token = True, None
                    attempt -= 1
                    continue
                if status < 400:
                    return self._json(response, where=where)
                if status != 429 and status < 500:
                    raise self._refusal(response, where=where, hints=hints)
                problem = f"answered {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt > self._retries:
                raise SourceError(
                    f"{where} failed {attempt} times; the last time {problem}",
                    code=ImportErrorCode.UNAVAILABLE,
                    status=status,
                    retryable=True,
                )
            wait = retry_after if retry_after is not None else self._backoff * 2 ** (attempt - 1)
            wait = min(wait, MAX_RETRY_AFTER if retry_after is not None else MAX_BACKOFF)
            log.warning(
                "%s: %s; trying again in %.1fs (try %d of %d)", where, problem, wait, attempt + 1, self._retries + 1
            )
            self._sleep(wait)

    def _json(self, response: requests.Response, *, where: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SourceError(
                f"{where} answered {response.status_code} with a body that is not JSON", code=ImportErrorCode.UNEXPECTED
            ) from None

    def _refusal(self, response: requests.Response, *, where: str, hints: Mapping[int, str]) -> SourceError:
        status = response.status_code
        code = {
            401: ImportErrorCode.UNAUTHORIZED,
            403: ImportErrorCode.FORBIDDEN,
            404: ImportErrorCode.NOT_FOUND,
        }.get(status, ImportErrorCode.REFUSED)
        detail = _detail(response)
        message = f"{where} answered {status} {response.reason or ''}".rstrip()
        if detail:
            message += f" ({detail})"
        if hint := hints.get(status):
            message += f": {hint}"
        return SourceError(self._redact(message), code=code, status=status)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _detail(response: requests.Response) -> str:
    """What the answer says of itself: DRF's `detail`, or OAuth's `error` and `error_description`."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[name]) for name in ("detail", "error", "error_description") if body.get(name)]
    return "; ".join(parts)[:_MAX_DETAIL]


# --- reading the source's rows --------------------------------------------------------------------


def _datetime(value: Any) -> datetime.datetime | None:
    """A source datetime ("2024-05-11T00:00:00Z"; naive ones are UTC); None when absent. Raises
    ValueError when unreadable."""
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=datetime.UTC)


def _credential(raw: Any) -> SourceCredential:
    """One result of GET /api/v2/credentials/, read leniently: a row that cannot be imported comes back
    with its `problem`, so it is skipped and recorded, never fatal."""
    payload: dict[str, Any] = raw if isinstance(raw, dict) else {"row": raw}
    problems: list[str] = []
    try:
        credential_uuid = uuid.UUID(str(payload.get("uuid")))
    except ValueError:
        credential_uuid = uuid.uuid5(_UNREADABLE_ROW_NAMESPACE, json.dumps(payload, sort_keys=True, default=str))
        problems.append("no valid uuid")
    username = payload.get("username")
    if not isinstance(username, str) or not username.strip():
        problems.append("no username")
        username = ""
    elif len(username) > _MAX_USERNAME:
        problems.append(f"a username longer than {_MAX_USERNAME} characters")
    credential = payload.get("credential")
    if not isinstance(credential, dict):
        problems.append("no credential")
        credential = {}
    kind = credential.get("type") or (
        PROGRAM if "program_uuid" in credential else COURSE_RUN if "course_run_key" in credential else ""
    )
    course_run_key = mode = ""
    program_uuid = None
    if kind == PROGRAM:
        try:
            program_uuid = uuid.UUID(str(credential.get("program_uuid")))
        except ValueError:
            problems.append("a program credential without a valid program_uuid")
    elif kind == COURSE_RUN:
        raw_key, raw_mode = credential.get("course_run_key"), credential.get("mode")
        course_run_key, mode = str(raw_key or ""), str(raw_mode or "")
        if not (isinstance(raw_key, str) and raw_key and isinstance(raw_mode, str) and raw_mode):
            problems.append("a course-run credential without a course_run_key and a mode")
    else:
        problems.append(f"an unsupported credential type {kind!r}")
    status = payload.get("status")
    if status not in _STATUSES:
        problems.append(f"an unknown status {status!r}")
    attributes = _attributes(payload.get("attributes"), problems)
    override = payload.get("date_override")
    dates: dict[str, datetime.datetime | None] = {}
    for name, value in (
        ("created", payload.get("created")),
        ("modified", payload.get("modified")),
        ("date_override", override.get("date") if isinstance(override, dict) else override),
    ):
        try:
            dates[name] = _datetime(value)
        except ValueError:
            dates[name] = None
            problems.append(f"an unreadable {name}")
    created, modified, date_override = dates["created"], dates["modified"], dates["date_override"]
    if payload.get("created") is None or payload.get("modified") is None:
        problems.append("no created or modified date")
    return SourceCredential(
        uuid=credential_uuid,
        username=username,
        kind=kind if kind in (PROGRAM, COURSE_RUN) else "",
        course_run_key=course_run_key,
        mode=mode,
        program_uuid=program_uuid,
        status=str(status),
        attributes=attributes,
        date_override=date_override,
        visible_date=_visible_date(attributes),
        created=created,
        modified=modified,
        payload=payload,
        problem="; ".join(dict.fromkeys(problems)),
    )


def _attributes(raw: Any, problems: list[str]) -> tuple[SourceAttribute, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("attributes that are not a list")
        return ()
    attributes: dict[str, SourceAttribute] = {}
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not (isinstance(name, str) and name and isinstance(value, str)):
            problems.append("an attribute without a name and a value")
        elif len(name) > _MAX_ATTRIBUTE or len(value) > _MAX_ATTRIBUTE:
            problems.append(f"an attribute name or value longer than {_MAX_ATTRIBUTE} characters")
        else:
            attributes[name] = SourceAttribute(name=name, value=value)
    return tuple(attributes.values())


def _visible_date(attributes: tuple[SourceAttribute, ...]) -> datetime.datetime | None:
    # Older LMSes sent the date a certificate becomes visible as this attribute; an unreadable one is
    # still kept as an attribute, only not as the visible date.
    for attribute in attributes:
        if attribute.name == "visible_date":
            try:
                return _datetime(attribute.value)
            except ValueError:
                return None
    return None


def _grade(*, username: str, course_run_key: str, raw: Any) -> SourceGrade:
    problem = ""
    letter = raw.get("letter_grade") if isinstance(raw, dict) else None
    percent_value = raw.get("percent_grade") if isinstance(raw, dict) else None
    try:
        # str() first: a float's exact binary value (0.8200000000000001...) is not what was meant.
        percent = Decimal(str(percent_value))
        if not (percent.is_finite() and Decimal(0) <= percent <= Decimal(1)):
            raise InvalidOperation
    except InvalidOperation:
        percent = Decimal(0)
        problem = f"a percent grade {percent_value!r} outside 0..1"
    if isinstance(letter, str) and len(letter) > _MAX_LETTER:
        problem = f"a letter grade longer than {_MAX_LETTER} characters"
    verified = raw.get("verified", True) if isinstance(raw, dict) else True
    return SourceGrade(
        username=username,
        course_run_key=course_run_key,
        letter_grade=letter if isinstance(letter, str) else "",
        percent_grade=percent,
        verified=bool(verified),
        problem=problem,
    )


def source_url_of(url: str) -> str:
    """The source's root URL as the import's checkpoint names it: scheme and host (and path) without
    a trailing slash. Raises ValueError for a URL that is not http(s) or carries a user or password
    (the import records its URL; secrets go in --jwt or --client-secret)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("the URL must not carry a user or a password")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r} must be the service's root URL, without a query")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
