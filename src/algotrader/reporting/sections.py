"""Section builders: arrays and result dicts -> report sections (pure, no file access).

Each builder returns a :class:`~algotrader.reporting.model.Section` (or several) for what the
run has; the loaders in :mod:`algotrader.reporting.load` decide which apply. Headline metrics
are recomputed with the one metrics library (:func:`algotrader.metrics.compute_metrics`) from
the net-return series, the same definitions and ``periods_per_year`` for strategy and
benchmarks, so a report never mixes conventions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algotrader.errors import AlgotraderError
from algotrader.metrics.registry import REGISTRY, compute_metrics
from algotrader.reporting import plots
from algotrader.reporting.model import (
    Figure,
    HeatCell,
    Heatmap,
    Section,
    Table,
    fmt,
    pct,
)

__all__ = [
    "HEADLINE",
    "cpcv_section",
    "headline_table",
    "monthly_heatmap",
    "overfitting_section",
    "performance_section",
    "walk_forward_section",
]

FloatArray = NDArray[np.float64]

HEADLINE: tuple[str, ...] = (
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "ulcer_index",
    "cvar_95",
    "hit_rate",
    "probabilistic_sharpe",
)
_PERCENT = {
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "max_drawdown",
    "cvar_95",
    "hit_rate",
    "ulcer_index",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _value_path(r: FloatArray) -> FloatArray:
    return np.concatenate([[1.0], np.cumprod(1.0 + np.nan_to_num(np.asarray(r, dtype=np.float64)))])


def _show(name: str, x: Any) -> str:
    return pct(x) if name in _PERCENT else fmt(x)


def headline_table(
    returns: Mapping[str, FloatArray],
    periods_per_year: float,
    *,
    title: str = "Headline metrics (net of costs)",
) -> Table:
    """One row per metric, one column per series; hover shows each metric's definition."""
    names = [n for n in HEADLINE if n in REGISTRY]
    cols: dict[str, dict[str, Any]] = {}
    for label, r in returns.items():
        r = np.asarray(r, dtype=np.float64)
        if r.size < 2 or not np.isfinite(np.nan_to_num(r)).all():
            cols[label] = {}
            continue
        try:
            cols[label] = compute_metrics(
                _value_path(r), periods_per_year=periods_per_year, names=names
            )
        except AlgotraderError:  # a value path that reaches 0 (a bust book): no metrics
            cols[label] = {}
    rows = [[n] + [_show(n, cols[label].get(n)) for label in returns] for n in names]
    return Table(
        title,
        ["metric", *returns.keys()],
        rows,
        note=f"periods_per_year = {periods_per_year:g}; every column from the same definitions.",
        hints={n: REGISTRY[n].definition for n in names},
    )


def _heat_color(x: float, scale: float) -> str:
    if not math.isfinite(x):
        return "rgb(245,245,245)"
    a = max(-1.0, min(1.0, x / scale)) if scale > 0 else 0.0
    if a >= 0:
        g = (int(255 - 120 * a), int(255 - 40 * a), int(255 - 120 * a))
    else:
        g = (int(255 + 40 * a), int(255 + 130 * a), int(255 + 130 * a))
    return f"rgb({g[0]},{g[1]},{g[2]})"


def monthly_heatmap(dates: NDArray[np.datetime64], returns: FloatArray) -> Heatmap:
    """Compounded monthly returns (rows = years), with the year's compounded total."""
    d = np.asarray(dates).astype("datetime64[M]")
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64))
    months = np.unique(d)
    monthly = {m: float(np.prod(1.0 + r[d == m]) - 1.0) for m in months}
    years = sorted({int(str(m)[:4]) for m in months})
    scale = max((abs(v) for v in monthly.values()), default=0.0)
    rows: list[tuple[str, list[HeatCell]]] = []
    for y in years:
        cells = []
        total = 1.0
        for k in range(12):
            key = np.datetime64(f"{y:04d}-{k + 1:02d}", "M")
            v = monthly.get(key, math.nan)
            if math.isfinite(v):
                total *= 1.0 + v
            cells.append(HeatCell(pct(v, 1) if math.isfinite(v) else "", _heat_color(v, scale)))
        cells.append(HeatCell(pct(total - 1.0, 1), _heat_color(total - 1.0, 3 * scale)))
        rows.append((str(y), cells))
    return Heatmap("Monthly returns (net, compounded)", [*_MONTHS, "year"], rows)


def performance_section(
    dates: NDArray[np.datetime64],
    returns: Mapping[str, FloatArray],
    *,
    periods_per_year: float,
    weights: FloatArray | None = None,
    assets: Sequence[str] | None = None,
    turnover: FloatArray | None = None,
    costs: FloatArray | None = None,
    section_id: str = "performance",
    title: str = "Performance",
    intro: str = "",
) -> Section:
    """Headline table, equity (log and linear), drawdown, rolling stats, heatmap, weights."""
    main = next(iter(returns))
    sec = Section(section_id, title, intro)
    sec.tables.append(headline_table(returns, periods_per_year))
    sec.figures.append(
        Figure(
            "Equity",
            plots.equity_plot(dates, returns, log=True),
            "log scale; benchmarks in the same costs model",
        )
    )
    sec.figures.append(Figure("Equity (linear)", plots.equity_plot(dates, returns, log=False)))
    sec.figures.append(Figure("Drawdown", plots.drawdown_plot(dates, returns)))
    window = int(max(4, min(round(periods_per_year / 2), len(dates) // 4)))
    if len(dates) > 2 * window:
        sec.figures.append(
            Figure(
                "Rolling Sharpe and volatility",
                plots.rolling_plot(
                    dates, returns[main], window=window, periods_per_year=periods_per_year
                ),
                f"{main}, window {window} periods",
            )
        )
    sec.heatmaps.append(monthly_heatmap(dates, returns[main]))
    if weights is not None and assets is not None:
        sec.figures.append(
            Figure("Weights / positions", plots.weights_plot(dates, assets, weights))
        )
    if turnover is not None:
        sec.figures.append(
            Figure("Turnover and costs", plots.turnover_plot(dates, turnover, costs))
        )
    return sec


def overfitting_section(
    stats: Mapping[str, Any], *, pbo_logits: FloatArray | None = None
) -> Section:
    """PSR, DSR with its number of trials, PBO (+ logit histogram), MinTRL."""
    sec = Section(
        "overfitting",
        "Overfitting",
        "How likely the result is luck: probabilistic and deflated Sharpe (the deflation "
        "uses the number of candidates tried), probability of backtest overfitting by "
        "CSCV, and the minimum track record length.",
    )
    labels = {
        "psr": "PSR: P(true Sharpe > 0)",
        "probabilistic_sharpe": "PSR: P(true Sharpe > 0)",
        "dsr": "DSR: PSR against the best of N trials",
        "deflated_sharpe": "DSR: PSR against the best of N trials",
        "n_trials": "number of trials (candidates)",
        "pbo": "PBO (CSCV)",
        "min_track_record_length": "MinTRL (periods)",
        "mintrl": "MinTRL (periods)",
        "wfe": "walk-forward efficiency",
        "walk_forward_efficiency": "walk-forward efficiency",
    }
    rows = [[labels[k], fmt(v)] for k, v in stats.items() if k in labels]
    if rows:
        sec.tables.append(Table("Overfitting statistics", ["statistic", "value"], rows))
    if pbo_logits is not None and np.size(pbo_logits):
        sec.figures.append(
            Figure(
                "PBO: logits of the out-of-sample rank of the in-sample best",
                plots.histogram_plot(
                    np.asarray(pbo_logits),
                    title="CSCV logits",
                    xlabel="logit",
                    marker=0.0,
                    marker_label="logit 0 (median)",
                ),
                "mass left of 0 = the in-sample winner ranks below the median out of sample",
            )
        )
    return sec


def walk_forward_section(
    rows: Sequence[Mapping[str, Any]], *, metric: str = "sharpe", title: str = "Walk-forward cycles"
) -> Section:
    """Cycle table (IS / OOS / WFE / chosen params) and the IS-vs-OOS bar chart."""
    sec = Section("walk-forward", title)
    if not rows:
        return sec
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table_rows = [
        [
            fmt(r.get(k))
            if not isinstance(r.get(k), dict)
            else ", ".join(f"{a}={fmt(b)}" for a, b in r[k].items())
            for k in keys
        ]
        for r in rows
    ]
    sec.tables.append(Table("Per-cycle results", keys, table_rows))
    ins = [r.get(f"is_{metric}", r.get("in_sample")) for r in rows]
    oos = [r.get(f"oos_{metric}", r.get("out_of_sample")) for r in rows]
    if all(isinstance(x, int | float) for x in ins + oos):
        labels = [str(r.get("cycle", r.get("fold", i))) for i, r in enumerate(rows)]
        sec.figures.append(
            Figure(
                f"{metric}: in-sample vs out-of-sample",
                plots.is_oos_plot(
                    labels, np.array(ins, float), np.array(oos, float), metric=metric
                ),
            )
        )
    return sec


def cpcv_section(
    path_sharpes: FloatArray, *, chosen: float | None = None, title: str = "CPCV path distribution"
) -> Section:
    """Histogram of the Sharpe ratios of the CPCV backtest paths (or inner split scores)."""
    sec = Section(
        "cpcv",
        title,
        "Spread of the score across combinatorial purged CV paths: a narrow distribution "
        "far from 0 is what an honest edge looks like.",
    )
    v = np.asarray(path_sharpes, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size:
        q = np.quantile(finite, [0.05, 0.5, 0.95])
        sec.tables.append(
            Table(
                "Distribution",
                ["statistic", "value"],
                [
                    ["paths / splits", fmt(int(finite.size))],
                    ["5%", fmt(float(q[0]))],
                    ["median", fmt(float(q[1]))],
                    ["95%", fmt(float(q[2]))],
                    ["share > 0", pct(float((finite > 0).mean()))],
                ],
            )
        )
        sec.figures.append(
            Figure(
                "Score distribution",
                plots.histogram_plot(
                    finite,
                    title="CPCV scores",
                    xlabel="score",
                    marker=chosen,
                    marker_label="chosen",
                ),
            )
        )
    return sec
