"""Ray driver: the objectives are ``ray.put`` once, jobs are packed into a few tasks (``num_cpus``
each, BLAS pinned to one thread in the worker), results streamed back with ``ray.wait``; the
same score table as :func:`~algotrader.tuning.drivers.run_local`.

Tasks: the jobs are ordered by (candidate, fold) -- a candidate's jobs side by side, so a
family's per-process caches (e.g. the optimiser path of one parameter set) are hit -- and cut
into contiguous chunks of about equal evaluation count: ``tasks_per_cpu`` tasks per CPU of the
cluster, no task above ``max_task_evals`` evaluations (so results stream back and a killed
run loses little). Each worker process deserialises the objectives once (kept per object
ref), so imports, JIT compilation and caches are paid once per worker, not per task.

``address=None`` starts (or reuses) a local cluster with ``num_cpus`` CPUs; ``"auto"`` or
``"ip:port"`` joins an existing one (the objective must then be importable on the workers).
:func:`start_ray` also imports ``preload`` modules in every worker, so the start-up cost can be
paid (and measured) before the work.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from algotrader.errors import ConfigError
from algotrader.tuning.drivers import Job, Row, Sink, check_jobs, job_rows, jobs_for, pin_blas
from algotrader.tuning.objective import Candidate, SplitObjective
from algotrader.tuning.scores import score_table

__all__ = ["pack_jobs", "run_ray", "run_ray_jobs", "start_ray"]

logger = logging.getLogger(__name__)
_CACHE: dict[str, Any] = {}


def _preload(modules: Sequence[str], hold: float) -> int:
    import importlib
    import os

    pin_blas()
    for name in modules:
        importlib.import_module(name)
    time.sleep(hold)  # keep this worker busy so the next preload lands on another one
    return os.getpid()


def start_ray(
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    preload: Sequence[str] = (),
) -> float:
    """``ray.init`` unless already initialised, then import ``preload`` in every worker.

    Returns:
        The seconds it took (the start-up cost, stated apart from the work).
    """
    import ray

    t0 = time.perf_counter()
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
        )
    if preload:
        n = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1)(_preload)
        pids = ray.get([remote.remote(list(preload), 0.2) for _ in range(n)])
        logger.info("ray: %d workers preloaded %s", len(set(pids)), list(preload))
    return time.perf_counter() - t0


def pack_jobs(jobs: Sequence[Job], n_tasks: int, max_task_evals: int) -> list[list[Job]]:
    """Jobs ordered by (candidate, fold) and cut into contiguous, evaluation-balanced chunks.

    >>> from algotrader.tuning import Candidate
    >>> js = [Job(f, Candidate(c), (0, 1)) for f in (0, 1) for c in (0, 1)]
    >>> [[(j.candidate.id, j.fold) for j in t] for t in pack_jobs(js, 2, 100)]
    [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]
    """
    ordered = sorted(jobs, key=lambda j: (j.candidate.id, j.fold))
    total = sum(len(j.splits) for j in ordered)
    if not ordered:
        return []
    size = max(1, min(max_task_evals, math.ceil(total / max(1, n_tasks))))
    tasks: list[list[Job]] = [[]]
    filled = 0
    for job in ordered:
        if filled >= size:
            tasks.append([])
            filled = 0
        tasks[-1].append(job)
        filled += len(job.splits)
    return tasks


def _task(box: list[Any], jobs: list[Job]) -> list[Row]:
    import ray

    pin_blas()
    ref = box[0]
    key = ref.hex()
    objectives = _CACHE.get(key)
    if objectives is None:
        _CACHE.clear()
        objectives = _CACHE[key] = ray.get(ref)
    rows: list[Row] = []
    for job in jobs:
        rows.extend(job_rows(objectives, job))
    return rows


def run_ray_jobs(
    objectives: Mapping[int, SplitObjective],
    jobs: Sequence[Job],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    task_cpus: float = 1.0,
    sink: Sink | None = None,
    tasks_per_cpu: int = 2,
    max_task_evals: int = 256,
) -> pl.DataFrame:
    """Evaluate ``jobs`` as Ray tasks (see the module docstring); return their score table.

    Args:
        objectives: fold -> objective, ``ray.put`` once.
        address, num_cpus: see :func:`start_ray`.
        task_cpus: the ``num_cpus`` resource of each task.
        sink: receives each finished task's rows.
        tasks_per_cpu, max_task_evals: task packing (see :func:`pack_jobs`).
    """
    import ray

    if task_cpus <= 0:
        raise ConfigError(f"task_cpus must be > 0, got {task_cpus}", key="tuning.ray.num_cpus")
    if tasks_per_cpu < 1 or max_task_evals < 1:
        raise ConfigError("tasks_per_cpu and max_task_evals must be >= 1", key="tuning.ray")
    check_jobs(jobs, objectives)
    start_ray(address=address, num_cpus=num_cpus)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) / task_cpus))
    tasks = pack_jobs(jobs, slots * tasks_per_cpu, max_task_evals)
    remote = ray.remote(num_cpus=task_cpus)(_task)
    ref = ray.put(dict(objectives))
    pending = [remote.remote([ref], t) for t in tasks]
    rows: list[Row] = []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for part in ray.get(done):
            rows.extend(part)
            if sink is not None and part:
                sink(part)
    logger.info("ray driver: %d jobs in %d tasks, %d rows", len(jobs), len(tasks), len(rows))
    return score_table(rows)


def run_ray(
    objective: SplitObjective,
    candidates: Sequence[Candidate],
    *,
    fold: int = 0,
    address: str | None = None,
    num_cpus: int | None = None,
    task_cpus: float = 1.0,
) -> pl.DataFrame:
    """Every candidate on every split as Ray tasks; returns the score table."""
    if len({c.id for c in candidates}) != len(candidates):
        raise ConfigError("candidate ids must be unique", key="tuning.candidates")
    return run_ray_jobs(
        {fold: objective},
        jobs_for(objective, candidates, fold),
        address=address,
        num_cpus=num_cpus,
        task_cpus=task_cpus,
    )
