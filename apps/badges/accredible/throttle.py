"""A client-side rate limit for Accredible: a thread-safe token bucket shared by every client of one
API key in this process.

Accredible allows 2,000 requests every 5 minutes, counted in 30-second periods, and answers 429
beyond that ("Rate Limiting" in https://accrediblecredentialapi.docs.apiary.io, whose source is
github.com/accredible/api-documentation). A bucket of BURST tokens refilled at
(2,000 - BURST) per 300 s never lets more than 2,000 requests through in any 5-minute window. The
bucket is per process: with several worker processes on one key the server's 429 (which also pauses
the bucket) is the backstop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

LIMIT_REQUESTS = 2000
LIMIT_PERIOD_SECONDS = 300.0
BURST = 100


class TokenBucket:
    """`capacity` requests at once, then `refill_per_second`. Waiting callers queue in arrival order:
    each reservation takes a token even when that drives the balance below zero."""

    def __init__(
        self,
        *,
        capacity: float,
        refill_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("A token bucket needs a capacity of at least 1 and a positive refill rate")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(capacity)
        # When the balance was last brought up to date; in the future while paused by a 429.
        self._updated_at = clock()

    def reserve(self, *, max_wait: float | None = None) -> float | None:
        """Take one token and return how long to sleep before using it (0.0 if none), or return None
        and take nothing if that would be longer than `max_wait`."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1
            wait = max(0.0, self._updated_at - now) + max(0.0, -self._tokens) / self.refill_per_second
            if max_wait is not None and wait > max_wait:
                self._tokens += 1
                return None
            return wait

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` from now (the service answered 429 with Retry-After)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens = min(self._tokens, 0.0)
            self._updated_at = max(self._updated_at, now + seconds)

    def _refill(self, now: float) -> None:
        if now > self._updated_at:
            elapsed = now - self._updated_at
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)
            self._updated_at = now


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for_token(api_token: str) -> TokenBucket:
    """The process-wide bucket of one API key (kept under a hash of the key, not the key)."""
    key = hashlib.sha256(api_token.encode()).hexdigest()
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(capacity=BURST, refill_per_second=(LIMIT_REQUESTS - BURST) / LIMIT_PERIOD_SECONDS)
            _buckets[key] = bucket
        return bucket
