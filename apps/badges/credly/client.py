"""Credly's web service API: the only module that knows its URLs, authentication and payloads (R10).

What this relies on, from Credly's developer docs (https://www.credly.com/docs/web_service_api,
/docs/badge_templates, /docs/issued_badges):
- base https://api.credly.com/v1/, sandbox https://sandbox-api.credly.com/v1/ (settings
  CREDLY_API_BASE_URL, CREDLY_SANDBOX_API_BASE_URL); JSON in and out;
- HTTP Basic with the organization's authorization token as the username and an empty password;
- answers wrapped in {"data": ..., "metadata": ...}; lists paged by metadata.next_page_url;
- list filters as `filter=key::value|key::value`;
- POST organizations/{org}/badges with recipient_email, issued_to_first_name, issued_to_last_name,
  badge_template_id, issued_at ("2014-04-01 09:41:00 -0500") and suppress_badge_notification_email;
  by default a template refuses a duplicate (same template, same recipient email) with a 422;
- PUT organizations/{org}/badges/{id}/revoke with reason and suppress_revoke_notification_email;
- errors as {"data": {"message": ...}}; badge states pending, accepted, rejected, revoked; template
  states active, archived, draft;
- webhooks (https://www.credly.com/docs/webhooks) POST {id, organization_id, event_type, occurred_at},
  where `id` is the EVENT's id; GET organizations/{org}/events/{id} answers {"data": event}, the event
  holding the affected object: `badge` for badge.* events, `badge_template` for badge_template.* ones
  (as openedx/credentials' CredlyAPIClient.fetch_event_information and CredlyWebhook read it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from django.conf import settings

from apps.badges.issuers import http
from apps.badges.issuers.base import (
    BACKEND_CREDLY,
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

# Credly's badge states; a replaced badge no longer counts for its recipient.
_BADGE_STATES: dict[str, BadgeState] = {
    "pending": "pending",
    "accepted": "accepted",
    "rejected": "rejected",
    "revoked": "revoked",
    "replaced": "revoked",
}
_MAX_PAGES = 10_000  # a guard against a next_page_url that never ends
_MAX_MESSAGE = 500


class CredlyClient(http.SessionClient):
    """One Credly organization, reached with its authorization token. One requests.Session each."""

    def __init__(self, credentials: IssuerCredentials, *, timeout: float | None = None) -> None:
        if credentials.backend != BACKEND_CREDLY:
            raise ValueError(f"CredlyClient needs credentials for {BACKEND_CREDLY!r}, not {credentials.backend!r}")
        base_url = settings.CREDLY_SANDBOX_API_BASE_URL if credentials.sandbox else settings.CREDLY_API_BASE_URL
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._organization_id = credentials.organization_id
        self._org_path = f"organizations/{quote(credentials.organization_id, safe='')}/"
        self._token = credentials.api_token
        self._timeout = float(settings.BADGE_ISSUER_HTTP_TIMEOUT if timeout is None else timeout)
        self._session = requests.Session()
        self._session.auth = (credentials.api_token, "")
        self._session.headers.update({"Accept": "application/json"})

    def __repr__(self) -> str:
        return f"CredlyClient(organization_id={self._organization_id!r}, base_url={self._base_url!r})"

    # --- the Issuer interface -----------------------------------------------------------------

    def check_token(self) -> None:
        self._call("GET", self._org_path.rstrip("/"))

    def list_templates(self) -> Iterator[ExternalTemplate]:
        for raw in self._pages(f"{self._org_path}badge_templates"):
            yield _template(raw)

    def get_template(self, template_id: str) -> ExternalTemplate:
        body = self._call("GET", f"{self._org_path}badge_templates/{quote(template_id, safe='')}")
        return _template(_data_object(body))

    def issue_badge(self, request: BadgeRequest) -> ExternalBadge:
        payload = {
            "recipient_email": request.recipient_email,
            "issued_to_first_name": request.first_name,
            "issued_to_last_name": request.last_name,
            "badge_template_id": request.template_id,
            "issued_at": request.issued_at.strftime("%Y-%m-%d %H:%M:%S %z"),
            "suppress_badge_notification_email": not request.notify,
        }
        try:
            body = self._call("POST", f"{self._org_path}badges", json=payload)
        except IssuerError as exc:
            if exc.status != 422:
                raise
            # Credly refuses a duplicate with a 422 whose wording we do not depend on: if the recipient
            # holds a live badge of this template (our earlier answer was lost), that is our badge.
            existing = self.find_badge(template_id=request.template_id, recipient_email=request.recipient_email)
            if existing is None or not existing.is_live:
                raise
            logger.info("Credly already holds badge %s of template %s; using it", existing.id, request.template_id)
            return existing
        return _badge(_data_object(body))

    def find_badge(self, *, template_id: str, recipient_email: str) -> ExternalBadge | None:
        params = {"filter": f"recipient_email::{recipient_email}|badge_template_id::{template_id}"}
        wanted_email = recipient_email.casefold()
        # The filter narrows the list; checking again here keeps a looser filter from misleading us.
        matches = [
            badge
            for badge in (_badge(raw) for raw in self._pages(f"{self._org_path}badges", params=params))
            if badge.template_id == template_id and badge.recipient_email.casefold() == wanted_email
        ]
        return pick_badge(matches)

    def get_badge(self, badge_id: str) -> ExternalBadge:
        body = self._call("GET", f"{self._org_path}badges/{quote(badge_id, safe='')}")
        return _badge(_data_object(body))

    def revoke_badge(self, badge_id: str, *, reason: str, notify: bool) -> ExternalBadge:
        payload = {"reason": reason, "suppress_revoke_notification_email": not notify}
        try:
            body = self._call("PUT", f"{self._org_path}badges/{quote(badge_id, safe='')}/revoke", json=payload)
        except IssuerError as exc:
            if exc.status != 422:
                raise
            # Revoking twice (a retry after a lost answer) is refused; the badge being revoked is success.
            badge = self.get_badge(badge_id)
            if badge.state != "revoked":
                raise
            return badge
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and data.get("id"):
            return _badge(data)
        return self.get_badge(badge_id)

    def get_event(self, event_id: str) -> IssuerEvent:
        body = self._call("GET", f"{self._org_path}events/{quote(event_id, safe='')}")
        event = _event(_data_object(body))
        if event.id.casefold() != event_id.casefold():
            raise self._unexpected(f"Credly answered event {event_id} with another event, {event.id}")
        return event

    # --- HTTP ---------------------------------------------------------------------------------

    def _pages(self, path: str, *, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following metadata.next_page_url on Credly's own host only, so
        the token is never sent anywhere else."""
        url: str | None = urljoin(self._base_url, path)
        query: Mapping[str, str] | None = params
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            seen.add(url)
            body = self._call("GET", url, params=query)
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise self._unexpected(f"Credly's list at {urlsplit(url).path} has no data array")
            for item in items:
                if not isinstance(item, dict):
                    raise self._unexpected(f"Credly's list at {urlsplit(url).path} holds a non-object")
                yield item
            metadata = body.get("metadata")
            next_url = metadata.get("next_page_url") if isinstance(metadata, dict) else None
            if not next_url:
                return
            url = urljoin(self._base_url, str(next_url))
            query = None  # next_page_url carries the query
            if not _same_origin(url, self._base_url):
                raise self._unexpected("Credly's next_page_url points outside its API; not following it")
            if url in seen:
                raise self._unexpected("Credly's next_page_url repeats a page already read")
        raise self._unexpected(f"Credly's list has more than {_MAX_PAGES} pages")

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; return its JSON body if 2xx, else raise the IssuerError for the answer."""
        url = urljoin(self._base_url, path_or_url)
        response, where = http.send(
            self._session, method, url, service="Credly", timeout=self._timeout, params=params, json=json
        )
        if 200 <= response.status_code < 300:
            return http.json_body(response, service="Credly", where=where, token=self._token)
        raise http.answer_error(
            response,
            service="Credly",
            where=where,
            token=self._token,
            detail=_error_detail(response),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _unexpected(self, message: str) -> IssuerError:
        return IssuerError(redact(message, self._token), IssuerErrorCode.UNEXPECTED)


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _error_detail(response: requests.Response) -> str:
    """Credly's message for an error answer ({"data": {"message": ...}}), or the status reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail: str | None = None
    if isinstance(body, dict):
        data = body.get("data")
        source = data if isinstance(data, dict) else body
        message = source.get("message")
        errors = source.get("errors")
        if isinstance(message, str) and message:
            detail = message
        elif isinstance(errors, list) and errors:
            detail = "; ".join(
                str(error.get("message", error)) if isinstance(error, dict) else str(error) for error in errors
            )
    if not detail:
        detail = response.reason or "no message"
    return detail[:_MAX_MESSAGE]


def _data_object(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise IssuerError("Credly's answer has no data object", IssuerErrorCode.UNEXPECTED)
    return data


def _required_str(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if value is None or value == "":
        raise IssuerError(f"Credly's {what} has no {key}", IssuerErrorCode.UNEXPECTED)
    return str(value)


def _template(raw: Mapping[str, Any]) -> ExternalTemplate:
    image = raw.get("image")
    image_url = raw.get("image_url") or (image.get("url") if isinstance(image, dict) else None)
    return ExternalTemplate(
        id=_required_str(raw, "id", "badge template"),
        name=str(raw.get("name") or ""),
        description=str(raw.get("description") or ""),
        image_url=str(image_url) if image_url else None,
        is_active=raw.get("state") == "active",
    )


def _badge(raw: Mapping[str, Any]) -> ExternalBadge:
    template = raw.get("badge_template")
    template_id = template.get("id") if isinstance(template, dict) else raw.get("badge_template_id")
    if not template_id:
        raise IssuerError("Credly's badge names no badge template", IssuerErrorCode.UNEXPECTED)
    raw_state = str(raw.get("state") or "")
    state = _BADGE_STATES.get(raw_state)
    if state is None:
        logger.warning("Credly badge %s has unknown state %r; taken as pending", raw.get("id"), raw_state)
        state = "pending"
    return ExternalBadge(
        id=_required_str(raw, "id", "badge"),
        template_id=str(template_id),
        recipient_email=_required_str(raw, "recipient_email", "badge"),
        state=state,
        issued_at=_parse_datetime(raw.get("issued_at")),
    )


def _event(raw: Mapping[str, Any]) -> IssuerEvent:
    """A Credly event: a badge.* event must hold its badge, a badge_template.* one its template; other
    types (pending_badge_notification.sent …) are read with whatever object they hold."""
    event_id = _required_str(raw, "id", "event")
    event_type = _required_str(raw, "event_type", "event")
    badge, template = raw.get("badge"), raw.get("badge_template")
    badge_id = _required_str(badge, "id", "event's badge") if isinstance(badge, dict) else None
    template_id = _required_str(template, "id", "event's badge template") if isinstance(template, dict) else None
    if event_type.startswith("badge_template.") and template_id is None:
        raise IssuerError(f"Credly's {event_type} event {event_id} holds no badge template", IssuerErrorCode.UNEXPECTED)
    if event_type.startswith("badge.") and badge_id is None:
        raise IssuerError(f"Credly's {event_type} event {event_id} holds no badge", IssuerErrorCode.UNEXPECTED)
    return IssuerEvent(id=event_id, event_type=event_type, badge_id=badge_id, template_id=template_id)


def _parse_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    for parse in (datetime.fromisoformat, lambda s: datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")):
        try:
            parsed = parse(text)
        except ValueError:
            continue
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    logger.warning("Credly date %r is unreadable; ignored", text)
    return None
