"""Performance of cash positions: profit, NAV, returns, turnover, costs, standard figures.

Timing: the cash position decided at row ``t`` (after the close of ``t``) earns the
simple return of ``t -> t+1``:

``profit_t = sum_i s * cash_{t-1,i} * (P_{t,i} / P_{t-1,i} - 1)`` with ``s = position_scale``;
``turnover_t = sum_i s * |cash_{t,i} - cash_{t-1,i}|`` (missing cash counts as 0, the first
row trades from 0); ``cost_t = cost_per_unit * turnover_t``; ``net_t = profit_t - cost_t``;
``NAV_t = aum + sum_{u<=t} net_u``; ``returns_t = net_t / aum`` (non-compounding, as the
reference). Sharpe / Sortino / max drawdown / Calmar come from :mod:`algotrader.metrics`
(drawdowns on the NAV path that starts at ``aum``).

NaN policy: a position whose asset has no price at ``t`` or ``t-1`` earns nothing on that
row; such cells are counted in ``summary["unpriced_position_cells"]`` (not hidden).

Example:
    >>> import numpy as np
    >>> prices = np.array([[100.0], [110.0], [99.0]])
    >>> cash = np.array([[1.0], [1.0], [0.0]])
    >>> rep = analyse(cash, prices, aum=100.0, position_scale=10.0, cost_per_unit=0.01,
    ...               periods_per_year=252)
    >>> [np.round(x, 9).tolist() for x in (rep.profit, rep.turnover, rep.nav)]
    [[0.0, 1.0, -1.0], [10.0, 0.0, 10.0], [99.9, 100.9, 99.8]]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader import metrics
from algotrader.errors import DataError, ShapeError
from algotrader.io import write_png_atomic

logger = logging.getLogger(__name__)

SECONDS_PER_YEAR = 365.0 * 86400.0


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


def _figure(fn: Any, *args: Any, **kwargs: Any) -> float:
    """A metric, or NaN where it is undefined (e.g. a period return <= -100%)."""
    try:
        return float(fn(*args, **kwargs))
    except DataError as exc:
        logger.warning("%s undefined: %s", getattr(fn, "__name__", "metric"), exc.message)
        return math.nan


def _summary(
    report_parts: dict[str, np.ndarray], aum: float, ppy: float, unpriced: int
) -> dict[str, float]:
    nav_path = np.concatenate([[aum], report_parts["nav"]])
    positive = bool(np.all(nav_path > 0))
    r = report_parts["returns"]
    return {
        "total_profit": float(report_parts["profit"].sum()),
        "total_costs": float(report_parts["costs"].sum()),
        "final_nav": float(nav_path[-1]),
        "mean_turnover": float(report_parts["turnover"].mean()),
        "periods_per_year": ppy,
        "sharpe": _figure(metrics.sharpe, r, periods_per_year=ppy),
        "sortino": _figure(metrics.sortino, r, periods_per_year=ppy),
        "max_drawdown": _figure(metrics.max_drawdown, nav_path) if positive else math.nan,
        "calmar": _figure(metrics.calmar, nav_path, periods_per_year=ppy) if positive else math.nan,
        "annualised_return": _figure(metrics.annualised_return, nav_path, periods_per_year=ppy)
        if positive
        else math.nan,
        "unpriced_position_cells": float(unpriced),
    }


def analyse(
    cash: np.ndarray,
    prices: np.ndarray,
    *,
    aum: float,
    position_scale: float = 1.0,
    cost_per_unit: float = 0.0,
    periods_per_year: float = 252.0,
) -> PerformanceReport:
    """Profit, costs, NAV, returns and figures of ``cash`` (T, N) held on ``prices`` (T, N)."""
    if cash.shape != prices.shape or cash.ndim != 2:
        raise ShapeError(
            f"cash {cash.shape} and prices {prices.shape} must have the same (T, N) shape"
        )
    if aum <= 0:
        raise ShapeError(f"aum must be > 0; got {aum}", key="aum")
    held = np.nan_to_num(cash, nan=0.0) * position_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = prices[1:] / prices[:-1] - 1.0
    gain = held[:-1] * ret
    unpriced = int(np.sum((held[:-1] != 0) & ~np.isfinite(ret)))
    profit = np.concatenate([[0.0], np.where(np.isfinite(gain), gain, 0.0).sum(axis=1)])
    prev = np.vstack([np.zeros((1, held.shape[1])), held[:-1]])
    turnover = np.abs(held - prev).sum(axis=1)
    costs = cost_per_unit * turnover
    net = profit - costs
    nav = aum + np.cumsum(net)
    returns = net / aum
    nav_path = np.concatenate([[aum], nav])
    peak = np.maximum.accumulate(nav_path)
    drawdown = np.where(peak > 0, 1.0 - nav_path / peak, np.nan)[1:]
    parts = {"profit": profit, "costs": costs, "turnover": turnover, "nav": nav, "returns": returns}
    summary = _summary(parts, aum, periods_per_year, unpriced)
    return PerformanceReport(profit, costs, turnover, nav, returns, drawdown, summary)


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


__all__ = ["PerformanceReport", "analyse", "periods_per_year_from_dates", "plot_performance"]
