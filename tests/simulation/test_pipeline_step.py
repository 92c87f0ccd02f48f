"""The default pipeline's nested-CV step on the bundled data."""

from __future__ import annotations

import json
from pathlib import Path

from algotrader.data.registry import load_daily_close
from algotrader.pipeline import DEFAULT_STEPS, PipelineContext, simulation_step
from algotrader.settings import Settings


def test_simulation_step_runs_and_reports(tmp_path: Path) -> None:
    assert "simulation_step" in DEFAULT_STEPS
    ctx = PipelineContext(settings=Settings.from_env(), out_dir=tmp_path)
    ctx.results["daily_close"] = load_daily_close()
    first = simulation_step.run(ctx)
    metrics = json.loads(first.artifacts[0].read_text())
    assert metrics["n_candidates"] == 8 and metrics["n_outer_folds"] == 3
    assert len(first.tables[0][2]) == 3
    again = simulation_step.run(ctx)  # the run folder is rebuilt, results identical
    assert again.summary == first.summary
