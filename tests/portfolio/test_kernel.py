"""The compiled row kernel against the plain-numpy reference path.

The kernel (numba) runs every gap-free EWMA row in the batch engine and the stream; the
Python path (``diagnostics=True`` forces it for every row) is the readable reference it
must agree with. Also: the vol accumulators against :class:`VolAccumulator`, the LAPACK
binding, the eigen fallback and the rows the kernel hands back to Python.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.portfolio.test_property import Case, cases

from algotrader.portfolio import OptimiserConfig, run_batch
from algotrader.portfolio.core import CoreState, kernel_ready, vector_rows
from algotrader.portfolio.ewm import VolAccumulator
from algotrader.portfolio.kernel_linalg import (
    METHOD_CHOLESKY,
    METHOD_EIGEN,
    METHOD_SINGULAR,
    _cholesky_upper,
    solve_one,
)
from algotrader.portfolio.kernel_vol import advance_vol_prices
from algotrader.portfolio.solve import solve_symmetric

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    assert np.array_equal(np.isfinite(a), np.isfinite(b))
    if not both.any():
        return 0.0
    scale = max(float(np.abs(b[both]).max()), 1e-300)
    return float(np.abs(a[both] - b[both]).max()) / scale


@settings(max_examples=100, deadline=None)
@given(cases())
def test_kernel_agrees_with_the_python_reference_path(case: Case) -> None:
    p, m = case.frames()
    fast = run_batch(p, m, case.cfg)
    ref = run_batch(p, m, case.cfg, diagnostics=True)  # Python path on every row
    assert list(fast.status) == list(ref.status)
    assert _rel(fast.cash, ref.cash) <= 1e-12
    np.testing.assert_array_equal(fast.vola, ref.vola)
    assert _rel(fast.residual, ref.residual) <= 1e-9 or np.nanmax(fast.residual) < 1e-12


def _gbm(t_len: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rets = 0.01 * (0.6 * rng.standard_normal((t_len, 1)) + rng.standard_normal((t_len, n)))
    return 100.0 * np.exp(np.cumsum(rets, axis=0)), rng.standard_normal((t_len, n))


def test_kernel_runs_the_gap_free_rows_and_matches_on_a_long_history() -> None:
    prices, mu = _gbm(400, 12, 3)
    mu[150:153] = 0.0  # zero-signal rows inside a kernel run
    mu[200, :4] = np.nan  # NaN signals count as 0
    cfg = OptimiserConfig(vola=10, corr=20, clip=3.0, shrink=0.7, aum=1.0, max_turnover=40.0)
    case = Case(prices, mu, cfg, split=1)
    p, m = case.frames()
    fast = run_batch(p, m, cfg)
    ref = run_batch(p, m, cfg, diagnostics=True)
    assert set(fast.method[cfg.warmup_rows :]) == {"cholesky", "none"}
    assert (fast.status[150:153] == "zero_signal").all()
    assert _rel(fast.cash, ref.cash) <= 1e-12
    assert _rel(fast.utilisation, ref.utilisation) <= 1e-9


def test_rows_with_an_undefined_variance_go_back_to_python() -> None:
    """A flat asset has zero variance after a while: the kernel stops there, Python
    finishes the row (the asset is dropped), the kernel resumes; batch == reference."""
    prices, mu = _gbm(160, 5, 4)
    prices[60:, 2] = prices[60, 2]  # flat from row 60: zero vol-adjusted returns
    cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.5, aum=1.0, min_corr_denom=1e-3)
    case = Case(prices, mu, cfg, split=1)
    p, m = case.frames()
    fast = run_batch(p, m, cfg)
    ref = run_batch(p, m, cfg, diagnostics=True)
    assert np.isnan(fast.cash[-1, 2]) and np.isfinite(fast.cash[-1, [0, 1, 3, 4]]).all()
    assert list(fast.status) == list(ref.status)
    assert _rel(fast.cash, ref.cash) <= 1e-12


def test_kernel_is_not_used_where_the_condition_bound_is_missing() -> None:
    cfg = OptimiserConfig(vola=3, corr=5, clip=3.0, shrink=1.0, aum=1.0)
    state = CoreState.initial(cfg, 3)
    prices, _ = _gbm(30, 3, 5)
    vector_rows(state, cfg, prices)
    state.step_count = 30
    assert state.pair is not None
    state.pair.warm = True
    state.pair.w[0, 0] = 1.0
    assert not kernel_ready(state, cfg)  # shrink = 1: no proven bound, pocon needed
    ok = OptimiserConfig(vola=3, corr=5, clip=3.0, shrink=0.5, aum=1.0)
    assert kernel_ready(state, ok)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 7),
    st.integers(1, 40),
    st.integers(1, 8),
    st.floats(0.5, 5.0),
)
def test_vol_kernel_equals_the_numpy_accumulator(
    seed: int, n: int, t_len: int, vola: int, clip: float
) -> None:
    """The compiled returns + vol pass against :class:`VolAccumulator` fed with the returns
    computed elementwise here (``math.log``: the C library's log, as the compiled code's),
    with missing prices and flat days (zero std, 0/0)."""
    rng = np.random.default_rng(seed)
    lr = 0.02 * rng.standard_normal((t_len + 1, n))
    lr[rng.random((t_len + 1, n)) < 0.1] = 0.0  # flat days
    prices = 100.0 * np.exp(np.cumsum(lr, axis=0))
    prices[rng.random((t_len + 1, n)) < 0.1] = np.nan
    prev, rows = prices[0], prices[1:]
    ratio = rows / np.vstack([prev[None, :], rows[:-1]])
    logs = np.array([math.log(v) if np.isfinite(v) else np.nan for v in ratio.ravel()])
    ret = logs.reshape(ratio.shape)
    q = ratio - 1.0
    beta = 1.0 - 1.0 / vola
    acc = VolAccumulator.empty(n, n_series=2)
    radj, sigma = advance_vol_prices(
        acc.sums, acc.n, rows, prev, beta=beta, min_samples=vola, clip=clip
    )
    ref = VolAccumulator.empty(n, n_series=2)
    for t in range(t_len):
        ref.update(np.stack([ret[t], q[t]]), beta)
        std = ref.std(min_samples=np.array([[1], [vola]]))
        with np.errstate(divide="ignore", invalid="ignore"):
            expect = np.clip(ret[t] / std[0], -clip, clip)
        expect[~np.isfinite(expect)] = np.nan
        np.testing.assert_array_equal(radj[t], expect)
        expect_sigma = np.where(np.isfinite(q[t]), std[1], np.nan)
        np.testing.assert_array_equal(sigma[t], expect_sigma)
    np.testing.assert_array_equal(acc.sums, ref.sums)
    np.testing.assert_array_equal(acc.n, ref.n)


def test_lapack_binding_factors_like_numpy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 9))
    a = x.T @ x / 50 + 0.1 * np.eye(9)
    f = a.copy()
    assert _cholesky_upper(f) == 0
    upper = np.triu(f)  # the factor U with A = U'U sits in the C-upper triangle
    np.testing.assert_allclose(upper.T @ upper, a, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(upper.T, np.linalg.cholesky(a), rtol=1e-12, atol=1e-14)
    bad = -np.eye(3)
    assert _cholesky_upper(bad.copy()) > 0


def _solve(a: np.ndarray, m: np.ndarray) -> tuple[int, np.ndarray, float, float]:
    n = m.shape[0]
    y, x = np.empty(n), np.empty(n)
    method, ss, d = solve_one(a, a.copy(), m, y, x)
    return int(method), x, float(ss), float(d)


def test_solve_one_cholesky_closed_form() -> None:
    a = np.array([[2.0, 0.5], [0.5, 1.0]])
    m = np.array([1.0, -1.0])
    method, x, ss, d = _solve(a, m)
    assert method == METHOD_CHOLESKY
    np.testing.assert_allclose(x, np.linalg.solve(a, m), rtol=1e-14)
    assert ss < 1e-28
    assert d == pytest.approx(float(m @ np.linalg.solve(a, m)), rel=1e-14)


def test_solve_one_falls_back_to_eigen_directions_like_solve_symmetric() -> None:
    a = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # singular, PSD
    m = np.array([1.0, 1.0, 1.0])
    method, x, _, _ = _solve(a, m)
    assert method == METHOD_EIGEN
    ref, ref_method = solve_symmetric(a, m)
    assert ref_method == "eigen" and ref is not None
    np.testing.assert_allclose(x, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x, [0.5, 0.5, 0.5], rtol=1e-12)


@pytest.mark.parametrize("a", [np.zeros((2, 2)), -np.eye(2)])
def test_solve_one_singular(a: np.ndarray) -> None:
    method, _, ss, d = _solve(a, np.ones(2))
    assert method == METHOD_SINGULAR
    assert np.isnan(ss) and np.isnan(d)


def test_solve_one_nan_matrix_gives_no_usable_denominator() -> None:
    """LAPACK lets NaN through the factorisation (as in solve_symmetric): ``m'x`` is NaN,
    which the row logic turns into ``degenerate``."""
    _, _, _, d = _solve(np.full((2, 2), np.nan), np.ones(2))
    assert not np.isfinite(d)


@pytest.mark.parametrize("threads", ["2", "3"])
def test_threads_change_the_schedule_not_the_numbers(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    prices, mu = _gbm(300, 9, 6)
    mu[100:104] = 0.0
    cfg = OptimiserConfig(vola=8, corr=16, clip=3.0, shrink=0.4, aum=1.0, max_turnover=30.0)
    p, m = Case(prices, mu, cfg, split=1).frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", "1")
    one = run_batch(p, m, cfg)
    monkeypatch.setenv("ALGOTRADER_THREADS", threads)
    many = run_batch(p, m, cfg)
    np.testing.assert_array_equal(many.cash, one.cash)
    np.testing.assert_array_equal(many.residual, one.residual)
    assert list(many.status) == list(one.status)


def test_bad_thread_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrader.errors import ConfigError
    from algotrader.portfolio.parallel import PARALLEL_MIN_ASSETS, default_threads

    monkeypatch.setenv("ALGOTRADER_THREADS", "many")
    with pytest.raises(ConfigError, match="ALGOTRADER_THREADS must be a positive integer"):
        default_threads(10)
    monkeypatch.setenv("ALGOTRADER_THREADS", "0")
    assert default_threads(500) == 1
    monkeypatch.setenv("ALGOTRADER_THREADS", "3")
    assert default_threads(10) == 3
    monkeypatch.delenv("ALGOTRADER_THREADS")
    assert default_threads(10) == 1  # small problems stay on the calling thread
    assert default_threads(PARALLEL_MIN_ASSETS - 1) == 1
    assert default_threads(PARALLEL_MIN_ASSETS) >= 1
