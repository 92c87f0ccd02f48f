"""Default-pipeline step: momentum signal -> correlation-aware optimiser -> analytics.

Reads ``ctx.results["daily_close"]`` (left by ``data_step``), keeps the last
:data:`HISTORY_ROWS` rows, builds a causal momentum signal ``mu_t = P_t / P_{t-L} - 1``
(known at the close of ``t``; null while fewer than ``L`` rows are available: no view),
runs the batch optimiser and the analytics (positions decided at ``t`` earn ``t -> t+1``),
writes ``optimiser_nav_drawdown.png`` and leaves the result in
``ctx.results["optimiser"]``.
"""

from __future__ import annotations

import polars as pl

from algotrader.pipeline import PipelineContext, StepResult
from algotrader.portfolio import OptimiserConfig, analyse, plot_performance, run_batch
from algotrader.portfolio.analytics import periods_per_year_from_dates

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
    prices = ctx.results["daily_close"].tail(HISTORY_ROWS)
    mu = momentum_signal(prices)
    result = run_batch(prices, mu, CONFIG)
    ppy = periods_per_year_from_dates(result.inputs.dates)
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
    s = perf.summary
    summary = {
        "config": CONFIG.model_dump(mode="json"),
        "signal": f"momentum {MOMENTUM_LOOKBACK} rows",
        "rows": int(result.cash.shape[0]),
        "assets": len(result.assets),
        "status_counts": result.status_counts(),
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
        ["total costs / aum", _fmt(s["total_costs"] / CONFIG.aum, ".2%")],
        ["IC mean / ICIR", f"{_fmt(quality.ic_mean, '.4f')} / {_fmt(quality.icir, '.3f')}"],
        ["plot", str(png)],
    ]
    return StepResult(
        name="optimiser",
        summary=summary,
        tables=[("Optimiser: momentum on the bundled stocks", ["item", "value"], rows)],
        artifacts=[png],
    )
