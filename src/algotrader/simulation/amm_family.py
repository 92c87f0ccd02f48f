"""The ``amm`` family: a temporal-function market-maker pool run by the JAX pool simulator.

The pool (:func:`algotrader.amm.jit_forward_pass`: the rule's weight updates, guardrails,
arbitrage at every step, fees when set) runs over *steps* of prices: the trading days of the
bundled data when available (``data.extra["days_after"]``, see :func:`prepare_inputs`), else
the rows themselves. Each simulation row ``t`` is one weekly outer/inner block row:

* the pool's holdings at the close of row ``t`` are its decision (``Decision.weights``:
  value weights ``reserves * price / value``), computed from prices up to ``dates[t]`` only;
* its realised return over row ``t`` is ``V(close of t+1) / V(close of t) - 1`` of the pool
  value path (``Decision.returns``), so scores and outer returns are the pool's own
  economics (arbitrage loss, fees), not a rebalanced portfolio's; the run's ``CostModel`` is
  not applied to it (the pool's costs are inside the simulator).

The rule is a causal function of prices with nothing to fit: one forward pass over every
step per parameter set (cached per process), the candidates are a grid / Sobol sample of the
rule's keys. Parameters (``model.params``), in *steps* (days with daily prices):

* ``rule`` (default ``momentum``; also ``anti_momentum``), ``memory`` (EWMA memory in steps,
  default 20), ``k`` (update strength per step, default 8), ``max_change`` (largest weight
  change per step, default 0.1), ``w_min`` (minimum weight, default ``0.1 / A``), ``fees``
  (default 0: the fast zero-fee path; > 0 runs the fee-aware arbitrage scan, slower).

Sub-steps: each step's close is held for ``SUBSTEPS`` (24) simulator rows (step-constant
prices, as :func:`algotrader.amm.data.daily_to_minutes` does with 1440 minutes), one rule chunk
per step and the new target interpolated linearly over its sub-steps with arbitrage at every
one: a daily weight change executed in one jump would pay the whole arbitrage loss at once
(a one-jump daily pool lost almost all its value over 13 years of 20 stocks). Units: the
simulator's human units are days of 1440-minute chunks and a chunk here is ``SUBSTEPS``
minutes, so the raw parameters are built for ``memory`` chunks (memory days
``memory * SUBSTEPS / 1440``) and ``k_per_day = k * 1440 / SUBSTEPS`` (the simulator
multiplies ``2^log_k`` by the memory in its days); ``max_change`` is per step, spread over the
sub-steps. A pool whose value reaches 0 gives NaN returns (a NaN score: never chosen).

Example:
    >>> import numpy as np
    >>> from algotrader.simulation.family import SimulationData, FamilyContext
    >>> rng = np.random.default_rng(0)
    >>> p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (61, 3)), axis=0))
    >>> d = SimulationData.from_arrays(p[1:] / p[:-1] - 1, prices=p[:-1])
    >>> dec = AmmPoolFamily().decide(None, d, np.arange(50, 60), {"memory": 5}, FamilyContext())
    >>> dec.weights.shape, bool(np.allclose(dec.weights.sum(axis=1), 1.0))
    ((10, 3), True)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from algotrader.errors import ConfigError, DataError
from algotrader.simulation import family as fam
from algotrader.simulation.family import Decision, FamilyBase, SimulationData

if TYPE_CHECKING:
    from algotrader.simulation.config import DataConfig

__all__ = ["SUBSTEPS", "AmmPoolFamily", "pool_path", "prepare_inputs", "step_prices"]

_RULES = ("momentum", "anti_momentum")
_DAY_MINUTES = 1440
SUBSTEPS = 24
_MAX_MEMORY_STEPS = 5000.0  # the simulator's memory cap, in steps (about 20 years of days)


def prepare_inputs(data: SimulationData, cfg: DataConfig) -> SimulationData:
    """Attach the trading days of the bundled data between the weekly rows.

    ``extra["days_after"]`` is a (T, W, A) array: row ``t`` holds the daily closes of the days
    in ``(dates[t], dates[t + 1]]`` (the period ``y[t]`` is realised over; the last row's
    period ends at the run's last weekly close), NaN-padded to W. It is row-aligned with
    ``y``, so truncating rows truncates it too. Sources other than the bundled weekly data
    are returned unchanged (the pool then steps once per row).

    Raises:
        DataError: a daily close is missing, or the last day of a period differs from the
            weekly close the targets were computed from.
    """
    if cfg.source != "bundled" or cfg.frequency != "weekly" or "days_after" in data.extra:
        return data
    import polars as pl

    from algotrader.data.registry import load_daily_close
    from algotrader.simulation.inputs import weekly_closes

    frame = load_daily_close(cfg.dataset)
    if cfg.end is not None:
        frame = frame.filter(pl.col("date") <= cfg.end)
    # the last period ends at the run's last weekly close (a later partial week is dropped)
    weeks = weekly_closes(load_daily_close(cfg.dataset))["date"].cast(pl.Datetime("us"))
    weeks_np = weeks.to_numpy()
    later = weeks_np[weeks_np > data.dates[-1]]
    final = later[0] if later.size else data.dates[-1]
    when = pl.col("date").cast(pl.Datetime("us"))
    frame = frame.filter((when > pl.lit(data.dates[0])) & (when <= pl.lit(final)))
    days = frame["date"].cast(pl.Datetime("us")).to_numpy()
    closes = frame.select(list(data.assets)).to_numpy().astype(np.float64)
    # period of day d: the row t with dates[t] < d <= dates[t + 1] (the last is open-ended)
    period = np.searchsorted(data.dates, days, side="left") - 1
    counts = np.bincount(period, minlength=data.n_dates)[: data.n_dates]
    out = np.full((data.n_dates, max(1, int(counts.max())), data.n_assets), np.nan)
    slot = np.arange(days.size) - np.searchsorted(period, period, side="left")
    out[period, slot] = closes
    if not np.isfinite(closes).all():
        r, c = np.argwhere(~np.isfinite(closes))[0]
        raise DataError(
            "amm family needs a close for every trading day",
            row=int(r),
            column=data.assets[int(c)],
        )
    if data.prices is not None and data.n_dates > 1:
        last = out[np.arange(data.n_dates - 1), counts[:-1] - 1]
        if not np.allclose(last, data.prices[1:], rtol=1e-12, atol=0.0):
            raise DataError("daily closes do not end on the weekly closes", key="data")
    extra = {**data.extra, "days_after": out}
    from dataclasses import replace

    return replace(data, extra=extra)


def step_prices(data: SimulationData) -> tuple[fam.FloatArray, fam.IntArray]:
    """The pool's price steps (S, A) and the step index of every row's close (T + 1,).

    With ``extra["days_after"]`` the steps are the row-0 close then every day; otherwise the
    rows' prices plus the final close implied by the last row's target.
    """
    if data.prices is None:
        raise ConfigError("family amm needs prices in the simulation data", key="data")
    days = data.extra.get("days_after")
    if days is None:
        last = data.prices[-1] * (1.0 + np.where(data.y_mask[-1], data.y[-1], 0.0))
        steps = np.vstack([data.prices, last])
        return steps, np.arange(steps.shape[0], dtype=np.int64)
    ok = np.isfinite(days).all(axis=2)
    counts = ok.sum(axis=1)
    steps = np.vstack([data.prices[:1], days[ok]])
    ends = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if (counts == 0).any():
        raise DataError("a row has no trading day after it", row=int(np.argmin(counts)))
    return steps, ends


def _raw_params(params: fam.Params, n_assets: int) -> tuple[str, dict[str, Any], dict[str, float]]:
    import algotrader.amm as amm

    rule = str(params.get("rule", "momentum"))
    if rule not in _RULES:
        raise ConfigError(
            f"amm family rule {rule!r} is not supported", key="model.params.rule", hint=str(_RULES)
        )
    human = {
        "memory": float(params.get("memory", 20.0)),
        "k": float(params.get("k", 8.0)),
        "max_change": float(params.get("max_change", 0.1)),
        "w_min": float(
            0.1 / n_assets if params.get("w_min") is None else params["w_min"]  # None: default
        ),
        "fees": float(params.get("fees", 0.0)),
    }
    ok = all(math.isfinite(v) for v in human.values()) and human["k"] > 0
    if not ok or not 0 < human["memory"] <= _MAX_MEMORY_STEPS:
        raise ConfigError(
            f"amm family needs 0 < memory <= {_MAX_MEMORY_STEPS} and k > 0, got {human}",
            key="model.params",
        )
    raw = amm.init_params(
        rule,
        n_assets,
        chunk_period=SUBSTEPS,
        memory_days=human["memory"] * SUBSTEPS / _DAY_MINUTES,
        k_per_day=human["k"] * _DAY_MINUTES / SUBSTEPS,
    )
    return rule, {k: v[0] for k, v in raw.items()}, human


def pool_path(steps: fam.FloatArray, params: fam.Params) -> tuple[fam.FloatArray, fam.FloatArray]:
    """The pool's value (S,) and value weights (S, A) at every step, from step 0 on."""
    import jax.numpy as jnp

    import algotrader.amm as amm

    n = steps.shape[1]
    rule, raw, h = _raw_params(params, n)
    try:
        cfg = amm.SimConfig(
            rule=rule,
            n_assets=n,
            bout_length=steps.shape[0] * SUBSTEPS + 1,
            chunk_period=SUBSTEPS,
            weight_interpolation_period=SUBSTEPS,
            maximum_change=h["max_change"] / SUBSTEPS,
            minimum_weight=h["w_min"],
            max_memory_days=_MAX_MEMORY_STEPS * SUBSTEPS / _DAY_MINUTES,
            fees=h["fees"],
        )
    except ConfigError as exc:
        raise ConfigError(exc.message, key=f"model.params ({exc.key})", hint=exc.hint) from exc
    ext = jnp.asarray(np.repeat(steps, SUBSTEPS, axis=0))  # step j: rows j*m .. j*m + m-1
    out = amm.jit_forward_pass({k: jnp.asarray(v) for k, v in raw.items()}, 0, ext, cfg)
    last = np.arange(1, steps.shape[0] + 1) * SUBSTEPS - 1  # each step's final sub-step
    value = np.asarray(out["value"], dtype=np.float64)[last]
    held = np.asarray(out["reserves"], dtype=np.float64)[last] * steps
    with np.errstate(invalid="ignore", divide="ignore"):  # a dead pool: NaN, never chosen
        return value, held / held.sum(axis=1, keepdims=True)


class AmmPoolFamily(FamilyBase):
    """TFMM pool through the JAX simulator (see the module docstring); nothing to fit."""

    name = "amm"

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], tuple[fam.FloatArray, fam.FloatArray]] = {}
        self._alive: dict[int, SimulationData] = {}

    def prepare_inputs(self, data: SimulationData, cfg: DataConfig) -> SimulationData:
        """See :func:`prepare_inputs` (the runner calls it after loading the inputs)."""
        return prepare_inputs(data, cfg)

    def _rows(
        self, data: SimulationData, params: fam.Params
    ) -> tuple[fam.FloatArray, fam.FloatArray]:
        """Per-row realised pool returns (T,) and holdings at each row's close (T, A)."""
        self._alive[id(data)] = data  # keeps the id unique while cached
        key = (id(data), *sorted((k, str(v)) for k, v in params.items()))
        hit = self._cache.get(key)
        if hit is None:
            steps, ends = step_prices(data)
            value, weights = pool_path(steps, params)
            with np.errstate(invalid="ignore", divide="ignore"):
                returns = value[ends[1:]] / value[ends[:-1]] - 1.0
            if len(self._cache) > 256:
                self._cache.clear()
            hit = self._cache[key] = (returns, weights[ends[:-1]])
        return hit

    def decide(
        self,
        state: Any,
        data: SimulationData,
        idx: fam.IntArray,
        params: fam.Params,
        ctx: fam.FamilyContext,
    ) -> Decision:
        returns, weights = self._rows(data, params)
        return Decision(weights[idx], returns=returns[idx])
