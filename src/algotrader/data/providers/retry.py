"""Retries with exponential backoff and full jitter, on transient provider errors only.

Example:
    >>> from algotrader.data.providers.pacing import FakeClock
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise TransientProviderError("busy")
    ...     return "ok"
    >>> import logging; logging.disable(logging.INFO)  # keep the example's output clean
    >>> clock = FakeClock()
    >>> with_retries(flaky, RetryPolicy(max_attempts=5, base_s=1.0), clock=clock, seed=0)
    'ok'
    >>> logging.disable(logging.NOTSET)
    >>> len(calls), len(clock.sleeps)
    (3, 2)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from algotrader.data.providers.base import TransientProviderError
from algotrader.data.providers.pacing import Clock, SystemClock
from algotrader.errors import ProviderError

__all__ = ["RetryPolicy", "with_retries"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries; before try k (k >= 1) wait U(0, min(cap_s, base_s * 2**(k-1)))."""

    max_attempts: int = 5
    base_s: float = 2.0
    cap_s: float = 120.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    clock: Clock | None = None,
    seed: int | None = None,
    what: str = "request",
) -> T:
    """Call ``fn``; on :class:`TransientProviderError` wait and retry; other errors propagate.

    After ``policy.max_attempts`` transient failures raise a :class:`ProviderError` carrying
    the last one's message (so a caller never mistakes exhaustion for success).
    """
    clock = clock or SystemClock()
    rng = random.Random(seed)
    last: TransientProviderError | None = None
    for attempt in range(policy.max_attempts):
        if attempt:
            wait = policy.delay(attempt, rng)
            logger.info("%s failed (%s); retry %d in %.1f s", what, last, attempt, wait)
            clock.sleep(wait)
        try:
            return fn()
        except TransientProviderError as exc:
            last = exc
    assert last is not None
    raise ProviderError(
        f"{what} still failing after {policy.max_attempts} attempts: {last.message}",
        column=last.column,
        hint="wait and rerun (completed months are kept), or raise the retry limit",
    ) from last
