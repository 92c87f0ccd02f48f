"""Engines: local (sequential or process pool), Ray, Optuna. Same score rows, same choice.

Every engine receives the pending work as *chunks* (one chunk = one candidate's pending
splits of one fold, or one (candidate, split) with ``ray.chunk_splits``) and hands each
finished chunk's rows ``(outer_k, candidate_id, split_id, score, seconds)`` to ``sink``, which
appends them to the run's append-only score store. The best config is then chosen from
the store by :func:`algotrader.simulation.candidates.choose_best`, whatever the engine.

- ``local``: ``tuning.workers == 1`` evaluates in this process; more workers use a spawn
  process pool whose initializer receives the evaluator once (data shipped once per worker)
  and pins BLAS to one thread.
- ``ray``: ``ray.init(address)`` (null: a local cluster with ``ray.init_num_cpus`` CPUs), the
  evaluator ``ray.put`` once, one task per chunk with ``num_cpus`` resources, results
  streamed back with ``ray.wait``; BLAS pinned to one thread in each task.
- ``optuna``: one study per fold (journal file in the run folder, or ``optuna.storage`` RDB
  URL); every pending candidate is enqueued, the objective evaluates its splits in order,
  reports the running mean (median pruner optional: a pruned candidate keeps only its
  completed splits and is never chosen) and records the split scores as a user attribute.
  ``tuning.workers > 1`` runs that many worker processes on the same study.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from algotrader.errors import ConfigError
from algotrader.simulation.evaluate import Evaluator

__all__ = ["Row", "Task", "run_chunks"]

logger = logging.getLogger(__name__)

Task = tuple[int, int, int]
Row = tuple[int, int, int, float, float]
Sink = Callable[[list[Row]], None]

_WORKER: dict[str, Evaluator] = {}


def _pin_blas() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ALGOTRADER_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl is installed
        logger.debug("threadpoolctl unavailable", exc_info=True)


def _init_worker(ev: Evaluator) -> None:
    _pin_blas()
    _WORKER["ev"] = ev


def _run_chunk(chunk: list[Task]) -> list[Row]:
    return _WORKER["ev"].evaluate_many(chunk)


def _local(ev: Evaluator, chunks: Sequence[list[Task]], sink: Sink, workers: int) -> None:
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            sink(ev.evaluate_many(chunk))
        return
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(ev,)
    ) as pool:
        futures = [pool.submit(_run_chunk, c) for c in chunks]
        for fut in as_completed(futures):
            sink(fut.result())


def _ray_task(ev: Evaluator, chunk: list[Task]) -> list[Row]:
    _pin_blas()
    cached = _WORKER.get(ev.token)
    if cached is None:
        _WORKER.clear()
        _WORKER[ev.token] = cached = ev
    return cached.evaluate_many(chunk)


def _ray(ev: Evaluator, chunks: Sequence[list[Task]], sink: Sink) -> None:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ConfigError(
            "tuning.engine ray needs Ray", key="tuning.engine", hint="pip install algotrader[ray]"
        ) from exc
    rc = ev.cfg.tuning.ray
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if rc.address is not None:
            kwargs["address"] = rc.address
        elif rc.init_num_cpus is not None:
            kwargs["num_cpus"] = rc.init_num_cpus
        ray.init(**kwargs)
    ref = ray.put(ev)
    remote = ray.remote(num_cpus=rc.num_cpus)(_ray_task)
    pending = [remote.remote(ref, c) for c in chunks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for obj in done:
            sink(ray.get(obj))


def _optuna_storage(ev: Evaluator, run_dir: Path) -> Any:
    import optuna

    url = ev.cfg.tuning.optuna.storage
    if url:
        return url
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = run_dir / "artifacts" / "optuna" / "journal.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    _ = optuna
    return JournalStorage(JournalFileBackend(str(path)))


def _study_name(ev: Evaluator, k: int) -> str:
    base = ev.cfg.tuning.optuna.study_name or f"algotrader_{ev.token}"
    return f"{base}_outer_{k}"


def _optuna_objective(
    ev: Evaluator, k: int, split_ids: dict[int, list[int]]
) -> Callable[[Any], float]:
    import optuna

    n_cand = len(ev.candidates)

    def objective(trial: optuna.Trial) -> float:
        if "candidate_id" not in (
            trial.study._storage.get_trial_system_attrs(trial._trial_id).get("fixed_params") or {}
        ):
            raise optuna.TrialPruned("not an enqueued candidate")
        cid = trial.suggest_int("candidate_id", 0, n_cand - 1)
        scores: dict[str, float] = {}
        seconds: dict[str, float] = {}
        total = 0.0
        for step, sid in enumerate(split_ids[cid]):
            score, sec = ev.evaluate(k, cid, sid)
            scores[str(sid)], seconds[str(sid)] = score, sec
            trial.set_user_attr("scores", scores)
            trial.set_user_attr("seconds", seconds)
            total += score
            trial.report(total / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        value = total / max(1, len(split_ids[cid]))
        return value if value == value else -1e300

    return objective


def _pruner(ev: Evaluator) -> Any:
    import optuna

    oc = ev.cfg.tuning.optuna
    if oc.pruner == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=oc.n_warmup_steps)
    return optuna.pruners.NopPruner()


def _optuna_worker(ev: Evaluator, k: int, split_ids: dict[int, list[int]], storage: Any) -> None:
    import optuna

    _pin_blas()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # load_study defaults to a MedianPruner: pass the configured one explicitly
    study = optuna.load_study(study_name=_study_name(ev, k), storage=storage, pruner=_pruner(ev))
    objective = _optuna_objective(ev, k, split_ids)
    while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        study.optimize(objective, n_trials=1, catch=())


def _optuna(ev: Evaluator, chunks: Sequence[list[Task]], sink: Sink, run_dir: Path) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    by_fold: dict[int, dict[int, list[int]]] = {}
    for chunk in chunks:
        for k, c, s in chunk:
            by_fold.setdefault(k, {}).setdefault(c, []).append(s)
    storage = _optuna_storage(ev, run_dir)
    for k, split_ids in by_fold.items():
        pruner = _pruner(ev)
        study = optuna.create_study(
            study_name=_study_name(ev, k),
            storage=storage,
            direction="maximize",
            pruner=pruner,
            load_if_exists=True,
        )
        for cid in sorted(split_ids):
            study.enqueue_trial({"candidate_id": cid}, user_attrs={"outer_k": k})
        workers = ev.cfg.tuning.workers
        if workers <= 1:
            _optuna_worker(ev, k, split_ids, storage)
        else:
            if not isinstance(storage, str):
                path = run_dir / "artifacts" / "optuna" / "journal.log"
                storage_arg: Any = f"journal:{path}"
            else:
                storage_arg = storage
            ctx = mp.get_context("spawn")
            procs = [
                ctx.Process(target=_optuna_proc, args=(ev, k, split_ids, storage_arg))
                for _ in range(workers)
            ]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
                if p.exitcode != 0:
                    raise ConfigError(
                        f"an optuna worker exited with {p.exitcode}", key="tuning.engine"
                    )
        study = optuna.load_study(study_name=_study_name(ev, k), storage=storage)
        seen: set[int] = set()
        for t in study.get_trials(deepcopy=False):
            raw = t.params.get("candidate_id")
            if raw is None or int(raw) not in split_ids or int(raw) in seen:
                continue
            cid = int(raw)
            if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
                continue
            seen.add(cid)
            scores = t.user_attrs.get("scores", {})
            secs = t.user_attrs.get("seconds", {})
            rows = [
                (k, int(cid), int(s), float(scores[str(s)]), float(secs.get(str(s), 0.0)))
                for s in split_ids[cid]
                if str(s) in scores
            ]
            sink(rows)


def _optuna_proc(ev: Evaluator, k: int, split_ids: dict[int, list[int]], storage: str) -> None:
    if storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        _optuna_worker(
            ev, k, split_ids, JournalStorage(JournalFileBackend(storage[len("journal:") :]))
        )
    else:
        _optuna_worker(ev, k, split_ids, storage)


def run_chunks(
    ev: Evaluator,
    chunks: Sequence[list[Task]],
    sink: Sink,
    *,
    engine: str,
    run_dir: Path,
) -> None:
    """Evaluate every chunk with ``engine`` and pass each chunk's rows to ``sink``."""
    if not chunks:
        return
    if engine == "local":
        _local(ev, chunks, sink, ev.cfg.tuning.workers)
    elif engine == "ray":
        _ray(ev, chunks, sink)
    elif engine == "optuna":
        _optuna(ev, chunks, sink, run_dir)
    else:
        raise ConfigError(
            f"unknown engine {engine!r}", key="tuning.engine", hint="local, ray or optuna"
        )
