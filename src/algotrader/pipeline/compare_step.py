"""Default-pipeline step: one comparison table of every family and its benchmarks.

Reads ``ctx.results["evaluations"]`` (each family step appends its
:class:`~algotrader.backtest.evaluate.Evaluation`). Every row uses the same registered
metric definitions and the same periods-per-year rule
(:func:`algotrader.backtest.periods_per_year`); the benchmarks (HODL of the family's first
holdings, uniform HODL, equal weight rebalanced) are listed under each family because
they share its dates, assets and costs.
"""

from __future__ import annotations

from typing import Any

from algotrader.artifacts import json_ready
from algotrader.backtest.evaluate import PERIODS_RULE, comparison_rows
from algotrader.pipeline import PipelineContext, StepResult

METRICS: tuple[str, ...] = ("total_return", "annualised_return", "sharpe", "max_drawdown")


def run(ctx: PipelineContext) -> StepResult:
    """Build the one comparison table."""
    evaluations = ctx.results.get("evaluations", [])
    header, rows = comparison_rows(evaluations, METRICS)
    summary: dict[str, Any] = {
        "periods_per_year_rule": PERIODS_RULE,
        "families": {
            ev.name: {
                "periods_per_year": ev.periods_per_year,
                "start": str(ev.dates[0]),
                "end": str(ev.dates[-1]),
                **{m: ev.metrics.get(m) for m in METRICS},
            }
            for ev in evaluations
        },
    }
    title = (
        "Comparison: every family and its benchmarks (net of costs; P/yr = " + PERIODS_RULE + ")"
    )
    return StepResult(name="compare", summary=json_ready(summary), tables=[(title, header, rows)])
