"""The embedded default: `run_embedded_redis` serves Redis on a unix socket that Celery and redis-py use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from kombu import Connection

ROOT = Path(__file__).resolve().parents[3]


def test_run_embedded_redis_serves_the_socket_that_clients_use(tmp_path: Path) -> None:
    # given: settings with no REDIS_URL, so the embedded server is the default
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="credentials_service.settings.base", CREDENTIALS_VAR_DIR=str(tmp_path))
    socket = tmp_path / "run" / "redis.sock"
    # when
    server = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded_redis"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # then: redis-py and kombu (Celery's broker URL form) both reach it
        client = redis.Redis(unix_socket_path=str(socket))
        assert client.ping() is True
        client.set("embedded-check", "yes")
        assert client.get("embedded-check") == b"yes"
        client.close()
        with Connection(f"redis+socket://{socket}") as conn:
            conn.ensure_connection(max_retries=1)
            assert conn.connected
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert server.returncode in (0, -15)
    assert not socket.exists(), "the server removes its socket on a clean stop"
