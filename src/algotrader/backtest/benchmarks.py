"""Benchmarks computed alongside a backtest: HODL, uniform HODL, equal-weight rebalanced.

* **HODL**: the strategy's holdings (and cash) right after its first executed trade, held
  unchanged afterwards; before that bar it is the starting cash. Entry costs are the
  strategy's own.
* **uniform HODL**: the starting value split equally across the assets at the first
  execution bar (``lag``), never rebalanced; pays the cost model on that one trade.
* **equal-weight rebalanced**: weights ``1/A`` at every bar with the same lag and costs.

Example:
    >>> import numpy as np
    >>> prices = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0], [2.0, 2.0]])
    >>> b = compute_benchmarks(prices, lag=1)
    >>> b["uniform_hodl"].tolist(), b["equal_weight_rebalanced"].tolist()
    ([1.0, 1.0, 1.5, 2.0], [1.0, 1.0, 1.5, 2.25])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from algotrader.backtest.costs import CostModel
from algotrader.backtest.engine import BacktestResult, FloatArray, run_backtest


def hodl_from_result(result: BacktestResult, prices: ArrayLike) -> FloatArray:
    """HODL path of the strategy's first executed holdings, shape ``(T,)``."""
    p = np.asarray(prices, dtype=np.float64)
    t0 = result.first_execution
    values = result.values.copy()  # all cash (unchanged) before the first execution
    if t0 is not None:
        values[t0:] = result.cash[t0] + p[t0:] @ result.holdings[t0]
    return values


def compute_benchmarks(
    prices: ArrayLike,
    *,
    lag: int = 1,
    costs: CostModel | None = None,
    initial_value: float = 1.0,
    volatility: ArrayLike | None = None,
    volume: ArrayLike | None = None,
    asset_names: Sequence[str] | None = None,
    result: BacktestResult | None = None,
) -> dict[str, FloatArray]:
    """Value paths ``(T,)`` of the benchmarks (HODL only when ``result`` is given)."""
    p = np.asarray(prices, dtype=np.float64)
    t_len, a = p.shape
    kw = dict(
        lag=lag,
        costs=costs,
        initial_value=initial_value,
        volatility=volatility,
        volume=volume,
        asset_names=asset_names,
    )
    once = np.full((t_len, a), np.nan)
    once[0] = 1.0 / a
    out = {
        "uniform_hodl": run_backtest(p, once, **kw).values,  # type: ignore[arg-type]
        "equal_weight_rebalanced": run_backtest(p, np.full((t_len, a), 1.0 / a), **kw).values,  # type: ignore[arg-type]
    }
    if result is not None:
        out["hodl"] = hodl_from_result(result, p)
    return out
