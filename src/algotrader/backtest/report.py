"""A complete backtest run from files: tables, metrics.json and a PNG (used by the CLI).

Artifacts written to ``out_dir`` (atomically):

* ``values.csv`` / ``values.parquet``: date, value, cash, pnl, costs, turnover and the
  benchmark value paths (hodl, uniform_hodl, equal_weight_rebalanced);
* ``returns.csv`` / ``returns.parquet``: date (from the second row), simple_return,
  log_return (distinct columns; never mixed);
* ``turnover.csv`` / ``turnover.parquet``: date, turnover, the cost terms and the traded
  value per asset;
* ``metrics.json``: every general metric for the strategy and for each benchmark, each
  with its registry definition, plus the run's inputs (files, hashes, lag, costs,
  periods per year);
* ``backtest.png``: equity (with benchmarks), drawdown and turnover panels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.artifacts import file_hash
from algotrader.backtest.benchmarks import compute_benchmarks
from algotrader.backtest.costs import CostModel
from algotrader.backtest.engine import BacktestResult, run_backtest
from algotrader.backtest.tables import (
    align_decisions,
    check_decisions,
    check_prices,
    read_wide_table,
)
from algotrader.errors import DataError
from algotrader.io import (
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_png_atomic,
)
from algotrader.metrics.bootstrap import bootstrap_sharpe_ci
from algotrader.metrics.registry import REGISTRY, compute_metrics
from algotrader.metrics.value_based import drawdown_series

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestReport:
    """What :func:`backtest_files` returns: the result, metrics and artifact paths."""

    result: BacktestResult
    metrics: dict[str, dict[str, Any]]
    artifacts: list[Path]


def _tables(
    dates: pl.Series, assets: list[str], res: BacktestResult, bench: dict[str, np.ndarray]
) -> dict[str, pl.DataFrame]:
    values = pl.DataFrame(
        {
            "date": dates,
            "value": res.values,
            "cash": res.cash,
            "pnl": res.pnl,
            "costs": res.costs,
            "turnover": res.turnover,
            **bench,
        }
    )
    returns = pl.DataFrame(
        {"date": dates[1:], "simple_return": res.simple_returns, "log_return": res.log_returns}
    )
    turnover = pl.DataFrame(
        {
            "date": dates,
            "turnover": res.turnover,
            **{f"cost_{k}": v for k, v in res.cost_breakdown.items()},
            **{f"traded_{a}": res.trade_values[:, j] for j, a in enumerate(assets)},
        }
    )
    return {"values": values, "returns": returns, "turnover": turnover}


def _metrics(res: BacktestResult, bench: dict[str, np.ndarray], ppy: float) -> dict[str, Any]:
    def block(values: np.ndarray, turnover: np.ndarray | None) -> dict[str, Any]:
        raw = compute_metrics(values, periods_per_year=ppy, benchmarks=bench, turnover=turnover)
        return {
            name: {
                "value": None if not np.isfinite(v) else float(v),
                "definition": REGISTRY[name].definition,
                "higher_is_better": REGISTRY[name].higher_is_better,
            }
            for name, v in raw.items()
        }

    out = {"strategy": block(res.values, res.turnover)}
    if len(res.simple_returns) >= 20:
        ci = bootstrap_sharpe_ci(
            res.simple_returns, periods_per_year=ppy, block_len=10, n_boot=2000, seed=0
        )
        out["strategy"]["sharpe_bootstrap_ci_95"] = {
            "value": [ci.lower, ci.upper],
            "definition": "circular block bootstrap (block 10, 2,000 resamples, seed 0), "
            "2.5% and 97.5% percentiles of the annualised Sharpe",
            "higher_is_better": True,
        }
    for name, path in bench.items():
        out[name] = block(path, None)
    return out


def _figure(dates: pl.Series, res: BacktestResult, bench: dict[str, np.ndarray]) -> Any:
    from matplotlib.figure import Figure

    x = dates.to_numpy()
    fig = Figure(figsize=(10, 8))
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True, height_ratios=[3, 1.5, 1.5])
    ax1.plot(x, res.values, label="strategy", lw=1.4)
    for name, path in bench.items():
        ax1.plot(x, path, label=name, lw=0.9, alpha=0.8)
    ax1.set_ylabel("value")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.set_title(f"backtest (execution lag {res.lag})")
    ax2.fill_between(x, -np.asarray(drawdown_series(res.values)), 0.0, color="tab:red", alpha=0.5)
    ax2.set_ylabel("drawdown")
    ax3.plot(x, res.turnover, color="tab:gray", lw=0.8)
    ax3.set_ylabel("turnover")
    fig.tight_layout()
    return fig


def backtest_files(
    *,
    weights: Path,
    prices: Path,
    out_dir: Path,
    costs: Path | None = None,
    lag: int = 1,
    periods_per_year: float = 252.0,
    initial_value: float = 1.0,
    kind: str = "weights",
) -> BacktestReport:
    """Run a backtest from a decisions table and a prices table and write the artifacts."""
    p_tab = read_wide_table(prices, "prices")
    check_prices(p_tab)
    d_tab = read_wide_table(weights, kind)
    check_decisions(d_tab, kind)
    decisions = align_decisions(p_tab, d_tab)
    model = CostModel.from_yaml(costs) if costs is not None else CostModel()
    kw: dict[str, Any] = dict(
        lag=lag, costs=model, initial_value=initial_value, asset_names=p_tab.assets
    )
    try:
        res = run_backtest(p_tab.values, decisions, kind=kind, **kw)  # type: ignore[arg-type]
    except DataError as exc:
        if exc.key != "values" or exc.row is None:
            raise
        row = exc.row + 1  # the engine's 0-based position -> the file's 1-based data row
        raise DataError(
            f"{exc.message.split(' at row ')[0]} on {p_tab.dates[exc.row]} (row {row})",
            file=str(weights),
            row=row,
            key="values",
            hint=exc.hint,
        ) from exc
    bench = compute_benchmarks(p_tab.values, result=res, **kw)
    metrics = _metrics(res, bench, periods_per_year)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, frame in _tables(p_tab.dates, p_tab.assets, res, bench).items():
        paths.append(write_csv_atomic(out_dir / f"{name}.csv", frame))
        paths.append(write_parquet_atomic(out_dir / f"{name}.parquet", frame))
    doc = {
        "metrics": metrics,
        "inputs": {
            "prices": {"file": str(prices), "sha256": file_hash(prices)},
            kind: {"file": str(weights), "sha256": file_hash(weights)},
            "costs": model.model_dump(),
            "lag": lag,
            "kind": kind,
            "periods_per_year": periods_per_year,
            "initial_value": initial_value,
            "timing": f"decision at row t executed at the close of row t+{lag}",
            "rows": len(p_tab.dates),
            "assets": p_tab.assets,
        },
    }
    paths.append(write_json_atomic(out_dir / "metrics.json", doc))
    paths.append(write_png_atomic(out_dir / "backtest.png", _figure(p_tab.dates, res, bench)))
    logger.info("backtest written to %s", out_dir)
    return BacktestReport(res, metrics, paths)
