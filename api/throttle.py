"""Sign-in throttling: password guessing is slowed down per account and per client address.
Each failure is remembered for a window; an account or an address with too many failures in
the window is refused (429, ``Retry-After``) until its oldest failure leaves the window. A
successful sign-in forgets the account's failures; successes are never counted."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: at most this many accounts and addresses are remembered; the oldest are forgotten first
MAX_KEYS = 100_000


class LoginThrottle:
    def __init__(
        self,
        per_account: int,
        per_address: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[str, str]]:
        return [("account", username.strip().casefold()), ("address", address)]

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this account may try again from this address; 0 when it may now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(username, address):
                failures = self._recent(key, now)
                if failures is not None and len(failures) >= self.limits[key[0]]:
                    oldest = failures[len(failures) - self.limits[key[0]]]
                    wait = max(wait, oldest + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(username, address):
                failures = self._recent(key, now)
                if failures is None:
                    if len(self._failures) >= MAX_KEYS:
                        del self._failures[next(iter(self._failures))]
                    failures = self._failures[key] = deque()
                failures.append(now)
                while len(failures) > self.limits[key[0]]:
                    failures.popleft()

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, "")[0], None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        """The key's failures still inside the window (older ones are dropped)."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures
