"""Slowing down repeated failed sign-ins, so keys cannot be guessed at speed.

Per client address, the first `free` failures within `window` seconds cost nothing (a
mistyped key); after that each failure locks the address out for a delay that doubles
from `base` seconds up to `longest`. While locked out, a sign-in is answered 429 with
`Retry-After` without the key being checked at all. A success clears the address.

The counts live in each server process's memory (with `--workers N`, each worker counts
its own), bounded to `remembered` addresses; keys are 256-bit random, so the point is to
keep logs and CPU quiet and to make a leaked-key guess list useless, not to stand alone.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    first: float
    locked_until: float


class SignInThrottle:
    def __init__(self, free: int = 5, window: float = 15 * 60, base: float = 1.0,
                 longest: float = 5 * 60, remembered: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.window, self.base, self.longest = free, window, base, longest
        self._remembered = remembered
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds the client must wait before its next sign-in is checked (0: none)."""
        with self._lock:
            record = self._records.get(client)
            return 0.0 if record is None else max(0.0, record.locked_until - self._clock())

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            record = self._records.pop(client, None)
            if record is None or now - record.first > self.window:
                record = _Record(0, now, 0.0)
            record.failures += 1
            beyond = record.failures - self.free
            if beyond > 0:
                record.locked_until = now + min(self.longest, self.base * 2 ** (beyond - 1))
            self._records[client] = record
            while len(self._records) > self._remembered:
                self._records.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)
