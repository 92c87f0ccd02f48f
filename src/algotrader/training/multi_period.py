"""Multi-period objective: one continuous forward pass split into periods.

Instead of sampling independent windows, the pool is simulated once over the
whole training span (state carries over from period to period) and the metric
of each period is aggregated:

* ``mean``: average of the period metrics;
* ``sum``: their sum;
* ``min``: the worst period (only that period receives gradient);
* ``softmin``: ``sum_i x_i softmax(-x / temperature)_i``, a smooth worst case
  that tends to ``min`` as ``temperature -> 0`` and to ``mean`` as it grows.

Periods (:func:`period_specs`) tile the span; with ``overlap_fraction`` ``f``
each period has length ``l = total / (1 + (n - 1)(1 - f))`` and starts
``l (1 - f)`` after the previous one, so the periods still cover the whole span
(the reference's overlapping periods left its tail out).

Example:
    >>> [(p.rel_start, p.rel_end) for p in period_specs(4, 1000)]
    [(0, 250), (250, 500), (500, 750), (750, 1000)]
    >>> [(p.rel_start, p.rel_end) for p in period_specs(3, 900, overlap_fraction=0.5)]
    [(0, 450), (225, 675), (450, 900)]
    >>> import jax.numpy as jnp
    >>> float(aggregate(jnp.array([1.0, 3.0]), "softmin", temperature=1e-3))
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.errors import ConfigError
from algotrader.training.data import AmmData
from algotrader.training.problem import Data, Params, TrainingProblem
from algotrader.training.settings import MultiPeriodSettings

Array = jax.Array
AGGREGATIONS: tuple[str, ...] = ("mean", "min", "softmin", "sum")


@dataclass(frozen=True)
class PeriodSpec:
    """Rows ``[rel_start, rel_end)`` of the continuous pass's output."""

    period_id: int
    rel_start: int
    rel_end: int

    @property
    def length(self) -> int:
        return self.rel_end - self.rel_start


def period_specs(
    n_periods: int, total_length: int, overlap_fraction: float = 0.0
) -> list[PeriodSpec]:
    """``n_periods`` periods covering ``[0, total_length)`` (see the module docstring)."""
    if n_periods < 1:
        raise ConfigError("n_periods must be >= 1", key="n_periods")
    if not 0.0 <= overlap_fraction < 1.0:
        raise ConfigError(
            f"overlap_fraction must be in [0, 1), got {overlap_fraction}",
            key="overlap_fraction",
        )
    length = total_length / (1.0 + (n_periods - 1) * (1.0 - overlap_fraction))
    if length < 2:
        raise ConfigError(
            f"{n_periods} periods do not fit in {total_length} rows",
            key="n_periods",
            hint="use fewer periods or a longer span",
        )
    step = length * (1.0 - overlap_fraction)
    out = []
    for i in range(n_periods):
        if overlap_fraction == 0.0:
            a, b = i * total_length // n_periods, (i + 1) * total_length // n_periods
        else:
            a = int(np.floor(i * step))
            b = total_length if i == n_periods - 1 else int(np.floor(i * step + length))
        out.append(PeriodSpec(i, a, b))
    return out


def aggregate(values: Array, method: str, temperature: float = 1.0) -> Array:
    """Aggregate period metrics ``values`` of shape (P,) into a scalar."""
    if method == "mean":
        return jnp.mean(values)
    if method == "sum":
        return jnp.sum(values)
    if method == "min":
        return jnp.min(values)
    if method == "softmin":
        if temperature <= 0:
            raise ConfigError("softmin temperature must be > 0", key="softmin_temperature")
        return jnp.sum(values * jax.nn.softmax(-values / temperature))
    raise ConfigError(
        f"unknown aggregation {method!r}", key="aggregation", hint=f"use one of {AGGREGATIONS}"
    )


PathFn = Callable[[Params, Array, Data], Mapping[str, Array]]
PeriodMetricFn = Callable[[Mapping[str, Array], int, int], Array]


def multi_period_objective(
    path_fn: PathFn,
    period_metric: PeriodMetricFn,
    specs: Sequence[PeriodSpec],
    aggregation: str = "mean",
    temperature: float = 1.0,
) -> Callable[[Params, Array, Data], Array]:
    """``(params, start, data) -> scalar``: aggregate of ``period_metric(out, a, b)`` over ``specs``.

    ``path_fn`` runs the continuous pass once; period bounds are static.
    """
    aggregate(jnp.zeros(1), aggregation, temperature)  # validate early
    bounds = tuple((p.rel_start, p.rel_end) for p in specs)

    def objective(params: Params, start: Array, data: Data) -> Array:
        out = path_fn(params, start, data)
        vals = jnp.stack([period_metric(out, a, b) for a, b in bounds])
        return aggregate(vals, aggregation, temperature)

    return objective


def period_metrics(
    path_fn: PathFn,
    period_metric: PeriodMetricFn,
    specs: Sequence[PeriodSpec],
    params: Params,
    start: int,
    data: Data,
) -> np.ndarray:
    """Per-period metric values (P,) for reporting."""
    out = path_fn(params, jnp.asarray(start), data)
    return np.asarray([float(period_metric(out, p.rel_start, p.rel_end)) for p in specs])


def amm_multi_period_problem(
    base: TrainingProblem[AmmData],
    cfg: object,
    layout: object,
    *,
    n_periods: int | None = None,
    overlap_fraction: float = 0.0,
    aggregation: str = "mean",
    temperature: float = 1.0,
    settings: MultiPeriodSettings | None = None,
) -> TrainingProblem[AmmData]:
    """The AMM problem ``base`` with its window objective replaced by a multi-period one.

    Give either the typed ``settings`` (``RunConfig.multi_period``) or the keywords (they
    are validated into :class:`~algotrader.training.settings.MultiPeriodSettings`, so a bad
    value is a :class:`ConfigError` naming its key).

    The pass runs from the training start over the whole training segment (all
    periods inside it, never the validation or test rows, which are not even in
    ``data.train_prices``); ``n_starts`` becomes 1, so train with ``batch_size=1``.
    """
    from algotrader.amm import SimConfig, forward_pass, metric_value
    from algotrader.training.amm_problem import SpanLayout, _segment_out

    if not isinstance(cfg, SimConfig) or not isinstance(layout, SpanLayout):
        raise ConfigError("cfg must be a SimConfig and layout a SpanLayout", key="cfg")
    mp = (
        settings
        if settings is not None
        else MultiPeriodSettings.from_mapping(
            {
                "n_periods": n_periods,
                "overlap_fraction": overlap_fraction,
                "aggregation": aggregation,
                "temperature": temperature,
            },
            source="multi_period",
        )
    )
    n_rows = layout.train_length
    span_cfg = replace(cfg, bout_length=n_rows + 1)
    specs = period_specs(mp.n_periods, n_rows, mp.overlap_fraction)

    def path_fn(params: Params, start: Array, data: AmmData) -> Mapping[str, Array]:
        return forward_pass(params, start, data.train_prices, span_cfg)

    def period_metric(out: Mapping[str, Array], a: int, b: int) -> Array:
        return metric_value(_segment_out(out, a, b), cfg.return_val)

    objective = multi_period_objective(
        path_fn, period_metric, specs, mp.aggregation, mp.temperature
    )
    desc = {**dict(base.description), "multi_period": mp.model_dump(mode="json")}
    return replace(base, objective=objective, n_starts=1, description=desc)


__all__ = [
    "AGGREGATIONS",
    "PeriodSpec",
    "aggregate",
    "amm_multi_period_problem",
    "multi_period_objective",
    "period_metrics",
    "period_specs",
]
