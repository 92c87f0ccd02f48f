"""One owner of parallelism: the BLAS is pinned to one thread inside every optimiser call.

OpenBLAS's threaded ``potrf`` rounds differently from its single-threaded one at a few
hundred assets, so without the pin the numbers would depend on the BLAS thread count and
the stream (one row at a time) could drift from the batch. These tests run at N = 320,
where the two factorisations differ (checked first, so the test cannot pass vacuously).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest
from tests.portfolio.test_property import Case
from threadpoolctl import ThreadpoolController, threadpool_info

from algotrader.errors import ConfigError
from algotrader.portfolio import OptimiserConfig, OptimiserStream, run_batch
from algotrader.portfolio.kernel_linalg import _cholesky_upper
from algotrader.portfolio.parallel import blas_pin_depth, default_threads, single_threaded_blas
from algotrader.settings import threads_from_env

N = 320


def _blas_threads() -> int:
    return max(int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")


def _frames(t_len: int = 60) -> tuple[pl.DataFrame, pl.DataFrame, OptimiserConfig]:
    rng = np.random.default_rng(17)
    rets = 0.01 * (0.6 * rng.standard_normal((t_len, 1)) + rng.standard_normal((t_len, N)))
    prices = 100.0 * np.exp(np.cumsum(rets, axis=0))
    mu = rng.standard_normal((t_len, N))
    cfg = OptimiserConfig(vola=8, corr=16, clip=3.5, shrink=0.5, aum=1.0)
    p, m = Case(prices, mu, cfg, split=1).frames()
    return p, m, cfg


def _threaded_potrf_differs() -> bool:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 40))
    a = np.ascontiguousarray(0.5 * np.corrcoef(x) + 0.5 * np.eye(N))
    ctl = ThreadpoolController()
    out = []
    for th in (1, 2):
        with ctl.limit(limits=th, user_api="blas"):
            f = a.copy()
            _cholesky_upper(f)
            out.append(np.triu(f))
    return not np.array_equal(out[0], out[1])


def test_blas_is_pinned_inside_and_restored_after() -> None:
    ctl = ThreadpoolController()
    with ctl.limit(limits=2, user_api="blas"):
        before = _blas_threads()
        with single_threaded_blas():
            assert _blas_threads() == 1
        assert _blas_threads() == before == 2


def test_numbers_do_not_depend_on_blas_or_our_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # The equalities below hold on any BLAS; they only prove the pin where threaded and serial
    # potrf round differently, which the wheels CI installs do (so CI requires it).
    if os.environ.get("CI"):
        assert _threaded_potrf_differs(), "CI's BLAS rounds threaded potrf like serial"
    p, m, cfg = _frames()
    ctl = ThreadpoolController()
    runs = []
    for blas, ours in ((1, "1"), (2, "1"), (2, "2"), (2, "3")):
        monkeypatch.setenv("ALGOTRADER_THREADS", ours)
        with ctl.limit(limits=blas, user_api="blas"):
            runs.append(run_batch(p, m, cfg))
    for r in runs[1:]:
        np.testing.assert_array_equal(r.cash, runs[0].cash)
        np.testing.assert_array_equal(r.residual, runs[0].residual)
    assert runs[0].status_counts()["valid"] == 60 - cfg.corr


def test_stream_equals_batch_with_a_threaded_blas_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    p, m, cfg = _frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", "2")
    batch = run_batch(p, m, cfg)
    with ThreadpoolController().limit(limits=2, user_api="blas"):
        stream = OptimiserStream.from_warmup(p.head(40), m.head(40), cfg)
        px = p.drop("date").to_numpy()
        mu = m.drop("date").to_numpy()
        for t in range(40, 60):
            out = stream.step(px[t], mu[t])
            np.testing.assert_array_equal(out.cash_position, batch.cash[t])


def test_thread_setting_goes_through_settings() -> None:
    assert threads_from_env({"ALGOTRADER_THREADS": " 2 "}) == 2
    assert threads_from_env({"ALGOTRADER_THREADS": ""}) is None
    assert default_threads(5000, env={"ALGOTRADER_THREADS": "1"}) == 1
    with pytest.raises(ConfigError, match="ALGOTRADER_THREADS must be a positive integer") as e:
        threads_from_env({"ALGOTRADER_THREADS": "2.5"})
    assert e.value.key == "ALGOTRADER_THREADS"


def test_blas_pin_is_reference_counted_when_nested() -> None:
    ctl = ThreadpoolController()
    with ctl.limit(limits=2, user_api="blas"):
        with single_threaded_blas():
            with single_threaded_blas():
                assert blas_pin_depth() == 2
            # the inner block left: the outer one's solve must still be pinned
            assert _blas_threads() == 1
            assert blas_pin_depth() == 1
        assert blas_pin_depth() == 0
        assert _blas_threads() == 2


def test_blas_pin_is_reference_counted_across_threads() -> None:
    """Thread A pins, B pins, A leaves (B still pinned), B leaves (restored)."""
    ctl = ThreadpoolController()
    a_in, b_in, a_out, b_may_leave = (threading.Event() for _ in range(4))
    seen: dict[str, int] = {}

    def thread_a() -> None:
        with single_threaded_blas():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def thread_b() -> None:
        a_in.wait(10)
        with single_threaded_blas():
            b_in.set()
            a_out.wait(10)
            seen["b_after_a_left"] = _blas_threads()
            b_may_leave.wait(10)

    with ctl.limit(limits=2, user_api="blas"):
        ta, tb = threading.Thread(target=thread_a), threading.Thread(target=thread_b)
        ta.start()
        tb.start()
        ta.join(10)
        a_out.wait(10)
        while "b_after_a_left" not in seen and tb.is_alive():
            time.sleep(0.01)
        seen["main_while_b_pinned"] = _blas_threads()
        b_may_leave.set()
        tb.join(10)
        assert seen == {"b_after_a_left": 1, "main_while_b_pinned": 1}
        assert blas_pin_depth() == 0
        assert _blas_threads() == 2


def test_concurrent_optimiser_runs_stay_pinned_and_equal() -> None:
    """Four threads run batches at once: every run equals a lone run, and the BLAS is
    restored once all have finished."""
    p, m, cfg = _frames(45)
    lone = run_batch(p, m, cfg).cash
    ctl = ThreadpoolController()
    results: list[np.ndarray] = []
    with ctl.limit(limits=2, user_api="blas"):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: run_batch(p, m, cfg).cash, range(4)))
        assert blas_pin_depth() == 0
        assert _blas_threads() == 2
    for r in results:
        np.testing.assert_array_equal(r, lone)
