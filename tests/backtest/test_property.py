"""Invariants of the backtester over random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.backtest import CostModel, backtest_weights


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 100.0), st.integers(0, 2))
def test_value_invariant_to_price_currency_rescale(seed: int, scale: float, lag: int) -> None:
    rng = np.random.default_rng(seed)
    p = 20 * np.cumprod(1 + rng.normal(0, 0.02, size=(30, 4)), axis=0)
    w = rng.normal(0.25, 0.3, size=(30, 4))
    model = CostModel(
        proportional_bps=10, holding_cost_per_period=1e-4, borrow_cost_per_period=1e-3
    )
    a = backtest_weights(p, w, lag=lag, costs=model)
    b = backtest_weights(p * scale, w, lag=lag, costs=model)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-10)
    np.testing.assert_allclose(a.holdings, b.holdings * scale, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 1e6))
def test_value_scales_with_initial_value_without_fixed_costs(seed: int, v0: float) -> None:
    rng = np.random.default_rng(seed)
    p = 20 * np.cumprod(1 + rng.normal(0, 0.02, size=(30, 3)), axis=0)
    w = rng.dirichlet(np.ones(3), size=30)
    model = CostModel(proportional_bps=20)
    a = backtest_weights(p, w, costs=model)
    b = backtest_weights(p, w, costs=model, initial_value=v0)
    np.testing.assert_allclose(a.values * v0, b.values, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_accounting_identities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = 20 * np.cumprod(1 + rng.normal(0, 0.02, size=(25, 3)), axis=0)
    w = rng.dirichlet(np.ones(3), size=25)
    model = CostModel(proportional_bps=15, fixed_per_trade=1e-4, holding_cost_per_period=1e-4)
    res = backtest_weights(p, w, costs=model)
    # value = cash + holdings . prices; weights sum to invested fraction; costs never negative
    np.testing.assert_allclose(res.values, res.cash + (res.holdings * p).sum(axis=1), rtol=1e-12)
    assert (res.costs >= 0).all()
    # zero costs give higher value than with costs, bar by bar after the first trade
    free = backtest_weights(p, w)
    assert (free.values[1:] >= res.values[1:]).all()
    # the PnL adds up, simple and log returns agree
    np.testing.assert_allclose(res.pnl.sum(), res.values[-1] - res.values[0], rtol=1e-10)
    np.testing.assert_allclose(
        np.log1p(res.simple_returns), res.log_returns, rtol=1e-10, atol=1e-14
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_engine_charges_what_the_cost_functions_price(seed: int) -> None:
    """The simulator and an allocator pricing the same trades with the pure functions agree."""
    from algotrader.backtest import holding_cost, transaction_costs

    rng = np.random.default_rng(seed)
    p = 20 * np.cumprod(1 + rng.normal(0, 0.02, size=(25, 3)), axis=0)
    w = rng.normal(0.3, 0.3, size=(25, 3))
    sig = np.abs(rng.normal(0.02, 0.005, size=(25, 3)))
    vol = rng.uniform(1e3, 1e4, size=(25, 3))
    model = CostModel(
        proportional_bps=7,
        proportional_bps_by_asset={"b": 30.0},
        fixed_per_trade=1e-4,
        impact_coef=0.3,
        holding_cost_per_period=1e-4,
        borrow_cost_per_period=5e-4,
    )
    names = ["a", "b", "c"]
    res = backtest_weights(p, w, costs=model, volatility=sig, volume=vol, asset_names=names)
    tc = transaction_costs(res.trade_values, model, asset_names=names, volatility=sig, volume=vol)
    np.testing.assert_allclose(
        res.cost_breakdown["proportional"], tc.proportional.sum(axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(res.cost_breakdown["fixed"], tc.fixed.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(res.cost_breakdown["impact"], tc.impact.sum(axis=1), rtol=1e-12)
    carried = np.vstack([np.zeros((1, 3)), res.holdings[:-1]]) * p
    hc = holding_cost(carried, model)
    hc[0] = 0.0
    np.testing.assert_allclose(res.cost_breakdown["holding"], hc, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(res.trades * p, res.trade_values, rtol=1e-12)
