"""Train an AMM pool from a run configuration and a minute price file (the CLI's library side).

Price file: Parquet or CSV in the reference's wide form, a ``unix`` column (int64
milliseconds, gap-free minutes, 60,000 ms apart) and one ``close_<TOKEN>`` column
per token of the configuration. Windowing follows the reference's loader:

* ``startDateString`` and ``endDateString`` (and ``endTestDateString`` if set)
  must exist exactly in ``unix``; the end date is inclusive, so
  ``bout_length = idx(end) + 1 - idx(start)`` and the test span is
  ``idx(end_test) - idx(end)`` minutes after it;
* the history kept before the start (the estimators' burn-in) is at most
  ``max_memory_days`` whole days, and the kept array starts on a whole number of
  days before the start so that rule chunks line up with days.

Example:
    >>> import numpy as np
    >>> unix = (np.arange(5 * 1440) * 60_000).astype(np.int64)
    >>> rows = window_rows(unix, "1970-01-02 00:00:00", "1970-01-03 23:59:00", "1970-01-04 23:59:00", 365.0)
    >>> rows.first, rows.start, rows.bout_length, rows.test_length
    (0, 1440, 2880, 1440)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.amm.config import RunConfig, parse_date
from algotrader.errors import ConfigError, DataError, SchemaError
from algotrader.training.amm_cycles import AmmCycles
from algotrader.training.amm_problem import DEFAULT_METRICS, SpanLayout, amm_problem
from algotrader.training.multi_period import amm_multi_period_problem
from algotrader.training.optuna_search import OptunaResult, optuna_search
from algotrader.training.problem import TrainingProblem
from algotrader.training.settings import OptimisationSettings, WalkForwardSettings
from algotrader.training.trainer import Callback, TrainResult, train
from algotrader.training.walk_forward import WalkForwardResult, cycle_spans, walk_forward

logger = logging.getLogger(__name__)
MINUTE_MS = 60_000
DAY = 1440


def load_prices(path: str | Path, tokens: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Read ``unix`` (ms) and ``close_<TOKEN>`` columns; returns (unix (N,), prices (N, A)).

    Raises :class:`SchemaError` for a missing column and :class:`DataError` for
    unsorted or gapped minutes and non-positive or missing prices (naming the row).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(
            "price file not found", file=str(p), hint="pass an existing Parquet or CSV file"
        )
    frame = pl.read_parquet(p) if p.suffix in (".parquet", ".pq") else pl.read_csv(p)
    cols = ["unix", *[f"close_{t}" for t in tokens]]
    for c in cols:
        if c not in frame.columns:
            raise SchemaError(
                f"column {c!r} missing",
                file=str(p),
                column=c,
                hint="the wide form has unix + close_<TOKEN> columns",
            )
    unix = frame["unix"].cast(pl.Int64).to_numpy()
    steps = np.diff(unix)
    if steps.size and np.any(steps != MINUTE_MS):
        row = int(np.nonzero(steps != MINUTE_MS)[0][0]) + 1
        raise DataError(
            f"unix must step by exactly 60000 ms (found {int(steps[row - 1])})",
            file=str(p),
            row=row,
            column="unix",
            hint="fill or cut the data to gap-free, sorted minutes",
        )
    prices = np.stack([frame[f"close_{t}"].cast(pl.Float64).to_numpy() for t in tokens], axis=1)
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        bad_row, bad_col = (int(x[0]) for x in np.nonzero(bad))
        raise DataError(
            "prices must be finite and positive",
            file=str(p),
            row=bad_row,
            column=f"close_{tokens[bad_col]}",
            hint="clean the bar or cut the period",
        )
    return unix, prices


@dataclass(frozen=True)
class WindowRows:
    """Row positions in the loaded file: kept from ``first``; the rest relative to ``first``."""

    first: int
    start: int
    bout_length: int
    test_length: int


def _row_of(unix: np.ndarray, text: str, key: str) -> int:
    ms = int(parse_date(text, key).replace(tzinfo=UTC).timestamp() * 1000)
    idx = int(np.searchsorted(unix, ms))
    if idx >= unix.size or int(unix[idx]) != ms:
        raise ConfigError(
            f"{key} {text!r} is not a minute of the price file",
            key=key,
            hint=f"use a date between {_fmt(unix[0])} and {_fmt(unix[-1])}",
        )
    return idx


def _fmt(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def window_rows(
    unix: np.ndarray, start: str, end: str, end_test: str | None, max_memory_days: float
) -> WindowRows:
    """Locate the training and test spans (see the module docstring)."""
    s = _row_of(unix, start, "startDateString")
    e = _row_of(unix, end, "endDateString") + 1
    t = e if end_test is None else _row_of(unix, end_test, "endTestDateString") + 1
    burn_days = min(s // DAY, int(np.ceil(max_memory_days)))
    first = s - burn_days * DAY
    return WindowRows(first=first, start=s - first, bout_length=e - s, test_length=t - e)


@dataclass(frozen=True)
class AmmJob:
    """Everything needed to train one configuration on one price array."""

    run: RunConfig
    settings: OptimisationSettings
    prices: np.ndarray
    layout: SpanLayout

    @property
    def base_params(self) -> dict[str, np.ndarray]:
        batch = self.run.initial_params(1)
        return {k: np.asarray(v[0], dtype=np.float64) for k, v in batch.items()}

    def problem(self, metric_names: tuple[str, ...] = DEFAULT_METRICS) -> TrainingProblem:
        cfg = self.run.sim_config(self.layout.window_length)
        return amm_problem(
            self.prices, cfg, self.layout, base_params=self.base_params, metric_names=metric_names
        )


def make_job(run: RunConfig, unix: np.ndarray, prices: np.ndarray) -> AmmJob:
    """Validate the optimisation settings and locate the spans of ``run`` in the prices."""
    settings = OptimisationSettings.from_mapping(run.optimisation_settings)
    rows = window_rows(
        unix, run.startDateString, run.endDateString, run.endTestDateString, run.max_memory_days
    )
    layout = SpanLayout(
        start=rows.start,
        bout_length=rows.bout_length,
        test_length=rows.test_length,
        bout_offset=run.bout_offset,
        val_fraction=settings.val_fraction,
    )
    return AmmJob(run=run, settings=settings, prices=prices[rows.first :], layout=layout)


def load_run_config(path: str | Path) -> RunConfig:
    """``RunConfig.from_yaml`` (kept here so the CLI imports one module)."""
    return RunConfig.from_yaml(path)


def train_job(
    job: AmmJob,
    out_dir: str | Path | None,
    *,
    callback: Callback | None = None,
    multi_period: dict[str, Any] | None = None,
) -> TrainResult | OptunaResult:
    """Gradient ascent or Optuna on the job, as ``optimisation_settings.method`` says."""
    problem = job.problem()
    settings = job.settings
    if multi_period:
        cfg = job.run.sim_config(job.layout.window_length)
        problem = amm_multi_period_problem(problem, cfg, job.layout, **multi_period)
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
) -> WalkForwardResult:
    """Walk-forward over ``[startDateString, endTestDateString]`` (test date required)."""
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
        hooks, spans, job.settings, wf, out_dir, config=config, callback=callback, on_cycle=on_cycle
    )


__all__ = [
    "AmmJob",
    "WindowRows",
    "load_prices",
    "load_run_config",
    "make_job",
    "train_job",
    "walk_forward_job",
    "window_rows",
]
