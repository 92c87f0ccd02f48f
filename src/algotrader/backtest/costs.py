"""One cost model for planning (allocators) and simulation (the backtester).

:class:`CostModel` is a frozen configuration; the functions below are pure and operate
on **traded value** (currency, signed, shape ``(..., A)``) so an allocator can price a
candidate trade exactly as the simulator will charge it.

Terms (all in currency):

* proportional: ``|x_i| * bps_i / 1e4`` with a per-asset rate;
* fixed: ``fixed_per_trade`` for every asset with a non-zero trade;
* market impact: ``a * sigma_i * |x_i|^1.5 / volume_i^0.5``, with ``sigma_i`` the
  per-period return volatility and ``volume_i`` the traded **value** per period (so the
  result is in currency);
* holding/borrow, per period: ``holding_cost_per_period * sum(long value)
  + borrow_cost_per_period * sum(|short value|)``.

Example:
    >>> import numpy as np
    >>> model = CostModel(proportional_bps=10.0, fixed_per_trade=1.0)
    >>> c = transaction_costs(np.array([1000.0, -500.0, 0.0]), model, n_assets=3)
    >>> c.proportional.tolist(), c.fixed.tolist()
    ([1.0, 0.5, 0.0], [1.0, 1.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field

from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError, ShapeError

FloatArray = NDArray[np.float64]


class CostModel(ConfigModel):
    """Trading and holding costs: a :class:`~algotrader.config_base.ConfigModel` (frozen,
    unknown keys refused, every validation error a :class:`ConfigError` naming the key and,
    from :meth:`from_mapping`/:meth:`from_yaml`, the file).

    Attributes:
        proportional_bps: proportional cost in basis points of traded value, every asset.
        proportional_bps_by_asset: per-asset overrides (asset name -> bps).
        fixed_per_trade: currency charged per asset traded in a period (non-zero trade).
        impact_coef: ``a`` of the impact term ``a * sigma * |x|^1.5 / volume^0.5``
            (needs volatility and volume; 0 disables it).
        holding_cost_per_period: fraction of the gross long value charged each period.
        borrow_cost_per_period: fraction of the absolute short value charged each period.
    """

    proportional_bps: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    proportional_bps_by_asset: dict[str, float] = Field(default_factory=dict)
    fixed_per_trade: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    impact_coef: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    holding_cost_per_period: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    borrow_cost_per_period: float = Field(0.0, ge=0.0, allow_inf_nan=False)

    def bps_vector(self, n_assets: int, asset_names: Sequence[str] | None = None) -> FloatArray:
        """Per-asset proportional rates in bps, shape ``(A,)``.

        Raises:
            ConfigError: an override names an asset that is not in ``asset_names`` (or
                overrides are given without asset names), or a rate is negative.
        """
        bps = np.full(n_assets, self.proportional_bps, dtype=np.float64)
        if not self.proportional_bps_by_asset:
            return bps
        if asset_names is None:
            raise ConfigError(
                "proportional_bps_by_asset needs asset names",
                key="proportional_bps_by_asset",
                hint="pass asset_names to the backtest",
            )
        index = {name: i for i, name in enumerate(asset_names)}
        for name, rate in self.proportional_bps_by_asset.items():
            if name not in index:
                raise ConfigError(
                    f"unknown asset {name!r} in proportional_bps_by_asset",
                    key=f"proportional_bps_by_asset.{name}",
                    hint="assets: " + ", ".join(asset_names),
                )
            if not np.isfinite(rate) or rate < 0:
                raise ConfigError(
                    f"rate for {name!r} must be a non-negative number, got {rate!r}",
                    key=f"proportional_bps_by_asset.{name}",
                )
            bps[index[name]] = rate
        return bps


class TradeCosts(NamedTuple):
    """Per-asset transaction costs in currency, each of the traded value's shape."""

    proportional: FloatArray
    fixed: FloatArray
    impact: FloatArray

    def total(self) -> FloatArray:
        """Sum of the three terms, per asset."""
        return self.proportional + self.fixed + self.impact


def proportional_cost(trade_value: ArrayLike, bps: ArrayLike) -> FloatArray:
    """``|x| * bps / 1e4``, broadcasting ``bps`` of shape ``(A,)``."""
    x = np.asarray(trade_value, dtype=np.float64)
    return np.abs(x) * np.asarray(bps, dtype=np.float64) / 1e4  # type: ignore[no-any-return]


def fixed_cost(trade_value: ArrayLike, fee: float) -> FloatArray:
    """``fee`` for every non-zero trade."""
    x = np.asarray(trade_value, dtype=np.float64)
    return np.where(x != 0.0, float(fee), 0.0)


def impact_cost(
    trade_value: ArrayLike, volatility: ArrayLike, volume: ArrayLike, coef: float
) -> FloatArray:
    """``coef * sigma * |x|^1.5 / volume^0.5`` (zero where there is no trade).

    Raises:
        ConfigError: a traded asset has a non-positive or missing volume or volatility.
    """
    x = np.abs(np.asarray(trade_value, dtype=np.float64))
    sig = np.broadcast_to(np.asarray(volatility, dtype=np.float64), x.shape)
    vol = np.broadcast_to(np.asarray(volume, dtype=np.float64), x.shape)
    traded = x > 0
    bad = traded & ~((vol > 0) & np.isfinite(vol) & np.isfinite(sig) & (sig >= 0))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(
            f"market impact needs a positive volume and a finite volatility at {where}",
            key="volume",
            hint="pass volume (traded value per period) and volatility for every traded asset",
        )
    safe_vol = np.where(traded, vol, 1.0)
    return np.where(traded, coef * sig * x**1.5 / np.sqrt(safe_vol), 0.0)


def transaction_costs(
    trade_value: ArrayLike,
    model: CostModel,
    *,
    n_assets: int | None = None,
    asset_names: Sequence[str] | None = None,
    volatility: ArrayLike | None = None,
    volume: ArrayLike | None = None,
) -> TradeCosts:
    """Every transaction-cost term of ``model`` for signed traded values ``(..., A)``."""
    x = np.asarray(trade_value, dtype=np.float64)
    a = x.shape[-1] if n_assets is None else n_assets
    if x.shape[-1] != a:
        raise ShapeError(f"trade has {x.shape[-1]} assets, expected {a}", key="trade_value")
    prop = proportional_cost(x, model.bps_vector(a, asset_names))
    fixed = fixed_cost(x, model.fixed_per_trade)
    if model.impact_coef > 0:
        if volatility is None or volume is None:
            raise ConfigError(
                "impact_coef > 0 needs volatility and volume",
                key="impact_coef",
                hint="pass volatility= and volume=, or set impact_coef: 0",
            )
        impact = impact_cost(x, volatility, volume, model.impact_coef)
    else:
        impact = np.zeros_like(x)
    return TradeCosts(prop, fixed, impact)


def holding_cost(position_value: ArrayLike, model: CostModel) -> FloatArray:
    """Holding and borrow cost for one period, summed over the last axis (currency)."""
    v = np.asarray(position_value, dtype=np.float64)
    longs = np.maximum(v, 0.0).sum(axis=-1)
    shorts = np.maximum(-v, 0.0).sum(axis=-1)
    return model.holding_cost_per_period * longs + model.borrow_cost_per_period * shorts  # type: ignore[no-any-return]
