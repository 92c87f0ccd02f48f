"""Default-pipeline step: a momentum AMM pool on three bundled daily series vs HODL.

Reads ``ctx.results["daily_close"]`` (left by ``data_step``), keeps the last
:data:`ROWS` trading days of :data:`ASSETS`, turns them into a step-constant minute
path on a trading-day clock (1440 simulated minutes per trading day, see
:func:`algotrader.amm.data.daily_to_minutes`), warms the estimators up for
:data:`BURN_IN_DAYS` days and simulates a zero-fee momentum pool (weights decided
from closes up to day ``d`` move during day ``d + 1``).  Reports the pool's value
against holding the initial basket (HODL) and an equal-value basket, and writes the
daily table to ``amm_daily.parquet``; leaves the result in ``ctx.results["amm"]``.

The reported metrics come from the shared path: the pool's start-of-day values, dated
with the **real trading dates** they stand for, go to
:func:`algotrader.backtest.evaluate_value_series` (fees are inside the pool; this pool
has none) with the HODL (initial reserves held), uniform HODL and equal-weight rebalanced
(zero-cost, like the pool) benchmarks on the same dates, so the periods per year follow
the one calendar rule (~252), not sqrt(365) on re-labelled days. Writes ``amm/``
(``returns.parquet``, ``metrics.json``, ``run_manifest.json``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from algotrader.amm.config import DATE_FORMAT, RunConfig
from algotrader.amm.data import daily_to_minutes, make_window
from algotrader.amm.param_init import init_params
from algotrader.amm.simulate import simulate
from algotrader.artifacts import now_utc, write_parquet_atomic
from algotrader.backtest import evaluate_value_series
from algotrader.errors import ShapeError
from algotrader.pipeline import PipelineContext, StepResult
from algotrader.pipeline.evaluation import record

ASSETS: tuple[str, ...] = ("AAPL", "CVX", "HD")
ROWS = 504
BURN_IN_DAYS = 60
MEMORY_DAYS = 20.0
K_PER_DAY = 2.0


def _clock_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(DATE_FORMAT)


def pool_benchmarks(
    prices: np.ndarray, value: np.ndarray, reserves0: np.ndarray
) -> dict[str, np.ndarray]:
    """Zero-cost benchmark value paths ``(T,)`` on daily ``prices`` ``(T, A)``.

    ``hodl``: the pool's initial reserves held; ``uniform_hodl``: ``V_0`` split equally at
    the first prices; ``equal_weight_rebalanced``: ``V_0 * cumprod(mean_i p_t,i / p_t-1,i)``.

    Example:
        >>> p = np.array([[1.0, 1.0], [2.0, 1.0], [2.0, 2.0]])
        >>> b = pool_benchmarks(p, np.array([2.0, 3.0, 4.0]), np.array([1.0, 1.0]))
        >>> b["hodl"].tolist(), b["equal_weight_rebalanced"].tolist()
        ([2.0, 3.0, 4.0], [2.0, 3.0, 4.5])
    """
    v0 = float(value[0])
    rel = prices[1:] / prices[:-1]
    return {
        "hodl": prices @ reserves0,
        "uniform_hodl": (prices / prices[0]).mean(axis=1) * v0,
        "equal_weight_rebalanced": v0 * np.r_[1.0, np.cumprod(rel.mean(axis=1))],
    }


def run(ctx: PipelineContext) -> StepResult:
    """Simulate the pool and report value vs HODL."""
    started = now_utc()
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
    daily_dates = dates[BURN_IN_DAYS : BURN_IN_DAYS + result.daily.height]
    if daily_dates.len() != result.daily.height:
        raise ShapeError(
            f"{result.daily.height} simulated days but {daily_dates.len()} trading dates",
            key="amm_step",
        )
    value = result.daily["value"].to_numpy()
    px = result.daily.select([f"price_{t}" for t in ASSETS]).to_numpy()
    res0 = result.daily.select([f"reserve_{t}" for t in ASSETS]).to_numpy()[0]
    ev = evaluate_value_series(daily_dates, value, pool_benchmarks(px, value, res0), name="amm")
    paths = record(
        ctx,
        ev,
        {"amm": cfg, "params": {k: np.asarray(v).tolist() for k, v in params.items()}},
        started_at=started,
        timings=dict(result.timings),
    )
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
        ["daily log Sharpe (reference, sqrt 365)", f"{m['daily_log_sharpe']:+.3f}"],
        [
            f"Sharpe (shared path, P/yr {ev.periods_per_year:.1f})",
            f"{ev.metrics['sharpe']:+.3f}",
        ],
        ["final value", f"{m['final_value']:,.0f}"],
    ]
    title = f"AMM momentum pool {'/'.join(ASSETS)}, {summary['period']}"
    return StepResult(
        name="amm_step",
        summary=summary,
        tables=[(title, ["metric", "value"], rows)],
        artifacts=[path, *paths],
    )
