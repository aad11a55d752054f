"""Accredible's credential API: the only module that knows its URLs, authentication and payloads (R10).

Accredible's words map onto the interface: a group is a template, a credential is a badge, and
revoking is expiring (`expired_on` set to today). What this relies on, from Accredible's API
reference (https://accrediblecredentialapi.docs.apiary.io; source github.com/accredible/api-documentation,
apiary.apib and openapi.json):
- hosts https://api.accredible.com/, sandbox https://sandbox.api.accredible.com/ (settings
  ACCREDIBLE_API_BASE_URL, ACCREDIBLE_SANDBOX_API_BASE_URL), paths under /v1/ and /v2/;
- `Authorization: Token token=API_KEY`; a key is scoped to the issuer (or one department);
- GET v1/issuer/details; POST v1/issuer/groups/search (page, page_size; answer groups + meta.next_page);
  GET v1/issuer/groups/{id};
- POST v1/credentials {"credential": {group_id, recipient {name, email}, issued_on "YYYY-MM-DD",
  approve}}; a group refuses a second credential for the same recipient by default;
- GET and PUT v1/credentials/{id} ({"credential": {...}}); POST v2/credentials/search
  {"query": {"group.id", "recipient_email"}, "page": {"from", "size"}};
- 2,000 requests per 5 minutes, then 429 (see throttle.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from django.conf import settings

from apps.badges.accredible.throttle import TokenBucket, bucket_for_token
from apps.badges.issuers import http
from apps.badges.issuers.base import (
    BACKEND_ACCREDIBLE,
    BadgeRequest,
    BadgeState,
    ExternalBadge,
    ExternalTemplate,
    IssuerCredentials,
    IssuerError,
    IssuerErrorCode,
    IssuerEvent,
    pick_badge,
    redact,
)
from apps.core.api import parse_retry_after

logger = logging.getLogger(__name__)

_PAGE_SIZE = 50
_MAX_PAGES = 10_000
_MAX_MESSAGE = 500
# A 429 without Retry-After still holds every client of the key this long.
_DEFAULT_429_PAUSE = 30.0
# Dates as Accredible writes them: v1 "2014-08-14"; v2 search "Tue, 13 Aug 2022 12:11:05 UTC +00:00",
# "Sat, 23 Aug 2025"; the deprecated request format "14/08/2014".
_DATE_FORMATS = ("%a, %d %b %Y %H:%M:%S UTC %z", "%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y", "%d/%m/%Y")


class AccredibleClient(http.SessionClient):
    """One Accredible issuer (or department), reached with its API key. One requests.Session each;
    every request first takes a token from the key's bucket, sleeping up to `max_throttle_wait`
    seconds for it, or raises IssuerError(rate_limited) rather than wait longer."""

    def __init__(
        self,
        credentials: IssuerCredentials,
        *,
        timeout: float | None = None,
        bucket: TokenBucket | None = None,
        max_throttle_wait: float = 30.0,
    ) -> None:
        if credentials.backend != BACKEND_ACCREDIBLE:
            raise ValueError(
                f"AccredibleClient needs credentials for {BACKEND_ACCREDIBLE!r}, not {credentials.backend!r}"
            )
        base_url = settings.ACCREDIBLE_SANDBOX_API_BASE_URL if credentials.sandbox else settings.ACCREDIBLE_API_BASE_URL
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._organization_id = credentials.organization_id
        self._token = credentials.api_token
        self._timeout = float(settings.BADGE_ISSUER_HTTP_TIMEOUT if timeout is None else timeout)
        self.bucket = bucket if bucket is not None else bucket_for_token(credentials.api_token)
        self._max_throttle_wait = max_throttle_wait
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "Authorization": f"Token token={self._token}"})

    def __repr__(self) -> str:
        return f"AccredibleClient(organization_id={self._organization_id!r}, base_url={self._base_url!r})"

    # --- the Issuer interface -----------------------------------------------------------------

    def check_token(self) -> None:
        self._call("GET", "v1/issuer/details")

    def list_templates(self) -> Iterator[ExternalTemplate]:
        page: int | None = 1
        for _ in range(_MAX_PAGES):
            if page is None:
                return
            body = self._call("POST", "v1/issuer/groups/search", json={"page": page, "page_size": _PAGE_SIZE})
            groups = body.get("groups") if isinstance(body, dict) else None
            if not isinstance(groups, list):
                raise self._unexpected("Accredible's group search has no groups array")
            for group in groups:
                yield _template(_as_object(group, "group"))
            meta = body.get("meta")
            next_page = meta.get("next_page") if isinstance(meta, dict) else None
            if not next_page:
                return
            if not isinstance(next_page, int) or next_page <= page:
                raise self._unexpected("Accredible's group search pages do not move forward")
            page = next_page
        raise self._unexpected(f"Accredible's group search has more than {_MAX_PAGES} pages")

    def get_template(self, template_id: str) -> ExternalTemplate:
        body = self._call("GET", f"v1/issuer/groups/{quote(template_id, safe='')}")
        return _template(_member(body, "group"))

    def issue_badge(self, request: BadgeRequest) -> ExternalBadge:
        # Accredible takes one name. A one-word name comes as both first and last (Credly needs a last
        # name; issuing.services.split_name), and is sent once here.
        words = (
            [request.first_name] if request.first_name == request.last_name else [request.first_name, request.last_name]
        )
        name = " ".join(words).strip() or request.recipient_email
        payload = {
            "credential": {
                "group_id": _group_id(request.template_id),
                "recipient": {"name": name, "email": request.recipient_email},
                "issued_on": request.issued_at.date().isoformat(),
                "approve": True,  # publish now; Accredible's emails follow the group's settings
            }
        }
        try:
            body = self._call("POST", "v1/credentials", json=payload)
        except IssuerError as exc:
            if exc.code is not IssuerErrorCode.INVALID:
                raise
            # A group refuses a second credential for the same recipient; if a live one is there (our
            # earlier answer was lost), that is our badge. The refusal's wording is not relied on.
            existing = self.find_badge(template_id=request.template_id, recipient_email=request.recipient_email)
            if existing is None or not existing.is_live:
                raise
            logger.info(
                "Accredible already holds credential %s of group %s; using it", existing.id, request.template_id
            )
            return existing
        return _badge(_member(body, "credential"))

    def find_badge(self, *, template_id: str, recipient_email: str) -> ExternalBadge | None:
        wanted_email = recipient_email.casefold()
        matches: list[ExternalBadge] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            body = self._call(
                "POST",
                "v2/credentials/search",
                json={
                    "query": {"group.id": _group_id(template_id), "recipient_email": recipient_email},
                    "page": {"from": offset, "size": _PAGE_SIZE},
                },
            )
            found = body.get("credentials") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise self._unexpected("Accredible's credential search has no credentials array")
            for raw in found:
                badge = _badge(_as_object(raw, "credential"))
                if badge.template_id == template_id and badge.recipient_email.casefold() == wanted_email:
                    matches.append(badge)
            offset += len(found)
            meta = body.get("meta")
            total = meta.get("count") if isinstance(meta, dict) else None
            if len(found) < _PAGE_SIZE or not isinstance(total, int) or offset >= total:
                return pick_badge(matches)
        raise self._unexpected(f"Accredible's credential search has more than {_MAX_PAGES} pages")

    def get_badge(self, badge_id: str) -> ExternalBadge:
        body = self._call("GET", f"v1/credentials/{quote(badge_id, safe='')}")
        return _badge(_member(body, "credential"))

    def revoke_badge(self, badge_id: str, *, reason: str, notify: bool) -> ExternalBadge:
        # Accredible has no revocation: a credential expired today is no longer valid. It has no
        # reason field or revocation email either, so the reason goes into the credential's meta_data
        # and `notify` cannot be honoured.
        payload = {
            "credential": {
                "expired_on": datetime.now(UTC).date().isoformat(),
                "meta_data": {"revocation_reason": reason},
            }
        }
        body = self._call("PUT", f"v1/credentials/{quote(badge_id, safe='')}", json=payload)
        return _badge(_member(body, "credential"))

    def get_event(self, event_id: str) -> IssuerEvent:
        # Accredible's webhooks are not followed here: nothing sends us an Accredible event id.
        raise IssuerError(
            f"Accredible events are not supported; event {event_id} was not looked up", IssuerErrorCode.UNSUPPORTED
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Mapping[str, Any] | None = None) -> Any:
        """Send one request after the throttle allows it; return its JSON body if 2xx, else raise the
        IssuerError for the answer."""
        url = urljoin(self._base_url, path)
        where = f"{method} {urlsplit(url).path}"
        wait = self.bucket.reserve(max_wait=self._max_throttle_wait)
        if wait is None:
            raise IssuerError(
                f"Accredible's rate limit for this key is used up; {where} not sent",
                IssuerErrorCode.RATE_LIMITED,
                retry_after=self._max_throttle_wait,
            )
        if wait > 0:
            logger.debug("Accredible %s: throttled for %.2fs", where, wait)
            time.sleep(wait)
        response, where = http.send(self._session, method, url, service="Accredible", timeout=self._timeout, json=json)
        if 200 <= response.status_code < 300:
            return http.json_body(response, service="Accredible", where=where, token=self._token)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429:
            # Every client of this key holds back, not just the one that was told.
            self.bucket.pause(_DEFAULT_429_PAUSE if retry_after is None else retry_after)
        raise http.answer_error(
            response,
            service="Accredible",
            where=where,
            token=self._token,
            detail=_error_detail(response),
            retry_after=retry_after,
        )

    def _unexpected(self, message: str) -> IssuerError:
        return IssuerError(redact(message, self._token), IssuerErrorCode.UNEXPECTED)


def _group_id(template_id: str) -> int | str:
    # Groups have numeric ids; Accredible also takes a group name where an id is expected.
    return int(template_id) if template_id.isdigit() else template_id


def _error_detail(response: requests.Response) -> str:
    """Accredible's message for an error answer ({"errors": [...]}, {"errors": {field: [...]}},
    {"error": ...} or {"message": ...}), or the status reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            detail = "; ".join(str(error) for error in errors)
        elif isinstance(errors, dict):
            detail = "; ".join(
                f"{field} {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
                for field, messages in errors.items()
            )
        elif isinstance(errors, str):
            detail = errors
        for key in ("error", "message"):
            if not detail and isinstance(body.get(key), str):
                detail = body[key]
    return (detail or response.reason or "no message")[:_MAX_MESSAGE]


def _member(body: Any, key: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    return _as_object(value, key)


def _as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IssuerError(f"Accredible's answer has no {what} object", IssuerErrorCode.UNEXPECTED)
    return value


def _template(group: Mapping[str, Any]) -> ExternalTemplate:
    if group.get("id") in (None, ""):
        raise IssuerError("Accredible's group has no id", IssuerErrorCode.UNEXPECTED)
    return ExternalTemplate(
        id=str(group["id"]),
        # course_name is what recipients see; name is the issuer's own label.
        name=str(group.get("course_name") or group.get("name") or ""),
        description=str(group.get("course_description") or ""),
        image_url=None,  # a group's image lives on its design, one more request per group
        is_active=True,  # Accredible lists no archived groups
    )


def _badge(credential: Mapping[str, Any]) -> ExternalBadge:
    if credential.get("id") in (None, ""):
        raise IssuerError("Accredible's credential has no id", IssuerErrorCode.UNEXPECTED)
    group = credential.get("group")
    group_id = credential.get("group_id", group.get("id") if isinstance(group, dict) else None)
    recipient = credential.get("recipient")
    email = recipient.get("email") if isinstance(recipient, dict) else credential.get("recipient_email")
    if group_id in (None, "") or not email:
        raise IssuerError(
            f"Accredible's credential {credential['id']} names no group or recipient", IssuerErrorCode.UNEXPECTED
        )
    issued_on = _parse_date(credential.get("issued_on"), "issued_on")
    return ExternalBadge(
        id=str(credential["id"]),
        template_id=str(group_id),
        recipient_email=str(email),
        state=_state(credential),
        issued_at=datetime(issued_on.year, issued_on.month, issued_on.day, tzinfo=UTC) if issued_on else None,
    )


def _state(credential: Mapping[str, Any]) -> BadgeState:
    expired_on = _parse_date(credential.get("expired_on"), "expired_on")
    if expired_on is not None and expired_on <= datetime.now(UTC).date():
        return "revoked"
    # An unpublished credential (approve false) has not reached its recipient yet.
    return "accepted" if credential.get("approve", True) else "pending"


def _parse_date(value: Any, what: str) -> date | None:
    if not value:
        return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    for date_format in _DATE_FORMATS:
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            continue
    raise IssuerError(f"Accredible's {what} {text!r} is not a date this client reads", IssuerErrorCode.UNEXPECTED)
