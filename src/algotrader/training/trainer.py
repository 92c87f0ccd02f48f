"""Gradient-ascent training driver: chunks, checkpoints, resume, selection.

:func:`train` runs the jitted chunk of :mod:`algotrader.training.loop` until
``n_iterations`` or early stopping, writing the run's artefacts after every
chunk (see :mod:`algotrader.training.runs`), and returns a :class:`TrainResult`.
Given an ``out_dir`` that already holds a checkpoint of the same run id, it
continues from there and ends with exactly the result an uninterrupted run
would have given.

Example:
    >>> from algotrader.training.problem import quadratic_problem
    >>> from algotrader.training.settings import OptimisationSettings
    >>> s = OptimisationSettings(optimiser="adam", base_lr=0.1, n_iterations=200, batch_size=2,
    ...                          n_parameter_sets=2, early_stopping=False, iterations_per_chunk=50,
    ...                          early_stopping_metric="score")
    >>> r = train(quadratic_problem(target=1.5), s)
    >>> round(float(r.best_params["x"][0]), 2)
    1.5
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

from algotrader.artifacts import now_utc
from algotrader.training.data import as_device
from algotrader.training.loop import (
    LoopSpec,
    StepOutput,
    TrainState,
    init_state,
    make_chunk_fn,
    make_spec,
)
from algotrader.training.problem import Params, TrainingProblem
from algotrader.training.runs import (
    RunPaths,
    append_history,
    clean_stale_temps,
    history_frame,
    load_tree,
    read_history,
    run_id,
    save_params,
    save_tree,
    truncate_history,
    write_config,
    write_result,
    write_run_manifest,
)
from algotrader.training.selection import selection_score
from algotrader.training.settings import OptimisationSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkReport:
    """What a progress callback sees after each chunk (all host values)."""

    iteration: int
    n_iterations: int
    stopped: bool
    objective: float  # mean over sets of the last iteration's window objective
    train_metric: float  # best set's train selection metric at the last iteration
    val_metric: float
    best_score: float
    seconds: float


@dataclass
class TrainResult:
    """Outcome of :func:`train` (host numpy values).

    ``best_params`` is one parameter set (leaves without a set axis);
    ``best_metrics[segment][metric]`` its metrics; ``best_aux`` its auxiliary
    arrays (``final_weights`` at the end of training+validation, ...).
    """

    run_id: str
    best_params: dict[str, np.ndarray]
    best_set: int
    best_iteration: int
    best_metrics: dict[str, dict[str, float]]
    best_aux: dict[str, np.ndarray]
    last_params: dict[str, np.ndarray]
    last_metrics: dict[str, dict[str, float]]
    iterations_run: int
    stopped_early: bool
    history: pl.DataFrame
    checkpoint_returns: np.ndarray | None
    n_reinit: np.ndarray
    compile_count: int
    seconds: float
    first_chunk_seconds: float
    swa_params: dict[str, np.ndarray] | None = None
    swa_metrics: dict[str, dict[str, float]] | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TrainingInterrupted(Exception):
    """Raise from a callback to stop after the current chunk (state is saved)."""


Callback = Callable[[ChunkReport], None]


def _host(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


def _metrics_at(metrics: Mapping[str, Mapping[str, Any]], idx: int) -> dict[str, dict[str, float]]:
    return {seg: {m: float(np.asarray(v)[idx]) for m, v in d.items()} for seg, d in metrics.items()}


def _select_set(spec: LoopSpec, state: TrainState) -> int:
    scores = np.asarray(state.best_score)
    if spec.settings.selection_method == "last":
        last = selection_score(
            state.last_metrics,
            "best_val" if spec.settings.val_fraction > 0 else "best_train",
            spec.selection_metric,
            spec.settings.selection_threshold,
        )
        scores = np.asarray(last)
    if not np.isfinite(scores).any() and not np.isposinf(scores).any():
        return 0
    return int(np.argmax(np.nan_to_num(scores, nan=-np.inf)))


def _report(state: TrainState, out: StepOutput, spec: LoopSpec, seconds: float) -> ChunkReport:
    active = np.asarray(out.active)
    m = spec.selection_metric
    if active.any():
        last = int(np.nonzero(active)[0][-1])
        obj = float(np.nanmean(np.asarray(out.objective)[last]))
        tr = np.asarray(out.metrics["train"][m])[last]
        va = np.asarray(out.metrics["val"][m])[last]
    else:
        obj, tr, va = float("nan"), np.full(1, np.nan), np.full(1, np.nan)
    return ChunkReport(
        iteration=int(state.iteration),
        n_iterations=spec.settings.n_iterations,
        stopped=bool(state.stopped),
        objective=obj,
        train_metric=float(np.nanmax(tr)) if np.isfinite(tr).any() else float("nan"),
        val_metric=float(np.nanmax(va)) if np.isfinite(va).any() else float("nan"),
        best_score=float(np.max(np.asarray(state.best_score))),
        seconds=seconds,
    )


def _swa(
    spec: LoopSpec, state: TrainState, idx: int
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]] | None:
    count = float(np.asarray(state.swa_count)[idx])
    if not spec.settings.use_swa or count == 0:
        return None
    avg = {k: jnp.asarray(np.asarray(v)[idx] / count) for k, v in state.swa_sum.items()}
    fixed = {k: jnp.asarray(np.asarray(v)[idx]) for k, v in state.fixed.items()}
    ev = jax.jit(spec.problem.evaluate)({**avg, **fixed}, spec.problem.data)
    metrics = {seg: {m: float(v) for m, v in d.items()} for seg, d in ev.metrics.items()}
    return {k: np.asarray(v) for k, v in {**avg, **fixed}.items()}, metrics


def train(
    problem: TrainingProblem,
    settings: OptimisationSettings,
    out_dir: str | Path | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    callback: Callback | None = None,
) -> TrainResult:
    """Train ``settings.n_parameter_sets`` sets by gradient ascent on ``problem``.

    Args:
        problem: the objective/evaluation protocol.
        settings: optimisation settings.
        out_dir: folder for run artefacts (``<out_dir>/<run_id>/``); ``None``
            keeps everything in memory (no resume).
        config: extra configuration entering the run id (simulation config,
            data signature); the settings and the problem description always do.
        base_params: parameters to perturb instead of the problem's base (warm start).
        callback: called after each chunk with a :class:`ChunkReport`; raise
            :class:`TrainingInterrupted` in it to stop after that chunk.
    """
    base = (
        None
        if base_params is None
        else {k: jnp.asarray(v, dtype=jnp.float64) for k, v in base_params.items()}
    )
    full_config = {
        "optimisation_settings": settings.model_dump(mode="json"),
        "problem": dict(problem.description),
        **(dict(config) if config else {}),
        "base_params": None
        if base is None
        else {k: np.asarray(v).tolist() for k, v in base.items()},
    }
    rid = run_id(full_config)
    spec = make_spec(problem, settings, base)
    state = init_state(spec, base)
    paths = None if out_dir is None else RunPaths(Path(out_dir) / rid)
    history = pl.DataFrame()
    ckpts: list[np.ndarray] = []
    started_at = now_utc()
    if paths is not None:
        paths.root.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(paths)
        if paths.state.is_file():
            state, meta = load_tree(paths.state, state)
            ckpts = list(meta.get("checkpoint_returns", np.zeros((0, 0))))
            truncate_history(paths, int(state.iteration))
            history = read_history(paths)
            logger.info("resuming run %s at iteration %d", rid, int(state.iteration))
        else:
            truncate_history(paths, 0)
            write_config(paths, full_config)
        manifest = partial(
            write_run_manifest,
            paths,
            "train",
            rid,
            full_config,
            started_at=started_at,
            seeds={"initial_random_key": settings.initial_random_key},
        )
        manifest()  # rewritten with the end time, timings and outputs when training ends
    chunk_fn = make_chunk_fn(spec)
    data = as_device(problem.data)
    t_start = time.perf_counter()
    first_chunk = float("nan")
    frames = [history] if history.height else []
    while not bool(state.stopped):
        t0 = time.perf_counter()
        state, out = chunk_fn(state, data)
        jax.block_until_ready(state)
        dt = time.perf_counter() - t0
        if np.isnan(first_chunk):
            first_chunk = dt
        host_out = _host(out)
        chunk_rows = history_frame([host_out], problem.metric_names)
        frames.append(chunk_rows)
        if settings.track_checkpoints:
            ckpts.extend(_checkpoint_rows(host_out, settings.checkpoint_interval))
        if paths is not None:
            # Append this chunk's rows (never rewrite the whole history), then the state: a
            # kill between the two leaves a part that the resume drops and re-runs.
            append_history(paths, chunk_rows)
            save_tree(paths.state, state, checkpoint_returns=_stack(ckpts))
        if callback is not None:
            try:
                callback(_report(state, out, spec, dt))
            except TrainingInterrupted:
                logger.info("training interrupted at iteration %d", int(state.iteration))
                raise
    hist = (
        pl.concat([f for f in frames if f.height])
        if any(f.height for f in frames)
        else pl.DataFrame()
    )
    result = _finish(spec, state, hist, rid, chunk_fn, time.perf_counter() - t_start, first_chunk)
    result.checkpoint_returns = _stack(ckpts) if settings.track_checkpoints else None
    if paths is not None:
        result.run_dir = paths.root
        _write_outputs(paths, result)
        manifest(
            finished_at=now_utc(),
            timings={"train": result.seconds, "first_chunk": result.first_chunk_seconds},
            outputs=[
                *sorted(
                    p.name
                    for p in (paths.config, paths.params_best, paths.params_last, paths.result)
                    if p.is_file()
                ),
                "history/",
            ],
        )
    return result


def _finish(
    spec: LoopSpec,
    state: TrainState,
    history: pl.DataFrame,
    rid: str,
    chunk_fn: Any,
    seconds: float,
    first_chunk: float,
) -> TrainResult:
    idx = _select_set(spec, state)
    s = spec.settings
    host = _host(state)
    if s.selection_method == "last":
        best_params: Params = {**host.params, **host.fixed}
        best_metrics, best_aux, best_it = host.last_metrics, host.last_aux, int(state.iteration) - 1
    else:
        best_params = {**host.best_params, **host.fixed}
        best_metrics, best_aux = host.best_metrics, host.best_aux
        best_it = int(host.best_iteration[idx])
    swa = _swa(spec, state, idx)
    return TrainResult(
        run_id=rid,
        best_params={k: np.asarray(v)[idx] for k, v in best_params.items()},
        best_set=idx,
        best_iteration=best_it,
        best_metrics=_metrics_at(best_metrics, idx),
        best_aux={k: np.asarray(v)[idx] for k, v in best_aux.items()},
        last_params={k: np.asarray(v)[idx] for k, v in {**host.params, **host.fixed}.items()},
        last_metrics=_metrics_at(host.last_metrics, idx),
        iterations_run=int(state.iteration),
        stopped_early=int(state.iteration) < s.n_iterations,
        history=history,
        checkpoint_returns=None,
        n_reinit=np.asarray(host.n_reinit),
        compile_count=int(chunk_fn._cache_size()),
        seconds=seconds,
        first_chunk_seconds=first_chunk,
        swa_params=None if swa is None else swa[0],
        swa_metrics=None if swa is None else swa[1],
    )


def _checkpoint_rows(out: StepOutput, interval: int) -> list[np.ndarray]:
    """Set-averaged daily excess returns of active iterations on the checkpoint grid."""
    rows = []
    active = np.asarray(out.active)
    its = np.asarray(out.iteration)
    rets = np.asarray(out.daily_excess_returns)
    for i in np.nonzero(active)[0]:
        if its[i] % interval == 0:
            rows.append(np.nanmean(rets[i], axis=0))
    return rows


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, 0))


def _write_outputs(paths: RunPaths, r: TrainResult) -> None:
    save_params(paths.params_best, r.best_params)
    save_params(paths.params_last, r.last_params)
    write_result(
        paths,
        {
            "run_id": r.run_id,
            "best_set": r.best_set,
            "best_iteration": r.best_iteration,
            "best_metrics": r.best_metrics,
            "last_metrics": r.last_metrics,
            "best_aux": {k: np.asarray(v).tolist() for k, v in r.best_aux.items()},
            "iterations_run": r.iterations_run,
            "stopped_early": r.stopped_early,
            "n_reinit": r.n_reinit.tolist(),
            "swa_metrics": r.swa_metrics,
            "seconds": r.seconds,
            "first_chunk_seconds": r.first_chunk_seconds,
            "compile_count": r.compile_count,
        },
    )


__all__ = ["Callback", "ChunkReport", "TrainResult", "TrainingInterrupted", "train"]
