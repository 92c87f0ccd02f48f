"""portfolio.analytics is a thin use of the shared evaluation path (issue 10 item 3):
the same engine, cost model and metric definitions as backtest.evaluate_weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algotrader.backtest import CostModel
from algotrader.backtest.evaluate import evaluate_weights, periods_per_year
from algotrader.data.panel import Panel
from algotrader.portfolio.analytics import analyse


def _market(t: int = 260, a: int = 3, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prices = 50.0 * np.exp(np.cumsum(0.012 * rng.standard_normal((t, a)), axis=0))
    weights = rng.dirichlet(np.ones(a), size=t) * rng.uniform(0.5, 1.0, size=(t, 1))
    return prices, weights


@pytest.mark.parametrize("bps", [0.0, 7.5])
def test_analyse_equals_evaluate_weights_on_the_same_book(bps: float) -> None:
    prices, weights = _market()
    t, a = prices.shape
    # evaluate_weights on one extra leading row with no decision (all cash at aum), then
    # trading at each row's close (lag 0): its value path is analyse's [aum, NAV...]
    dates = np.datetime64("2021-01-04") + np.arange(t + 1) * np.timedelta64(1, "D")
    panel = Panel.from_arrays(dates, ["A", "B", "C"], np.vstack([prices[:1], prices]))
    w = np.vstack([np.full((1, a), np.nan), weights])
    model = CostModel(proportional_bps=bps)
    ev = evaluate_weights(panel, w, model, lag=0, initial_value=1e6)
    assert ev.values[0] == 1e6
    # the same book as currency positions: target value w * (pre-trade NAV)
    pre_trade = (ev.values + ev.costs)[1:]
    cash = weights * pre_trade[:, None] / 1e3  # in units of position_scale = 1e3
    ppy = periods_per_year(dates)
    rep = analyse(
        cash, prices, aum=1e6, position_scale=1e3, cost_per_unit=bps / 1e4, periods_per_year=ppy
    )
    np.testing.assert_allclose(rep.nav, ev.values[1:], rtol=1e-12)
    np.testing.assert_allclose(rep.costs, ev.costs[1:], rtol=1e-9, atol=1e-9)
    assert ev.backtest is not None
    np.testing.assert_allclose(
        rep.turnover, np.abs(ev.backtest.trade_values[1:]).sum(axis=1), rtol=1e-9, atol=1e-6
    )
    np.testing.assert_allclose(rep.profit - rep.costs, np.diff(ev.values), rtol=1e-7, atol=1e-6)
    # figures: the same registry definitions and the same periods per year
    for name in (
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "annualised_return",
        "total_return",
        "annualised_turnover",
    ):
        assert rep.summary[name] == pytest.approx(ev.metrics[name], rel=1e-9), name
    assert rep.summary["periods_per_year"] == ppy


def test_figures_are_the_closed_form_on_the_nav_path() -> None:
    prices, _ = _market(seed=8)
    cash = np.random.default_rng(9).standard_normal(prices.shape)
    rep = analyse(cash, prices, aum=1e4, position_scale=10.0, periods_per_year=252)
    nav = np.concatenate([[1e4], rep.nav])
    r = nav[1:] / nav[:-1] - 1.0
    assert rep.summary["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert rep.summary["max_drawdown"] == pytest.approx(
        np.max(1 - nav / np.maximum.accumulate(nav))
    )
    # profit is the price move of the previous row's positions, in currency
    ret = prices[1:] / prices[:-1] - 1.0
    np.testing.assert_allclose(rep.profit[1:], (10.0 * cash[:-1] * ret).sum(axis=1), rtol=1e-10)


def test_costs_are_the_cost_model_on_the_drifted_trade() -> None:
    prices = np.array([[100.0], [110.0], [99.0]])
    cash = np.array([[1.0], [1.0], [0.0]])
    rep = analyse(cash, prices, aum=100.0, position_scale=10.0, cost_per_unit=0.01)
    # buy 10 at 100; the position grew to 11: sell 1; it fell to 9: sell 9
    np.testing.assert_allclose(rep.turnover, [10.0, 1.0, 9.0])
    np.testing.assert_allclose(rep.costs, [0.1, 0.01, 0.09])
    np.testing.assert_allclose(rep.nav, [99.9, 100.89, 99.8])
    np.testing.assert_allclose(rep.returns, np.diff([100.0, 99.9, 100.89, 99.8]) / 100.0)


def test_a_nav_that_crosses_zero_keeps_its_path_and_says_so() -> None:
    prices = np.array([[100.0], [50.0], [25.0], [30.0]])
    cash = np.ones((4, 1))
    rep = analyse(cash, prices, aum=100.0, position_scale=300.0)
    # 300 held each row: -150, -150, +60 -> 100, -50, -200, -140
    np.testing.assert_allclose(rep.nav, [100.0, -50.0, -200.0, -140.0])
    assert rep.summary["nav_crossed_zero"] == 1.0
    assert math.isnan(rep.summary["sharpe"]) and math.isnan(rep.summary["max_drawdown"])
    assert rep.summary["final_nav"] == pytest.approx(-140.0)


def test_unpriced_positions_are_not_taken_and_counted() -> None:
    prices = np.array([[10.0, 20.0], [11.0, np.nan], [12.0, 22.0], [12.0, 24.0]])
    cash = np.ones((4, 2))
    rep = analyse(cash, prices, aum=100.0)
    assert rep.summary["unpriced_position_cells"] == 1.0
    # B: held 1 from row 0, not held at row 1 (no price: sold at the carried 20), bought
    # again at row 2 at 22, earns 24/22 - 1 on row 3
    expected_profit_b = [0.0, 0.0, 0.0, 24.0 / 22.0 - 1.0]
    profit_a = [0.0, 0.1, 1.0 / 11.0, 0.0]
    np.testing.assert_allclose(rep.profit, np.add(profit_a, expected_profit_b), atol=1e-12)
    assert np.isfinite(rep.nav).all()
