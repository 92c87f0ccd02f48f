"""Default-pipeline step: momentum signal -> correlation-aware optimiser -> analytics.

Reads ``ctx.results["daily_close"]`` (left by ``data_step``), keeps the last
:data:`HISTORY_ROWS` rows, builds a causal momentum signal ``mu_t = P_t / P_{t-L} - 1``
(known at the close of ``t``; null while fewer than ``L`` rows are available: no view),
runs the batch optimiser and evaluates it on the shared path
(:func:`algotrader.backtest.evaluate_weights`): the cash positions ``cash * position_scale``
become target weights of NAV ``cash * position_scale / aum``, decided at the close of ``t``
and traded at the close of ``t + 1`` with ``CostModel(proportional_bps = cost_per_unit *
1e4)``; rows with no view hold no position. An ``equal_weight`` family (``1/A`` every day,
same costs) is evaluated beside it. Writes ``optimiser/`` and ``equal_weight/``
(``returns.parquet``, ``metrics.json``, ``run_manifest.json``),
``optimiser_nav_drawdown.png``, and leaves the result in ``ctx.results["optimiser"]``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from algotrader.artifacts import Timer, now_utc
from algotrader.backtest import CostModel, evaluate_weights
from algotrader.data.panel import Panel
from algotrader.pipeline import PipelineContext, StepResult
from algotrader.pipeline.evaluation import record
from algotrader.portfolio import OptimiserConfig, analyse, plot_performance, run_batch

HISTORY_ROWS = 2520
MOMENTUM_LOOKBACK = 63
CONFIG = OptimiserConfig(
    vola=20,
    corr=60,
    clip=3.5,
    shrink=0.5,
    aum=1e6,
    position_scale=5e3,
    cost_per_unit=5e-4,
)


def momentum_signal(prices: pl.DataFrame, lookback: int = MOMENTUM_LOOKBACK) -> pl.DataFrame:
    """``P_t / P_{t-lookback} - 1`` per asset (null where either price is missing)."""
    assets = [c for c in prices.columns if c != "date"]
    return prices.select(
        "date", *[(pl.col(a) / pl.col(a).shift(lookback) - 1.0).alias(a) for a in assets]
    )


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def run(ctx: PipelineContext) -> StepResult:
    """Run the optimiser on the bundled closes and report its performance."""
    started = now_utc()
    timer = Timer()
    prices = ctx.results["daily_close"].tail(HISTORY_ROWS)
    mu = momentum_signal(prices)
    with timer("optimise"):
        result = run_batch(prices, mu, CONFIG)
    panel = Panel.from_wide(prices, name="close")
    costs = CostModel(proportional_bps=CONFIG.cost_per_unit * 1e4)
    weights = np.nan_to_num(result.cash * CONFIG.position_scale / CONFIG.aum, nan=0.0)
    with timer("evaluate"):
        ev = evaluate_weights(panel, weights, costs, name="optimiser")
        ew = evaluate_weights(
            panel, np.full(panel.shape, 1.0 / panel.n_assets), costs, name="equal_weight"
        )
    ppy = ev.periods_per_year
    inputs = {"prices": panel.content_hash()}
    paths = record(
        ctx,
        ev,
        {"optimiser": CONFIG, "costs": costs, "signal": f"momentum {MOMENTUM_LOOKBACK}"},
        inputs,
        started_at=started,
        timings=timer.timings,
    )
    paths += record(ctx, ew, {"equal_weight": True, "costs": costs}, inputs, started_at=started)
    perf = analyse(
        result.cash,
        result.inputs.prices,
        aum=CONFIG.aum,
        position_scale=CONFIG.position_scale,
        cost_per_unit=CONFIG.cost_per_unit,
        periods_per_year=ppy,
    )
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    png = plot_performance(
        perf,
        result.inputs.dates,
        ctx.out_dir / "optimiser_nav_drawdown.png",
        title=f"Optimiser: {MOMENTUM_LOOKBACK}-day momentum, {len(result.assets)} stocks",
    )
    ctx.results["optimiser"] = result
    quality = result.signal_quality(1)
    s = ev.metrics
    summary = {
        "config": CONFIG.model_dump(mode="json"),
        "signal": f"momentum {MOMENTUM_LOOKBACK} rows",
        "rows": int(result.cash.shape[0]),
        "assets": len(result.assets),
        "status_counts": result.status_counts(),
        "periods_per_year": ppy,
        "performance": {k: (None if v != v else v) for k, v in s.items()},
        "ic_mean": quality.ic_mean,
        "icir": quality.icir,
    }
    rows = [
        ["period", f"{prices['date'][0]} .. {prices['date'][-1]}"],
        ["rows x assets", f"{result.cash.shape[0]} x {len(result.assets)}"],
        ["status", ", ".join(f"{k}={v}" for k, v in result.status_counts().items())],
        ["sharpe (net of costs)", _fmt(s["sharpe"], ".3f")],
        ["sortino", _fmt(s["sortino"], ".3f")],
        ["max drawdown", _fmt(s["max_drawdown"], ".2%")],
        ["calmar", _fmt(s["calmar"], ".3f")],
        ["total costs / start value", _fmt(float(ev.costs.sum()), ".2%")],
        ["IC mean / ICIR", f"{_fmt(quality.ic_mean, '.4f')} / {_fmt(quality.icir, '.3f')}"],
        ["plot", str(png)],
    ]
    return StepResult(
        name="optimiser",
        summary=summary,
        tables=[("Optimiser: momentum on the bundled stocks", ["item", "value"], rows)],
        artifacts=[png, *paths],
    )
