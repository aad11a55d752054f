"""A TCP proxy a test controls, to make a real server (PostgreSQL, Redis) fail the way networks and
restarts make it fail, for a client in another process that only knows the proxy's port.

- `refuse_new()`: the port stops accepting (connection refused); open connections keep working.
- `cut()`: refuse new connections and close every open one (the server went away).
- `cut_on(pattern)`: arm a cut for the moment a client sends bytes containing `pattern` (a statement
  naming a table, `COMMIT`), either before those bytes reach the server or right after, with the
  server's reply lost (a commit whose outcome the client never learns).
- `restore()`: accept connections again.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class _Trigger:
    pattern: bytes
    forward: bool


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.tripped = threading.Event()
        self.accepted = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._trigger: _Trigger | None = None
        self._want_listening = True
        self._listening = threading.Event()
        self._closed = threading.Event()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._listening.set()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    # --- controls -------------------------------------------------------------------------------

    def refuse_new(self) -> None:
        self._set_listening(False)

    def cut(self) -> None:
        self._set_listening(False)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _shut(client)
            _shut(upstream)

    def cut_on(self, pattern: bytes, *, forward: bool = False) -> None:
        """Cut everything when a client next sends `pattern`: before it reaches the server, or with
        `forward` after the server received it, the reply never reaching the client."""
        self.tripped.clear()
        with self._lock:
            self._trigger = _Trigger(pattern=pattern, forward=forward)

    def restore(self) -> None:
        self._set_listening(True)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self.cut()
        self._closed.set()
        self._thread.join(timeout=5)

    # --- machinery ------------------------------------------------------------------------------

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.05)
        return sock

    def _set_listening(self, listening: bool) -> None:
        # Only the accept thread opens and closes the listening socket; wait until it did.
        self._want_listening = listening
        deadline = time.monotonic() + 5
        while self._listening.is_set() != listening:
            if time.monotonic() > deadline:
                raise TimeoutError("the proxy did not change its listening state")
            time.sleep(0.01)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            if self._want_listening and self._listener is None:
                self._listener = self._listen(self.port)
                self._listening.set()
            elif not self._want_listening and self._listener is not None:
                self._listener.close()
                self._listener = None
                self._listening.clear()
            if self._listener is None:
                time.sleep(0.01)
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:  # the accept timed out (TimeoutError is an OSError)
                continue
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        if self._listener is not None:
            self._listener.close()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                trigger = self._take_trigger(data) if from_client else None
                if trigger is None:
                    target.sendall(data)
                    continue
                if trigger.forward:
                    # The server gets the statement; the client is gone before the reply comes back
                    # (the other pump then fails to deliver it and closes the pair).
                    target.sendall(data)
                    _shut(source)
                    self.refuse_new()
                    time.sleep(0.2)
                self.cut()
                self.tripped.set()
                return
        except OSError:
            pass
        finally:
            self._forget(source, target)

    def _take_trigger(self, data: bytes) -> _Trigger | None:
        with self._lock:
            trigger = self._trigger
            if trigger is None or trigger.pattern not in data:
                return None
            self._trigger = None
            return trigger

    def _forget(self, a: socket.socket, b: socket.socket) -> None:
        _shut(a)
        _shut(b)
        with self._lock:
            self._pairs = [p for p in self._pairs if a not in p and b not in p]


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
