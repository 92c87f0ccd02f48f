"""Train an AMM pool from a run configuration and minute prices (the CLI's library side).

Prices are loaded and windowed by :mod:`algotrader.amm.data` (the reference's
loader: dates must be minutes of the data, the end date is inclusive, up to
``max_memory_days`` of burn-in kept before the start). This module turns the
window into a :class:`~algotrader.training.amm_problem.SpanLayout`: training +
validation over ``[start, end]`` and the test span ``(end, end_test]``.

Example:
    >>> import numpy as np
    >>> from algotrader.amm.config import RunConfig
    >>> from algotrader.amm.data import PriceData, make_window
    >>> unix = (np.arange(12 * 1440) * 60_000).astype(np.int64)
    >>> data = PriceData(unix, np.ones((unix.size, 2)), ("A", "B"))
    >>> run = RunConfig(tokens=["A", "B"], rule="momentum", startDateString="1970-01-03 00:00:00",
    ...                 endDateString="1970-01-10 23:59:00", endTestDateString="1970-01-11 23:59:00",
    ...                 bout_offset=1440, optimisation_settings={"val_fraction": 0.25})
    >>> job = make_job(run, make_window(data, run))
    >>> job.layout.start, job.layout.bout_length, job.layout.test_length, job.layout.window_length
    (2880, 11520, 1440, 7200)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algotrader.amm.config import RunConfig
from algotrader.amm.data import Window
from algotrader.errors import ConfigError
from algotrader.training.amm_cycles import AmmCycles
from algotrader.training.amm_problem import DEFAULT_METRICS, SpanLayout, amm_problem
from algotrader.training.multi_period import amm_multi_period_problem
from algotrader.training.optuna_search import OptunaResult, optuna_search
from algotrader.training.problem import TrainingProblem
from algotrader.training.settings import (
    MultiPeriodSettings,
    OptimisationSettings,
    WalkForwardSettings,
)
from algotrader.training.trainer import Callback, TrainResult, train
from algotrader.training.walk_forward import (
    CycleSpan,
    WalkForwardResult,
    cycle_spans,
    walk_forward,
)

logger = logging.getLogger(__name__)
DAY = 1440


@dataclass(frozen=True)
class AmmJob:
    """Everything needed to train one configuration on one price array."""

    run: RunConfig
    settings: OptimisationSettings
    prices: np.ndarray
    layout: SpanLayout
    #: ``(N,)`` epoch milliseconds of the price rows (dates in reports), if known
    unix: np.ndarray | None = None

    @property
    def base_params(self) -> dict[str, np.ndarray]:
        batch = self.run.initial_params(1)
        return {k: np.asarray(v[0], dtype=np.float64) for k, v in batch.items()}

    def problem(self, metric_names: tuple[str, ...] = DEFAULT_METRICS) -> TrainingProblem:
        cfg = self.run.sim_config(self.layout.window_length)
        return amm_problem(
            self.prices, cfg, self.layout, base_params=self.base_params, metric_names=metric_names
        )


def settings_of(run: RunConfig) -> OptimisationSettings:
    """The validated ``optimisation_settings`` of a run configuration."""
    return run.optimisation_settings


def make_job(run: RunConfig, window: Window) -> AmmJob:
    """Validate the optimisation settings and lay the spans of ``run`` on ``window``."""
    settings = settings_of(run)
    test = 0 if window.test_bout_length is None else window.test_bout_length - 1
    layout = SpanLayout(
        start=window.start_index,
        bout_length=window.bout_length,
        test_length=test,
        bout_offset=run.bout_offset,
        val_fraction=settings.val_fraction,
    )
    return AmmJob(
        run=run,
        settings=settings,
        prices=np.asarray(window.data.prices, dtype=np.float64),
        layout=layout,
        unix=np.asarray(window.data.unix, dtype=np.int64),
    )


def load_run_config(path: str | Path) -> RunConfig:
    """``RunConfig.from_yaml`` (kept here so the CLI imports one module)."""
    return RunConfig.from_yaml(path)


def train_job(
    job: AmmJob,
    out_dir: str | Path | None,
    *,
    callback: Callback | None = None,
    multi_period: MultiPeriodSettings | Mapping[str, Any] | None = None,
) -> TrainResult | OptunaResult:
    """Gradient ascent or Optuna on the job, as ``optimisation_settings.method`` says.

    ``multi_period`` (the CLI's ``--periods`` flags) overrides the run configuration's
    ``multi_period`` section; with neither, the objective is the single-window one. A
    mapping is validated into :class:`~algotrader.training.settings.MultiPeriodSettings`
    first (a bad key is a ConfigError naming ``multi_period.<key>``'s key), and the
    settings enter the problem description, hence the run id.
    """
    problem = job.problem()
    settings = job.settings
    mp: MultiPeriodSettings | None
    if multi_period is None:
        mp = job.run.multi_period
    elif isinstance(multi_period, MultiPeriodSettings):
        mp = multi_period
    elif not multi_period:
        mp = None  # an empty override switches it off, as before
    else:
        mp = MultiPeriodSettings.from_mapping(multi_period, source="multi_period")
    if mp is not None:
        cfg = job.run.sim_config(job.layout.window_length)
        problem = amm_multi_period_problem(problem, cfg, job.layout, settings=mp)
        settings = settings.model_copy(update={"batch_size": 1})  # one continuous pass
    config = {"run_config": job.run.model_dump(mode="json")}
    if settings.method == "optuna":
        return optuna_search(problem, settings, out_dir, config=config)
    return train(problem, settings, out_dir, config=config, callback=callback)


def walk_forward_job(
    job: AmmJob,
    wf: WalkForwardSettings,
    out_dir: str | Path | None,
    *,
    callback: Callback | None = None,
    on_cycle: Any = None,
    report_specs: Sequence[str] = (),
) -> WalkForwardResult:
    """Walk-forward over ``[startDateString, endTestDateString]`` (test date required).

    Cycle ``i`` trains in ``<out_dir>/cycle_<iii>/<run_id>/``; ``walk_forward.json`` gives
    each cycle's train/test dates (UTC) and ``report_specs`` with their values.
    """
    if job.layout.test_length == 0:
        raise ConfigError(
            "walk-forward needs endTestDateString (the span is split into cycles)",
            key="endTestDateString",
            hint="set endTestDateString after endDateString",
        )
    lay = job.layout
    spans = cycle_spans(
        lay.start, lay.start + lay.bout_length + lay.test_length, wf.n_cycles, wf.mode
    )
    cfg = job.run.sim_config(DAY * 3)
    hooks = AmmCycles(job.prices, cfg, lay.bout_offset, lay.val_fraction, job.base_params)
    config = {"run_config": job.run.model_dump(mode="json")}
    return walk_forward(
        hooks,
        spans,
        job.settings,
        wf,
        out_dir,
        config=config,
        callback=callback,
        on_cycle=on_cycle,
        report_specs=report_specs,
        span_info=None if job.unix is None else _span_dates(job.unix),
    )


def _span_dates(unix: np.ndarray) -> Callable[[CycleSpan], dict[str, str]]:
    """Train/test first and last minute (UTC, ISO) of a cycle's rows."""

    def iso(row: int) -> str:
        ms = int(unix[min(max(row, 0), unix.size - 1)])
        return str(np.datetime64(ms, "ms").astype("datetime64[m]"))

    def info(span: CycleSpan) -> dict[str, str]:
        return {
            "train_first": iso(span.train_start),
            "train_last": iso(span.train_end - 1),
            "test_first": iso(span.test_start),
            "test_last": iso(span.test_end - 1),
        }

    return info


__all__ = [
    "AmmJob",
    "load_run_config",
    "make_job",
    "settings_of",
    "train_job",
    "walk_forward_job",
]
