"""Fixed-window rate limits kept only in this process's memory.

The public form is limited per client address without storing the address anywhere: the
address is replaced by a keyed hash with a random key made at start-up, and windows are
forgotten once they are over. Several API processes each keep their own counts, so the
effective limit behind a load balancer is the per-process limit times the processes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable

from takedown.errors import RateLimited


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(
        self, limit: int, window: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._monotonic = monotonic
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._counts: dict[bytes, int] = {}
        self._current_slot = -1

    def _key(self, key: str) -> bytes:
        return hmac.new(self._salt, key.encode(), hashlib.sha256).digest()

    def hit(self, key: str) -> None:
        """Count one hit, or raise RateLimited with the seconds until the window ends."""
        now = self._monotonic()
        slot = math.floor(now / self.window)
        hashed = self._key(key)
        with self._lock:
            if slot != self._current_slot:
                # A new window: every earlier count is over, so forget them all.
                self._counts.clear()
                self._current_slot = slot
            count = self._counts.get(hashed, 0)
            if count >= self.limit:
                retry = max(1, math.ceil((slot + 1) * self.window - now))
                raise RateLimited(f"too many requests; try again in {retry} s", retry_after=retry)
            self._counts[hashed] = count + 1
