"""Shared evaluation plumbing of the default pipeline: one folder and three files per family.

Every family step hands an :class:`~algotrader.backtest.evaluate.Evaluation` to
:func:`record`, which writes ``<out>/<family>/returns.parquet``, ``metrics.json`` and
``run_manifest.json`` (through :func:`algotrader.backtest.write_evaluation` and
:mod:`algotrader.artifacts`) and appends the evaluation to ``ctx.results["evaluations"]``;
``compare_step`` prints them on one table.

Example:
    >>> import numpy as np
    >>> from algotrader.backtest import evaluate_value_series
    >>> ev = evaluate_value_series(np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]"),
    ...                            [1.0, 1.1, 1.21], name="demo")
    >>> ev.name
    'demo'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from algotrader.artifacts import RunManifest, now_utc
from algotrader.backtest.evaluate import Evaluation, write_evaluation
from algotrader.pipeline import PipelineContext


def record(
    ctx: PipelineContext,
    evaluation: Evaluation,
    config: Any,
    inputs: dict[str, str] | None = None,
    *,
    started_at: str | None = None,
    timings: dict[str, float] | None = None,
) -> list[Path]:
    """Write the family's three files under ``ctx.out_dir / evaluation.name``."""
    folder = ctx.out_dir / evaluation.name
    manifest = RunManifest.create(
        f"pipeline.{evaluation.name}",
        config,
        inputs,
        started_at=started_at,
        finished_at=now_utc(),
        timings=dict(timings or {}),
        outputs=["returns.parquet", "metrics.json"],
        extra={"periods_per_year": evaluation.periods_per_year},
    )
    paths = write_evaluation(folder, evaluation, manifest)
    ctx.results.setdefault("evaluations", []).append(evaluation)
    return paths


__all__ = ["record"]
