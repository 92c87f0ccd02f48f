"""Work the batch hands to a worker thread is claimed back when the worker has not begun.

Claims tested: :func:`_claim_or_wait` cancels a share not yet started (the caller then runs
it), waits for one that is running and re-raises its exception; a batch whose worker
never gets to run (every share claimed back by the calling thread, as on a machine where
the worker is descheduled) gives the same bits as one thread, for the exact solver's
blocks and the CG pairs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.portfolio.test_cg_parallel import _same
from tests.portfolio.test_kernel import _gbm
from tests.portfolio.test_property import Case

from algotrader.portfolio import OptimiserConfig, run_batch
from algotrader.portfolio import kernel as kernel_mod
from algotrader.portfolio.kernel import _claim_or_wait


@pytest.fixture
def stuck_pool() -> Iterator[ThreadPoolExecutor]:
    """A one-worker pool whose worker is busy until the test ends."""
    release = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)
    pool.submit(release.wait)
    try:
        yield pool
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_a_share_not_started_is_claimed(stuck_pool: ThreadPoolExecutor) -> None:
    ran: list[int] = []
    fut = stuck_pool.submit(ran.append, 1)
    assert _claim_or_wait(fut) is True
    assert fut.cancelled() and ran == []
    assert _claim_or_wait(None) is False


def test_a_running_share_is_waited_for_and_its_error_raised() -> None:
    started, go = threading.Event(), threading.Event()

    def work() -> int:
        started.set()
        go.wait()
        raise ValueError("from the worker")

    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(work)
        started.wait()
        threading.Timer(0.05, go.set).start()
        with pytest.raises(ValueError, match="from the worker"):
            _claim_or_wait(fut)


@pytest.mark.parametrize(("solver", "n"), [("exact", 40), ("exact", 130), ("cg", 40)])
def test_a_batch_whose_worker_never_runs_equals_one_thread(
    monkeypatch: pytest.MonkeyPatch, stuck_pool: ThreadPoolExecutor, solver: str, n: int
) -> None:
    """Exact rows in blocks (N = 40) and pipelined (N = 130), CG pairs."""
    prices, mu = _gbm(120, n, 21)
    mu[60:62] = 0.0
    extra = {"solver": "cg", "cg_tol": 1e-9, "cg_rank": 8} if solver == "cg" else {}
    cfg = OptimiserConfig(vola=6, corr=12, clip=3.0, shrink=0.5, aum=1.0, **extra)  # type: ignore[arg-type]
    p, m = Case(prices, mu, cfg, split=1).frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", "1")
    one = run_batch(p, m, cfg)
    monkeypatch.setenv("ALGOTRADER_THREADS", "2")
    submitted: list[object] = []

    def pool(workers: int) -> ThreadPoolExecutor:
        submitted.append(workers)
        return stuck_pool

    monkeypatch.setattr(kernel_mod, "_pool", pool)
    claimed = run_batch(p, m, cfg)
    assert submitted  # the two-thread schedule ran, every share on the calling thread
    _same(claimed, one)
