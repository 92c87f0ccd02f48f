"""The small protocol every trainer in this package works against.

A :class:`TrainingProblem` is what the gradient trainer, the Optuna search and
the walk-forward driver need from a strategy simulator, and nothing more:

* ``objective(params, start, data) -> scalar``: the training objective of **one**
  parameter set on the window starting at the traced integer ``start`` (higher is
  better). It must be pure, jittable and differentiable in ``params``; the
  window length is fixed (static) so every call compiles to the same program.
* ``evaluate(params, data) -> Evaluation``: one continuous, no-gradient pass over
  the whole span (train, then validation, then test) with metrics per segment and
  auxiliary arrays (final weights, final reserves, daily excess returns ...).
* ``data``: a typed pytree of arrays (:class:`~algotrader.training.data.AmmData` for
  the AMM, :class:`~algotrader.training.data.QuadraticData` for the toys) passed to both
  as a traced argument rather than baked into the compiled program as constants (faster
  compiles); fields are read by attribute, never by string key.
* ``base_params``: one parameter set (leaves without a set axis) that
  initialisation perturbs; ``trainable`` names the keys the optimiser updates.
* ``search_space``: default absolute Optuna ranges per trainable key.
* ``start_low`` and ``n_starts``: training windows start at
  ``start_low + k`` for ``k`` in ``[0, n_starts)``; every such window ends
  inside the training segment (before the validation segment starts).

Params are ``dict[str, Array]``; batched params carry a leading set axis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.errors import ConfigError
from algotrader.training.data import QuadraticData
from algotrader.training.settings import SearchRange

Array = jax.Array
Params = dict[str, Array]
SEGMENTS: tuple[str, ...] = ("train", "val", "test")


class Evaluation(NamedTuple):
    """Metrics of one continuous pass.

    ``metrics[segment][name]`` is a scalar for ``segment`` in ``SEGMENTS`` (NaN
    when the segment is empty); ``aux[name]`` are arrays of fixed shape
    (e.g. ``final_weights`` of shape (A,) at the end of the training+validation
    span, ``daily_excess_returns`` of shape (D,) over the training segment).
    """

    metrics: dict[str, dict[str, Array]]
    aux: dict[str, Array]


#: The data of a problem: a typed JAX pytree (a ``NamedTuple`` of arrays).
Data = Any
D = TypeVar("D")
ObjectiveFn = Callable[[Params, Array, Any], Array]
EvaluateFn = Callable[[Params, Any], Evaluation]


@dataclass(frozen=True)
class TrainingProblem(Generic[D]):
    """A differentiable training problem (see the module docstring).

    Example:
        >>> import jax.numpy as jnp
        >>> p = quadratic_problem(target=2.0)
        >>> float(p.objective({"x": jnp.array([2.0])}, jnp.array(0), p.data)) + 0.0
        0.0
        >>> sorted(p.evaluate({"x": jnp.array([1.0])}, p.data).metrics)
        ['test', 'train', 'val']
    """

    objective: Callable[[Params, Array, D], Array]
    evaluate: Callable[[Params, D], Evaluation]
    base_params: Mapping[str, np.ndarray]
    trainable: tuple[str, ...]
    start_low: int
    n_starts: int
    metric_names: tuple[str, ...]
    data: D
    description: Mapping[str, object] = field(default_factory=dict)
    search_space: Mapping[str, SearchRange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_starts < 1:
            raise ConfigError(
                f"no room for training windows: n_starts={self.n_starts}",
                key="bout_offset",
                hint="lengthen the training span or shorten the window",
            )
        missing = [k for k in self.trainable if k not in self.base_params]
        if missing:
            raise ConfigError(
                f"trainable keys {missing} are not parameters of the problem",
                key=missing[0],
                hint=f"choose among {sorted(self.base_params)}",
            )
        if not self.trainable:
            raise ConfigError("the problem has no trainable parameter", key="trainable")

    def split(self, params: Mapping[str, Array]) -> tuple[Params, Params]:
        """Split params into (trainable, fixed) dicts."""
        train = {k: params[k] for k in self.trainable}
        fixed = {k: params[k] for k in params if k not in self.trainable}
        return train, fixed


def quadratic_problem(
    target: float | Sequence[float] | np.ndarray = 1.0, *, n_starts: int = 4, start_low: int = 0
) -> TrainingProblem[QuadraticData]:
    """A closed-form toy: objective ``-sum((x - target)^2)``, maximised at ``target``.

    Validation and test metrics equal the objective; ``x`` is the only
    parameter. Used in tests and doctests.

    Example:
        >>> p = quadratic_problem(target=[1.0, -1.0])
        >>> float(p.evaluate({"x": jnp.array([1.0, -1.0])}, p.data).metrics["val"]["score"]) + 0.0
        0.0
    """
    tgt = jnp.asarray(np.atleast_1d(np.asarray(target, dtype=np.float64)))

    def objective(params: Params, start: Array, data: QuadraticData) -> Array:
        del start
        return -jnp.sum((params["x"] - data.target) ** 2)

    def evaluate(params: Params, data: QuadraticData) -> Evaluation:
        v = objective(params, jnp.asarray(0), data)
        seg = {s: {"score": v} for s in SEGMENTS}
        return Evaluation(seg, {"final_weights": jnp.ones(1), "daily_excess_returns": jnp.zeros(3)})

    base = {"x": np.zeros(tgt.shape, dtype=np.float64)}
    return TrainingProblem(
        objective=objective,
        evaluate=evaluate,
        base_params=base,
        trainable=("x",),
        start_low=start_low,
        n_starts=n_starts,
        metric_names=("score",),
        description={"kind": "quadratic", "target": np.asarray(tgt).tolist()},
        search_space={"x": SearchRange(low=-5.0, high=5.0)},
        data=QuadraticData(target=tgt),
    )


__all__ = [
    "SEGMENTS",
    "Data",
    "EvaluateFn",
    "Evaluation",
    "ObjectiveFn",
    "Params",
    "TrainingProblem",
    "quadratic_problem",
]
