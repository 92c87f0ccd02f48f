"""Performance of cash positions through the one evaluation path.

The optimiser's cash positions are a **positions book**: :func:`analyse` hands them to
:func:`algotrader.backtest.run_backtest` (``kind="positions"``, ``lag=0``) with the one
:class:`~algotrader.backtest.CostModel` (``proportional_bps = cost_per_unit * 1e4``), and
computes the figures with :func:`algotrader.metrics.compute_metrics` on the resulting value
path -- the same engine, cost model and metric definitions as
:func:`algotrader.backtest.evaluate_weights` (a test checks they give the same numbers).

Timing: the cash position decided at row ``t`` (after the close of ``t``) is traded at the
close of ``t`` and earns the simple return of ``t -> t+1``:

``profit_t = sum_i s * cash_{t-1,i} * (P_{t,i} / P_{t-1,i} - 1)`` with ``s = position_scale``;
the trade at ``t`` is ``s * cash_t - s * cash_{t-1} * P_t / P_{t-1}`` (from the position
the price move left, in currency; the first row trades from 0); ``turnover_t`` is the sum of
its absolute values and ``cost_t = cost_per_unit * turnover_t``; ``NAV_t = aum + sum_{u<=t}
(profit_u - cost_u)`` (positions are currency amounts, so the NAV is additive);
``returns_t = (profit_t - cost_t) / aum`` is the reference's return on AUM. The figures in
``summary`` (``sharpe``, ``sortino``, ``max_drawdown``, ``calmar``, ``annualised_return``
and every other general metric of the registry) are those of the shared path: computed on
the NAV path that starts at ``aum`` (simple returns ``NAV_t / NAV_(t-1) - 1``).

NaN policy: an asset without a price at a row cannot be traded there: a position on it is
not taken (counted in ``summary["unpriced_position_cells"]``, not hidden) and its price is
carried forward, so a held asset whose price is missing earns nothing on that row. A NAV
that reaches zero or below keeps its path (positions do not depend on the NAV) and its
figures that need a positive NAV are NaN; ``summary["nav_crossed_zero"]`` is 1.0 then.

Example:
    >>> import numpy as np
    >>> prices = np.array([[100.0], [110.0], [99.0]])
    >>> cash = np.array([[1.0], [1.0], [0.0]])
    >>> rep = analyse(cash, prices, aum=100.0, position_scale=10.0, cost_per_unit=0.01,
    ...               periods_per_year=252)
    >>> [np.round(x, 9).tolist() for x in (rep.profit, rep.turnover, rep.nav)]
    [[0.0, 1.0, -1.0], [10.0, 1.0, 9.0], [99.9, 100.89, 99.8]]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.backtest.costs import CostModel
from algotrader.backtest.engine import run_backtest
from algotrader.errors import DataError, ShapeError
from algotrader.io import write_png_atomic
from algotrader.metrics.registry import compute_metrics

logger = logging.getLogger(__name__)

SECONDS_PER_YEAR = 365.0 * 86400.0  # kept for callers; the calendar rule is periods_per_year


@dataclass(frozen=True)
class PerformanceReport:
    """Per-row series of shape (T,) and a summary of standard figures."""

    profit: np.ndarray
    costs: np.ndarray
    turnover: np.ndarray
    nav: np.ndarray
    returns: np.ndarray
    drawdown: np.ndarray
    summary: dict[str, float] = field(default_factory=dict)

    def frame(self, dates: pl.Series) -> pl.DataFrame:
        """``date, profit, costs, turnover, nav, returns, drawdown``."""
        return pl.DataFrame(
            {
                "date": dates,
                "profit": self.profit,
                "costs": self.costs,
                "turnover": self.turnover,
                "nav": self.nav,
                "returns": self.returns,
                "drawdown": self.drawdown,
            }
        )


def periods_per_year_from_dates(dates: pl.Series, default: float = 252.0) -> float:
    """The one calendar rule, :func:`algotrader.backtest.periods_per_year`, for a date series.

    ``default`` only where the rule is undefined (fewer than two dates, or non-temporal ones).

    Example:
        >>> import datetime as dt, polars as pl
        >>> d = pl.Series([dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 3)])
        >>> periods_per_year_from_dates(d)
        365.25
    """
    from algotrader.backtest.evaluate import periods_per_year

    if dates.len() < 2 or not dates.dtype.is_temporal():
        return default
    return periods_per_year(dates)


def _positions_book(
    positions: np.ndarray, prices: np.ndarray, model: CostModel, aum: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(values, holdings, trade_values, costs)`` of the shared engine on a positions book.

    The engine refuses a non-positive value (returns are undefined there). Cash positions
    do not depend on the value, so the same book run with extra starting cash has the same
    trades and costs and a value path shifted by that cash: a NAV that crosses zero is
    recovered by subtracting it.
    """
    kw: dict[str, Any] = {"kind": "positions", "lag": 0, "costs": model}
    try:
        res = run_backtest(prices, positions, initial_value=aum, **kw)
        return res.values, res.holdings, res.trade_values, res.costs
    except DataError as exc:
        if exc.key != "values":
            raise
    cushion = float(2.0 * (np.abs(positions).sum() + aum) + 1.0)
    res = run_backtest(prices, positions, initial_value=aum + cushion, **kw)
    return res.values - cushion, res.holdings, res.trade_values, res.costs


def filled_prices(prices: np.ndarray) -> np.ndarray:
    """Prices carried forward (and back before the first observation); 1.0 for a column
    that is never priced (it is never traded)."""
    p = np.where(np.isfinite(prices) & (prices > 0), prices, np.nan)
    t_len = p.shape[0]
    idx = np.where(np.isfinite(p), np.arange(t_len)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = np.take_along_axis(p, idx, axis=0)
    first = np.argmax(np.isfinite(p), axis=0)
    first_val = p[first, np.arange(p.shape[1])]
    filled = np.where(np.isfinite(filled), filled, first_val[None, :])
    return np.where(np.isfinite(filled), filled, 1.0)


def analyse(
    cash: np.ndarray,
    prices: np.ndarray,
    *,
    aum: float,
    position_scale: float = 1.0,
    cost_per_unit: float = 0.0,
    periods_per_year: float = 252.0,
) -> PerformanceReport:
    """Profit, costs, NAV, returns and figures of ``cash`` (T, N) held on ``prices`` (T, N).

    See the module docstring: the shared backtester with the one cost model, and the
    registry's metric definitions on the NAV path.
    """
    cash = np.asarray(cash, dtype=np.float64)
    prices = np.asarray(prices, dtype=np.float64)
    if cash.shape != prices.shape or cash.ndim != 2:
        raise ShapeError(
            f"cash {cash.shape} and prices {prices.shape} must have the same (T, N) shape"
        )
    if aum <= 0:
        raise ShapeError(f"aum must be > 0; got {aum}", key="aum")
    if not (math.isfinite(cost_per_unit) and cost_per_unit >= 0):
        raise ShapeError(
            f"cost_per_unit must be a non-negative number; got {cost_per_unit}",
            key="cost_per_unit",
        )
    priced = np.isfinite(prices) & (prices > 0)
    held = np.nan_to_num(cash, nan=0.0) * position_scale
    unpriced = int(np.sum((held != 0) & ~priced))
    positions = np.where(priced, held, 0.0)
    model = CostModel(proportional_bps=cost_per_unit * 1e4)
    filled = filled_prices(prices)
    nav, holdings, trade_values, costs = _positions_book(positions, filled, model, aum)
    turnover = np.abs(trade_values).sum(axis=1)
    # the engine's P&L of the units carried over each row (exact, not a NAV difference)
    profit = np.concatenate([[0.0], (holdings[:-1] * np.diff(filled, axis=0)).sum(axis=1)])
    returns = (profit - costs) / aum
    nav_path = np.concatenate([[aum], nav])
    peak = np.maximum.accumulate(nav_path)
    drawdown = np.where(peak > 0, 1.0 - nav_path / peak, np.nan)[1:]
    summary = _summary(nav_path, profit, costs, turnover, periods_per_year, unpriced)
    return PerformanceReport(profit, costs, turnover, nav, returns, drawdown, summary)


def _summary(
    nav_path: np.ndarray,
    profit: np.ndarray,
    costs: np.ndarray,
    turnover: np.ndarray,
    ppy: float,
    unpriced: int,
) -> dict[str, float]:
    positive = bool(np.all(nav_path > 0))
    figures: dict[str, float] = {}
    if positive and nav_path.shape[0] >= 2:
        # turnover as a fraction of the pre-trade NAV, as the shared path reports it
        pre = nav_path[1:] + costs
        to = np.concatenate([[0.0], turnover / pre])
        out = compute_metrics(nav_path, periods_per_year=ppy, turnover=to)
        figures = {k: float(v) for k, v in out.items()}
    elif not positive:
        logger.warning(
            "NAV reaches %.6g: figures that need a positive NAV are NaN "
            "(lower position_scale or raise aum)",
            float(np.min(nav_path)),
        )
    base = {
        "total_profit": float(profit.sum()),
        "total_costs": float(costs.sum()),
        "final_nav": float(nav_path[-1]),
        "mean_turnover": float(turnover.mean()),
        "periods_per_year": float(ppy),
        "unpriced_position_cells": float(unpriced),
        "nav_crossed_zero": 0.0 if positive else 1.0,
    }
    for name in ("sharpe", "sortino", "max_drawdown", "calmar", "annualised_return"):
        base[name] = figures.get(name, math.nan)
    return {**base, **{k: v for k, v in figures.items() if k not in base}}


def plot_performance(
    report: PerformanceReport, dates: pl.Series, path: str | Path, *, title: str = "Optimiser"
) -> Path:
    """Write a PNG with the NAV (top) and the drawdown (bottom) atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = dates.to_list()
    fig, (ax_nav, ax_dd) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    try:
        ax_nav.plot(x, report.nav, color="tab:blue", lw=1.2)
        ax_nav.set_ylabel("NAV")
        ax_nav.set_title(title)
        ax_nav.grid(alpha=0.3)
        ax_dd.fill_between(x, -report.drawdown, 0.0, color="tab:red", alpha=0.4)
        ax_dd.set_ylabel("drawdown")
        ax_dd.grid(alpha=0.3)
        fig.tight_layout()
        return write_png_atomic(path, fig)
    finally:
        plt.close(fig)


__all__ = [
    "PerformanceReport",
    "analyse",
    "filled_prices",
    "periods_per_year_from_dates",
    "plot_performance",
]
