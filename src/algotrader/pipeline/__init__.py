"""The default pipeline: the no-argument ``algotrader`` run on the bundled data.

It is an ordered list of steps; each step is a module ``algotrader.pipeline.<name>``
with a ``run(ctx: PipelineContext) -> StepResult`` function. Later stages plug in by
adding their module name to :data:`DEFAULT_STEPS`. Steps read what earlier steps left
in ``ctx.results`` (e.g. the cleaned prices) and never re-load data themselves.

Example:
    >>> from algotrader.pipeline import StepResult
    >>> StepResult(name="demo", summary={"x": 1}).name
    'demo'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from algotrader.io import write_json_atomic
from algotrader.settings import Settings

logger = logging.getLogger(__name__)

#: Step modules, run in this order. Add a family's step here.
DEFAULT_STEPS: tuple[str, ...] = (
    "data_step",
    "optimiser_step",
    "amm_step",
    "simulation_step",
    "compare_step",
)


@dataclass
class StepResult:
    """What a step reports: a JSON-able summary, optional tables to print, artifact paths."""

    name: str
    summary: dict[str, Any]
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)


@dataclass
class PipelineContext:
    """Shared state handed to every step.

    Attributes:
        settings: resolved settings (paths).
        out_dir: folder for the pipeline's artifacts (summary, plots).
        quiet: no progress bars.
        results: objects earlier steps left for later ones, by key (documented per step).
        progress: optional callable ``(description, total) -> advance`` supplied by the CLI.
    """

    settings: Settings
    out_dir: Path
    quiet: bool = False
    results: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str, int], Callable[[int], None]] | None = None


def run_pipeline(ctx: PipelineContext, steps: tuple[str, ...] = DEFAULT_STEPS) -> list[StepResult]:
    """Run ``steps`` in order and write ``summary.json`` into ``ctx.out_dir`` atomically."""
    reports: list[StepResult] = []
    timings: dict[str, float] = {}
    for name in steps:
        step: Callable[[PipelineContext], StepResult] = import_module(
            f"algotrader.pipeline.{name}"
        ).run
        start = time.perf_counter()
        logger.info("pipeline step %s", name)
        reports.append(step(ctx))
        timings[name] = round(time.perf_counter() - start, 3)
    summary = {
        "steps": {r.name: r.summary for r in reports},
        "timings_s": timings,
        "artifacts": [str(p) for r in reports for p in r.artifacts],
    }
    write_json_atomic(ctx.out_dir / "summary.json", summary)
    return reports


__all__ = ["DEFAULT_STEPS", "PipelineContext", "StepResult", "run_pipeline"]
