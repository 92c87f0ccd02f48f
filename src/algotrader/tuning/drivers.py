"""Drivers: evaluate a :class:`~algotrader.tuning.SplitObjective` over candidates.

Every driver returns the same score table (:data:`~algotrader.tuning.scores.SCORE_SCHEMA`),
from which :func:`~algotrader.tuning.choose_best` picks the winner.

- :func:`run_jobs`: the work unit every driver schedules is a :class:`Job` (one candidate's
  splits of one fold); ``objectives`` maps fold -> objective, so one call can tune many folds
  (the nested-CV simulation sends every fold's pending jobs at once). Sequential
  (``workers=1``) or a spawn process pool (``workers>1``) whose initializer receives the
  objectives once and pins BLAS to one thread; one task per job; every finished job's rows go
  to ``sink`` (an append-only store, a progress bar). With ``min_parallel_seconds`` jobs run
  here for that long first; the jobs left then go to a pool only if their estimated time (the
  mean seconds per evaluation so far) is at least as long (a spawn pool costs its workers'
  start-up, imports and JIT: small work never pays it).
- :func:`run_local`: :func:`run_jobs` over every candidate x every split of one objective.
- :func:`run_optuna`: every candidate is enqueued into an Optuna study (journal file locally, an
  RDB URL such as ``postgresql://...`` for many machines); each trial evaluates its candidate's
  splits, reporting the running mean after each. With ``prune=True`` a median pruner stops
  candidates whose running mean falls below the median of earlier candidates at the same
  step, and the split order is shuffled with ``default_rng(seed)`` so the early splits are not
  always the oldest. Split scores are stored as trial user attributes, so a rerun on the same
  storage resumes: finished candidates are read back, not re-evaluated. ``workers>1`` runs
  that many processes on the same study (each opens the storage itself).
- :func:`run_optuna_sampler`: the same objective, with candidates proposed by an Optuna
  sampler (seeded TPE) from a :class:`~algotrader.tuning.SearchSpace` instead of a fixed
  list: ``n_trials`` trials, each scored split by split (running mean reported; median
  pruning; a non-finite running mean prunes), its value from ``finalize`` (default: the mean
  over splits; a tuple for a multi-objective study). The study is named and stored like
  :func:`run_optuna`, so a rerun resumes and only the missing trials run. The AMM search
  (:func:`algotrader.training.optuna_search.optuna_search`) is this driver with
  :class:`~algotrader.tuning.ProblemObjective`; the optimiser is tuned by it with
  :class:`~algotrader.tuning.OptimiserObjective`.

Example:
    >>> from algotrader.tuning import Candidate
    >>> class Quad:
    ...     split_ids = (0, 1)
    ...     def evaluate(self, candidate, split):
    ...         return -(candidate.params["x"] - 0.5) ** 2 - split
    >>> cands = [Candidate(i, {"x": x}) for i, x in enumerate([0.0, 0.4, 1.0])]
    >>> run_local(Quad(), cands).get_column("score").to_list()[:2]
    [-0.25, -1.25]
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import ConfigError
from algotrader.tuning.objective import Candidate, SplitObjective
from algotrader.tuning.scores import score_table
from algotrader.tuning.space import SearchSpace

__all__ = [
    "Job",
    "Sink",
    "check_jobs",
    "job_rows",
    "jobs_for",
    "pin_blas",
    "run_jobs",
    "run_local",
    "run_optuna",
    "run_optuna_sampler",
    "split_order",
]

logger = logging.getLogger(__name__)

Row = tuple[int, int, int, float, float]
Sink = Callable[[list[Row]], None]
_WORKER: dict[str, Any] = {}


@dataclass(frozen=True)
class Job:
    """One unit of driver work: ``candidate`` on the splits ``splits`` of fold ``fold``."""

    fold: int
    candidate: Candidate
    splits: tuple[int, ...]


def jobs_for(
    objective: SplitObjective, candidates: Sequence[Candidate], fold: int = 0
) -> list[Job]:
    """One job per candidate over every split of ``objective``.

    >>> class One:
    ...     split_ids = (0, 1)
    >>> jobs_for(One(), [Candidate(3)], fold=2)[0].splits
    (0, 1)
    """
    splits = tuple(int(s) for s in objective.split_ids)
    return [Job(int(fold), c, splits) for c in candidates]


def pin_blas() -> None:
    """Pin BLAS/OpenMP to one thread in this process (workers share the cores)."""
    if _WORKER.get("pinned"):
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _WORKER["pinned"] = True


def split_order(split_ids: Sequence[int], *, shuffle: bool, seed: int) -> list[int]:
    """The evaluation order: as given, or a ``default_rng(seed)`` permutation.

    >>> split_order([0, 1, 2, 3], shuffle=False, seed=0)
    [0, 1, 2, 3]
    >>> sorted(split_order([0, 1, 2, 3], shuffle=True, seed=0))
    [0, 1, 2, 3]
    """
    ids = [int(s) for s in split_ids]
    if not shuffle:
        return ids
    perm = np.random.default_rng(seed).permutation(len(ids))
    return [ids[i] for i in perm]


def _score(objective: SplitObjective, cand: Candidate, split: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    value = float(objective.evaluate(cand, split))
    return value, time.perf_counter() - t0


def job_rows(objectives: Mapping[int, SplitObjective], job: Job) -> list[Row]:
    """Evaluate one job: its ``(fold, candidate, split, score, seconds)`` rows."""
    objective = objectives[job.fold]
    rows: list[Row] = []
    for s in job.splits:
        value, secs = _score(objective, job.candidate, s)
        rows.append((job.fold, job.candidate.id, s, value, secs))
    return rows


def _candidate_rows(objective: SplitObjective, cand: Candidate, fold: int) -> list[Row]:
    return job_rows({fold: objective}, jobs_for(objective, [cand], fold)[0])


def _init_worker(objectives: Mapping[int, SplitObjective]) -> None:
    pin_blas()
    _WORKER["objectives"] = objectives


def _worker_rows(job: Job) -> list[Row]:
    return job_rows(_WORKER["objectives"], job)


def _check(candidates: Sequence[Candidate], workers: int) -> None:
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}", key="tuning.workers")
    ids = [c.id for c in candidates]
    if len(set(ids)) != len(ids):
        raise ConfigError("candidate ids must be unique", key="tuning.candidates")


def check_jobs(jobs: Sequence[Job], objectives: Mapping[int, SplitObjective]) -> None:
    """Raise ConfigError when a job's fold has no objective or a (fold, candidate, split)
    appears twice."""
    seen: set[tuple[int, int, int]] = set()
    for job in jobs:
        if job.fold not in objectives:
            raise ConfigError(f"job for fold {job.fold} has no objective", key="tuning")
        for s in job.splits:
            key = (job.fold, job.candidate.id, s)
            if key in seen:
                raise ConfigError(
                    f"fold {key[0]} candidate {key[1]} split {key[2]} is scheduled twice",
                    key="tuning.candidates",
                )
            seen.add(key)


def run_jobs(
    objectives: Mapping[int, SplitObjective],
    jobs: Sequence[Job],
    *,
    workers: int = 1,
    sink: Sink | None = None,
    min_parallel_seconds: float | None = None,
) -> pl.DataFrame:
    """Evaluate ``jobs`` in this process or a spawn pool; return their score table.

    Args:
        objectives: fold -> objective (picklable when ``workers > 1``; shipped once per
            worker through the pool initializer).
        jobs: the work; rows reach ``sink`` job by job, in completion order.
        workers: 1 = sequential; more = a spawn process pool of that size.
        min_parallel_seconds: when set (and ``workers > 1``), jobs run in this process for
            this many seconds first; the pool gets the jobs left after that only when they
            are estimated to take at least as long again.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}", key="tuning.workers")
    check_jobs(jobs, objectives)
    rows: list[Row] = []

    def take(part: list[Row]) -> None:
        rows.extend(part)
        if sink is not None and part:
            sink(part)

    todo = list(jobs)
    if workers > 1 and len(todo) > 1 and min_parallel_seconds is not None:
        # sequential for the first min_parallel_seconds; only the rest goes to a pool (a
        # first-job estimate misleads when per-process caches make later jobs cheap)
        t0 = time.perf_counter()
        done = 0
        while todo and time.perf_counter() - t0 < min_parallel_seconds:
            job = todo.pop(0)
            take(job_rows(objectives, job))
            done += len(job.splits)
        rest = (time.perf_counter() - t0) / max(1, done) * sum(len(j.splits) for j in todo)
        if rest < min_parallel_seconds:
            workers = 1  # what is left is estimated below the threshold too: no pool
        logger.info(
            "%d jobs left after %d evaluations here (estimated %.2f s): %s",
            len(todo),
            done,
            rest,
            "sequential" if workers == 1 else f"{workers} pool workers",
        )
    if workers == 1 or len(todo) <= 1:
        for job in todo:
            take(job_rows(objectives, job))
        return score_table(rows)
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(objectives,)
    ) as pool:
        for fut in as_completed([pool.submit(_worker_rows, job) for job in todo]):
            take(fut.result())
    return score_table(rows)


def run_local(
    objective: SplitObjective,
    candidates: Sequence[Candidate],
    *,
    fold: int = 0,
    workers: int = 1,
) -> pl.DataFrame:
    """Every candidate on every split; ``workers > 1`` uses a spawn process pool.

    The objective must be picklable when ``workers > 1``.
    """
    _check(candidates, workers)
    return run_jobs({fold: objective}, jobs_for(objective, candidates, fold), workers=workers)


def _storage(storage: str | Path) -> Any:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    text = str(storage)
    if "://" in text:
        return optuna.storages.RDBStorage(text)
    Path(text).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(text))


def _study(storage: str | Path, name: str, prune: bool, warmup: int) -> Any:
    import optuna

    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)
        if prune
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        storage=_storage(storage),
        study_name=name,
        direction="maximize",
        pruner=pruner,
        load_if_exists=True,
    )


def _optuna_worker(
    objective: SplitObjective,
    candidates: Sequence[Candidate],
    storage: str | Path,
    name: str,
    order: list[int],
    prune: bool,
    warmup: int,
    pin: bool,
) -> None:
    import optuna

    if pin:
        pin_blas()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(storage, name, prune, warmup)
    by_id = {c.id: c for c in candidates}
    lo, hi = min(by_id), max(by_id)
    while True:
        waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        if not waiting:
            return
        trial = study.ask()
        fixed = study._storage.get_trial(trial._trial_id).system_attrs.get("fixed_params", {})
        if "candidate" not in fixed:
            # another worker took the last waiting trial: drop this sampled one
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        cid = trial.suggest_int("candidate", lo, hi)
        cand = by_id[cid]
        scores: list[float] = []
        pruned = False
        for step, s in enumerate(order):
            value, secs = _score(objective, cand, s)
            trial.set_user_attr(f"split_{s}", [value, secs])
            scores.append(value)
            running = float(np.mean(scores))
            if math.isfinite(running):
                trial.report(running, step)
                if trial.should_prune():
                    pruned = True
                    break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif all(math.isfinite(v) for v in scores):
            study.tell(trial, float(np.mean(scores)))
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def run_optuna(
    objective: SplitObjective,
    candidates: Sequence[Candidate],
    *,
    storage: str | Path,
    study_name: str,
    fold: int = 0,
    prune: bool = False,
    prune_warmup_splits: int = 1,
    seed: int = 0,
    workers: int = 1,
) -> pl.DataFrame:
    """Enqueue the candidates into an Optuna study and evaluate them (see module docstring).

    Args:
        storage: a journal file path, or an SQLAlchemy URL (``sqlite:///...``,
            ``postgresql://...``) shared by many machines.
        study_name: one study per (run, fold); reuse it to resume.
        prune: median pruning on the running mean over completed splits.
        prune_warmup_splits: splits every candidate completes before it can be pruned.
        seed: seeds the shuffled split order used when ``prune`` is set.
        workers: processes working on the study (the objective must be picklable).

    Returns:
        The score table; a pruned candidate has only its completed splits.
    """
    import optuna

    _check(candidates, workers)
    if not candidates:
        return score_table([])
    if any(c.id < 0 for c in candidates):
        raise ConfigError("candidate ids must be >= 0", key="tuning.candidates")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    order = split_order(objective.split_ids, shuffle=prune, seed=seed)
    study = _study(storage, study_name, prune, prune_warmup_splits)
    done_or_queued = {
        int(t.params.get("candidate", t.system_attrs.get("fixed_params", {}).get("candidate", -1)))
        for t in study.get_trials(deepcopy=False)
        if t.state != optuna.trial.TrialState.RUNNING
    }
    for cand in candidates:
        if cand.id not in done_or_queued:
            study.enqueue_trial({"candidate": cand.id}, skip_if_exists=True)
    args = (objective, candidates, storage, study_name, order, prune, prune_warmup_splits)
    if workers == 1:
        _optuna_worker(*args, False)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_optuna_worker, args=(*args, True)) for _ in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        bad = [p.exitcode for p in procs if p.exitcode != 0]
        if bad:
            raise ConfigError(
                f"optuna worker processes failed with exit codes {bad}", key="tuning.workers"
            )
    return _table(study, fold, {c.id for c in candidates})


def _table(study: Any, fold: int, wanted: set[int]) -> pl.DataFrame:
    import optuna

    finished = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    rows: list[Row] = []
    seen: set[int] = set()
    trials = study.get_trials(deepcopy=False, states=finished)
    for t in sorted(trials, key=lambda t: t.number):
        cid = t.params.get("candidate")
        if cid is None or int(cid) not in wanted or int(cid) in seen:
            continue
        seen.add(int(cid))
        for key, (value, secs) in t.user_attrs.items():
            if key.startswith("split_"):
                rows.append((fold, int(cid), int(key[6:]), float(value), float(secs)))
    return score_table(rows)


def _suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """One assignment of ``space`` from ``trial`` (inactive ``when`` params are skipped)."""
    out: dict[str, Any] = {}
    for p in [*space.categorical_order(), *space.continuous]:
        if not p.active(out):
            continue
        if p.type in ("categorical", "bool"):
            assert p.values is not None
            out[p.path] = trial.suggest_categorical(p.path, list(p.values))
            continue
        assert p.bounds is not None
        lo, hi = p.bounds
        log = p.transform in ("log", "log10")
        if p.type == "int":
            out[p.path] = trial.suggest_int(p.path, int(lo), int(hi), log=log)
        else:
            out[p.path] = trial.suggest_float(p.path, float(lo), float(hi), log=log)
    return out


Finalize = Callable[[Candidate, list[float]], tuple[float | tuple[float, ...], dict[str, Any]]]


def _mean_value(candidate: Candidate, scores: list[float]) -> tuple[float, dict[str, Any]]:
    del candidate
    return float(np.mean(scores)), {}


@dataclass(frozen=True)
class SamplerRun:
    """What :func:`run_optuna_sampler` returns: the score table and the Optuna study."""

    scores: pl.DataFrame
    study: Any
    n_run: int


def run_optuna_sampler(
    objective: SplitObjective,
    space: SearchSpace,
    *,
    n_trials: int,
    study_name: str,
    storage: str | Path | Any | None = None,
    fold: int = 0,
    seed: int = 0,
    n_startup_trials: int = 10,
    prune: bool = True,
    pruner_startup_trials: int = 5,
    directions: Sequence[str] = ("maximize",),
    finalize: Finalize | None = None,
    timeout: float | None = None,
    n_jobs: int = 1,
    on_trial: Callable[[int, int], None] | None = None,
) -> SamplerRun:
    """Tune ``objective`` over ``space`` with a seeded TPE sampler (see the module docstring).

    Args:
        storage: a journal file path, an SQLAlchemy URL, an Optuna storage object, or None
            (in memory, no resume).
        n_trials: the study's total; on resume only ``n_trials - finished`` run.
        directions: one direction per value ``finalize`` returns (pruning only with one).
        finalize: ``(candidate, split scores) -> (value or values, trial user attrs)``.
        n_jobs: Optuna threads (> 1 gives up bit-for-bit determinism).
        on_trial: called with ``(trial number, n_trials)`` after each finished trial.

    Returns:
        A :class:`SamplerRun`: the score table (every finished trial's completed splits,
        candidate id = trial number), the study, and how many trials this call ran.
    """
    import warnings

    import optuna

    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}", key="tuning.n_trials")
    if not space.params:
        raise ConfigError("empty search space", key="tuning.space")
    multi = len(directions) > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=n_startup_trials, multivariate=True, seed=seed
        )
    store = _storage(storage) if isinstance(storage, str | Path) else storage
    kw: dict[str, Any] = {"study_name": study_name, "storage": store, "sampler": sampler}
    if multi:
        study = optuna.create_study(
            directions=[optuna.study.StudyDirection[d.upper()] for d in directions],
            load_if_exists=True,
            **kw,
        )
    else:
        pruner: optuna.pruners.BasePruner = (
            optuna.pruners.MedianPruner(
                n_startup_trials=pruner_startup_trials, n_warmup_steps=0, interval_steps=1
            )
            if prune
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            direction=optuna.study.StudyDirection[directions[0].upper()],
            pruner=pruner,
            load_if_exists=True,
            **kw,
        )
    fin = finalize or _mean_value
    order = [int(x) for x in objective.split_ids]

    def trial_fn(trial: optuna.Trial) -> float | tuple[float, ...]:
        cand = Candidate(trial.number, _suggest(trial, space))
        scores: list[float] = []
        for step, s in enumerate(order):
            value, secs = _score(objective, cand, s)
            trial.set_user_attr(f"split_{s}", [value, secs])
            scores.append(value)
            running = float(np.mean(scores))
            if not math.isfinite(running):
                raise optuna.TrialPruned(f"non-finite score at split {s}")
            if not multi:
                trial.report(running, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        result, attrs = fin(cand, scores)
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        return result

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = sum(t.state in finished for t in study.get_trials(deepcopy=False))
    remaining = max(n_trials - done, 0)

    def _cb(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(trial.number, n_trials)

    if remaining:
        study.optimize(
            trial_fn, n_trials=remaining, timeout=timeout, n_jobs=n_jobs, callbacks=[_cb], catch=()
        )
    return SamplerRun(_sampled_table(study, fold), study, remaining)


def _sampled_table(study: Any, fold: int) -> pl.DataFrame:
    import optuna

    rows: list[Row] = []
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for t in sorted(study.get_trials(deepcopy=False, states=states), key=lambda t: t.number):
        for key, attr in t.user_attrs.items():
            if key.startswith("split_"):
                value, secs = attr
                rows.append((fold, int(t.number), int(key[6:]), float(value), float(secs)))
    return score_table(rows)
