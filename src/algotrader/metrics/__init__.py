"""Performance metrics and overfitting statistics.

Pure, vectorised functions over ``(T,)`` or ``(T, K)`` arrays (time on axis 0), returning
a float or a ``(K,)`` array. Return-based metrics take **simple** returns; value-based
metrics take strictly positive value paths that include the starting value. Every function
takes ``periods_per_year`` explicitly where it annualises, and states its NaN policy
(by default: propagate, a column with any NaN gives NaN).

Example:
    >>> import numpy as np
    >>> from algotrader import metrics
    >>> v = np.array([1.0, 1.02, 0.99, 1.05])
    >>> r = v[1:] / v[:-1] - 1
    >>> round(metrics.max_drawdown(v), 4), round(metrics.total_return(v), 4)
    (0.0294, 0.05)
    >>> metrics.sharpe(np.column_stack([r, 2 * r]), periods_per_year=252).shape
    (2,)
"""

from __future__ import annotations

from algotrader.metrics.bootstrap import BootstrapCI, bootstrap_sharpe_ci
from algotrader.metrics.generalisation import (
    WalkForwardSummary,
    adjusted_sharpe_bound,
    is_oos_gap,
    rademacher_complexity,
    summarise_walk_forward,
    walk_forward_efficiency,
)
from algotrader.metrics.pbo import PBOResult, probability_of_backtest_overfitting
from algotrader.metrics.relative import (
    annualised_returns_over_benchmark,
    hodl_values,
    returns_over_benchmark,
    returns_over_hodl,
    returns_over_uniform_hodl,
    uniform_hodl_values,
)
from algotrader.metrics.returns_based import (
    annualised_turnover,
    annualised_volatility,
    conditional_value_at_risk,
    downside_deviation,
    hit_rate,
    log_sharpe,
    sharpe,
    sortino,
    value_at_risk,
)
from algotrader.metrics.sharpe_inference import (
    deflated_sharpe_ratio,
    effective_number_of_trials,
    expected_max_sharpe,
    minimum_track_record_length,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
)
from algotrader.metrics.value_based import (
    annualised_return,
    calmar,
    chunk_max_drawdowns,
    drawdown_series,
    greatest_drawdown,
    max_drawdown,
    returns_from_values,
    sterling,
    total_return,
    ulcer_index,
)

__all__ = [
    "BootstrapCI",
    "PBOResult",
    "WalkForwardSummary",
    "adjusted_sharpe_bound",
    "annualised_return",
    "annualised_returns_over_benchmark",
    "annualised_turnover",
    "annualised_volatility",
    "bootstrap_sharpe_ci",
    "calmar",
    "chunk_max_drawdowns",
    "conditional_value_at_risk",
    "deflated_sharpe_ratio",
    "downside_deviation",
    "drawdown_series",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "greatest_drawdown",
    "hit_rate",
    "hodl_values",
    "is_oos_gap",
    "log_sharpe",
    "max_drawdown",
    "minimum_track_record_length",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "rademacher_complexity",
    "returns_from_values",
    "returns_over_benchmark",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "sharpe",
    "sortino",
    "sterling",
    "summarise_walk_forward",
    "total_return",
    "ulcer_index",
    "uniform_hodl_values",
    "value_at_risk",
    "walk_forward_efficiency",
]
