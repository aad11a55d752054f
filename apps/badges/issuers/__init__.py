"""Badge issuing services behind one interface: `get_issuer(credentials)` returns the client for the
credentials' backend (Credly or Accredible). See base.py for the values and errors that cross it."""

from __future__ import annotations

from apps.badges.issuers.base import (
    BACKEND_ACCREDIBLE,
    BACKEND_CREDLY,
    BACKENDS,
    BADGE_STATES,
    LIVE_BADGE_STATES,
    BadgeRequest,
    BadgeState,
    ExternalBadge,
    ExternalTemplate,
    Issuer,
    IssuerCredentials,
    IssuerError,
    IssuerErrorCode,
    IssuerEvent,
)

__all__ = [
    "BACKENDS",
    "BACKEND_ACCREDIBLE",
    "BACKEND_CREDLY",
    "BADGE_STATES",
    "LIVE_BADGE_STATES",
    "BadgeRequest",
    "BadgeState",
    "ExternalBadge",
    "ExternalTemplate",
    "Issuer",
    "IssuerCredentials",
    "IssuerError",
    "IssuerErrorCode",
    "IssuerEvent",
    "get_issuer",
]


def get_issuer(credentials: IssuerCredentials) -> Issuer:
    """A new client for the credentials' backend, reading base URLs and the timeout from settings.
    Raises ValueError for a backend that is not one of BACKENDS."""
    # Imported here: each client module imports base.py, which would otherwise import them back.
    if credentials.backend == BACKEND_CREDLY:
        from apps.badges.credly.client import CredlyClient

        return CredlyClient(credentials)
    if credentials.backend == BACKEND_ACCREDIBLE:
        from apps.badges.accredible.client import AccredibleClient

        return AccredibleClient(credentials)
    raise ValueError(f"Unknown badge issuing backend {credentials.backend!r}; expected one of {BACKENDS}")
