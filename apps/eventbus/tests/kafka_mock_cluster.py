"""Hold a librdkafka mock cluster open for other processes.

Run as ``python -m apps.eventbus.tests.kafka_mock_cluster PORTFILE``.

librdkafka starts the mock cluster inside a client created with ``test.mock.num.brokers`` and logs its
bootstrap address while that client is constructed; the port is random and no setting fixes it. We
write ``127.0.0.1:PORT`` to PORTFILE (atomically, so a reader never sees half of it) and keep the
client polling until SIGTERM. The cluster lives in this process's memory only.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType

from confluent_kafka import Producer

BOOTSTRAP = re.compile(r"bootstrap\.servers=(\S+)")


class _BootstrapCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.bootstrap = ""

    def emit(self, record: logging.LogRecord) -> None:
        match = BOOTSTRAP.search(record.getMessage())
        if match and not self.bootstrap:
            self.bootstrap = match.group(1).rstrip(",.;")


def main(portfile: Path) -> int:
    catcher = _BootstrapCatcher()
    logger = logging.getLogger("kafka-mock-cluster")
    logger.addHandler(catcher)
    logger.setLevel(logging.DEBUG)
    holder = Producer({"test.mock.num.brokers": 1, "debug": "mock"}, logger=logger)
    for _ in range(50):
        if catcher.bootstrap:
            break
        holder.poll(0.1)
    if not catcher.bootstrap:
        print("the mock cluster did not log its bootstrap address", file=sys.stderr)
        return 1
    # The debug log is only needed to learn the port; stop it from flooding the logger.
    logger.removeHandler(catcher)
    logger.setLevel(logging.WARNING)
    tmp = portfile.with_suffix(".tmp")
    tmp.write_text(catcher.bootstrap)
    os.replace(tmp, portfile)

    stop = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop:
        holder.poll(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
