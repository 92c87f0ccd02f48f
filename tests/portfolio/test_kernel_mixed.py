"""The exact solver's mixed-precision solve and its fused state update.

:func:`solve_mixed` factors a float32 copy of the shrunk correlation and refines in
float64 (LAPACK ``dsposv``'s scheme); it must give what a float64 Cholesky solve gives
(its backward-error criterion, the forward error perturbation theory allows), fall back
to the float64 factor where float32 cannot do it, and keep the eigen policy for a matrix
that is not positive definite. :func:`_advance_build` fuses the state update with the
matrix build and must equal the two done one after the other, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.portfolio.test_kernel import _gbm
from tests.portfolio.test_property import Case

from algotrader.portfolio import OptimiserConfig, OptimiserStream, run_batch
from algotrader.portfolio import kernel as kernel_mod
from algotrader.portfolio.kernel import _abs_sum, _advance_build, _build, _update_sums
from algotrader.portfolio.kernel_linalg import (
    METHOD_CHOLESKY,
    METHOD_EIGEN,
    METHOD_SINGULAR,
    REFINE_MAX_ITER,
    solve_mixed,
)

EPS = np.finfo(np.float64).eps / 2.0


def _shrunk_corr(rng: np.random.Generator, n: int, obs: int, lam: float) -> np.ndarray:
    """``lam * corr + (1 - lam) I`` of one-factor returns (the kernel's matrix kind)."""
    r = 0.7 * rng.standard_normal((obs, 1)) + rng.standard_normal((obs, n))
    c = np.corrcoef(r.T) if n > 1 else np.ones((1, 1))
    a = lam * c + (1.0 - lam) * np.eye(n)
    return np.ascontiguousarray((a + a.T) / 2.0)


def _mixed(a: np.ndarray, m: np.ndarray) -> tuple[int, np.ndarray, float, float, int]:
    n = m.shape[0]
    x, r, w32 = np.empty(n), np.empty(n), np.empty((2, n), dtype=np.float32)
    anorm = float(np.abs(a).sum(axis=1).max())
    f = a.astype(np.float32)
    method, ss, d, steps = solve_mixed(a, f, anorm, m, r, x, w32)
    return int(method), x, float(ss), float(d), int(steps)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 80),
    st.integers(0, 2**32 - 1),
    st.floats(0.05, 0.95),
    st.integers(3, 200),
)
def test_solve_mixed_is_as_accurate_as_a_float64_solve(
    n: int, seed: int, lam: float, obs: int
) -> None:
    rng = np.random.default_rng(seed)
    a = _shrunk_corr(rng, n, obs, lam)
    m = rng.standard_normal(n)
    method, x, ss, d, steps = _mixed(a, m)
    assert method == METHOD_CHOLESKY and 0 <= steps <= REFINE_MAX_ITER
    # the stopping rule: dsposv's backward error, as a float64 Cholesky solve guarantees
    res = m - a @ x
    anorm = np.abs(a).sum(axis=1).max()
    assert np.abs(res).max() <= 2.0 * np.abs(x).max() * anorm * EPS * np.sqrt(n)
    # the reported residual is that residual (up to the rounding of the product itself)
    rounding = 4.0 * n * EPS * anorm * np.abs(x).max()
    assert abs(np.sqrt(ss) - np.linalg.norm(res)) <= np.sqrt(n) * rounding
    assert d == pytest.approx(float(m @ x), rel=1e-12)
    # forward error within what perturbation theory allows a backward-stable solve
    ref = np.linalg.solve(a, m)
    cond = np.linalg.cond(a)
    err = np.abs(x - ref).max() / np.abs(ref).max()
    assert err <= 8.0 * cond * np.sqrt(n) * anorm * EPS + 1e-15


def test_refinement_does_the_work_float32_alone_cannot() -> None:
    """At N = 400 the float32 solution is ~1e-6 off; refined it is float64-accurate."""
    rng = np.random.default_rng(3)
    n = 400
    a = _shrunk_corr(rng, n, 60, 0.5)
    m = rng.standard_normal(n)
    method, x, _, _, steps = _mixed(a, m)
    assert method == METHOD_CHOLESKY and steps >= 1
    ref = np.linalg.solve(a, m)
    single = np.linalg.solve(a.astype(np.float32), m.astype(np.float32)).astype(np.float64)
    scale = np.abs(ref).max()
    assert np.abs(single - ref).max() / scale > 1e-8
    assert np.abs(x - ref).max() / scale < 5e-14


def test_a_matrix_float32_cannot_factor_usefully_falls_back_to_float64() -> None:
    """cond = 1e10: float32 rounding of ``a`` alone moves the smallest eigenvalue past
    zero, so the float32 factor fails or its refinement diverges; the float64 Cholesky
    (below the solver's condition limit) still solves it."""
    rng = np.random.default_rng(5)
    n = 40
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    vals = np.geomspace(1.0, 1e-10, n)
    a = np.ascontiguousarray((q * vals) @ q.T)
    a = (a + a.T) / 2.0
    m = rng.standard_normal(n)
    method, x, _, _, steps = _mixed(a, m)
    assert method == METHOD_CHOLESKY and steps == -1
    ref = np.linalg.solve(a, m)
    assert np.abs(x - ref).max() / np.abs(ref).max() < 1e-4  # cond * eps ~ 1e-6


def test_not_positive_definite_keeps_the_eigen_policy() -> None:
    a = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # singular PSD
    method, x, _, _, steps = _mixed(a, np.ones(3))
    assert (method, steps) == (METHOD_EIGEN, -1)
    np.testing.assert_allclose(x, [0.5, 0.5, 0.5], rtol=1e-12)
    method, _, ss, d, _ = _mixed(np.zeros((2, 2)), np.ones(2))
    assert method == METHOD_SINGULAR and np.isnan(ss) and np.isnan(d)
    method, _, _, d, _ = _mixed(np.full((2, 2), np.nan), np.ones(2))
    assert method == METHOD_SINGULAR or not np.isfinite(d)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_advance_build_equals_update_then_build(n: int, seed: int, lam: float) -> None:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n + 3, n))
    xy = np.ascontiguousarray(g.T @ g)
    r = rng.standard_normal(n)
    beta = 0.9
    t = rng.uniform(0.1, 1.0, n)
    u = rng.uniform(-0.5, 0.5, n)
    eager = xy.copy()
    _update_sums(eager, r, beta)
    a_ref, f_ref = np.empty((n, n)), np.empty((n, n))
    _build(eager, t, u, lam, a_ref, f_ref)
    for dtype in (np.float64, np.float32):
        fused = xy.copy()
        a, f = np.empty((n, n)), np.empty((n, n), dtype=dtype)
        norm = _advance_build(fused, r, beta, t, u, lam, a, f)
        np.testing.assert_array_equal(fused, eager)
        np.testing.assert_array_equal(a, a_ref)
        np.testing.assert_array_equal(f, a_ref.astype(dtype))
        assert norm == max(_abs_sum(row) for row in a_ref)
        assert norm == pytest.approx(np.abs(a_ref).sum(axis=1).max(), rel=1e-12)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_kernel_rows_equal_the_float64_python_path(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    """The kernel (float32 factor, refined) against the Python path (float64 ``dpotrf``,
    forced on every row by ``diagnostics=True``) at N = 120, blocks and pipeline."""
    prices, mu = _gbm(260, 120, 11)
    mu[50:53] = 0.0
    cfg = OptimiserConfig(vola=8, corr=16, clip=3.0, shrink=0.6, aum=1.0, max_turnover=40.0)
    p, m = Case(prices, mu, cfg, split=1).frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", threads)
    mixed = run_batch(p, m, cfg)
    full = run_batch(p, m, cfg, diagnostics=True)
    assert list(mixed.status) == list(full.status)
    np.testing.assert_array_equal(np.isnan(mixed.cash), np.isnan(full.cash))
    rows = np.isfinite(full.cash).all(axis=1) & (np.abs(full.cash).max(axis=1) > 0)
    scale = np.abs(full.cash[rows]).max(axis=1)
    assert rows.sum() > 200
    assert (np.abs(mixed.cash[rows] - full.cash[rows]).max(axis=1) / scale).max() < 1e-12
    np.testing.assert_array_equal(mixed.cash[~rows], full.cash[~rows])  # warm-up, zero signal
    assert np.nanmax(mixed.residual) < 1e-10


def test_mixed_batch_equals_stream_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    prices, mu = _gbm(200, 60, 12)
    cfg = OptimiserConfig(vola=8, corr=16, clip=3.0, shrink=0.5, aum=1.0)
    case = Case(prices, mu, cfg, split=120)
    p, m = case.frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", "2")
    batch = run_batch(p, m, cfg)
    stream = OptimiserStream.from_warmup(p.head(case.split), m.head(case.split), cfg)
    for t in range(case.split, prices.shape[0]):
        out = stream.step(prices[t], mu[t])
        np.testing.assert_array_equal(out.cash_position, batch.cash[t])


@pytest.mark.parametrize("threads", ["2", "3"])
def test_pipelined_rows_equal_one_thread_with_stops_gaps_and_caps(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    """N = 140 on several threads runs the pipeline (RowKernel._run_pipelined): zero-signal
    rows, a turnover cap, an asset whose variance becomes undefined (the kernel stops and
    the Python path takes the row) and a gap give the same bits as one thread."""
    prices, mu = _gbm(150, 140, 13)
    mu[70:73] = 0.0
    prices[30:120, 5] = prices[29, 5]  # flat: zero vol-adjusted returns, variance -> 0
    prices[140, 7] = np.nan  # a gap: the rows after it leave the kernel
    cfg = OptimiserConfig(
        vola=6, corr=12, clip=3.0, shrink=0.5, aum=1.0, max_turnover=25.0, min_corr_denom=1e-3
    )
    p, m = Case(prices, mu, cfg, split=1).frames()
    monkeypatch.setenv("ALGOTRADER_THREADS", "1")
    one = run_batch(p, m, cfg)
    monkeypatch.setenv("ALGOTRADER_THREADS", threads)
    codes: list[int] = []
    real = kernel_mod.RowKernel._run_pipelined

    def spy(self: kernel_mod.RowKernel, *args: object) -> tuple[int, int]:
        done, code = real(self, *args)  # type: ignore[arg-type]
        codes.append(code)
        return done, code

    monkeypatch.setattr(kernel_mod.RowKernel, "_run_pipelined", spy)
    many = run_batch(p, m, cfg)
    assert kernel_mod.STOP_VARIANCE in codes and kernel_mod.DONE in codes  # both paths ran
    for name in ("cash", "residual", "error_bound", "utilisation"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name))
    assert list(many.status) == list(one.status)
    assert list(many.method) == list(one.method)
    assert "zero_signal" in {str(s) for s in one.status}
