"""Closed-form and independent-reference checks of the optimiser's building blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from algotrader.portfolio import (
    FactorModel,
    OptimiserConfig,
    OptimiserStream,
    SlidingWindowConfig,
    analyse,
    run_batch,
)
from algotrader.portfolio.ewm import PairwiseEwmCov, VolAccumulator
from algotrader.portfolio.signal_quality import information_coefficients
from algotrader.portfolio.solve import solve_symmetric

# numerical warnings (overflow, invalid) from the optimiser are bugs here
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _frames(prices: np.ndarray, mu: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    names = [f"A{i}" for i in range(prices.shape[1])]
    d = pl.Series("date", np.arange(prices.shape[0]))
    return (
        pl.DataFrame({"date": d, **{n: prices[:, i] for i, n in enumerate(names)}}),
        pl.DataFrame({"date": d, **{n: mu[:, i] for i, n in enumerate(names)}}),
    )


def _gbm(t_len: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal((t_len, n)), axis=0))


def test_two_assets_identity_correlation_risk_is_normalised_signal() -> None:
    """shrink = 0 makes A = I, so x = mu / |mu| and cash * sigma = mu / |mu|."""
    prices = _gbm(80, 2)
    mu = np.random.default_rng(1).standard_normal((80, 2))
    cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.0, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg)
    valid = res.status == "valid"
    assert valid.sum() == 70
    expected = mu[valid] / np.linalg.norm(mu[valid], axis=1, keepdims=True)
    np.testing.assert_allclose(res.risk[valid], expected, rtol=1e-12)


def test_single_asset_cash_is_sign_over_sigma() -> None:
    prices = _gbm(50, 1, seed=3)
    mu = np.where(np.arange(50) % 2 == 0, 2.0, -0.5)[:, None]
    cfg = OptimiserConfig(vola=4, corr=6, clip=3.0, shrink=0.7, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg)
    valid = res.status == "valid"
    np.testing.assert_allclose(res.cash[valid], np.sign(mu[valid]) / res.vola[valid], rtol=1e-13)


def test_vola_is_pandas_ewm_std_of_simple_returns() -> None:
    prices = _gbm(120, 3, seed=4)
    prices[[30, 31, 70], 1] = np.nan
    mu = np.ones_like(prices)
    cfg = OptimiserConfig(vola=8, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg)
    expected = np.array(
        pd.DataFrame(prices)
        .pct_change(fill_method=None)
        .ewm(com=cfg.vola - 1, min_periods=cfg.vola, ignore_na=False)
        .std()
        .to_numpy()
    )
    expected[~np.isfinite(pd.DataFrame(prices).pct_change(fill_method=None).to_numpy())] = np.nan
    np.testing.assert_allclose(res.vola, expected, rtol=1e-12)


def test_vol_accumulator_single_observation_is_zero_and_min_samples() -> None:
    acc = VolAccumulator.empty(2)
    acc.update(np.array([0.01, np.nan]), beta=0.9)
    assert acc.std(min_samples=1).tolist()[0] == 0.0
    assert np.isnan(acc.std(min_samples=1)[1])
    assert np.isnan(acc.std(min_samples=2)[0])


def _brute_pair_cov(x: np.ndarray, beta: float, i: int, j: int) -> float:
    t = x.shape[0] - 1
    both = np.isfinite(x[:, i]) & np.isfinite(x[:, j])
    w = beta ** (t - np.arange(t + 1))[both]
    xi, xj = x[both, i], x[both, j]
    mx, my = (w * xi).sum() / w.sum(), (w * xj).sum() / w.sum()
    return float((w * xi * xj).sum() / w.sum() - mx * my)


def test_pairwise_ewm_cov_matches_brute_force_and_pandas() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 3))
    x[rng.random((60, 3)) < 0.2] = np.nan
    x[-1] = rng.standard_normal(3)  # last row complete so pandas reports every pair
    span = 9
    beta = 1.0 - 2.0 / (span + 1.0)
    acc = PairwiseEwmCov.empty(3)
    for row in x:
        present = np.isfinite(row)
        acc.update(np.where(present, row, 0.0), present, beta, min_samples=1)
    cov = acc.covariance()
    for i in range(3):
        for j in range(3):
            assert cov[i, j] == pytest.approx(_brute_pair_cov(x, beta, i, j), rel=1e-12)
    a, b = pd.Series(x[:, 0]), pd.Series(x[:, 1])
    ref = a.ewm(span=span, ignore_na=False).cov(b, bias=True).iloc[-1]
    assert cov[0, 1] == pytest.approx(ref, rel=1e-12)


def test_compact_and_dense_pairwise_representations_agree_bitwise() -> None:
    rng = np.random.default_rng(6)
    rows = rng.standard_normal((30, 4))
    compact = PairwiseEwmCov.empty(4)
    dense = PairwiseEwmCov.empty(4)
    dense._expand()
    for r in rows:
        for acc in (compact, dense):
            acc.update(r, np.ones(4, dtype=bool), 0.9, min_samples=5)
    assert not compact.dense and dense.dense
    np.testing.assert_array_equal(compact.covariance(), dense.covariance())


def test_turnover_cap_scales_the_step_uniformly() -> None:
    prices = _gbm(60, 3, seed=7)
    mu = np.random.default_rng(8).standard_normal((60, 3))
    free_cfg = OptimiserConfig(vola=4, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    free = run_batch(*_frames(prices, mu), free_cfg)
    cap = 50.0
    capped = run_batch(*_frames(prices, mu), free_cfg.model_copy(update={"max_turnover": cap}))
    t0 = free_cfg.warmup_rows
    # first post-warm-up row trades from flat: delta = target, scaled to L1 = cap
    target = free.cash[t0]
    total = np.abs(target).sum()
    expected = target * (cap / total) if total > cap else target
    np.testing.assert_allclose(capped.cash[t0], expected, rtol=1e-13)
    # next row: from the capped position towards the new free target
    delta = free.cash[t0 + 1] - capped.cash[t0]
    step = np.abs(delta).sum()
    expected = capped.cash[t0] + delta * min(1.0, cap / step)
    np.testing.assert_allclose(capped.cash[t0 + 1], expected, rtol=1e-12)


def test_zero_signal_and_degenerate_rows() -> None:
    prices = _gbm(30, 2, seed=9)
    mu = np.ones((30, 2))
    mu[20] = 0.0
    mu[21] = [1e-9, -1e-9]
    cfg = OptimiserConfig(vola=3, corr=5, clip=3.0, shrink=0.5, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg)
    assert res.status[20] == "zero_signal" and res.status[21] == "zero_signal"
    assert np.all(res.cash[20] == 0.0)
    degenerate = run_batch(*_frames(prices, mu), cfg.model_copy(update={"denom_tol": 1e9}))
    assert set(degenerate.status[5:]) == {"degenerate", "zero_signal"}
    assert np.all(degenerate.cash[5:] == 0.0)


def test_factor_model_full_rank_reproduces_window_second_moment() -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal((40, 3))
    fm = FactorModel.from_window(x, n_factors=3)
    second = x.T @ x / 40
    d = np.maximum(1.0 - np.diagonal(second), np.finfo(float).eps)
    np.testing.assert_allclose(fm.covariance(), second + np.diag(d), rtol=1e-12, atol=1e-14)


def test_sliding_window_max_components_caps_the_rank() -> None:
    prices = _gbm(60, 4, seed=11)
    mu = np.random.default_rng(12).standard_normal((60, 4))
    base = OptimiserConfig(vola=4, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    k1 = base.model_copy(update={"covariance_config": SlidingWindowConfig(window=20, n_factors=1)})
    k3_capped = base.model_copy(
        update={"covariance_config": SlidingWindowConfig(window=20, n_factors=3, max_components=1)}
    )
    k3 = base.model_copy(update={"covariance_config": SlidingWindowConfig(window=20, n_factors=3)})
    r1 = run_batch(*_frames(prices, mu), k1)
    rc = run_batch(*_frames(prices, mu), k3_capped)
    r3 = run_batch(*_frames(prices, mu), k3)
    np.testing.assert_array_equal(rc.cash, r1.cash)
    assert not np.allclose(np.nan_to_num(r3.cash), np.nan_to_num(r1.cash))
    assert list(r1.status[:19]) == ["warmup"] * 19 and r1.status[19] == "valid"


def test_solver_falls_back_to_eigen_on_clamped_factor_model() -> None:
    """Idiosyncratic variances clamped to eps: Cholesky refuses (cond > 1e12), the eigen
    solve returns a finite, well-scaled answer whose residual is small on the kept space."""
    b = np.array([[1.0], [1.0], [1.0]])
    fm = FactorModel(b, np.array([2.0]), np.full(3, np.finfo(float).eps))
    a = fm.covariance()
    m = np.array([1.0, 0.5, -0.2])
    x, method = solve_symmetric(a, m)
    assert method == "eigen" and x is not None
    assert np.all(np.isfinite(x)) and np.abs(x).max() < 1e3
    # minimum-norm solution on the factor direction: x is parallel to b
    np.testing.assert_allclose(x, np.full(3, m.sum() / 3 / 6.0), rtol=1e-9)


def test_information_coefficients_closed_form() -> None:
    prices = np.array([[1.0, 1.0, 1.0, 1.0], [1.3, 1.1, 1.2, 0.9]])
    mu = np.array([[4.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    ic, ric = information_coefficients(prices, mu, 1)
    fwd = prices[1] - 1.0
    assert ic[0] == pytest.approx(np.corrcoef(mu[0], fwd)[0, 1], rel=1e-12)
    assert ric[0] == pytest.approx(1.0)
    assert np.isnan(ic[1])


def test_analytics_costs_and_figures() -> None:
    rng = np.random.default_rng(13)
    prices = 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal((300, 2)), axis=0))
    cash = rng.standard_normal((300, 2))
    free = analyse(cash, prices, aum=1e4, position_scale=10.0, periods_per_year=252)
    costly = analyse(
        cash, prices, aum=1e4, position_scale=10.0, cost_per_unit=0.002, periods_per_year=252
    )
    np.testing.assert_allclose(costly.costs, 0.002 * free.turnover)
    np.testing.assert_allclose(free.nav - costly.nav, np.cumsum(costly.costs))
    # figures of the shared path: simple returns of the NAV path that starts at aum
    nav = np.concatenate([[1e4], free.nav])
    r = nav[1:] / nav[:-1] - 1.0
    assert free.summary["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252))
    mdd = np.max(1 - nav / np.maximum.accumulate(nav))
    assert free.summary["max_drawdown"] == pytest.approx(mdd)
    assert free.drawdown.max() == pytest.approx(mdd)


def test_diagnostics_are_consistent_with_the_solved_matrix() -> None:
    prices = _gbm(90, 4, seed=14)
    prices[40:43, 2] = np.nan
    mu = np.random.default_rng(15).standard_normal((90, 4))
    cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.8, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg, diagnostics=True)
    diag = res.diagnostics
    for t in (15, 41, 44, 89):
        a_full = res.correlation(t)
        keep = np.isfinite(np.diagonal(a_full))
        a = a_full[np.ix_(keep, keep)]
        assert diag.condition_number[t] == pytest.approx(np.linalg.cond(a), rel=1e-9)
        w = np.linalg.eigvalsh(a)
        p = w / w.sum()
        assert diag.effective_rank[t] == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-9)
        m = mu[t, keep]
        x = np.linalg.solve(a, m)
        np.testing.assert_allclose(res.utilisation[t, keep], x / m, rtol=1e-9)
        assert res.residual[t] < 1e-10
    assert keep.sum() == 4
    assert not np.isfinite(np.diagonal(res.correlation(43))[2])  # gap re-entry row
    np.testing.assert_allclose(res.leverage, np.nansum(np.abs(res.cash), axis=1))
    frame = res.diagnostics_frame
    assert frame.columns == [
        "date",
        "status",
        "solver",
        "solver_residual",
        "position_error_bound",
        "cg_iterations",
        "leverage",
        "condition_number",
        "effective_rank",
    ]
    assert set(frame["solver"][10:].to_list()) == {"cholesky"}
    assert np.isnan(diag.condition_number[:10]).all()


def test_signal_quality_summary() -> None:
    prices = _gbm(120, 5, seed=16)
    fwd = np.vstack([prices[1:] / prices[:-1] - 1.0, np.full((1, 5), np.nan)])
    rng = np.random.default_rng(17)
    mu = np.nan_to_num(fwd) + 0.02 * rng.standard_normal((120, 5))  # a (cheating) good signal
    cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.5, aum=1.0)
    res = run_batch(*_frames(prices, mu), cfg)
    q = res.signal_quality(1)
    ic = res.ic(1)["ic"].to_numpy()
    finite = ic[np.isfinite(ic)]
    assert finite.size == 119
    assert q.ic_mean == pytest.approx(finite.mean())
    assert q.ic_std == pytest.approx(finite.std(ddof=1))
    assert q.icir == pytest.approx(q.ic_mean / q.ic_std)
    assert q.ic_mean > 0.2 and q.rank_ic_mean > 0.2


def test_stream_accepts_dict_rows() -> None:
    prices = _gbm(40, 3, seed=18)
    mu = np.random.default_rng(19).standard_normal((40, 3))
    p, m = _frames(prices, mu)
    cfg = OptimiserConfig(vola=4, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    a = OptimiserStream.from_warmup(p.head(30), m.head(30), cfg)
    b = OptimiserStream.from_warmup(p.head(30), m.head(30), cfg)
    for t in range(30, 35):  # dict rows in any key order == array rows
        ra = a.step(prices[t], mu[t], t)
        row = {f"A{i}": float(prices[t, i]) for i in (2, 0, 1)}
        rb = b.step(row, {f"A{i}": float(mu[t, i]) for i in range(3)}, t)
        np.testing.assert_array_equal(ra.cash_position, rb.cash_position)
    gap = b.step({"A0": prices[35, 0], "A1": None, "A2": prices[35, 2]}, mu[35], 35)
    assert gap.status == "valid"
    assert np.isnan(gap.cash_position[1]) and np.isfinite(gap.cash_position[[0, 2]]).all()
