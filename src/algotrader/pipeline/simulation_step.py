"""Default-pipeline step: a small nested-CV run of the optimiser family on the bundled data.

Reads ``ctx.results["daily_close"]`` (left by ``data_step``), resamples to weekly closes
(the last trading day of each week) from :data:`START`, and runs
:func:`algotrader.simulation.run_simulation` with :data:`CONFIG`: 26-week groups, the last
3 groups as outer walk-forward tests, inner purged CPCV (q = 2, 10 balanced combinations),
8 Sobol candidates over the momentum lookback and the correlation shrink. The run folder
``<out>/simulation/optimiser_nested_cv`` is rebuilt on every pipeline run. Leaves the
:class:`~algotrader.simulation.SimulationResult` in ``ctx.results["simulation"]``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import polars as pl

from algotrader.pipeline import PipelineContext, StepResult
from algotrader.simulation import run_simulation
from algotrader.simulation.config import config_from_mapping
from algotrader.simulation.inputs import data_from_prices, weekly_closes

START = dt.date(2012, 1, 1)
LABEL = "optimiser_nested_cv"
CONFIG: dict[str, Any] = {
    "family": "optimiser",
    "cv": {"warmup_len": 26, "group_len": 26, "q": 2, "embargo_len": 1, "max_inner_combos": 10},
    "outer": {"last_n": 3},
    "model": {"params": {"lookback": 12, "vola": 20, "corr": 60, "clip": 3.5, "shrink": 0.5}},
    "tuning": {
        "num_samples": 8,
        "seed": 0,
        "space": [
            {"path": "model.params.lookback", "type": "int", "bounds": [4, 26]},
            {"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]},
        ],
    },
    "cost": {"proportional_bps": 5.0},
    "diagnostics": {"pbo_blocks": 6},
}


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def run(ctx: PipelineContext) -> StepResult:
    """Nested CV of the optimiser; report outer-fold results and overfitting statistics."""
    daily: pl.DataFrame = ctx.results["daily_close"].filter(pl.col("date") >= START)
    weekly = weekly_closes(daily)
    assets = tuple(c for c in weekly.columns if c != "date")
    data = data_from_prices(
        weekly["date"].cast(pl.Datetime("us")).to_numpy(),
        assets,
        weekly.select(assets).to_numpy(),
        periods_per_year=52.0,
    )
    root = ctx.out_dir / "simulation"
    shutil.rmtree(root / LABEL, ignore_errors=True)
    raw = {**CONFIG, "data": {"output_root": str(root), "simulation_output_path": LABEL}}
    result = run_simulation(config_from_mapping(raw), data=data)
    ctx.results["simulation"] = result
    m = result.metrics
    rows = [
        [
            str(f["outer_k"]),
            f"{f['first_date'][:10]}..{f['last_date'][:10]}",
            str(f["candidate_id"]),
            _fmt(f["inner_aggregate"]),
            _fmt(f["metrics"]["sharpe"]),
            _fmt(f["baselines"]["equal_weight"]["sharpe"]),
        ]
        for f in result.folds
    ]
    stats = [
        ["candidates (DSR trials)", str(m["n_candidates"])],
        ["outer sharpe (chosen, net)", _fmt(m["chosen"]["sharpe"])],
        ["outer sharpe (equal weight)", _fmt(m["baselines"]["equal_weight"]["sharpe"])],
        ["PSR", _fmt(m["psr"])],
        ["DSR", _fmt(m.get("dsr"))],
        ["PBO (CSCV)", _fmt((m.get("pbo") or {}).get("pbo"))],
        ["run folder", str(result.run_dir)],
    ]
    summary = {
        "run_dir": str(result.run_dir),
        "chosen": {str(k): v for k, v in result.chosen.items()},
        "metrics": {
            "psr": m["psr"],
            "dsr": m.get("dsr"),
            "pbo": (m.get("pbo") or {}).get("pbo"),
            "sharpe": m["chosen"]["sharpe"],
        },
    }
    return StepResult(
        name="simulation",
        summary=summary,
        tables=[
            (
                "Nested CV (optimiser): outer folds",
                ["fold", "period", "cand", "inner", "sharpe", "eq-wt sharpe"],
                rows,
            ),
            ("Nested CV: overfitting statistics", ["item", "value"], stats),
        ],
        artifacts=[result.run_dir / "outer" / "metrics.json"],
    )
