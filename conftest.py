"""Fixtures shared by every app's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

# The real-bus fixtures (Redis streams, the Kafka mock cluster, consumer processes), for every app's
# end-to-end tests.
pytest_plugins = ["apps.eventbus.tests.bus_fixtures"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_jwt() -> Callable[..., str]:
    """Sign a token as the LMS does (HS256 with the issuer's secret) for the given claims."""

    def make(username: str, *, secret: str | None = None, **claims: Any) -> str:
        issuer = settings.JWT_AUTH["JWT_ISSUERS"][0]
        now = int(time.time())
        payload = {
            "iss": issuer["ISSUER"],
            "aud": issuer["AUDIENCE"],
            "iat": now,
            "exp": now + 300,
            "preferred_username": username,
            "email": f"{username}@example.com",
            "administrator": False,
            **claims,
        }
        return jwt.encode(payload, secret or issuer["SECRET_KEY"], algorithm="HS256")

    return make


@pytest.fixture
def jwt_client(api_client: APIClient, make_jwt: Callable[..., str]) -> Callable[..., APIClient]:
    """An API client authenticated by an LMS JWT for `username`."""

    def client(username: str, **claims: Any) -> APIClient:
        api_client.credentials(HTTP_AUTHORIZATION=f"JWT {make_jwt(username, **claims)}")
        return api_client

    return client


@pytest.fixture
def concurrently() -> Callable[..., list[Any]]:
    """Run `work(arg)` for every arg at the same moment, each in its own thread and database
    connection (a barrier releases them together); return the results in order. Any thread's error
    fails the test. For races that need real row locks, so use it with transaction=True on PostgreSQL."""

    def run(work: Callable[[Any], Any], args: list[Any]) -> list[Any]:
        barrier = threading.Barrier(len(args))
        results: list[Any] = [None] * len(args)
        errors: list[BaseException] = []

        def target(index: int, arg: Any) -> None:
            try:
                barrier.wait()
                results[index] = work(arg)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=target, args=(i, arg)) for i, arg in enumerate(args)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        return results

    return run
