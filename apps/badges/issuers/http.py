"""The transport both issuer clients share: one request, transport failures turned into IssuerErrors
(a timeout or a lost connection is retryable), and a 2xx body read as JSON. What each service's answers
mean (URLs, bodies, error messages) stays in its own client module."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlsplit

import requests

from .base import IssuerError, IssuerErrorCode, error_for_status, redact

logger = logging.getLogger(__name__)


class SessionClient:
    """What both clients share around their requests.Session: closing it, also as a context manager."""

    _session: requests.Session

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    service: str,
    timeout: float,
    params: Mapping[str, str] | None = None,
    json: Mapping[str, Any] | None = None,
) -> tuple[requests.Response, str]:
    """Send one request; return the response and the label the logs and errors use for it
    ("METHOD /path": no query, which can hold a learner's email). Raises IssuerError when no answer came."""
    where = f"{method} {urlsplit(url).path}"
    started = time.monotonic()
    try:
        response = session.request(method, url, params=params, json=json, timeout=timeout)
    except requests.Timeout:
        logger.info("%s %s: no answer within %ss", service, where, timeout)
        raise IssuerError(f"{service} did not answer {where} within {timeout:g}s", IssuerErrorCode.TIMEOUT) from None
    except requests.ConnectionError as exc:
        logger.info("%s %s: connection failed (%s)", service, where, type(exc).__name__)
        raise IssuerError(
            f"Could not reach {service} for {where}: the connection failed or closed without an answer",
            IssuerErrorCode.UNAVAILABLE,
        ) from None
    except requests.RequestException as exc:
        raise IssuerError(
            f"{service} request {where} failed: {type(exc).__name__}", IssuerErrorCode.UNEXPECTED
        ) from None
    logger.debug("%s %s -> %s in %.0f ms", service, where, response.status_code, (time.monotonic() - started) * 1000)
    return response, where


def json_body(response: requests.Response, *, service: str, where: str, token: str) -> Any:
    """A 2xx answer's JSON body ({} when empty); raises IssuerError (unexpected) for anything else."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise IssuerError(
            redact(f"{service} answered {where} with a body that is not JSON", token), IssuerErrorCode.UNEXPECTED
        ) from None


def answer_error(
    response: requests.Response, *, service: str, where: str, token: str, detail: str, retry_after: float | None
) -> IssuerError:
    """The IssuerError for a non-2xx answer, with the service's message and never the token."""
    error = error_for_status(
        response.status_code,
        redact(f"{service} answered {response.status_code} to {where}: {detail}", token),
        retry_after=retry_after,
    )
    logger.info("%s %s -> %s (%s)", service, where, response.status_code, error.code.value)
    return error
