"""Backtester: weights or cash positions x prices -> value, PnL, returns, turnover, costs.

Timing: a decision in row t (data up to the close of bar t) is executed at the close of
bar ``t + lag`` (default 1). One :class:`CostModel` prices trades for allocators and for
the simulator alike.

Example:
    >>> import numpy as np
    >>> from algotrader.backtest import CostModel, backtest_weights
    >>> prices = np.array([[10.0, 20.0], [10.0, 20.0], [11.0, 20.0]])
    >>> res = backtest_weights(prices, np.full((3, 2), 0.5), costs=CostModel(proportional_bps=10))
    >>> float(round(res.values[-1], 6))  # 10 bps on buying 1.0, then on a 0.05 rebalance
    1.04895
"""

from __future__ import annotations

from algotrader.backtest.benchmarks import compute_benchmarks, hodl_from_result
from algotrader.backtest.costs import (
    CostModel,
    TradeCosts,
    fixed_cost,
    holding_cost,
    impact_cost,
    proportional_cost,
    transaction_costs,
)
from algotrader.backtest.engine import (
    BacktestResult,
    backtest_positions,
    backtest_weights,
    run_backtest,
)
from algotrader.backtest.evaluate import (
    Evaluation,
    evaluate_value_series,
    evaluate_weights,
    periods_per_year,
    write_evaluation,
)

__all__ = [
    "BacktestResult",
    "CostModel",
    "Evaluation",
    "TradeCosts",
    "backtest_positions",
    "backtest_weights",
    "compute_benchmarks",
    "evaluate_value_series",
    "evaluate_weights",
    "fixed_cost",
    "hodl_from_result",
    "holding_cost",
    "impact_cost",
    "periods_per_year",
    "proportional_cost",
    "run_backtest",
    "transaction_costs",
    "write_evaluation",
]
