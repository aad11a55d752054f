"""The backend-neutral face of a badge issuing service (Credly, Accredible).

Services and tasks hold an `Issuer` and the frozen values below; only `credly/client.py` and
`accredible/client.py` know a service's URLs and payloads (STYLE R10). Every failure crossing this
boundary is an `IssuerError` that says whether retrying can help; retry policy is the caller's (R11).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

BACKEND_CREDLY = "credly"
BACKEND_ACCREDIBLE = "accredible"
BACKENDS = (BACKEND_CREDLY, BACKEND_ACCREDIBLE)

BadgeState = Literal["pending", "accepted", "rejected", "revoked"]
BADGE_STATES: tuple[BadgeState, ...] = ("pending", "accepted", "rejected", "revoked")
# A badge in one of these states blocks issuing the same template to the same recipient again.
LIVE_BADGE_STATES: frozenset[BadgeState] = frozenset({"pending", "accepted"})


@dataclass(frozen=True)
class IssuerCredentials:
    """Which service, which organization on it, and the organization's API token (never in repr)."""

    backend: str  # one of BACKENDS
    organization_id: str  # Credly: the organization's uuid; Accredible: informational (the key scopes it)
    api_token: str = field(repr=False)
    sandbox: bool = False


@dataclass(frozen=True)
class ExternalTemplate:
    """A badge template as the service shows it (Credly badge template, Accredible group)."""

    id: str
    name: str
    description: str
    image_url: str | None
    is_active: bool  # badges can be issued from it now


@dataclass(frozen=True)
class BadgeRequest:
    """What issuing one badge needs. `issued_at` must be timezone-aware; it is kept in UTC."""

    template_id: str
    recipient_email: str
    first_name: str
    last_name: str
    issued_at: datetime
    notify: bool = True  # whether the service emails the learner (Accredible has no such switch)

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise ValueError("BadgeRequest.issued_at must be timezone-aware")
        object.__setattr__(self, "issued_at", self.issued_at.astimezone(UTC))


@dataclass(frozen=True)
class ExternalBadge:
    """An issued badge as the service shows it (Credly badge, Accredible credential)."""

    id: str
    template_id: str
    recipient_email: str
    state: BadgeState
    issued_at: datetime | None  # aware, UTC

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_BADGE_STATES


@dataclass(frozen=True)
class IssuerEvent:
    """Something that happened on the service, as the service itself records it (a Credly webhook names
    only the event's id). `badge_id` is set for badge events, `template_id` for template events."""

    id: str
    event_type: str  # the service's own type, e.g. Credly's "badge.state.changed"
    badge_id: str | None
    template_id: str | None


class IssuerErrorCode(enum.StrEnum):
    UNAUTHORIZED = "unauthorized"  # the token is refused (401/403)
    NOT_FOUND = "not_found"  # the template, badge or organization does not exist (404)
    INVALID = "invalid"  # the service refused the request as it is (400/409/422)
    RATE_LIMITED = "rate_limited"  # 429, or our own throttle would wait too long
    UNAVAILABLE = "unavailable"  # 5xx, connection refused or closed without an answer
    TIMEOUT = "timeout"  # no answer within BADGE_ISSUER_HTTP_TIMEOUT
    UNEXPECTED = "unexpected"  # an answer this client cannot read
    UNSUPPORTED = "unsupported"  # this service (or this client) does not offer the operation


_RETRYABLE_CODES = frozenset({IssuerErrorCode.RATE_LIMITED, IssuerErrorCode.UNAVAILABLE, IssuerErrorCode.TIMEOUT})


class IssuerError(Exception):
    """A call to an issuing service failed. `retryable` says whether the same call may succeed later;
    `retry_after` is the service's Retry-After in seconds, when it gave one. Messages never carry the
    API token."""

    def __init__(
        self,
        message: str,
        code: IssuerErrorCode,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        # (message, code) are the args, so the default pickling (Celery results, retries) rebuilds it.
        super().__init__(message, code)
        self.message = message
        self.code = code
        self.retryable = code in _RETRYABLE_CODES if retryable is None else retryable
        self.retry_after = retry_after
        self.status = status

    @property
    def permanent(self) -> bool:
        return not self.retryable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"IssuerError({self.message!r}, code={self.code.value}, retryable={self.retryable}, status={self.status})"
        )


def error_for_status(status: int, message: str, *, retry_after: float | None = None) -> IssuerError:
    """The IssuerError for an HTTP error status: 401/403 unauthorized, 404 not found, 429 rate
    limited, 5xx unavailable (all retryable but the first two), other 4xx invalid."""
    if status in (401, 403):
        code = IssuerErrorCode.UNAUTHORIZED
    elif status == 404:
        code = IssuerErrorCode.NOT_FOUND
    elif status == 408:
        code = IssuerErrorCode.TIMEOUT
    elif status == 429:
        code = IssuerErrorCode.RATE_LIMITED
    elif status >= 500:
        code = IssuerErrorCode.UNAVAILABLE
    elif 400 <= status < 500:
        code = IssuerErrorCode.INVALID
    else:
        code = IssuerErrorCode.UNEXPECTED
    return IssuerError(message, code, retry_after=retry_after, status=status)


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` masked, for anything that leaves a client."""
    return text.replace(secret, "[redacted]") if secret else text


def pick_badge(badges: list[ExternalBadge]) -> ExternalBadge | None:
    """The badge a recipient holds for one template: the newest live one, else the newest of any state."""
    if not badges:
        return None
    epoch = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(badges, key=lambda badge: badge.issued_at or epoch, reverse=True)
    return next((badge for badge in ordered if badge.is_live), ordered[0])


class Issuer(Protocol):
    """One organization's account on an issuing service. Every method raises IssuerError on failure."""

    def check_token(self) -> None:
        """Return if the service accepts the token; raise IssuerError(unauthorized) if it refuses it."""

    def list_templates(self) -> Iterator[ExternalTemplate]:
        """Every template of the organization, active or not, fetching page after page as iterated."""

    def get_template(self, template_id: str) -> ExternalTemplate:
        """One template; IssuerError(not_found) if there is none."""

    def issue_badge(self, request: BadgeRequest) -> ExternalBadge:
        """Issue one badge. Idempotent: if the recipient already holds a live badge of this template
        (a retry after a lost answer), that badge is returned and no second one is created."""

    def find_badge(self, *, template_id: str, recipient_email: str) -> ExternalBadge | None:
        """The recipient's badge of this template (the newest live one, else the newest revoked or
        rejected one), or None if the service has none."""

    def get_badge(self, badge_id: str) -> ExternalBadge:
        """One badge as the service has it now; IssuerError(not_found) if there is none."""

    def revoke_badge(self, badge_id: str, *, reason: str, notify: bool) -> ExternalBadge:
        """Revoke a badge with a reason. Idempotent: revoking a revoked badge returns it."""

    def get_event(self, event_id: str) -> IssuerEvent:
        """One event of the organization, as the service recorded it (what a webhook names);
        IssuerError(not_found) if the organization has no such event, (unsupported) if the service's
        webhooks are not followed here."""

    def close(self) -> None:
        """Release the client's HTTP connections."""
