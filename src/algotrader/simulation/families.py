"""Built-in families: ``optimiser``, ``amm`` (TFMM pool), baselines.

- ``optimiser``: signal ``s[t] = P[t] / P[t - lookback] - 1`` (known at ``t``); ``fit``
  estimates the pooled OLS slope ``beta`` of ``y`` on ``s`` over the training rows only;
  ``decide`` runs the correlation-aware optimiser (:func:`algotrader.portfolio.run_batch`)
  on ``mu = sign(beta) * s`` and scales each row's cash positions to gross exposure
  ``gross`` (rows the optimiser leaves undefined are flat). The optimiser is a causal
  stream (row ``t`` depends on rows ``<= t`` only), so its path is computed once per
  (parameters, sign) over all rows and cached per process. Tuned keys: ``lookback``,
  ``vola``, ``corr``, ``clip``, ``shrink``, ``gross``.
- ``amm``: a TFMM pool through the JAX pool simulator, see
  :mod:`algotrader.simulation.amm_family` (imported on first use: it loads JAX).
- ``equal_weight``: 1/A every row (rebalanced). ``hodl``: 1/A bought on the first test row,
  then held (weights drift).

Example:
    >>> import numpy as np
    >>> from algotrader.simulation.family import SimulationData, FamilyContext, get_family
    >>> d = SimulationData.from_arrays(np.zeros((4, 2)))
    >>> get_family("hodl").decide(None, d, np.array([1, 2]), {}, FamilyContext()).weights.tolist()
    [[0.5, 0.5], [nan, nan]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from algotrader.errors import ConfigError
from algotrader.portfolio import OptimiserConfig, run_batch
from algotrader.simulation.family import (
    Decision,
    Family,
    FamilyBase,
    FamilyContext,
    FamilyParams,
    FloatArray,
    IntArray,
    Params,
    SimulationData,
    register_family,
)

__all__ = ["AmmParams", "EqualWeightFamily", "HodlFamily", "OptimiserFamily", "OptimiserParams"]


class OptimiserParams(FamilyParams):
    """``model.params`` of the ``optimiser`` family (defaults as the family reads them)."""

    lookback: int = Field(12, ge=1, description="momentum lookback in rows")
    vola: int = Field(20, ge=1, description="volatility EWMA span (rows)")
    corr: int = Field(60, ge=1, description="correlation EWMA span (rows)")
    clip: float = Field(3.5, gt=0.0, description="signal clip in standard deviations")
    shrink: float = Field(0.5, ge=0.0, le=1.0, description="EWM correlation retention in [0, 1]")
    gross: float = Field(1.0, ge=0.0, description="gross exposure of each row's positions")


class AmmParams(FamilyParams):
    """``model.params`` of the ``amm`` family (units: steps; see
    :mod:`algotrader.simulation.amm_family`)."""

    rule: Literal["momentum", "anti_momentum"] = "momentum"
    memory: float = Field(20.0, gt=0.0, le=5000.0, description="EWMA memory in steps")
    k: float = Field(8.0, gt=0.0, description="update strength per step")
    max_change: float = Field(0.1, gt=0.0, description="largest weight change per step")
    w_min: float | None = Field(None, ge=0.0, description="minimum weight (None: 0.1 / A)")
    fees: float = Field(0.0, ge=0.0, lt=1.0, description="pool fee (0: the zero-fee path)")


def _int_param(params: Mapping[str, Any], key: str, default: int) -> int:
    v = params.get(key, default)
    if isinstance(v, bool) or int(v) != v or int(v) < 1:
        raise ConfigError(f"model.params.{key} must be an integer >= 1, got {v!r}", key=key)
    return int(v)


class EqualWeightFamily(FamilyBase):
    """1/A on every row, rebalanced."""

    name = "equal_weight"

    def decide(
        self, state: Any, data: SimulationData, idx: IntArray, params: Params, ctx: FamilyContext
    ) -> Decision:
        return Decision(np.full((len(idx), data.n_assets), 1.0 / data.n_assets))


class HodlFamily(FamilyBase):
    """1/A bought on the first test row, then held (NaN rows = hold)."""

    name = "hodl"

    def decide(
        self, state: Any, data: SimulationData, idx: IntArray, params: Params, ctx: FamilyContext
    ) -> Decision:
        w = np.full((len(idx), data.n_assets), np.nan)
        if len(idx):
            w[0] = 1.0 / data.n_assets
        return Decision(w)


def momentum(prices: FloatArray, lookback: int) -> FloatArray:
    """``P[t] / P[t - lookback] - 1`` (NaN for the first ``lookback`` rows)."""
    s = np.full_like(prices, np.nan)
    s[lookback:] = prices[lookback:] / prices[:-lookback] - 1.0
    return s


class OptimiserFamily(FamilyBase):
    """Momentum signal -> correlation-aware optimiser -> gross-scaled positions."""

    name = "optimiser"

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], FloatArray] = {}
        self._alive: dict[int, FloatArray] = {}

    @staticmethod
    def _config(params: Mapping[str, Any]) -> OptimiserConfig:
        keys = ("vola", "corr", "clip", "shrink")
        try:
            return OptimiserConfig(
                vola=_int_param(params, "vola", 20),
                corr=_int_param(params, "corr", 60),
                clip=float(params.get("clip", 3.5)),
                shrink=float(params.get("shrink", 0.5)),
                aum=1.0,
            )
        except ValueError as exc:
            raise ConfigError(
                f"invalid optimiser parameters {[params.get(k) for k in keys]}: {exc}",
                key="model.params",
            ) from exc

    def fit(
        self, data: SimulationData, train_idx: IntArray, params: Params, ctx: FamilyContext
    ) -> dict[str, float]:
        if data.prices is None:
            raise ConfigError("family optimiser needs prices in the simulation data", key="data")
        lb = _int_param(params, "lookback", 12)
        s = self._signal(data, lb)[train_idx]
        y = data.y[train_idx]
        ok = np.isfinite(s) & data.y_mask[train_idx]
        if ok.sum() < 2:
            return {"beta": 1.0}
        x, t = s[ok], y[ok]
        xc = x - x.mean()
        den = float(np.sum(xc * xc))  # no BLAS: a 1-d dot under a loaded BLAS pool is slow
        beta = float(np.sum(xc * (t - t.mean()))) / den if den > 0 else 1.0
        return {"beta": beta}

    def _prices_key(self, data: SimulationData) -> int:
        """Cache key of the price array (held alive by the cache, so ids are never reused)."""
        prices = data.prices
        assert prices is not None
        self._alive[id(prices)] = prices
        return id(prices)

    def _signal(self, data: SimulationData, lookback: int) -> FloatArray:
        key = ("signal", self._prices_key(data), lookback)
        hit = self._cache.get(key)
        if hit is None:
            assert data.prices is not None
            hit = self._cache[key] = momentum(data.prices, lookback)
        return hit

    def _path(self, data: SimulationData, params: Mapping[str, Any], sign: float) -> FloatArray:
        lb = _int_param(params, "lookback", 12)
        key = (
            self._prices_key(data),
            lb,
            *(params.get(k) for k in ("vola", "corr", "clip", "shrink")),
            sign,
        )
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        assert data.prices is not None
        cfg = self._config(params)
        dates = pl.Series("date", data.dates.astype("datetime64[us]"))
        px = pl.DataFrame(
            {"date": dates, **{a: data.prices[:, i] for i, a in enumerate(data.assets)}}
        )
        mu_arr = sign * self._signal(data, lb)
        mu = pl.DataFrame(
            {"date": dates, **{a: mu_arr[:, i] for i, a in enumerate(data.assets)}}
        ).fill_nan(None)
        cash = np.asarray(run_batch(px, mu, cfg).cash, dtype=np.float64)
        gross = np.nansum(np.abs(cash), axis=1)
        w = np.where(
            (gross[:, None] > 0) & np.isfinite(cash),
            cash / np.where(gross > 0, gross, 1.0)[:, None],
            0.0,
        )
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = w
        return w

    def decide(
        self, state: Any, data: SimulationData, idx: IntArray, params: Params, ctx: FamilyContext
    ) -> Decision:
        beta = float(state["beta"]) if state else 1.0
        sign = -1.0 if beta < 0 else 1.0
        w = self._path(data, params, sign)[idx] * float(params.get("gross", 1.0))
        return Decision(w, payload={"beta": beta})


def _amm() -> Family:
    from algotrader.simulation.amm_family import AmmPoolFamily  # JAX: imported on first use

    return AmmPoolFamily()


register_family("equal_weight", EqualWeightFamily, replace=True)
register_family("hodl", HodlFamily, replace=True)
register_family("optimiser", OptimiserFamily, replace=True, params=OptimiserParams)
register_family("amm", _amm, replace=True, params=AmmParams)
