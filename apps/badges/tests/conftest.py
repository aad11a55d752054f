"""Fixtures of the badges app's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.badges.tests.issuer_servers import FakeAccredibleServer, FakeCredlyServer, running


@pytest.fixture
def credly_server(settings: Any) -> Iterator[FakeCredlyServer]:
    """A fake Credly on a local port, started for the test, with CREDLY_API_BASE_URL (and the
    sandbox URL, under /sandbox) pointing at it."""
    server = FakeCredlyServer()
    with running(server):
        settings.CREDLY_API_BASE_URL = f"{server.url}/v1/"
        settings.CREDLY_SANDBOX_API_BASE_URL = f"{server.url}/sandbox/v1/"
        yield server


@pytest.fixture
def accredible_server(settings: Any) -> Iterator[FakeAccredibleServer]:
    """A fake Accredible on a local port, started for the test, with ACCREDIBLE_API_BASE_URL (and the
    sandbox URL, under /sandbox) pointing at it."""
    server = FakeAccredibleServer()
    with running(server):
        settings.ACCREDIBLE_API_BASE_URL = f"{server.url}/"
        settings.ACCREDIBLE_SANDBOX_API_BASE_URL = f"{server.url}/sandbox/"
        yield server
