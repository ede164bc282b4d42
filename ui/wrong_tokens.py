"""A limit on wrong tokens per client address, so a token can't be guessed at speed.

A generated token (``secrets.token_urlsafe``) can't be guessed at any speed, but
``FLOWYARD_TOKEN`` may be set by hand to something a dictionary holds. Each wrong
bearer token or wrong token posted to ``/login`` counts against the address it came
from; past the limit within the window, that address's token attempts are refused
with ``429`` — a right token too, or the limit would only slow the guessing down —
until its oldest failure leaves the window. Sessions already logged in, webhooks and
requests without a token are not affected, so a guesser cannot log anyone out.

The counts are in this process's memory (like ended sessions): a restart forgets
them, and each ``serve`` process counts on its own. Behind a reverse proxy every
client has the proxy's address (``serve`` trusts no proxy headers, docs/deploy.md),
so one guesser shuts out token clients for a minute: rate-limit at the proxy too.
"""

from __future__ import annotations

import threading
import time
from collections import deque

#: Wrong tokens from one address within ``WINDOW`` seconds before its attempts are refused.
LIMIT = 20
WINDOW = 60.0
#: Addresses remembered at most: a spray from many addresses can't grow memory without bound.
MAX_ADDRESSES = 10_000


class WrongTokens:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self._limit = limit
        self._window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try a token again; 0 when it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None:
                return 0
            self._forget_old(failures, now)
            if not failures:
                del self._failures[address]
                return 0
            if len(failures) < self._limit:
                return 0
            return max(1, int(failures[0] + self._window - now + 0.999))

    def record(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._sweep(now)
                failures = self._failures[address] = deque()
            self._forget_old(failures, now)
            failures.append(now)
            # Keep only what the limit needs: a flood from one address stays small.
            while len(failures) > self._limit:
                failures.popleft()

    def _forget_old(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self._window:
            failures.popleft()

    def _sweep(self, now: float) -> None:
        for address in list(self._failures):
            self._forget_old(self._failures[address], now)
            if not self._failures[address]:
                del self._failures[address]
        # Still full (a spray from many addresses within the window): drop the oldest.
        while len(self._failures) >= MAX_ADDRESSES:
            del self._failures[next(iter(self._failures))]
