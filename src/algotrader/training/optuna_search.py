"""Optuna search over raw parameters (gradient-free), honest and resumable.

Each trial proposes one parameter set (per-asset ``"{key}_{i}"`` or one shared
value when ``scalar``), evaluates the window objective on a fixed, seeded set
of training-window starts (:func:`~algotrader.training.sampling.evaluation_offsets`)
in ``n_report_steps`` groups, reporting the running mean after each group so
the median pruner can stop hopeless trials, then runs one continuous pass for
the validation metric. The test metrics are stored on the trial for reporting
only; they never enter the objective, the pruner or the selection.

* single objective: ``mean - overfitting_penalty * max(0, mean - val)``;
* multi-objective: ``(mean, worst, -std)`` over the evaluation windows, all
  maximised; the reported pick is the Pareto trial nearest the ideal point
  after scaling each objective to [0, 1] (:func:`best_balanced`).

The search space is resolved and validated before the first trial
(:func:`resolve_space`): every bound finite, ``low < high``, ``log_scale``
only on positive ranges, keys that are trainable parameters. With
``expand_around`` user ranges are offsets around the initial value; the
problem's default ranges are always absolute (the reference combined the two
and made every default trial fail).

Storage: a journal file ``optuna.journal`` in the run folder by default (safe
for several processes on one machine), or any RDB URL (``sqlite:///...``,
``postgresql://...``) for many workers; the study is named by the run id and
resumes: only the missing trials of ``n_trials`` are run.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optuna
import polars as pl

from algotrader.errors import ConfigError
from algotrader.io import write_parquet_atomic
from algotrader.training.data import as_device
from algotrader.training.problem import TrainingProblem
from algotrader.training.runs import RunPaths, run_id, save_params, write_config, write_result
from algotrader.training.sampling import evaluation_offsets
from algotrader.training.settings import OptimisationSettings, SearchRange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedRange:
    """Absolute bounds of one suggested value."""

    name: str
    key: str
    index: int | None  # asset index, None for a scalar shared by all assets
    low: float
    high: float
    log_scale: bool


def resolve_space(
    problem: TrainingProblem,
    config: Mapping[str, SearchRange],
    expand_around: bool,
    defaults: Mapping[str, SearchRange] | None = None,
) -> list[ResolvedRange]:
    """Absolute, validated suggestion ranges; :class:`ConfigError` on any bad range."""
    user = dict(config)
    space = user if user else dict(defaults or {})
    if not space:
        raise ConfigError(
            "empty Optuna search space",
            key="optuna_settings.parameter_config",
            hint="give ranges per parameter (low, high) or use a problem with default ranges",
        )
    out: list[ResolvedRange] = []
    for key, rng in sorted(space.items()):
        if key not in problem.trainable:
            raise ConfigError(
                f"{key!r} is not a trainable parameter",
                key=f"optuna_settings.parameter_config.{key}",
                hint=f"use one of {list(problem.trainable)}",
            )
        base = np.atleast_1d(np.asarray(problem.base_params[key], dtype=np.float64))
        around = expand_around and bool(user)
        idxs: list[int | None] = [None] if rng.scalar else list(range(base.size))
        for i in idxs:
            centre = float(base[0] if i is None else base[i])
            lo, hi = (centre - rng.low, centre + rng.high) if around else (rng.low, rng.high)
            name = key if i is None else f"{key}_{i}"
            _check_range(name, lo, hi, rng.log_scale, around)
            out.append(ResolvedRange(name, key, i, lo, hi, rng.log_scale))
    return out


def _check_range(name: str, lo: float, hi: float, log_scale: bool, around: bool) -> None:
    where = (
        f"optuna_settings.parameter_config.{name.rsplit('_', 1)[0] if name[-1].isdigit() else name}"
    )
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        extra = (
            " (expand_around: low/high are offsets below/above the initial value)" if around else ""
        )
        raise ConfigError(
            f"search range for {name} is empty or invalid: [{lo}, {hi}]{extra}",
            key=where,
            hint="make low < high" + ("; offsets must be >= 0, not both 0" if around else ""),
        )
    if log_scale and lo <= 0:
        raise ConfigError(
            f"log_scale range for {name} must be positive, got [{lo}, {hi}]",
            key=where,
            hint="use positive bounds or log_scale: false",
        )


def suggest_params(
    trial: optuna.Trial, problem: TrainingProblem, space: list[ResolvedRange]
) -> dict[str, np.ndarray]:
    """One full parameter set: the problem's base with suggested values filled in."""
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in problem.base_params.items()}
    for r in space:
        value = trial.suggest_float(r.name, r.low, r.high, log=r.log_scale)
        arr = params[r.key]
        if r.index is None:
            arr[...] = value
        else:
            arr.reshape(-1)[r.index] = value
    return params


def best_balanced(values: np.ndarray) -> int:
    """Row of ``values`` (trials x objectives, all maximised) nearest the ideal point.

    Only non-dominated rows compete; each objective is scaled to [0, 1] over the
    rows (a constant column counts 1).

    Example:
        >>> best_balanced(np.array([[1.0, 0.0], [0.6, 0.6], [0.0, 1.0]]))
        1
    """
    v = np.asarray(values, dtype=np.float64)
    ge = np.all(v[:, None, :] >= v[None, :, :], axis=2)
    gt = np.any(v[:, None, :] > v[None, :, :], axis=2)
    dominated = np.any(ge & gt, axis=0)  # row j dominated by some row i
    lo, hi = v.min(axis=0), v.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.where(hi > lo, (v - lo) / span, 1.0)
    dist = np.linalg.norm(1.0 - scaled, axis=1)
    dist[dominated] = np.inf
    return int(np.argmin(dist))


@dataclass
class OptunaResult:
    """Outcome of :func:`optuna_search`."""

    run_id: str
    best_params: dict[str, np.ndarray]
    best_trial: int
    best_values: list[float]
    best_val_metrics: dict[str, float]
    best_test_metrics: dict[str, float]
    n_complete: int
    n_pruned: int
    trials: pl.DataFrame
    run_dir: Path | None


def _storage(
    settings: OptimisationSettings, paths: RunPaths | None
) -> optuna.storages.BaseStorage | str | None:
    url = settings.optuna_settings.storage
    if url:
        return url
    if paths is None:
        return None
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(paths.root / "optuna.journal")))


def _groups(n_starts: int, s: OptimisationSettings) -> list[np.ndarray]:
    offs = np.asarray(
        evaluation_offsets(n_starts, s.optuna_settings.n_evaluation_points, s.initial_random_key)
    )
    steps = min(s.optuna_settings.n_report_steps, offs.size)
    size = offs.size // steps
    return [offs[i * size : (i + 1) * size] for i in range(steps)]


class _Objective:
    """The trial objective (a small class so it is picklable-free and testable)."""

    def __init__(
        self, problem: TrainingProblem, settings: OptimisationSettings, space: list[ResolvedRange]
    ):
        self.problem, self.settings, self.space = problem, settings, space
        self.groups = [
            jnp.asarray(g + problem.start_low) for g in _groups(problem.n_starts, settings)
        ]
        self.window_values = jax.jit(jax.vmap(problem.objective, in_axes=(None, 0, None)))
        self.data = as_device(problem.data)
        self.evaluate = jax.jit(problem.evaluate)
        self.metric = settings.early_stopping_metric
        if self.metric not in problem.metric_names:
            raise ConfigError(
                f"early_stopping_metric {self.metric!r} is not a metric of the problem",
                key="early_stopping_metric",
                hint=f"choose among {list(problem.metric_names)}",
            )

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float, float]:
        params = {
            k: jnp.asarray(v) for k, v in suggest_params(trial, self.problem, self.space).items()
        }
        multi = self.settings.optuna_settings.multi_objective
        vals: list[np.ndarray] = []
        for step, starts in enumerate(self.groups):
            vals.append(np.asarray(self.window_values(params, starts, self.data)))
            running = float(np.mean(np.concatenate(vals)))
            if not math.isfinite(running):
                raise optuna.TrialPruned(f"non-finite objective at step {step}")
            if not multi:
                trial.report(running, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        allv = np.concatenate(vals)
        ev = self.evaluate(params, self.data)
        val = float(ev.metrics["val"][self.metric])
        for seg in ("val", "test"):
            trial.set_user_attr(seg, {m: float(v) for m, v in ev.metrics[seg].items()})
        mean = float(np.mean(allv))
        if multi:
            return mean, float(np.min(allv)), -float(np.std(allv))
        penalty = self.settings.optuna_settings.overfitting_penalty
        gap = max(0.0, mean - val) if math.isfinite(val) else 0.0
        return mean - penalty * gap


def _make_study(
    settings: OptimisationSettings, name: str, storage: optuna.storages.BaseStorage | str | None
) -> optuna.Study:
    o = settings.optuna_settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=o.n_startup_trials, multivariate=True, seed=settings.initial_random_key
        )
    if o.multi_objective:
        return optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            directions=["maximize"] * 3,
            load_if_exists=True,
        )
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=o.pruner_startup_trials, n_warmup_steps=0, interval_steps=1
    )
    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def _trials_frame(study: optuna.Study) -> pl.DataFrame:
    rows = []
    for t in study.trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        vals = t.values or []
        for i in range(3):
            row[f"value_{i}"] = float(vals[i]) if i < len(vals) else float("nan")
        for seg in ("val", "test"):
            for m, v in (t.user_attrs.get(seg) or {}).items():
                row[f"{seg}_{m}"] = float(v)
        row.update({f"param_{k}": float(v) for k, v in t.params.items()})
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def optuna_search(
    problem: TrainingProblem,
    settings: OptimisationSettings,
    out_dir: str | Path | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    default_space: Mapping[str, SearchRange] | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> OptunaResult:
    """Run (or resume) the Optuna study and return the selected trial's parameters."""
    o = settings.optuna_settings
    defaults = problem.search_space if default_space is None else default_space
    space = resolve_space(problem, o.parameter_config, o.expand_around, defaults)
    objective = _Objective(problem, settings, space)
    full_config = {
        "optimisation_settings": settings.model_dump(mode="json"),
        "problem": dict(problem.description),
        **(dict(config) if config else {}),
    }
    rid = run_id(full_config)
    paths = None if out_dir is None else RunPaths(Path(out_dir) / rid)
    if paths is not None:
        paths.root.mkdir(parents=True, exist_ok=True)
        if not paths.config.is_file():
            write_config(paths, full_config)
    study = _make_study(settings, f"algotrader-{rid}", _storage(settings, paths))
    done = sum(
        t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        for t in study.trials
    )
    remaining = max(o.n_trials - done, 0)
    logger.info("optuna study %s: %d trials done, %d to run", rid, done, remaining)

    def _cb(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if callback is not None:
            callback(trial.number, o.n_trials)

    if remaining:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=o.timeout,
            n_jobs=o.n_jobs,
            callbacks=[_cb],
            catch=(),
        )
    return _collect(study, problem, space, rid, paths)


def _collect(
    study: optuna.Study,
    problem: TrainingProblem,
    space: list[ResolvedRange],
    rid: str,
    paths: RunPaths | None,
) -> OptunaResult:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    if not complete:
        raise ConfigError(
            f"no Optuna trial completed ({n_pruned} pruned)",
            key="optuna_settings",
            hint="check the search ranges and the data; see optuna.journal for the trials",
        )
    if len(study.directions) > 1:
        front = study.best_trials
        best = front[best_balanced(np.array([t.values for t in front]))]
    else:
        best = study.best_trial
    params = {k: np.asarray(v) for k, v in problem.base_params.items()}
    fixed = optuna.trial.FixedTrial(best.params)
    params = suggest_params(fixed, problem, space)  # type: ignore[arg-type]
    trials = _trials_frame(study)
    result = OptunaResult(
        run_id=rid,
        best_params=params,
        best_trial=best.number,
        best_values=[float(v) for v in best.values],
        best_val_metrics=dict(best.user_attrs.get("val", {})),
        best_test_metrics=dict(best.user_attrs.get("test", {})),
        n_complete=len(complete),
        n_pruned=n_pruned,
        trials=trials,
        run_dir=None if paths is None else paths.root,
    )
    if paths is not None:
        write_parquet_atomic(paths.root / "trials.parquet", trials)
        save_params(paths.params_best, params)
        write_result(
            paths,
            {
                "run_id": rid,
                "method": "optuna",
                "best_trial": best.number,
                "best_values": result.best_values,
                "best_val_metrics": result.best_val_metrics,
                "best_test_metrics": result.best_test_metrics,
                "n_complete": result.n_complete,
                "n_pruned": n_pruned,
            },
        )
    return result


__all__ = [
    "OptunaResult",
    "ResolvedRange",
    "best_balanced",
    "optuna_search",
    "resolve_space",
    "suggest_params",
]
