"""The static (compile-time) configuration of one simulation.

:class:`SimConfig` is a frozen, hashable dataclass: it is passed to the jitted
forward pass as a *static* argument, so every field is a compile key.  Build it from
a validated :class:`algotrader.amm.RunConfig` with ``RunConfig.sim_config(bout_length)``
or directly in code.

Timing conventions (minutes):

* ``bout_length``: minutes from the window start to the (inclusive) end date plus one;
  the simulation outputs ``T = bout_length - 1`` rows, row ``t`` being minute
  ``start_index + t``.
* ``chunk_period``: the rule sees prices every ``chunk_period`` minutes; a new target
  computed from the price at minute ``s + k * chunk_period`` starts being
  interpolated at that same minute from the previous actual weight.

Example:
    >>> cfg = SimConfig(rule="momentum", n_assets=2, bout_length=2881)
    >>> cfg.n_steps, cfg.min_weight, cfg.has_fees
    (2880, 0.05, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from algotrader.errors import ConfigError

INTERPOLATION_METHODS = ("linear", "approx_optimal")
ARB_VALIDITY = ("exact", "reference")


@dataclass(frozen=True)
class SimConfig:
    """Static simulation settings (all hashable; every field is a compile key)."""

    rule: str
    n_assets: int
    bout_length: int
    chunk_period: int = 1440
    weight_interpolation_period: int = 1440
    weight_interpolation_method: str = "linear"
    maximum_change: float = 3e-4
    minimum_weight: float | None = None
    max_memory_days: float = 365.0
    initial_pool_value: float = 1e6
    fees: float = 0.0
    gas_cost: float = 0.0
    arb_fees: float = 0.0
    noise_trader_ratio: float = 0.0
    protocol_fee_split: float = 0.0
    arb_frequency: int = 1
    do_arb: bool = True
    use_alt_lamb: bool = False
    use_pre_exp_scaling: bool = True
    return_val: str = "daily_log_sharpe"
    scan_unroll: int = 16
    arb_validity: str = "exact"

    def __post_init__(self) -> None:
        if self.n_assets < 2:
            raise ConfigError("a pool needs at least two assets", key="tokens")
        if self.bout_length < 3:
            raise ConfigError("bout_length must be >= 3 minutes", key="bout_length")
        if self.chunk_period < 1 or self.weight_interpolation_period < 1:
            raise ConfigError("chunk periods must be >= 1", key="chunk_period")
        if self.weight_interpolation_period > self.chunk_period:
            raise ConfigError(
                "weight_interpolation_period must be <= chunk_period",
                key="weight_interpolation_period",
                hint="interpolation has to finish within one chunk",
            )
        if self.weight_interpolation_method not in INTERPOLATION_METHODS:
            raise ConfigError(
                f"unknown weight_interpolation_method {self.weight_interpolation_method!r}",
                key="weight_interpolation_method",
                hint=f"use one of {INTERPOLATION_METHODS}",
            )
        if self.arb_validity not in ARB_VALIDITY:
            raise ConfigError(
                f"unknown arb_validity {self.arb_validity!r}",
                key="arb_validity",
                hint=f"use one of {ARB_VALIDITY}",
            )
        if self.arb_frequency < 1:
            raise ConfigError("arb_frequency must be >= 1", key="arb_frequency")
        mw = self.min_weight
        if not 0.0 <= mw < 1.0 / self.n_assets:
            raise ConfigError(
                f"minimum_weight {mw} must be in [0, 1/n_assets)", key="minimum_weight"
            )

    @property
    def n_steps(self) -> int:
        """Output rows ``T = bout_length - 1``."""
        return self.bout_length - 1

    @property
    def min_weight(self) -> float:
        """``minimum_weight``, defaulting to ``0.1 / n_assets``."""
        return 0.1 / self.n_assets if self.minimum_weight is None else self.minimum_weight

    @property
    def has_fees(self) -> bool:
        """Whether the fee-aware arbitrage path is needed."""
        return (
            self.fees > 0
            or self.gas_cost > 0
            or self.arb_fees > 0
            or self.noise_trader_ratio > 0
            or self.protocol_fee_split > 0
        )


__all__ = ["ARB_VALIDITY", "INTERPOLATION_METHODS", "SimConfig"]
