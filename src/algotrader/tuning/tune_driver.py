"""Ray **Tune** driver, for users who want Tune's trial bookkeeping: the same score table as
:func:`~algotrader.tuning.drivers.run_jobs`.

Tune pays a fixed cost per trial (measured ~1 s on 2 busy cores), so a trial is never one
(candidate, split): the jobs are ordered by (candidate, fold) and packed into ``n_trials``
contiguous chunks (:func:`~algotrader.tuning.ray_driver.pack_jobs`), one trial per chunk. The
objectives and the chunks are shipped once with ``tune.with_parameters`` (the object store);
each trial's parameter is only its chunk index. A trial reports after every completed split:
``mean_score`` (the running mean of its finite split scores) at ``splits_done``, plus every row
so far. With ``prune=True`` a :class:`~ray.tune.schedulers.MedianStoppingRule` stops a trial
whose running mean falls below the median of the other trials at the same step (after
``grace_splits``); its unfinished candidates lack splits and are never chosen by
:func:`~algotrader.tuning.choose_best`.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import ConfigError
from algotrader.tuning.drivers import Job, Row, check_jobs, pin_blas
from algotrader.tuning.objective import SplitObjective
from algotrader.tuning.ray_driver import pack_jobs, start_ray
from algotrader.tuning.scores import score_table

__all__ = ["run_tune_jobs"]


def _trainable(
    config: dict[str, Any],
    objectives: Mapping[int, SplitObjective],
    chunks: list[list[Job]],
) -> None:
    from ray import tune

    pin_blas()
    rows: list[Row] = []
    finite: list[float] = []
    for job in chunks[int(config["chunk"])]:
        obj = objectives[job.fold]
        for split in job.splits:
            t0 = time.perf_counter()
            value = float(obj.evaluate(job.candidate, split))
            rows.append((job.fold, job.candidate.id, int(split), value, time.perf_counter() - t0))
            if np.isfinite(value):
                finite.append(value)
            tune.report(
                {
                    "mean_score": float(np.mean(finite)) if finite else float("-inf"),
                    "splits_done": len(rows),
                    "rows": json.dumps(rows),
                }
            )


def run_tune_jobs(
    objectives: Mapping[int, SplitObjective],
    jobs: Sequence[Job],
    *,
    n_trials: int | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    trial_cpus: float = 1.0,
    prune: bool = False,
    grace_splits: int = 2,
    storage_path: str | None = None,
) -> pl.DataFrame:
    """Evaluate ``jobs`` as Tune trials of chunks of jobs; return their score table.

    Args:
        objectives: fold -> objective (shipped once with ``tune.with_parameters``).
        jobs: the work (one candidate's splits of one fold each).
        n_trials: number of chunks = trials (default: 2 per CPU of the cluster).
        address, num_cpus: see :func:`~algotrader.tuning.ray_driver.start_ray`.
        trial_cpus: the CPU resource of each trial.
        prune: median stopping over completed splits.
        grace_splits: splits a trial completes before it can be stopped.
        storage_path: Tune's result folder (default: a temporary folder).
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler, MedianStoppingRule

    if trial_cpus <= 0:
        raise ConfigError(f"trial_cpus must be > 0, got {trial_cpus}", key="tuning.ray.num_cpus")
    check_jobs(jobs, objectives)
    if not jobs:
        return score_table([])
    start_ray(address=address, num_cpus=num_cpus)
    if n_trials is None:
        n_trials = 2 * max(1, int(ray.cluster_resources().get("CPU", 1) / trial_cpus))
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}", key="tuning.ray")
    chunks = pack_jobs(jobs, n_trials, max_task_evals=10**9)
    scheduler: Any = (
        MedianStoppingRule(
            time_attr="splits_done",
            metric="mean_score",
            mode="max",
            grace_period=grace_splits,
            min_samples_required=2,
        )
        if prune
        else FIFOScheduler()
    )
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, objectives=dict(objectives), chunks=chunks),
        {"cpu": trial_cpus},
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"chunk": tune.grid_search(list(range(len(chunks))))},
        tune_config=tune.TuneConfig(scheduler=scheduler),
        run_config=tune.RunConfig(
            storage_path=storage_path or tempfile.mkdtemp(prefix="algotrader-tune-"),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    rows: list[Row] = []
    for i in range(len(grid)):
        result = grid[i]
        if result.error is not None:
            raise result.error
        last = result.metrics or {}
        rows.extend(tuple(r) for r in json.loads(last.get("rows", "[]")))  # type: ignore[misc]
    return score_table(rows)
