"""Pacing (IB's 60 / 10 min and 15 s identical rules, in-flight limit) and retry policy."""

from __future__ import annotations

import random
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrader.data.providers import (
    FakeClock,
    Pacer,
    ProviderAuthError,
    RetryPolicy,
    TransientProviderError,
    ib_pacer,
    with_retries,
)
from algotrader.errors import ProviderError


@given(st.lists(st.integers(0, 5), min_size=1, max_size=200))
def test_ib_pacing_never_exceeds_limits(keys: list[int]) -> None:
    clock = FakeClock()
    pacer = ib_pacer(1, clock)
    for k in keys:
        with pacer.slot(("req", k)):
            pass
    times = [t for t, _ in pacer.log]
    # no more than 60 requests in any 10-minute window
    for i, t in enumerate(times):
        in_window = [u for u in times[i:] if u - t < 600.0]
        assert len(in_window) <= 60
    # no identical request within 15 s
    last: dict[object, float] = {}
    for t, key in pacer.log:
        if key in last:
            assert t - last[key] >= 15.0
        last[key] = t


def test_pacing_closed_form_61st_request_waits_for_the_window() -> None:
    clock = FakeClock()
    pacer = ib_pacer(1, clock)
    for i in range(61):
        pacer.acquire(("r", i))
    assert pacer.log[59][0] == 0.0
    assert pacer.log[60][0] == 600.0


def test_in_flight_limit_holds_across_threads() -> None:
    pacer = Pacer(1000, 1.0, 0.0, max_in_flight=2)
    active, peak = 0, 0
    lock = threading.Lock()

    def work(i: int) -> None:
        nonlocal active, peak
        with pacer.slot(i):
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.01)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_pacer_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0, 1.0)


def test_retry_only_transient_errors() -> None:
    calls: list[int] = []

    def auth() -> None:
        calls.append(1)
        raise ProviderAuthError("bad key")

    with pytest.raises(ProviderAuthError, match="bad key"):
        with_retries(auth, RetryPolicy(max_attempts=5), clock=FakeClock())
    assert len(calls) == 1


def test_retry_exhaustion_is_a_typed_error_naming_the_request() -> None:
    clock = FakeClock()

    def busy() -> None:
        raise TransientProviderError("pacing violation", column="AAPL")

    with pytest.raises(ProviderError, match="ib AAPL 2024-01 still failing after 4") as info:
        with_retries(
            busy, RetryPolicy(max_attempts=4, base_s=1.0), clock=clock, what="ib AAPL 2024-01"
        )
    assert info.value.column == "AAPL"
    assert len(clock.sleeps) == 3


@given(st.integers(1, 12), st.integers(0, 10_000))
def test_backoff_delay_within_exponential_cap(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_s=2.0, cap_s=60.0)
    d = policy.delay(attempt, random.Random(seed))
    assert 0.0 <= d <= min(60.0, 2.0 * 2 ** (attempt - 1))
