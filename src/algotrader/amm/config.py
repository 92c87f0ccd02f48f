"""The validated run configuration (the reference's ``run_fingerprint`` keys and defaults).

:class:`RunConfig` is a frozen pydantic model (``extra="forbid"``): unknown keys and
inconsistent combinations raise :class:`algotrader.errors.ConfigError` naming the key
and the fix.  ``tokens`` are stored sorted (every per-asset vector follows that
order).  ``run_id`` is a stable hash of the resolved configuration.  Keys of reference
features this simulator does not implement (reCLAMM, ensembles, fused-path knobs...)
are accepted with their reference defaults for compatibility and ignored; setting
them to a non-default value that would change the result is refused.

Example:
    >>> cfg = RunConfig(tokens=["ETH", "BTC"], rule="momentum")
    >>> cfg.tokens, cfg.chunk_period, cfg.return_val
    (('BTC', 'ETH'), 1440, 'daily_log_sharpe')
    >>> cfg.run_id == RunConfig(tokens=["BTC", "ETH"], rule="momentum").run_id
    True
    >>> RunConfig(tokens=["BTC", "ETH"], chunk_perod=60)
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: unknown key 'chunk_perod' [key=chunk_perod] -- fix: check the spelling; known keys are listed in docs/amm.md
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from algotrader.amm.metrics import METRICS
from algotrader.amm.rules import parse_rule
from algotrader.amm.static import INTERPOLATION_METHODS, SimConfig
from algotrader.errors import ConfigError
from algotrader.training.settings import OptimisationSettings

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LearnableBounds(_Model):
    """``learnable_bounds_settings`` of the ``bounded`` hook."""

    freeze_bounds: bool = False
    min_weights_per_asset: tuple[float, ...] | None = None
    max_weights_per_asset: tuple[float, ...] | None = None


class RunConfig(_Model):
    """One simulation/training run; field names and defaults follow the reference."""

    tokens: tuple[str, ...] = ("BTC", "ETH", "USDC")
    rule: str = "mean_reversion_channel"
    startDateString: str = "2023-01-01 00:00:00"
    endDateString: str = "2023-06-01 00:00:00"
    endTestDateString: str | None = None
    freq: str = "minute"
    chunk_period: int = Field(1440, ge=1)
    weight_interpolation_period: int = Field(1440, ge=1)
    weight_interpolation_method: str = "linear"
    maximum_change: float = Field(3e-4, gt=0)
    minimum_weight: float | None = Field(None, ge=0)
    max_memory_days: float = Field(365.0, gt=0)
    bout_offset: int = Field(10080, ge=0)
    initial_memory_length: float = Field(10.0, ge=0)
    initial_memory_length_delta: float = 0.0
    initial_k_per_day: float = Field(20.0, gt=0)
    initial_weights_logits: float | tuple[float, ...] = 1.0
    initial_log_amplitude: float = 0.0
    initial_raw_width: float = 0.0
    initial_raw_exponents: float = 0.0
    initial_pre_exp_scaling: float = Field(0.5, gt=0)
    return_val: str = "daily_log_sharpe"
    initial_pool_value: float = Field(1e6, gt=0)
    fees: float = Field(0.0, ge=0, lt=1)
    arb_fees: float = Field(0.0, ge=0, lt=1)
    gas_cost: float = Field(0.0, ge=0)
    protocol_fee_split: float = Field(0.0, ge=0, le=1)
    noise_trader_ratio: float = Field(0.0, ge=0)
    arb_frequency: int = Field(1, ge=1)
    arb_quality: float = 1.0
    do_arb: bool = True
    do_trades: bool = False
    use_alt_lamb: bool = False
    use_pre_exp_scaling: bool = True
    ste_max_change: bool = False
    ste_min_max_weight: bool = False
    use_fused_reserves: bool = True
    checkpoint_fused: str = "scan"
    weight_calculation_method: str = "auto"
    turnover_penalty: float = 0.0
    price_noise_sigma: float = 0.0
    n_ensemble_members: int = 1
    ensemble_init_method: str = "gaussian"
    ensemble_init_scale: float = 0.5
    ensemble_init_seed: int = 42
    subsidary_pools: tuple[Any, ...] = ()
    numeraire: str | None = None
    learnable_bounds_settings: LearnableBounds = LearnableBounds()
    optimisation_settings: OptimisationSettings = Field(default_factory=OptimisationSettings)
    reclamm_interpolation_method: str = "geometric"
    reclamm_arc_length_speed: float | None = None
    reclamm_centeredness_scaling: bool = False
    reclamm_learn_arc_length_speed: bool = False
    reclamm_use_shift_exponent: bool = False
    reclamm_learn_fees: bool = False
    initial_arc_length_speed: float = 1e-4
    initial_shift_exponent: float = 1.0
    initial_price_ratio: float = 4.0
    initial_centeredness_margin: float = 0.2
    initial_daily_price_shift_base: float = 0.999991935483871

    @field_validator("tokens")
    @classmethod
    def _sorted_tokens(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) < 2 or len(set(v)) != len(v):
            raise ValueError("tokens must hold at least two distinct names")
        return tuple(sorted(v))

    def __init__(self, **data: Any) -> None:
        known = set(type(self).model_fields)
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"unknown key {key!r}",
                    key=key,
                    hint="check the spelling; known keys are listed in docs/amm.md",
                )
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"invalid value for {key}: {err['msg']}", key=key) from None
        self._check_consistency()

    def _check_consistency(self) -> None:
        parse_rule(self.rule)
        checks: list[tuple[bool, str, str]] = [
            (self.freq == "minute", "freq", "only minute data is supported"),
            (
                self.weight_interpolation_method in INTERPOLATION_METHODS,
                "weight_interpolation_method",
                f"use one of {INTERPOLATION_METHODS}",
            ),
            (
                self.weight_interpolation_period <= self.chunk_period,
                "weight_interpolation_period",
                "must be <= chunk_period",
            ),
            (self.return_val in METRICS, "return_val", f"use one of {sorted(METRICS)}"),
            (
                self.minimum_weight is None or self.minimum_weight < 1.0 / len(self.tokens),
                "minimum_weight",
                "must be < 1 / number of tokens",
            ),
            (self.n_ensemble_members == 1, "n_ensemble_members", "ensembles are not supported"),
            (self.turnover_penalty == 0.0, "turnover_penalty", "not supported; use 0"),
            (self.price_noise_sigma == 0.0, "price_noise_sigma", "not supported; use 0"),
            (self.arb_quality == 1.0, "arb_quality", "only CoW pools use it; use 1.0"),
            (not self.ste_max_change, "ste_max_change", "not supported; use false"),
            (not self.ste_min_max_weight, "ste_min_max_weight", "not supported; use false"),
            (not self.subsidary_pools, "subsidary_pools", "not supported; use []"),
            (
                self.weight_calculation_method in ("auto", "vectorized", "scan"),
                "weight_calculation_method",
                "use auto, vectorized or scan (all give the same weights here)",
            ),
        ]
        for ok, key, hint in checks:
            if not ok:
                raise ConfigError(f"inconsistent value for {key}", key=key, hint=hint)
        if isinstance(self.initial_weights_logits, tuple) and len(
            self.initial_weights_logits
        ) != len(self.tokens):
            raise ConfigError(
                "initial_weights_logits needs one value per token",
                key="initial_weights_logits",
            )
        start = parse_date(self.startDateString, "startDateString")
        end = parse_date(self.endDateString, "endDateString")
        if end <= start:
            raise ConfigError("endDateString must be after startDateString", key="endDateString")
        if self.endTestDateString is not None:
            test_end = parse_date(self.endTestDateString, "endTestDateString")
            if test_end <= end:
                raise ConfigError(
                    "endTestDateString must be after endDateString", key="endTestDateString"
                )

    @property
    def run_id(self) -> str:
        """Stable 16-hex-digit hash of the resolved configuration."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def n_assets(self) -> int:
        return len(self.tokens)

    def sim_config(self, bout_length: int, **overrides: Any) -> SimConfig:
        """The static :class:`SimConfig` for a window of ``bout_length`` minutes."""
        fields: dict[str, Any] = {
            "rule": self.rule,
            "n_assets": self.n_assets,
            "bout_length": bout_length,
            "chunk_period": self.chunk_period,
            "weight_interpolation_period": self.weight_interpolation_period,
            "weight_interpolation_method": self.weight_interpolation_method,
            "maximum_change": self.maximum_change,
            "minimum_weight": self.minimum_weight,
            "max_memory_days": self.max_memory_days,
            "initial_pool_value": self.initial_pool_value,
            "fees": self.fees,
            "gas_cost": self.gas_cost,
            "arb_fees": self.arb_fees,
            "noise_trader_ratio": self.noise_trader_ratio,
            "protocol_fee_split": self.protocol_fee_split,
            "arb_frequency": self.arb_frequency,
            "do_arb": self.do_arb,
            "use_alt_lamb": self.use_alt_lamb,
            "use_pre_exp_scaling": self.use_pre_exp_scaling,
            "return_val": self.return_val,
        }
        fields.update(overrides)
        return SimConfig(**fields)

    def human_initial_values(self) -> dict[str, Any]:
        """Human values for :func:`algotrader.amm.param_init.init_params` from ``initial_*``."""
        from algotrader.amm.params import squareplus

        logits = self.initial_weights_logits
        vec = [logits] * self.n_assets if isinstance(logits, float | int) else list(logits)
        w = np.exp(np.asarray(vec, dtype=np.float64))
        return {
            "memory_days": self.initial_memory_length,
            "memory_days_delta": self.initial_memory_length_delta,
            "k_per_day": self.initial_k_per_day,
            "initial_weights": (w / w.sum()).tolist(),
            "amplitude": 2.0**self.initial_log_amplitude,
            "width": 2.0**self.initial_raw_width,
            "exponents": float(squareplus(self.initial_raw_exponents)),
            "pre_exp_scaling": self.initial_pre_exp_scaling,
        }

    def initial_params(
        self, n_sets: int = 1, seed: int = 0, noise_scale: float = 1.0
    ) -> dict[str, Any]:
        """Raw parameter batch ``(n_sets, n)`` from the ``initial_*`` keys (set 0 exact)."""
        from algotrader.amm.param_init import init_params

        return init_params(
            self.rule,
            self.n_assets,
            n_sets,
            chunk_period=self.chunk_period,
            seed=seed,
            noise_scale=noise_scale,
            **self.human_initial_values(),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        """Load from a YAML mapping (``yaml.safe_load``); errors name the file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config: {exc}", file=str(path)) from exc
        if not isinstance(data, dict):
            raise ConfigError("config must be a YAML mapping", file=str(path))
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(exc.message, file=str(path), key=exc.key, hint=exc.hint) from exc


def parse_date(text: str, key: str) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS`` (UTC) or raise :class:`ConfigError` naming ``key``."""
    try:
        return datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise ConfigError(
            f"bad date {text!r}", key=key, hint="use 'YYYY-MM-DD HH:MM:SS' (UTC)"
        ) from None


__all__ = ["DATE_FORMAT", "LearnableBounds", "RunConfig", "parse_date"]
