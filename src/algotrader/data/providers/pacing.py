"""Request pacing: sliding-window rate limits, the identical-request rule, in-flight limit.

Interactive Brokers allows at most 60 historical requests in any 10 minutes, no identical
request within 15 seconds and a bounded number in flight; Alpaca's free plan allows 200
requests a minute. A :class:`Pacer` enforces all three before each request by sleeping on an
injectable :class:`Clock` (tests use :class:`FakeClock`, so no test ever sleeps).

Example:
    >>> clock = FakeClock()
    >>> p = Pacer(max_requests=2, window_s=10.0, identical_s=0.0, clock=clock)
    >>> for _ in range(3):
    ...     with p.slot(("q",)):
    ...         pass
    >>> clock.now
    10.0
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Hashable, Iterator
from typing import Protocol

__all__ = ["Clock", "FakeClock", "Pacer", "SystemClock", "alpaca_pacer", "ib_pacer"]


class Clock(Protocol):
    """Monotonic seconds and a sleep."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep``."""
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that advances only when slept on (for tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the fake time."""
        if seconds > 0:
            self.sleeps.append(seconds)
            self.now += seconds


class Pacer:
    """Enforce ``max_requests`` per ``window_s``, ``identical_s`` between identical requests,
    and at most ``max_in_flight`` concurrent requests.

    Args:
        max_requests: requests allowed in any window of ``window_s`` seconds.
        window_s: the sliding window length.
        identical_s: minimum seconds between two requests with the same key.
        max_in_flight: concurrent requests allowed (threads block beyond it).
        clock: the clock to read and sleep on.
    """

    def __init__(
        self,
        max_requests: int,
        window_s: float,
        identical_s: float = 0.0,
        max_in_flight: int = 1,
        clock: Clock | None = None,
    ) -> None:
        if max_requests < 1 or window_s <= 0 or identical_s < 0 or max_in_flight < 1:
            raise ValueError("pacer limits must be positive")
        self.max_requests = max_requests
        self.window_s = window_s
        self.identical_s = identical_s
        self.clock = clock or SystemClock()
        self._sent: collections.deque[float] = collections.deque()
        self._last: dict[Hashable, float] = {}
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self.log: list[tuple[float, Hashable]] = []

    def _wait_needed(self, key: Hashable, now: float) -> float:
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        wait = 0.0
        if len(self._sent) >= self.max_requests:
            wait = self._sent[0] + self.window_s - now
        if key in self._last:
            wait = max(wait, self._last[key] + self.identical_s - now)
        return wait

    def acquire(self, key: Hashable) -> None:
        """Block until a request with ``key`` may be sent, then record it as sent."""
        while True:
            with self._lock:
                now = self.clock.monotonic()
                wait = self._wait_needed(key, now)
                if wait <= 0:
                    self._sent.append(now)
                    self._last[key] = now
                    self.log.append((now, key))
                    return
            self.clock.sleep(wait)

    @contextlib.contextmanager
    def slot(self, key: Hashable) -> Iterator[None]:
        """Hold an in-flight slot and a paced send for one request."""
        with self._in_flight:
            self.acquire(key)
            yield


def ib_pacer(max_in_flight: int, clock: Clock | None = None) -> Pacer:
    """IB's historical-data pacing: 60 requests / 10 min, 15 s between identical requests."""
    return Pacer(60, 600.0, 15.0, max_in_flight, clock)


def alpaca_pacer(max_in_flight: int, clock: Clock | None = None, per_minute: int = 200) -> Pacer:
    """Alpaca's free-plan limit: ``per_minute`` requests a minute."""
    return Pacer(per_minute, 60.0, 0.0, max_in_flight, clock)
