"""The opt-in conjugate-gradient solver (``solver: cg``).

Claims tested: on every CG row the reported ``position_error_bound`` is <= ``cg_tol`` and
bounds the actual relative 2-norm error of the positions against the exact (Cholesky)
solve of the same matrix; batch == stream bit for bit (warm starts included) and across
save/load; a row CG cannot finish falls back to the exact solve; bad configs are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.portfolio.test_property import Case, cases

from algotrader.errors import ConfigError
from algotrader.portfolio import (
    OptimiserConfig,
    OptimiserStream,
    config_from_mapping,
    kernel,
    run_batch,
)
from algotrader.portfolio.kernel_linalg import (
    cg_solve,
    cg_solve_mixed,
    position_error_bound,
    precond_apply_t,
    precond_update,
    sym_product,
)

BASE = {"vola": 4, "corr": 8, "clip": 3.5, "shrink": 0.5, "aum": 1.0}


def _cg_case(case: Case, tol: float, turnover: bool = True) -> Case:
    assume(case.cfg.covariance_mode == "ewma_shrink" and case.cfg.shrink < 1.0)
    update: dict[str, object] = {"solver": "cg", "cg_tol": tol}
    if not turnover:
        update["max_turnover"] = None
    return Case(case.prices, case.mu, case.cfg.model_copy(update=update), case.split)


def _gbm(t_len: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rets = 0.01 * (0.6 * rng.standard_normal((t_len, 1)) + rng.standard_normal((t_len, n)))
    return 100.0 * np.exp(np.cumsum(rets, axis=0)), rng.standard_normal((t_len, n))


def _row_rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)


def _spd_problem(
    rng: np.random.Generator, n: int, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Sums ``xy``, scalings ``t, u``, diagonal ``e``, the formed ``T xy T - u u' + diag(e)``
    and its smallest eigenvalue, for the closed-form CG tests."""
    g = rng.standard_normal((n, rows))
    xy = g @ g.T + np.eye(n)
    t, u, e = rng.uniform(0.1, 0.3, n), rng.uniform(-0.01, 0.01, n), np.full(n, 0.5)
    formed = np.outer(t, t) * xy - np.outer(u, u) + np.diag(e)
    return xy, t, u, e, formed, float(np.linalg.eigvalsh(formed).min())


@settings(max_examples=60, deadline=None)
@given(cases())
def test_cg_batch_equals_stream_bit_for_bit(case: Case) -> None:
    case = _cg_case(case, 1e-9)
    p, m = case.frames()
    batch = run_batch(p, m, case.cfg)
    stream = OptimiserStream.from_warmup(p.head(case.split), m.head(case.split), case.cfg)
    for t in range(case.split, len(case.prices)):
        out = stream.step(case.prices[t], case.mu[t], t)
        np.testing.assert_array_equal(out.cash_position, batch.cash[t])
        assert out.status == batch.status[t]


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from([1e-6, 1e-8, 1e-10]))
def test_cg_error_bound_holds_against_the_exact_solve(case: Case, tol: float) -> None:
    case = _cg_case(case, tol, turnover=False)
    p, m = case.frames()
    cg = run_batch(p, m, case.cfg)
    exact = run_batch(p, m, case.cfg.model_copy(update={"solver": "exact"}))
    assert list(cg.status) == list(exact.status)
    rows = (cg.method == "cg") & (cg.status == "valid")
    assert np.all(cg.error_bound[cg.method == "cg"] <= tol)
    if rows.any():
        err = _row_rel_err(np.nan_to_num(cg.risk[rows]), np.nan_to_num(exact.risk[rows]))
        # exact solve's own rounding: its bound (~1e-13) on top
        assert np.all(err <= cg.error_bound[rows] + exact.error_bound[rows] + 1e-12)
    np.testing.assert_array_equal(cg.vola, exact.vola)


def test_cg_on_a_larger_gap_free_history_meets_the_stated_accuracy() -> None:
    prices, mu = _gbm(400, 60, 3)
    mu[200:203] = 0.0
    cfg = OptimiserConfig(**{**BASE, "vola": 10, "corr": 25, "shrink": 0.6}, solver="cg")
    p, m = Case(prices, mu, cfg, 1).frames()
    cg = run_batch(p, m, cfg)
    exact = run_batch(p, m, cfg.model_copy(update={"solver": "exact"}))
    valid = cg.status == "valid"
    assert valid.sum() == 400 - 25 - 3
    # the first row after the warm-up runs in the Python path (exact solve), then CG
    assert list(cg.method[valid][:1]) == ["cholesky"] and set(cg.method[valid][1:]) == {"cg"}
    rows = cg.method == "cg"
    err = _row_rel_err(cg.risk[rows], exact.risk[rows])
    assert err.max() <= 1e-8 and np.all(err <= cg.error_bound[rows] + 1e-12)
    assert np.all(cg.iterations[rows] > 0) and np.all(exact.iterations == 0)
    frame = cg.diagnostics_frame
    assert {"position_error_bound", "cg_iterations", "solver_residual"} <= set(frame.columns)
    # exact rows report their (tiny) bound too
    assert np.nanmax(exact.error_bound[rows]) < 1e-11


def test_cg_falls_back_to_the_exact_solve_when_it_cannot_finish() -> None:
    prices, mu = _gbm(80, 30, 4)
    cfg = OptimiserConfig(**BASE, solver="cg", cg_tol=1e-10, cg_max_iter=1)
    p, m = Case(prices, mu, cfg, 1).frames()
    cg = run_batch(p, m, cfg)
    exact = run_batch(p, m, cfg.model_copy(update={"solver": "exact"}))
    valid = cg.status == "valid"
    assert (cg.method[valid] == "cholesky").any()
    fell_back = valid & (cg.method == "cholesky")
    fell_back[np.argmax(valid)] = False  # first row after warm-up: Python path, no CG
    assert fell_back.sum() > 40 and np.all(cg.iterations[fell_back] == 1)
    np.testing.assert_allclose(cg.cash[valid], exact.cash[valid], rtol=1e-9, atol=1e-12)


def test_cg_state_survives_save_and_load(tmp_path: Path) -> None:
    prices, mu = _gbm(90, 12, 5)
    cfg = OptimiserConfig(**BASE, solver="cg")
    p, m = Case(prices, mu, cfg, 1).frames()
    a = OptimiserStream.from_warmup(p.head(50), m.head(50), cfg)
    a.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as z:
        assert z["cg_x"].shape == (2, 12)
        assert z["cg_ring"].shape == (3, 12) and z["cg_gram"].shape == (3, 3)
        assert int(z["cg_count"][0]) > 3  # the ring has wrapped
    b = OptimiserStream.load(tmp_path / "s.npz")
    for t in range(50, 90):
        np.testing.assert_array_equal(
            a.step(prices[t], mu[t]).cash_position, b.step(prices[t], mu[t]).cash_position
        )


def test_preconditioner_is_the_woodbury_inverse_of_the_weighted_ring() -> None:
    """Rows entered one at a time (the ring wraps): ``precond_apply_t`` is the inverse of
    ``lam I + sum_j beta^age_j g_j g_j'`` over the last K rows, ``g_j = t_j * r_j``."""
    rng = np.random.default_rng(4)
    n, k, beta, lam = 30, 5, 0.9, 0.4
    ring, gram = np.zeros((k, n)), np.zeros((k, k))
    fm, dw = np.empty((k, k)), np.empty(k)
    rows = []
    for count in range(12):
        t, r = rng.uniform(0.5, 2.0, n), rng.standard_normal(n)
        rows.append(t * r)
        assert precond_update(ring, gram, fm, dw, t, r, count % k, beta, lam) == 0
    np.testing.assert_allclose(gram, ring @ ring.T, rtol=1e-12)
    p = lam * np.eye(n)
    for age, g in enumerate(reversed(rows[-k:])):
        p += beta**age * np.outer(g, g)
    v, out = rng.standard_normal(n), np.empty(n)
    precond_apply_t(np.ascontiguousarray(ring.T), dw, fm, lam, v, np.empty((3, k)), out)
    np.testing.assert_allclose(out, np.linalg.solve(p, v), rtol=1e-10, atol=1e-12)


def test_cg_ring_preconditioner_cuts_iterations_within_the_bound() -> None:
    """The same history with ``cg_rank`` 0 (plain CG) and the default ring (15 rows at
    N = 60): both within their bound of the exact solve, the ring with fewer iterations."""
    prices, mu = _gbm(400, 60, 7)
    cfg = OptimiserConfig(**{**BASE, "vola": 10, "corr": 25}, solver="cg", cg_tol=1e-9)
    p, m = Case(prices, mu, cfg, 1).frames()
    exact = run_batch(p, m, cfg.model_copy(update={"solver": "exact"}))
    runs = {rank: run_batch(p, m, cfg.model_copy(update={"cg_rank": rank})) for rank in (0, 128)}
    rows = runs[0].method == "cg"
    assert rows.sum() > 300 and np.array_equal(rows, runs[128].method == "cg")
    for res in runs.values():
        err = _row_rel_err(res.risk[rows], exact.risk[rows])
        assert np.all(err <= res.error_bound[rows] + 1e-12) and err.max() <= 1e-9
    late = rows.copy()
    late[:200] = False
    assert runs[128].iterations[late].mean() < 0.8 * runs[0].iterations[late].mean()


def test_cg_solve_closed_form_and_bound() -> None:
    a = np.array([[1.0, 0.4, 0.0], [0.4, 1.0, 0.2], [0.0, 0.2, 1.0]])
    m = np.array([1.0, -2.0, 0.5])
    x = np.zeros(3)
    ones, zeros = np.ones(3), np.zeros(3)
    it, ss, d, bound = cg_solve(a, ones, zeros, zeros, m, x, np.empty((5, 3)), 0.5, 1e-12, 50)
    exact = np.linalg.solve(a, m)
    assert 0 < it <= 6  # CG is exact in n steps up to rounding
    np.testing.assert_allclose(x, exact, rtol=1e-13)
    assert bound <= 1e-12 and np.isclose(d, m @ exact) and ss < 1e-24
    # the bound itself: zero residual -> 0; residual >= lam_min ||x|| / 2 -> no bound
    assert position_error_bound(0.0, 1.0, 0.5) == 0.0
    assert position_error_bound(0.25, 1.0, 0.5) == np.inf
    assert np.isnan(position_error_bound(1.0, 0.0, 0.5))
    # rho = 1e-3: eps = eta = rho / (1 - rho)
    eps = 1e-3 / (1 - 1e-3)
    expected = (eps + 1.0) / np.sqrt(1.0 - eps) - 1.0
    assert position_error_bound(0.5e-3, 1.0, 0.5) == pytest.approx(expected, rel=1e-12)


def test_cg_matrix_free_product_equals_the_formed_matrix() -> None:
    """CG on ``T xy T - u u' + diag(e)`` (never formed) solves the formed matrix."""
    rng, n = np.random.default_rng(8), 7
    xy, t, u, e, formed, lam_min = _spd_problem(rng, n, 30)
    assert lam_min > 0.4
    m = rng.standard_normal(n)
    x = np.zeros(n)
    it, ss, d, bound = cg_solve(xy, t, u, e, m, x, np.empty((5, n)), lam_min, 1e-12, 100)
    exact = np.linalg.solve(formed, m)
    assert 0 < it <= 10 and bound <= 1e-12
    np.testing.assert_allclose(x, exact, rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(ss), np.linalg.norm(formed @ x - m), atol=1e-14)
    assert d == pytest.approx(m @ exact, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 23), seed=st.integers(0, 2**31 - 1))
def test_sym_product_reads_the_upper_triangle_in_its_dtype(n: int, seed: int) -> None:
    """The tiled symmetric product (four rows a pass, remainder rows one by one) equals the
    full product: float64 to rounding, float32 to float32 rounding; the lower triangle is
    never read (NaN there changes nothing) and the output keeps the input's dtype."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    a = a + a.T
    z = rng.standard_normal(n)
    lower_nan = a.copy()
    lower_nan[np.tril_indices(n, -1)] = np.nan
    out = np.empty(n)
    sym_product(lower_nan, z, out)
    np.testing.assert_allclose(out, a @ z, rtol=1e-12, atol=1e-12 * np.abs(a).sum())
    a32, z32, out32 = a.astype(np.float32), z.astype(np.float32), np.empty(n, np.float32)
    sym_product(a32, z32, out32)
    ref = a32.astype(np.float64) @ z32.astype(np.float64)
    scale = np.abs(a32).astype(np.float64) @ np.abs(z32).astype(np.float64)
    assert out32.dtype == np.float32
    assert np.all(np.abs(out32 - ref) <= 4 * n * np.finfo(np.float32).eps * scale + 1e-30)


def test_cg_mixed_precision_bound_is_from_the_float64_residual() -> None:
    """Float32 inner products + float64 refinement: the reported residual is the true float64
    ``||A x - m||`` of the formed matrix and the bound/solution reach ``1e-12`` although a
    float32 product alone is only ~1e-7 accurate."""
    rng, n = np.random.default_rng(9), 40
    xy, t, u, e, formed, lam_min = _spd_problem(rng, n, 60)
    m = rng.standard_normal(n)
    x = np.zeros(n)
    low = xy.astype(np.float32)
    it, ss, _, bound = cg_solve_mixed(xy, low, t, u, e, m, x, np.empty((5, n)), lam_min, 1e-12, 400)
    exact = np.linalg.solve(formed, m)
    assert 0 < it < 400 and bound <= 1e-12
    np.testing.assert_allclose(np.sqrt(ss), np.linalg.norm(formed @ x - m), rtol=1e-6, atol=1e-14)
    assert np.linalg.norm(x - exact) / np.linalg.norm(exact) < 1e-12
    # a too-small budget is reported as not converged (-1), never as a met bound
    x0 = np.zeros(n)
    it0, *_ = cg_solve_mixed(xy, low, t, u, e, m, x0, np.empty((5, n)), lam_min, 1e-12, 2)
    assert it0 == -1


def test_cg_mixed_start_is_scaled_by_the_line_search() -> None:
    """The mixed solver scales its start by ``a = x'm / x'Ax``: a start that is a multiple
    of the solution is the solution after the scaling (no more than one refinement step),
    while the same solve from zero needs many steps; both meet the bound."""
    rng, n = np.random.default_rng(12), 60
    xy, t, u, e, formed, lam_min = _spd_problem(rng, n, 80)
    m = rng.standard_normal(n)
    exact = np.linalg.solve(formed, m)
    low = xy.astype(np.float32)
    work = np.empty((5, n))
    x_scaled = 3.0 * exact
    it_scaled, *_, b_scaled = cg_solve_mixed(
        xy, low, t, u, e, m, x_scaled, work, lam_min, 1e-10, 400
    )
    x_zero = np.zeros(n)
    it_zero, *_, b_zero = cg_solve_mixed(xy, low, t, u, e, m, x_zero, work, lam_min, 1e-10, 400)
    assert b_scaled <= 1e-10 and b_zero <= 1e-10
    assert 0 <= it_scaled <= 3 < 10 <= it_zero
    np.testing.assert_allclose(x_scaled, exact, rtol=1e-9)


def test_cg_mixed_and_float64_products_agree_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch with float32 inner products and with float64 ones: every CG row within its
    bound of the exact batch, and of each other."""
    prices, mu = _gbm(160, 25, 3)
    case = Case(prices, mu, OptimiserConfig(**BASE), 40)
    p, m = case.frames()
    exact = run_batch(p, m, case.cfg)
    cfg = case.cfg.model_copy(update={"solver": "cg", "cg_tol": 1e-9})
    runs = {}
    for mixed in (True, False):
        monkeypatch.setattr(kernel, "CG_MIXED_PRECISION", mixed)
        runs[mixed] = run_batch(p, m, cfg)
    rows = np.isfinite(exact.risk).all(axis=1) & (np.abs(exact.risk).sum(axis=1) > 0)
    rows &= runs[True].iterations > 0
    assert rows.sum() > 50
    for res in runs.values():
        assert np.nanmax(res.error_bound[rows]) <= 1e-9
        err = _row_rel_err(res.risk[rows], exact.risk[rows])
        assert np.all(err <= res.error_bound[rows] + 1e-12)
    assert not np.array_equal(runs[True].risk, runs[False].risk)  # really a different path


@pytest.mark.parametrize(
    ("update", "match"),
    [
        ({"solver": "cg", "shrink": 1.0}, "needs shrink < 1"),
        (
            {
                "solver": "cg",
                "covariance_config": {
                    "covariance_mode": "sliding_window",
                    "window": 10,
                    "n_factors": 2,
                },
            },
            "needs covariance_mode ewma_shrink",
        ),
        ({"solver": "lu"}, "solver"),
        ({"solver": "cg", "cg_tol": 0.5}, "cg_tol"),
        ({"solver": "cg", "cg_max_iter": 0}, "cg_max_iter"),
    ],
)
def test_cg_config_is_validated(update: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config_from_mapping({**BASE, **update})
