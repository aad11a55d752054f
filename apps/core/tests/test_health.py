from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

HEALTH = "/health/"
CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung Redis, or a firewall that
    lets the handshake through. Yields its redis:// URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def _get_health(client: Client) -> tuple[Any, float]:
    started = time.perf_counter()
    response = client.get(HEALTH)
    return response, time.perf_counter() - started


def test_all_dependencies_up_gives_200(client: Client) -> None:
    # when
    response, _ = _get_health(client)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert all(isinstance(check["ms"], float) for check in body["checks"].values())
    assert "no-cache" in response["Cache-Control"]


@override_settings(REDIS_URL=CLOSED_PORT, CELERY_BROKER_URL=CLOSED_PORT)
def test_redis_down_gives_503_naming_the_failing_checks_fast(client: Client) -> None:
    # when
    response, elapsed = _get_health(client)
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    # A refused connection is known at once: no retry sleeps.
    assert elapsed < 1.5


@override_settings(REDIS_URL=CLOSED_PORT, CELERY_BROKER_URL=CLOSED_PORT)
def test_error_texts_are_hidden_from_anonymous_callers(client: Client) -> None:
    # when
    response, _ = _get_health(client)
    # then
    checks = response.json()["checks"]
    assert all("error" not in check for check in checks.values())
    assert "127.0.0.1" not in response.content.decode()


@override_settings(REDIS_URL=CLOSED_PORT, CELERY_BROKER_URL=CLOSED_PORT)
def test_error_texts_are_shown_to_staff(admin_client: Client) -> None:
    # when
    response, _ = _get_health(admin_client)
    # then
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["error"].startswith("ConnectionError")
    assert "127.0.0.1:1" in checks["redis"]["error"]
    assert "127.0.0.1:1" in checks["broker"]["error"]
    assert "error" not in checks["database"]


def test_hung_redis_still_answers_within_a_few_seconds(client: Client, silent_server: str) -> None:
    # given
    with override_settings(REDIS_URL=silent_server, CELERY_BROKER_URL=silent_server):
        # when
        response, elapsed = _get_health(client)
    # then
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["redis"]["ok"], checks["broker"]["ok"]) == (False, False)
    # Two checks, each bounded by its two-second socket timeout.
    assert elapsed < 6


def test_only_get_is_allowed(client: Client) -> None:
    # when
    response = client.post(HEALTH)
    # then
    assert response.status_code == 405
