"""Fixtures of the badges app's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.badges.tests.issuer_servers import FakeAccredibleServer, FakeCredlyServer, running
from apps.eventbus.consumer import process_messages
from apps.eventbus.data import BatchResult, IncomingMessage
from apps.eventbus.models import OutboxEvent


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


@pytest.fixture
def consume_outbox() -> Callable[[], BatchResult]:
    """`consume_outbox()`: deliver every event in the outbox, in order, to this service's own consumer,
    as the relay and a consumer of the topic would (decoding, registered handlers, the duplicate
    check): what a consumer of our own BADGE_AWARDED/REVOKED sees. Delivering again is a replay."""

    def consume() -> BatchResult:
        return process_messages(
            [
                IncomingMessage(
                    topic=row.topic, message_id=f"{row.pk}-0", headers=row.metadata, payload=bytes(row.payload)
                )
                for row in OutboxEvent.objects.order_by("pk")
            ]
        )

    return consume
