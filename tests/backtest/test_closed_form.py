"""Closed-form backtests: single asset, known costs, equal weight, positions."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.backtest import (
    CostModel,
    backtest_positions,
    backtest_weights,
    compute_benchmarks,
    impact_cost,
    transaction_costs,
)


def test_single_asset_full_weight_tracks_price_after_lag() -> None:
    p = np.array([[10.0], [11.0], [12.1], [9.0]])
    for lag in (0, 1, 2):
        res = backtest_weights(p, np.ones((4, 1)), lag=lag)
        expected = np.where(np.arange(4) < lag, 1.0, p[:, 0] / p[min(lag, 3), 0])
        np.testing.assert_allclose(res.values, expected)
        assert res.first_execution == lag


def test_returns_simple_and_log_are_distinct_and_consistent() -> None:
    p = np.array([[10.0], [10.0], [12.0], [6.0]])
    res = backtest_weights(p, np.ones((4, 1)))
    np.testing.assert_allclose(res.simple_returns, [0.0, 0.2, -0.5])
    np.testing.assert_allclose(res.log_returns, np.log1p([0.0, 0.2, -0.5]))
    np.testing.assert_allclose(res.pnl, [0.0, 0.0, 0.2, -0.6])


def test_proportional_cost_on_entry_and_turnover() -> None:
    p = np.full((3, 2), 100.0)
    costs = CostModel(proportional_bps=25.0)
    res = backtest_weights(p, np.full((3, 2), 0.5), costs=costs, initial_value=1000.0)
    assert res.costs[1] == pytest.approx(1000.0 * 25e-4)
    assert res.turnover[1] == pytest.approx(1.0)
    assert res.values[1] == pytest.approx(1000.0 - 2.5)
    # targets are sized on pre-cost value, so the entry cost left cash at -2.5; bar 2
    # sells 1.25 of each asset to bring the book back to 50/50 of 997.5
    assert res.cash[1] == pytest.approx(-2.5)
    assert res.turnover[2] == pytest.approx(2.5 / 997.5)


def test_per_asset_bps_and_fixed_fee() -> None:
    model = CostModel(
        proportional_bps=10.0, proportional_bps_by_asset={"B": 50.0}, fixed_per_trade=2.0
    )
    c = transaction_costs(np.array([1000.0, -1000.0]), model, asset_names=["A", "B"])
    assert c.proportional.tolist() == pytest.approx([1.0, 5.0])
    assert c.fixed.tolist() == [2.0, 2.0]
    assert c.total().sum() == pytest.approx(10.0)


def test_impact_formula() -> None:
    # a * sigma * |x|^1.5 / volume^0.5 = 0.5 * 0.02 * 10000^1.5 / 1e6^0.5 = 0.01 * 1e6 / 1e3
    assert impact_cost(np.array([-10000.0]), 0.02, 1e6, 0.5)[0] == pytest.approx(10.0)
    p = np.full((2, 1), 1.0)
    model = CostModel(impact_coef=0.5)
    res = backtest_weights(
        p, np.ones((2, 1)), costs=model, initial_value=10000.0, volatility=0.02, volume=1e6
    )
    assert res.cost_breakdown["impact"][1] == pytest.approx(10.0)
    assert res.values[1] == pytest.approx(9990.0)


def test_holding_and_borrow_costs_per_period() -> None:
    p = np.full((4, 2), 1.0)
    model = CostModel(holding_cost_per_period=0.001, borrow_cost_per_period=0.01)
    w = np.tile([1.0, -0.5], (4, 1))
    res = backtest_weights(p, w, costs=model, lag=0, initial_value=100.0)
    # bar 0 buys 100 long / 50 short; bar 1 charges 0.1 + 0.5 on the carried book
    assert res.cost_breakdown["holding"][1] == pytest.approx(0.6)
    assert res.values[1] == pytest.approx(99.4)


def test_positions_kind() -> None:
    p = np.array([[10.0, 5.0], [10.0, 5.0], [20.0, 5.0]])
    pos = np.tile([50.0, 25.0], (3, 1))
    res = backtest_positions(p, pos, initial_value=100.0, lag=1)
    np.testing.assert_allclose(res.holdings[1], [5.0, 5.0])
    assert res.cash[1] == pytest.approx(25.0)
    # at bar 2 the target is again 50 in asset 0: sell 2.5 units after the doubling
    assert res.values[2] == pytest.approx(25.0 + 100.0 + 25.0)
    np.testing.assert_allclose(res.holdings[2], [2.5, 5.0])


def test_nan_row_holds() -> None:
    p = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0], [2.0, 1.0]])
    w = np.array([[1.0, 0.0], [np.nan, np.nan], [np.nan, np.nan], [np.nan, np.nan]])
    res = backtest_weights(p, w, lag=1)
    assert res.trades[2:].sum() == 0.0
    np.testing.assert_allclose(res.values, [1.0, 1.0, 2.0, 2.0])


def test_equal_weight_and_uniform_benchmarks_closed_form() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, size=(50, 3))
    p = 100 * np.cumprod(1 + r, axis=0)
    b = compute_benchmarks(p, lag=0)
    ew = np.cumprod(np.concatenate([[1.0], 1 + (p[1:] / p[:-1] - 1).mean(axis=1)]))
    np.testing.assert_allclose(b["equal_weight_rebalanced"], ew, rtol=1e-12)
    np.testing.assert_allclose(b["uniform_hodl"], (p / p[0]).mean(axis=1), rtol=1e-12)


def test_hodl_benchmark_holds_first_book() -> None:
    p = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0], [2.0, 4.0]])
    w = np.array([[0.25, 0.75], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    res = backtest_weights(p, w, lag=1)
    b = compute_benchmarks(p, lag=1, result=res)
    np.testing.assert_allclose(b["hodl"], [1.0, 1.0, 1.25, 3.5])
