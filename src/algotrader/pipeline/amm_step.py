"""Default-pipeline step: a momentum AMM pool on three bundled daily series vs HODL.

Reads ``ctx.results["daily_close"]`` (left by ``data_step``), keeps the last
:data:`ROWS` trading days of :data:`ASSETS`, turns them into a step-constant minute
path on a trading-day clock (1440 simulated minutes per trading day, see
:func:`algotrader.amm.data.daily_to_minutes`), warms the estimators up for
:data:`BURN_IN_DAYS` days and simulates a zero-fee momentum pool (weights decided
from closes up to day ``d`` move during day ``d + 1``).  Reports the pool's value
against holding the initial basket (HODL) and an equal-value basket, and writes the
daily table to ``amm_daily.parquet``; leaves the result in ``ctx.results["amm"]``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from algotrader.amm.config import DATE_FORMAT, RunConfig
from algotrader.amm.data import daily_to_minutes, make_window
from algotrader.amm.param_init import init_params
from algotrader.amm.simulate import simulate
from algotrader.io import write_parquet_atomic
from algotrader.pipeline import PipelineContext, StepResult

ASSETS: tuple[str, ...] = ("AAPL", "CVX", "HD")
ROWS = 504
BURN_IN_DAYS = 60
MEMORY_DAYS = 20.0
K_PER_DAY = 2.0


def _clock_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(DATE_FORMAT)


def run(ctx: PipelineContext) -> StepResult:
    """Simulate the pool and report value vs HODL."""
    frame = ctx.results["daily_close"].select(["date", *ASSETS]).tail(ROWS)
    data = daily_to_minutes(frame, ASSETS)
    start_ms = int(data.unix[BURN_IN_DAYS * 1440])
    end_ms = int(data.unix[-1440])
    cfg = RunConfig(
        tokens=list(ASSETS),
        rule="momentum",
        startDateString=_clock_date(start_ms),
        endDateString=_clock_date(end_ms),
        max_memory_days=BURN_IN_DAYS,
    )
    window = make_window(data, cfg)
    batch = init_params("momentum", len(ASSETS), memory_days=MEMORY_DAYS, k_per_day=K_PER_DAY)
    params = {k: v[0] for k, v in batch.items()}
    result = simulate(cfg, window, params)
    m = result.metrics
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path = write_parquet_atomic(ctx.out_dir / "amm_daily.parquet", result.daily)
    dates = frame["date"]
    summary = {
        "assets": list(ASSETS),
        "rule": "momentum (zero fees)",
        "period": f"{dates[BURN_IN_DAYS]} .. {dates[-1]}",
        "trading_days": result.daily.height,
        "final_value": round(m["final_value"], 2),
        "return": round(m["returns"], 6),
        "return_over_hodl": round(m["returns_over_hodl"], 6),
        "return_over_uniform_hodl": round(m["returns_over_uniform_hodl"], 6),
        "daily_log_sharpe": round(m["daily_log_sharpe"], 4),
        "simulate_s": round(result.timings["simulate_s"], 3),
    }
    ctx.results["amm"] = result
    rows = [
        ["pool return", f"{m['returns']:+.2%}"],
        ["over HODL (initial basket)", f"{m['returns_over_hodl']:+.2%}"],
        ["over equal-value HODL", f"{m['returns_over_uniform_hodl']:+.2%}"],
        ["daily log Sharpe", f"{m['daily_log_sharpe']:+.3f}"],
        ["final value", f"{m['final_value']:,.0f}"],
    ]
    title = f"AMM momentum pool {'/'.join(ASSETS)}, {summary['period']}"
    return StepResult(
        name="amm_step",
        summary=summary,
        tables=[(title, ["metric", "value"], rows)],
        artifacts=[path],
    )
