"""A differentiable :class:`~algotrader.training.problem.TrainingProblem` (the AMM pools) as a
:class:`~algotrader.tuning.SplitObjective`, so the AMM is tuned by the same drivers, score
table and choice rule as the optimiser.

Splits are the Optuna search's report groups: the seeded training-window starts of
:func:`algotrader.training.sampling.evaluation_offsets` cut into ``n_report_steps`` equal
groups; a split's score is the mean window objective over its starts (training segment
only). With :func:`~algotrader.tuning.drivers.run_optuna` and ``prune=True`` the median
pruner sees the running mean after each group, as the AMM search always did.

Candidate paths are parameter keys: ``key`` sets every asset's value (``scalar`` ranges), and
``key.i`` sets asset ``i`` (:func:`space_from_problem` builds the space from the problem's
ranges). The selection rules of the AMM search are kept as pure functions over the score
table: :func:`choose_penalised` (``mean - penalty * max(0, mean - validation)``, validation from
one continuous pass, test never used) and :func:`~algotrader.tuning.scores.choose_balanced`
(multi-objective: mean, worst, -std over splits; the Pareto row nearest the ideal point).

JAX functions are compiled lazily per process, so this objective runs with ``workers=1``.

Example:
    >>> from algotrader.training import quadratic_problem
    >>> from algotrader.tuning import Candidate
    >>> obj = ProblemObjective(quadratic_problem(target=2.0), n_report_steps=2)
    >>> obj.split_ids, obj.evaluate(Candidate(0, {"x": 1.0}), 0)
    ((0, 1), -1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import ConfigError
from algotrader.training.problem import TrainingProblem
from algotrader.training.sampling import evaluation_offsets
from algotrader.training.settings import SearchRange
from algotrader.tuning.objective import Candidate
from algotrader.tuning.scores import (
    BestCandidate,
    NoValidCandidateError,
    aggregate,
    validate_score_table,
)
from algotrader.tuning.space import SearchSpace

__all__ = ["ProblemObjective", "choose_penalised", "space_from_problem"]


def space_from_problem(
    problem: TrainingProblem,
    ranges: Mapping[str, SearchRange] | None = None,
    *,
    expand_around: bool = False,
) -> SearchSpace:
    """The search space of the AMM Optuna settings (``parameter_config``) as a SearchSpace.

    Uses :func:`algotrader.training.optuna_search.resolve_space` (same validation, same
    ``expand_around`` rule); the problem's default ranges when ``ranges`` is empty.

    >>> from algotrader.training import quadratic_problem
    >>> [p.path for p in space_from_problem(quadratic_problem(target=[1.0, 2.0])).params]
    ['x.0', 'x.1']
    """
    from algotrader.training.optuna_search import resolve_space

    resolved = resolve_space(problem, dict(ranges or {}), expand_around, problem.search_space)
    params: list[dict[str, Any]] = []
    for r in resolved:
        params.append(
            {
                "path": r.key if r.index is None else f"{r.key}.{r.index}",
                "type": "float",
                "bounds": [r.low, r.high],
                "transform": "log" if r.log_scale else "linear",
            }
        )
    return SearchSpace.from_mapping({"params": params})


class ProblemObjective:
    """Score = mean training-window objective per report group (see the module docstring).

    Args:
        problem: the training problem (for the AMM: :func:`algotrader.training.amm_problem.amm_problem`).
        n_evaluation_points, seed: the window starts (``evaluation_offsets``).
        n_report_steps: the number of splits.
        metric: the validation metric used by :func:`choose_penalised`.
    """

    def __init__(
        self,
        problem: TrainingProblem,
        *,
        n_evaluation_points: int = 40,
        n_report_steps: int = 4,
        seed: int = 0,
        metric: str | None = None,
    ) -> None:
        if n_report_steps < 1 or n_evaluation_points < 1:
            raise ConfigError(
                "n_report_steps and n_evaluation_points must be >= 1", key="n_report_steps"
            )
        self.problem = problem
        self.metric = metric or problem.metric_names[0]
        if self.metric not in problem.metric_names:
            raise ConfigError(
                f"metric {self.metric!r} is not a metric of the problem",
                key="early_stopping_metric",
                hint=f"choose among {list(problem.metric_names)}",
            )
        offs = np.asarray(evaluation_offsets(problem.n_starts, n_evaluation_points, seed))
        steps = min(n_report_steps, offs.size)
        size = offs.size // steps
        self.groups = [offs[i * size : (i + 1) * size] + problem.start_low for i in range(steps)]
        self._fns: dict[str, Any] = {}
        #: with ``keep_windows``, :meth:`evaluate` keeps each window's objective per
        #: candidate so :meth:`pop_windows` can give the per-window values (multi-objective
        #: worst and spread are over windows, not over split means).
        self.keep_windows = False
        self._windows: dict[int, dict[int, np.ndarray]] = {}

    @property
    def split_ids(self) -> tuple[int, ...]:
        """One split per report group."""
        return tuple(range(len(self.groups)))

    def params(self, candidate: Candidate) -> dict[str, np.ndarray]:
        """The problem's base parameters with the candidate's paths filled in."""
        out = {
            k: np.array(v, dtype=np.float64, copy=True) for k, v in self.problem.base_params.items()
        }
        for path, value in candidate.params.items():
            key, _, idx = path.partition(".")
            if key not in out:
                raise ConfigError(f"{key!r} is not a parameter of the problem", key=path)
            if idx:
                out[key].reshape(-1)[int(idx)] = float(value)
            else:
                out[key][...] = float(value)
        return out

    def _compiled(self) -> dict[str, Any]:
        if not self._fns:
            import jax
            import jax.numpy as jnp

            self._fns["window"] = jax.jit(jax.vmap(self.problem.objective, in_axes=(None, 0, None)))
            self._fns["evaluate"] = jax.jit(self.problem.evaluate)
            self._fns["data"] = jax.tree_util.tree_map(jnp.asarray, self.problem.data)
        return self._fns

    def evaluate(self, candidate: Candidate, split: int) -> float:
        """Mean window objective over the starts of report group ``split``."""
        import jax.numpy as jnp

        fns = self._compiled()
        p = {k: jnp.asarray(v) for k, v in self.params(candidate).items()}
        vals = np.asarray(fns["window"](p, jnp.asarray(self.groups[split]), fns["data"]))
        if self.keep_windows:
            self._windows.setdefault(candidate.id, {})[split] = vals
        value = float(np.mean(vals))
        return value if math.isfinite(value) else math.nan

    def pop_windows(self, candidate_id: int) -> np.ndarray:
        """The window objectives :meth:`evaluate` computed for a candidate (split order),
        forgotten afterwards; empty when none were kept."""
        kept = self._windows.pop(candidate_id, {})
        parts = [kept[s] for s in sorted(kept)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def evaluation(self, candidate: Candidate) -> Any:
        """One continuous pass (train -> val -> test): the problem's Evaluation."""
        import jax.numpy as jnp

        fns = self._compiled()
        p = {k: jnp.asarray(v) for k, v in self.params(candidate).items()}
        return fns["evaluate"](p, fns["data"])

    def validation(self, candidate: Candidate) -> float:
        """The validation metric of one continuous pass (train -> val -> test)."""
        import jax.numpy as jnp

        fns = self._compiled()
        p = {k: jnp.asarray(v) for k, v in self.params(candidate).items()}
        return float(fns["evaluate"](p, fns["data"]).metrics["val"][self.metric])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fns"] = {}
        state["_windows"] = {}
        return state


def choose_penalised(
    table: pl.DataFrame,
    validation: Mapping[int, float],
    *,
    penalty: float,
    fold: int = 0,
) -> BestCandidate:
    """Best by ``mean - penalty * max(0, mean - val)`` (the AMM search's single objective).

    Candidates missing a split (pruned) or with a NaN score never win; a NaN validation counts
    as no gap (as before); strict ``>``, first id wins ties.

    Raises:
        NoValidCandidateError: no eligible candidate.
    """
    table = validate_score_table(table).filter(pl.col("fold") == fold)
    wanted = sorted(set(table.get_column("split").to_list()))
    aggs: dict[int, float] = {}
    for (cid,), grp in table.group_by(["candidate"], maintain_order=True):
        scores = dict(
            zip(grp.get_column("split").to_list(), grp.get_column("score").to_list(), strict=True)
        )
        if any(s not in scores for s in wanted):
            aggs[int(cid)] = math.nan  # type: ignore[arg-type]
            continue
        mean = aggregate([scores[s] for s in wanted], "mean")
        val = validation.get(int(cid), math.nan)  # type: ignore[arg-type]
        gap = max(0.0, mean - val) if math.isfinite(val) else 0.0
        aggs[int(cid)] = mean - penalty * gap  # type: ignore[arg-type]
    best_id, best = None, -math.inf
    for cid in sorted(aggs):
        if math.isfinite(aggs[cid]) and (best_id is None or aggs[cid] > best):
            best_id, best = cid, aggs[cid]
    if best_id is None:
        raise NoValidCandidateError(
            f"no candidate of fold {fold} has a finite penalised score", key="optuna_settings"
        )
    return BestCandidate(fold=fold, candidate=best_id, score=best, aggregates=aggs)
