"""Engines: thin uses of the shared tuning drivers (:mod:`algotrader.tuning.drivers`).

The runner hands over the pending work as :class:`~algotrader.tuning.drivers.Job` s (one
candidate's pending inner splits of one outer fold) and a ``sink`` that appends each finished
job's rows ``(fold, candidate, split, score, seconds)`` to the run's append-only score store.
The objectives are the Evaluator's per-fold :class:`~algotrader.simulation.evaluate.FoldObjective` s.
The best config per fold is then chosen from the store by :func:`algotrader.tuning.choose_best`,
whatever the engine: candidate generation, the score table and the choice are one code path
for the simulation and every other tuning user.

- ``local``: :func:`~algotrader.tuning.drivers.run_jobs`: sequential (``tuning.workers: 1``) or
  a spawn process pool whose initializer receives the objectives once and pins BLAS to one
  thread; jobs run in this process for the first ``tuning.parallel_min_seconds`` (default 20;
  null: pool at once) and the jobs left then go to the pool only when they are estimated to
  take at least as long again (a spawn pool's start-up is seconds idle, ~40 s under load).
- ``ray``: :func:`~algotrader.tuning.ray_driver.run_ray_jobs`: ``ray.address`` null (a local
  cluster with ``ray.init_num_cpus`` CPUs) | ``auto`` | ``host:port``; the objectives
  ``ray.put`` once, jobs packed into ``ray.tasks_per_cpu`` tasks per CPU (a candidate's jobs
  together; ``ray.chunk_splits`` makes every (candidate, split) its own job first), each task
  with ``ray.num_cpus`` resources, results streamed back with ``ray.wait``.
- ``optuna``: :func:`~algotrader.tuning.drivers.run_optuna`, one study per fold (journal file
  ``artifacts/optuna/journal.log`` in the run folder, or the ``optuna.storage`` RDB URL);
  every pending candidate is enqueued; ``optuna.pruner: median`` prunes on the running mean
  over completed splits (a pruned candidate keeps only its completed splits and is never
  chosen); ``tuning.workers > 1`` runs that many processes on the study.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from algotrader.errors import ConfigError
from algotrader.simulation.evaluate import Evaluator
from algotrader.tuning.drivers import Job, Sink, run_jobs, run_optuna

__all__ = ["run_engine"]

logger = logging.getLogger(__name__)

#: modules a Ray worker imports at start-up (paid once, stated apart from the work)
RAY_PRELOAD = ("algotrader.simulation",)


def _ray(ev: Evaluator, jobs: Sequence[Job], sink: Sink) -> None:
    try:
        from algotrader.tuning.ray_driver import run_ray_jobs, start_ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ConfigError(
            "tuning.engine ray needs Ray", key="tuning.engine", hint="pip install algotrader[ray]"
        ) from exc
    rc = ev.cfg.tuning.ray
    if rc.chunk_splits:
        jobs = [Job(j.fold, j.candidate, (s,)) for j in jobs for s in j.splits]
    secs = start_ray(address=rc.address, num_cpus=rc.init_num_cpus, preload=RAY_PRELOAD)
    logger.info("ray start-up: %.2f s", secs)
    run_ray_jobs(
        ev.objectives(),
        jobs,
        address=rc.address,
        num_cpus=rc.init_num_cpus,
        task_cpus=rc.num_cpus,
        sink=sink,
        tasks_per_cpu=rc.tasks_per_cpu,
    )


def _optuna(ev: Evaluator, jobs: Sequence[Job], sink: Sink, run_dir: Path) -> None:
    oc = ev.cfg.tuning.optuna
    storage: str | Path = oc.storage or run_dir / "artifacts" / "optuna" / "journal.log"
    base = oc.study_name or f"algotrader_{ev.token}"
    objectives = ev.objectives()
    for k in sorted({j.fold for j in jobs}):
        mine = [j for j in jobs if j.fold == k]
        wanted = {(j.candidate.id, s) for j in mine for s in j.splits}
        table = run_optuna(
            objectives[k],
            [j.candidate for j in mine],
            storage=storage,
            study_name=f"{base}_outer_{k}",
            fold=k,
            prune=oc.pruner == "median",
            prune_warmup_splits=oc.n_warmup_steps,
            seed=ev.cfg.tuning.seed,
            workers=ev.cfg.tuning.workers,
        )
        rows = [r for r in table.iter_rows() if (r[1], r[2]) in wanted]
        for cid in sorted({r[1] for r in rows}):
            sink([r for r in rows if r[1] == cid])


def run_engine(
    ev: Evaluator, jobs: Sequence[Job], sink: Sink, *, engine: str, run_dir: Path
) -> None:
    """Evaluate ``jobs`` with ``engine``; every finished piece of work goes to ``sink``."""
    if not jobs:
        return
    if engine == "local":
        t = ev.cfg.tuning
        run_jobs(
            ev.objectives(),
            jobs,
            workers=t.workers,
            sink=sink,
            min_parallel_seconds=t.parallel_min_seconds,
        )
    elif engine == "ray":
        _ray(ev, jobs, sink)
    elif engine == "optuna":
        _optuna(ev, jobs, sink, run_dir)
    else:
        raise ConfigError(
            f"unknown engine {engine!r}", key="tuning.engine", hint="local, ray or optuna"
        )
