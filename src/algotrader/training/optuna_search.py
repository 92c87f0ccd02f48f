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

The search is one use of the shared tuning interface: the problem is a
:class:`~algotrader.tuning.ProblemObjective` (splits = the report groups of window starts),
the space a :class:`~algotrader.tuning.SearchSpace` (paths ``key`` or ``key.i``), and the
driver :func:`algotrader.tuning.drivers.run_optuna_sampler` (seeded TPE, running mean per
split reported to the median pruner, resume) -- the same driver that tunes the optimiser on
walk-forward splits. Only the selection rule (penalty / balanced Pareto pick) and the run
folder are AMM-specific here.

Storage: a journal file ``optuna.journal`` in the run folder by default (safe
for several processes on one machine), or any RDB URL (``sqlite:///...``,
``postgresql://...``) for many workers; the study is named by the run id and
resumes: only the missing trials of ``n_trials`` are run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl

from algotrader.artifacts import now_utc
from algotrader.errors import ConfigError
from algotrader.io import write_parquet_atomic
from algotrader.training.problem import TrainingProblem
from algotrader.training.runs import (
    RunPaths,
    clean_stale_temps,
    run_id,
    save_params,
    write_config,
    write_result,
    write_run_manifest,
)
from algotrader.training.settings import OptimisationSettings, SearchRange
from algotrader.tuning.drivers import Finalize, run_optuna_sampler
from algotrader.tuning.objective import Candidate
from algotrader.tuning.problem_objective import ProblemObjective
from algotrader.tuning.space import SearchSpace

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


def _search_space(space: list[ResolvedRange]) -> SearchSpace:
    """The resolved ranges as a shared :class:`SearchSpace` (paths ``key`` / ``key.i``)."""
    return SearchSpace.from_mapping(
        {
            "params": [
                {
                    "path": _path(r),
                    "type": "float",
                    "bounds": [r.low, r.high],
                    "transform": "log" if r.log_scale else "linear",
                }
                for r in space
            ]
        }
    )


def _path(r: ResolvedRange) -> str:
    return r.key if r.index is None else f"{r.key}.{r.index}"


def _finalize(objective: ProblemObjective, settings: OptimisationSettings) -> Finalize:
    """The trial value of the AMM search from its windows and one continuous pass.

    Single objective ``mean - penalty * max(0, mean - val)``; multi-objective ``(mean,
    worst, -std)`` over the evaluation windows. Validation and test metrics are stored on
    the trial (test for reporting only: it never enters a value).
    """
    o = settings.optuna_settings

    def finalize(cand: Candidate, scores: list[float]) -> tuple[Any, dict[str, Any]]:
        windows = objective.pop_windows(cand.id)
        allv = windows if windows.size else np.asarray(scores, dtype=np.float64)
        ev = objective.evaluation(cand)
        attrs = {seg: {m: float(v) for m, v in ev.metrics[seg].items()} for seg in ("val", "test")}
        mean = float(np.mean(allv))
        if o.multi_objective:
            return (mean, float(np.min(allv)), -float(np.std(allv))), attrs
        val = attrs["val"][objective.metric]
        gap = max(0.0, mean - val) if math.isfinite(val) else 0.0
        return mean - o.overfitting_penalty * gap, attrs

    return finalize


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
        row.update({f"param_{k.replace('.', '_')}": float(v) for k, v in t.params.items()})
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
    metric = settings.early_stopping_metric
    if metric not in problem.metric_names:
        raise ConfigError(
            f"early_stopping_metric {metric!r} is not a metric of the problem",
            key="early_stopping_metric",
            hint=f"choose among {list(problem.metric_names)}",
        )
    objective = ProblemObjective(
        problem,
        n_evaluation_points=o.n_evaluation_points,
        n_report_steps=o.n_report_steps,
        seed=settings.initial_random_key,
        metric=metric,
    )
    objective.keep_windows = True
    full_config = {
        "optimisation_settings": settings.model_dump(mode="json"),
        "problem": dict(problem.description),
        **(dict(config) if config else {}),
    }
    rid = run_id(full_config)
    paths = None if out_dir is None else RunPaths(Path(out_dir) / rid)
    started_at = now_utc()
    if paths is not None:
        paths.root.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(paths)
        if not paths.config.is_file():
            write_config(paths, full_config)
    run = run_optuna_sampler(
        objective,
        _search_space(space),
        n_trials=o.n_trials,
        study_name=f"algotrader-{rid}",
        storage=_storage(settings, paths),
        seed=settings.initial_random_key,
        n_startup_trials=o.n_startup_trials,
        prune=True,
        pruner_startup_trials=o.pruner_startup_trials,
        directions=("maximize",) * (3 if o.multi_objective else 1),
        finalize=_finalize(objective, settings),
        timeout=o.timeout,
        n_jobs=o.n_jobs,
        on_trial=callback,
    )
    logger.info("optuna study %s: ran %d trial(s) of %d", rid, run.n_run, o.n_trials)
    result = _collect(run.study, objective, rid, paths)
    if paths is not None:
        write_run_manifest(
            paths,
            "optuna",
            rid,
            full_config,
            started_at=started_at,
            finished_at=now_utc(),
            seeds={"initial_random_key": settings.initial_random_key},
            outputs=[
                "config.json",
                "optuna.journal",
                "params_best.npz",
                "result.json",
                "trials.parquet",
            ],
        )
    return result


def _collect(
    study: optuna.Study,
    objective: ProblemObjective,
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
    params = objective.params(Candidate(best.number, dict(best.params)))
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
