"""The one evaluation path: decisions or a value series -> returns, metrics and run files.

Every family ends here. An allocator (the optimiser, equal weight, a forecaster's book)
hands **weights per date** to :func:`evaluate_weights`, which runs
:func:`algotrader.backtest.run_backtest` with the one :class:`~algotrader.backtest.CostModel`;
the AMM pool, whose value path is its own simulation with the fees already inside, hands
its **value series** to :func:`evaluate_value_series`. Both compute the report metrics with
:func:`algotrader.metrics.compute_metrics` and the same ``periods_per_year`` rule, so the
families compare on one table; :func:`write_evaluation` writes the same three files for
each (``returns.parquet``, ``metrics.json``, the run manifest).

**The periods-per-year rule** (:func:`periods_per_year`): the number of observed periods
per year of the data's own calendar, ``(T - 1) / ((t_last - t_first) / 365.25 days)``. On
NYSE daily closes this is about 252, on weekly rows about 52.2, on a 24/7 minute clock
525,960; trading days are never re-labelled as consecutive calendar days.

**Gross and net returns**: ``net_t = V_t / V_(t-1) - 1`` of the value after costs;
``gross_t = (V_t + c_t) / V_(t-1) - 1`` adds back the costs ``c_t`` paid at bar t (the same
book before that bar's costs). For a value series with fees inside, gross = net.

Example:
    >>> import numpy as np
    >>> from algotrader.backtest import CostModel
    >>> from algotrader.data.panel import Panel
    >>> dates = np.arange("2024-01-01", "2024-01-06", dtype="datetime64[D]")
    >>> prices = Panel.from_arrays(dates, ["A", "B"], [[1, 1], [1, 1], [2, 1], [2, 2], [2, 2]])
    >>> ev = evaluate_weights(prices, np.full((5, 2), 0.5), CostModel(proportional_bps=10))
    >>> round(ev.periods_per_year, 2), ev.net_returns.shape
    (365.25, (4,))
    >>> round(ev.metrics["total_return"], 6), round(float(ev.costs.sum()), 6)
    (1.24725, 0.00225)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from algotrader.artifacts import (
    RunManifest,
    json_ready,
    write_json_atomic,
    write_manifest,
    write_parquet_atomic,
)
from algotrader.backtest.benchmarks import compute_benchmarks, hodl_from_result
from algotrader.backtest.costs import CostModel
from algotrader.backtest.engine import BacktestResult, run_backtest
from algotrader.data.panel import Panel
from algotrader.errors import DataError, ShapeError
from algotrader.metrics.registry import REGISTRY, compute_metrics

FloatArray = NDArray[np.float64]

#: Days per year of the calendar rule (Julian year).
DAYS_PER_YEAR = 365.25
#: The rule's name, written into every ``metrics.json``.
PERIODS_RULE = "(T - 1) / ((t_last - t_first) / 365.25 days)"
#: Benchmarks every evaluation carries (value paths, same start value, same costs).
BENCHMARKS: tuple[str, ...] = ("hodl", "uniform_hodl", "equal_weight_rebalanced")

__all__ = [
    "BENCHMARKS",
    "DAYS_PER_YEAR",
    "PERIODS_RULE",
    "Evaluation",
    "evaluate_value_series",
    "evaluate_weights",
    "metrics_document",
    "periods_per_year",
    "returns_frame",
    "write_evaluation",
]


def _dates(dates: ArrayLike | pl.Series) -> NDArray[np.datetime64]:
    if isinstance(dates, pl.Series):
        if not dates.dtype.is_temporal():
            raise DataError(f"dates must be temporal, got {dates.dtype}", column="date")
        arr = dates.cast(pl.Datetime("us")).to_numpy()
    else:
        arr = np.asarray(dates)
    if arr.dtype.kind != "M":
        raise DataError(
            f"dates must be datetimes, got dtype {arr.dtype}",
            column="date",
            hint="pass datetime64 / date values (UTC)",
        )
    out = arr.astype("datetime64[us]")
    if np.isnat(out).any():
        raise DataError("dates contain NaT", row=int(np.flatnonzero(np.isnat(out))[0]))
    return out


def periods_per_year(dates: ArrayLike | pl.Series) -> float:
    """Observed periods per year of ``dates``: ``(T - 1) / (span in days / 365.25)``.

    The one rule for every family (see the module docstring). Needs at least two strictly
    increasing dates.

    Raises:
        DataError: fewer than two dates, NaT, or dates not strictly increasing.

    Example:
        >>> import numpy as np
        >>> periods_per_year(np.arange("2024-01-01", "2024-01-15", dtype="datetime64[D]"))
        365.25
        >>> weekly = np.arange("2020-01-06", "2021-01-04", 7, dtype="datetime64[D]")
        >>> round(periods_per_year(weekly), 4)
        52.1786
    """
    d = _dates(dates)
    if d.shape[0] < 2:
        raise DataError(
            f"periods_per_year needs at least 2 dates, got {d.shape[0]}",
            column="date",
            hint="annualisation is undefined on a single observation",
        )
    steps = np.diff(d)
    bad = np.flatnonzero(steps <= np.timedelta64(0, "us"))
    if bad.size:
        raise DataError(
            f"dates not strictly increasing at {d[int(bad[0]) + 1]}",
            row=int(bad[0]) + 1,
            column="date",
            hint="sort the rows and drop duplicate dates",
        )
    span_days = float((d[-1] - d[0]) / np.timedelta64(1, "us")) / 86_400e6
    return (d.shape[0] - 1) / (span_days / DAYS_PER_YEAR)


@dataclass(frozen=True)
class Evaluation:
    """One family's evaluated run on one calendar.

    Attributes:
        name: the family / strategy label.
        dates: ``(T,)`` dates of the value path (UTC).
        values: ``(T,)`` value after costs (net), starting value included.
        gross_returns: ``(T-1,)`` returns before each bar's costs.
        net_returns: ``(T-1,)`` returns after costs.
        turnover: ``(T,)`` per-bar turnover (NaN-free; zeros where unknown), or None.
        costs: ``(T,)`` costs paid per bar (currency of ``values``).
        periods_per_year: from :func:`periods_per_year` unless given explicitly.
        metrics: registry name -> float (general metrics; NaN where undefined).
        benchmarks: benchmark name -> ``(T,)`` value path.
        benchmark_metrics: benchmark name -> metrics (same definitions, same P).
        backtest: the backtest result for weight evaluations, None for value series.
    """

    name: str
    dates: NDArray[np.datetime64]
    values: FloatArray
    gross_returns: FloatArray
    net_returns: FloatArray
    turnover: FloatArray | None
    costs: FloatArray
    periods_per_year: float
    metrics: dict[str, float]
    benchmarks: dict[str, FloatArray] = field(default_factory=dict)
    benchmark_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    backtest: BacktestResult | None = None


def _positive(path: FloatArray) -> bool:
    """A value path every metric is defined on (finite and strictly positive)."""
    return bool(np.all(np.isfinite(path) & (path > 0)))


#: The relative metric each reference benchmark feeds.
_RELATIVE = {"hodl": "returns_over_hodl", "uniform_hodl": "returns_over_uniform_hodl"}


def _metrics(
    values: FloatArray,
    ppy: float,
    bench: Mapping[str, FloatArray],
    turnover: FloatArray | None,
) -> dict[str, float]:
    """The general metrics of ``values``. A reference benchmark whose path reaches zero (the
    HODL of a leveraged long/short book can) gives NaN for its relative metric."""
    ref = {k: v for k, v in bench.items() if k in _RELATIVE and _positive(v)}
    out = compute_metrics(values, periods_per_year=ppy, benchmarks=ref, turnover=turnover)
    res = {k: float(v) for k, v in out.items()}
    for k in bench:
        if k in _RELATIVE and k not in ref:
            res[_RELATIVE[k]] = math.nan
    return res


def _bench_metrics(bench: Mapping[str, FloatArray], ppy: float) -> dict[str, dict[str, float]]:
    """Each benchmark's metrics; NaN for every metric of a path that reaches zero."""
    names = [n for n, s in REGISTRY.items() if s.family == "general" and not s.requires]
    return {
        k: _metrics(v, ppy, {}, None) if _positive(v) else dict.fromkeys(names, math.nan)
        for k, v in bench.items()
    }


def evaluate_weights(
    prices: Panel,
    weights: Panel | ArrayLike,
    cost_model: CostModel | None = None,
    *,
    lag: int = 1,
    name: str = "strategy",
    initial_value: float = 1.0,
    periods: float | None = None,
    volatility: ArrayLike | None = None,
    volume: ArrayLike | None = None,
) -> Evaluation:
    """Backtest ``weights`` on ``prices`` with ``cost_model`` and compute the report metrics.

    Args:
        prices: a 2-d close-price panel; every cell must be observed (the backtester
            never fills gaps: trim or clean first).
        weights: ``(T, A)`` target weights decided at the close of each row (a Panel with
            the same dates and assets, or an array). An all-NaN row means "hold".
        cost_model: the one cost model (default: no costs).
        lag: execution lag in rows (see :mod:`algotrader.backtest.engine`).
        name: label of the run.
        initial_value: starting cash.
        periods: override of the periods-per-year rule (only for synthetic calendars).
        volatility, volume: inputs of the impact term, if the model has one.

    Returns:
        An :class:`Evaluation` with HODL, uniform-HODL and equal-weight benchmarks run
        with the same lag and costs.

    Raises:
        ShapeError / DataError: misaligned panels, unobserved prices, bad weights.
    """
    if not isinstance(prices, Panel) or prices.values.ndim != 2:
        raise ShapeError("prices must be a 2-d Panel of close prices", key="prices")
    if not prices.mask.all():
        row, col = (int(i) for i in np.argwhere(~prices.mask)[0])
        raise DataError(
            "prices has unobserved cells",
            row=row,
            column=prices.assets[col],
            key="prices",
            hint="trim the panel to dates where every asset trades, or drop the asset",
        )
    if isinstance(weights, Panel):
        if weights.assets != prices.assets or not np.array_equal(weights.dates, prices.dates):
            raise ShapeError(
                "weights and prices panels are not aligned (dates and assets must match)",
                key="weights",
                hint="use prices.select_assets(...) / weights.take(...) to align them",
            )
        w = np.asarray(weights.values, dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
    model = cost_model if cost_model is not None else CostModel()
    p = np.asarray(prices.values)
    kw: dict[str, Any] = dict(
        lag=lag,
        costs=model,
        initial_value=initial_value,
        volatility=volatility,
        volume=volume,
        asset_names=list(prices.assets),
    )
    res = run_backtest(p, w, kind="weights", **kw)
    bench = compute_benchmarks(p, **kw)
    bench["hodl"] = hodl_from_result(res, p)
    bench = {k: bench[k] for k in BENCHMARKS}
    ppy = float(periods) if periods is not None else periods_per_year(prices.dates)
    v = res.values
    gross = (v[1:] + res.costs[1:]) / v[:-1] - 1.0
    return Evaluation(
        name=name,
        dates=np.asarray(prices.dates),
        values=v,
        gross_returns=gross,
        net_returns=res.simple_returns,
        turnover=res.turnover,
        costs=res.costs,
        periods_per_year=ppy,
        metrics=_metrics(v, ppy, bench, res.turnover),
        benchmarks=bench,
        benchmark_metrics=_bench_metrics(bench, ppy),
        backtest=res,
    )


def evaluate_value_series(
    dates: ArrayLike | pl.Series,
    value: ArrayLike,
    benchmarks: Mapping[str, ArrayLike] | None = None,
    *,
    name: str = "strategy",
    turnover: ArrayLike | None = None,
    periods: float | None = None,
) -> Evaluation:
    """Evaluate a value path whose costs/fees are already inside it (the AMM pool).

    Args:
        dates: ``(T,)`` dates of the value observations (the data's own calendar).
        value: ``(T,)`` strictly positive values, the starting value included.
        benchmarks: benchmark value paths ``(T,)`` by name (``hodl``, ``uniform_hodl``,
            ``equal_weight_rebalanced``); ``hodl``/``uniform_hodl`` also enter the
            relative metrics.
        name: label of the run.
        turnover: ``(T,)`` per-period turnover, if known.
        periods: override of the periods-per-year rule.

    Example:
        >>> import numpy as np
        >>> d = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
        >>> ev = evaluate_value_series(d, [1.0, 1.1, 1.21], {"hodl": [1.0, 1.0, 1.1]})
        >>> round(ev.metrics["returns_over_hodl"], 6), ev.gross_returns.round(6).tolist()
        (0.1, [0.1, 0.1])
    """
    d = _dates(dates)
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape[0] != d.shape[0]:
        raise ShapeError(f"value has {v.shape[0]} rows, dates {d.shape[0]}", key="value")
    bad = ~((v > 0) & np.isfinite(v))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"value must be finite and positive, got {v[row]!r}", row=row, key="value")
    bench: dict[str, FloatArray] = {}
    for k, b in (benchmarks or {}).items():
        arr = np.asarray(b, dtype=np.float64).reshape(-1)
        if arr.shape != v.shape:
            raise ShapeError(f"benchmark {k} has {arr.shape[0]} rows, value {v.shape[0]}", key=k)
        bench[k] = arr
    to = None if turnover is None else np.asarray(turnover, dtype=np.float64).reshape(-1)
    ppy = float(periods) if periods is not None else periods_per_year(d)
    r = v[1:] / v[:-1] - 1.0
    return Evaluation(
        name=name,
        dates=d,
        values=v,
        gross_returns=r.copy(),
        net_returns=r,
        turnover=to,
        costs=np.zeros_like(v),
        periods_per_year=ppy,
        metrics=_metrics(v, ppy, bench, to),
        benchmarks=bench,
        benchmark_metrics=_bench_metrics(bench, ppy),
    )


def returns_frame(evaluation: Evaluation) -> pl.DataFrame:
    """``date, gross_return, net_return, [turnover], costs, benchmark_<name>...`` (T-1 rows).

    Each row is the return ending at its date; a benchmark column is the simple return of
    that benchmark's value path (same lag and costs), so reports can draw every series from
    the one table.
    """
    cols: dict[str, Any] = {
        "date": pl.Series(evaluation.dates[1:]).cast(pl.Datetime("us", "UTC")),
        "gross_return": evaluation.gross_returns,
        "net_return": evaluation.net_returns,
    }
    if evaluation.turnover is not None:
        cols["turnover"] = np.asarray(evaluation.turnover, dtype=np.float64)[1:]
    cols["costs"] = np.asarray(evaluation.costs, dtype=np.float64)[1:]
    for name in sorted(evaluation.benchmarks):
        v = np.asarray(evaluation.benchmarks[name], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[f"benchmark_{name}"] = v[1:] / v[:-1] - 1.0
    return pl.DataFrame(cols)


def _clean(x: float) -> float | None:
    return None if not math.isfinite(x) else x


def metrics_document(
    evaluation: Evaluation, *, reference: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The ``metrics.json`` content: every metric with its definition and P (NaN -> null).

    ``reference``: further registered metrics of the same run (e.g. the AMM reference
    simulator's ``amm.*`` family on the pool's minute path), written with their registry
    definitions under ``"reference"``; they never replace the shared ones.
    """

    def block(ms: Mapping[str, float]) -> dict[str, Any]:
        return {
            k: {"value": _clean(float(v)), "definition": REGISTRY[k].definition}
            for k, v in ms.items()
        }

    doc: dict[str, Any] = {
        "name": evaluation.name,
        "periods_per_year": evaluation.periods_per_year,
        "periods_per_year_rule": PERIODS_RULE,
        "start": str(evaluation.dates[0]),
        "end": str(evaluation.dates[-1]),
        "n_returns": int(evaluation.net_returns.shape[0]),
        "total_costs": float(evaluation.costs.sum()),
        "metrics": block(evaluation.metrics),
        "benchmarks": {k: block(v) for k, v in evaluation.benchmark_metrics.items()},
    }
    if reference:
        unknown = [k for k in reference if k not in REGISTRY]
        if unknown:
            raise ShapeError(
                f"reference metrics not in the registry: {unknown}",
                key="reference",
                hint="compute them with algotrader.metrics.compute_metrics",
            )
        doc["reference"] = block(reference)
    return doc


def write_evaluation(
    folder: str | os.PathLike[str],
    evaluation: Evaluation,
    manifest: RunManifest | None = None,
    *,
    reference: Mapping[str, float] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``returns.parquet``, ``metrics.json`` and (if given) ``run_manifest.json``.

    ``reference``: see :func:`metrics_document`. ``context``: run facts that are not
    metrics (a run id, the resolved config, timings ...) written beside the document in
    ``metrics.json``; a key of the document itself is refused. All writes are atomic;
    rerunning with the same inputs rewrites identical bytes (the manifest's timestamps
    aside).

    Raises:
        ShapeError: a ``context`` key that the metrics document already has.
    """
    out = Path(folder)
    doc = metrics_document(evaluation, reference=reference)
    clash = sorted(set(context or {}) & set(doc))
    if clash:
        raise ShapeError(
            f"context keys {clash} collide with the metrics document",
            key=clash[0],
            hint="rename the run fact (the document's keys are fixed)",
        )
    doc = {**doc, **dict(context or {})}
    paths = [
        write_parquet_atomic(out / "returns.parquet", returns_frame(evaluation)),
        write_json_atomic(out / "metrics.json", json_ready(doc)),
    ]
    if manifest is not None:
        paths.append(write_manifest(out, manifest))
    return paths
