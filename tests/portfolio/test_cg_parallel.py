"""The paired (two-thread) CG rows of the batch.

Claims tested: with ``ALGOTRADER_THREADS`` >= 2 the batch solves the two rows of a pair at
once; the numbers are the same bits for 1, 2 and 3 threads and equal the stream (one row at
a time); the kernel's pair path equals its one-row path also when a row stops on an
undefined variance as the earlier or the later row of a pair (state included); the stated
bound holds against the exact solve on the paired path; a fallback row (CG cannot finish)
solved in the worker thread equals the one-thread run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from tests.portfolio.test_cg import BASE, _cg_case, _gbm, _row_rel_err
from tests.portfolio.test_property import Case, cases

from algotrader.portfolio import OptimiserConfig, OptimiserStream, run_batch
from algotrader.portfolio.kernel import DONE, STOP_VARIANCE, CgParams, KernelOutputs, RowKernel
from algotrader.portfolio.kernel_pending import PENDING_ROWS

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@contextmanager
def _threads(n: int) -> Iterator[None]:
    old = os.environ.get("ALGOTRADER_THREADS")
    os.environ["ALGOTRADER_THREADS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ALGOTRADER_THREADS", None)
        else:
            os.environ["ALGOTRADER_THREADS"] = old


def _same(a: object, b: object) -> None:
    for name in ("cash", "residual", "error_bound", "iterations", "utilisation"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(a.status) == list(b.status)  # type: ignore[attr-defined]
    assert list(a.method) == list(b.method)  # type: ignore[attr-defined]


@settings(max_examples=50, deadline=None)
@given(cases())
def test_cg_paired_batch_is_thread_count_independent_and_equals_the_stream(case: Case) -> None:
    case = _cg_case(case, 1e-9)
    p, m = case.frames()
    runs = []
    for n in (1, 2, 3):
        with _threads(n):
            runs.append(run_batch(p, m, case.cfg))
    for r in runs[1:]:
        _same(r, runs[0])
    stream = OptimiserStream.from_warmup(p.head(case.split), m.head(case.split), case.cfg)
    for t in range(case.split, len(case.prices)):
        out = stream.step(case.prices[t], case.mu[t], t)
        np.testing.assert_array_equal(out.cash_position, runs[1].cash[t])
        assert out.status == runs[1].status[t]


def test_cg_paired_bound_holds_against_the_exact_solve() -> None:
    prices, mu = _gbm(301, 60, 7)  # odd row count: the last row runs alone
    mu[150:153] = 0.0
    cfg = OptimiserConfig(**{**BASE, "vola": 10, "corr": 25, "shrink": 0.6}, solver="cg")
    p, m = Case(prices, mu, cfg, 1).frames()
    with _threads(2):
        cg = run_batch(p, m, cfg)
        exact = run_batch(p, m, cfg.model_copy(update={"solver": "exact"}))
    rows = cg.method == "cg"
    assert rows.sum() > 250
    err = _row_rel_err(cg.risk[rows], exact.risk[rows])
    assert np.all(cg.error_bound[rows] <= 1e-8)
    assert err.max() <= 1e-8 and np.all(err <= cg.error_bound[rows] + 1e-12)
    with _threads(1):
        _same(run_batch(p, m, cfg), cg)


def test_cg_paired_fallback_rows_equal_one_thread() -> None:
    prices, mu = _gbm(81, 30, 4)
    cfg = OptimiserConfig(**BASE, solver="cg", cg_tol=1e-10, cg_max_iter=2)
    p, m = Case(prices, mu, cfg, 1).frames()
    with _threads(2):
        two = run_batch(p, m, cfg)
    with _threads(1):
        one = run_batch(p, m, cfg)
    assert (two.method == "cholesky").sum() > 40
    _same(two, one)


def _kernel_run(
    lanes: int, radj: np.ndarray, mu: np.ndarray, state: dict[str, np.ndarray]
) -> tuple[tuple[int, int], KernelOutputs, dict[str, np.ndarray]]:
    st = {k: v.copy() for k, v in state.items()}
    n = radj.shape[1]
    k = RowKernel(n, 1, lanes, "cg")
    out = KernelOutputs.empty(radj.shape[0], n)
    cg = CgParams(
        st["carry"], 1e-9, 200, st["ring"], st["gram"], st["count"], st["pend"], st["pend_count"]
    )
    done = k.run(
        st["xy"], st["w"], st["x"], st["prev"], radj, mu, np.full_like(radj, 0.01), out,
        beta=0.9, shrink=0.5, min_denom=1e-14, denom_tol=1e-12, cap=5.0, cg=cg,
    )  # fmt: skip
    return done, out, st


@pytest.mark.parametrize("pending", [0, PENDING_ROWS - 1, PENDING_ROWS - 2])
@pytest.mark.parametrize("stop_row", [None, 1, 2, 5, 6])
def test_cg_kernel_pairs_equal_single_rows(stop_row: int | None, pending: int) -> None:
    """Pairs vs one row at a time on the same state, with an undefined variance as the
    later (1, 5) or the earlier (2, 6) row of a pair, and the deferred update's fold due
    at no row (0 pending), at row 1, the later row of a pair (``PENDING_ROWS - 1``
    pending: the spare base), or at row 2, the earlier row of a pair
    (``PENDING_ROWS - 2``: in place): same rows done, outputs, state."""
    rng = np.random.default_rng(11)
    n, rows = 9, 8
    warm = rng.standard_normal((30, n)) * (0.5 + rng.random(n))
    xy = warm.T @ warm
    pend = rng.standard_normal((PENDING_ROWS, n)) * (0.5 + rng.random(n))
    w, x = np.array([30.0]), warm.sum(axis=0)
    for row in pend[:pending]:  # w and x are never deferred: the pending rows are in them
        w, x = w * 0.9 + 1.0, x * 0.9 + row
    state = {
        "xy": np.ascontiguousarray(xy), "w": w, "x": x,
        "prev": np.zeros(n), "carry": rng.standard_normal((2, n)), "ring": np.zeros((3, n)),
        "gram": np.zeros((3, 3)), "count": np.zeros(1, dtype=np.int64),
        "pend": pend, "pend_count": np.array([pending], dtype=np.int64),
    }  # fmt: skip
    radj = rng.standard_normal((rows, n))
    mu = rng.standard_normal((rows, n))
    mu[3] = 0.0  # a zero-signal row inside a pair
    if stop_row is not None:
        radj[stop_row, 2] = np.nan
    d1, o1, s1 = _kernel_run(1, radj, mu, state)
    d2, o2, s2 = _kernel_run(2, radj, mu, state)
    assert d1 == d2 == ((rows, DONE) if stop_row is None else (stop_row, STOP_VARIANCE))
    for name in ("cash", "residual", "status", "method", "utilisation", "error_bound"):
        np.testing.assert_array_equal(getattr(o1, name), getattr(o2, name))
    np.testing.assert_array_equal(o1.iterations, o2.iterations)
    for key in state:
        if key != "pend":  # rows past pend_count are scratch
            np.testing.assert_array_equal(s1[key], s2[key])
    used = int(s1["pend_count"][0])
    np.testing.assert_array_equal(s1["pend"][:used], s2["pend"][:used])
    assert np.all(o1.status[: d1[0]] >= 0)
