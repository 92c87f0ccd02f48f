"""The validated run configuration (the reference's ``run_fingerprint`` keys and defaults).

:class:`RunConfig` is a :class:`~algotrader.config_base.ConfigModel` (frozen,
``extra="forbid"``): unknown keys and inconsistent combinations raise
:class:`algotrader.errors.ConfigError` naming the key (a dot path for nested sections such
as ``optimisation_settings.n_iterations``), the file and the fix -- at load, before any run
id exists. ``tokens`` are stored sorted (every per-asset vector follows that order).
Every section is typed: ``optimisation_settings``
(:class:`~algotrader.training.settings.OptimisationSettings`) and ``multi_period``
(:class:`~algotrader.training.settings.MultiPeriodSettings` or None), and their resolved
defaults are part of :attr:`RunConfig.run_id` (:func:`algotrader.artifacts.run_id`).

Keys of reference features this simulator does not implement (reCLAMM, ensembles,
fused-path knobs ...) are **not** fields of :class:`RunConfig`: a reference-style config
goes through :func:`load_reference_config` (which :meth:`RunConfig.from_yaml` uses), which
drops them with a logged note, and refuses a value that would change the result.

Example:
    >>> cfg = RunConfig(tokens=["ETH", "BTC"], rule="momentum")
    >>> cfg.tokens, cfg.chunk_period, cfg.return_val
    (('BTC', 'ETH'), 1440, 'daily_log_sharpe')
    >>> cfg.run_id == RunConfig(tokens=["BTC", "ETH"], rule="momentum").run_id
    True
    >>> RunConfig(tokens=["BTC", "ETH"], chunk_perod=60)
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: unknown key 'chunk_perod' [key=chunk_perod] -- fix: did you mean 'chunk_period'? Known keys are listed in docs/amm.md
    >>> cfg, dropped = load_reference_config({"tokens": ["A", "B"], "use_fused_reserves": True})
    >>> sorted(dropped)
    ['use_fused_reserves']
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import Field, field_validator, model_validator

from algotrader.amm.metrics import METRICS
from algotrader.amm.rules import parse_rule
from algotrader.amm.static import INTERPOLATION_METHODS, SimConfig
from algotrader.artifacts import run_id as _run_id
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError
from algotrader.training.settings import MultiPeriodSettings, OptimisationSettings

logger = logging.getLogger(__name__)

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Reference keys of implementation details with no effect on this simulator's result:
#: accepted with any value by :func:`load_reference_config` and dropped with a note.
REFERENCE_NO_EFFECT: dict[str, Any] = {
    "use_fused_reserves": True,
    "checkpoint_fused": "scan",
    "weight_calculation_method": "auto",
    "ensemble_init_method": "gaussian",
    "ensemble_init_scale": 0.5,
    "ensemble_init_seed": 42,
    "reclamm_interpolation_method": "geometric",
    "reclamm_arc_length_speed": None,
    "reclamm_centeredness_scaling": False,
    "reclamm_learn_arc_length_speed": False,
    "reclamm_use_shift_exponent": False,
    "reclamm_learn_fees": False,
    "initial_arc_length_speed": 1e-4,
    "initial_shift_exponent": 1.0,
    "initial_price_ratio": 4.0,
    "initial_centeredness_margin": 0.2,
    "initial_daily_price_shift_base": 0.999991935483871,
}

#: Reference keys of features this simulator does not implement: only the value that
#: switches the feature off is accepted (then dropped); any other value is refused.
REFERENCE_UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "do_trades": (False, "external trades are not simulated; use false"),
    "turnover_penalty": (0.0, "not supported; use 0"),
    "price_noise_sigma": (0.0, "not supported; use 0"),
    "n_ensemble_members": (1, "ensembles are not supported; use 1"),
    "arb_quality": (1.0, "only CoW pools use it; use 1.0"),
    "ste_max_change": (False, "not supported; use false"),
    "ste_min_max_weight": (False, "not supported; use false"),
    "subsidary_pools": ([], "not supported; use []"),
    "numeraire": (None, "values are in the price currency; remove the key"),
    "learnable_bounds_settings": (
        {"freeze_bounds": False, "min_weights_per_asset": None, "max_weights_per_asset": None},
        "the bounded hook's bounds are parameters here; remove the key",
    ),
}
_WEIGHT_METHODS = ("auto", "vectorized", "scan")
_OPT_UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "parameter_init_method": ("gaussian", "only gaussian initialisation is implemented"),
    "force_scalar": (False, "not supported; use false"),
    "training_data_kind": ("historic", "only historic data is supported"),
    "train_on_hessian_trace": (False, "not supported; use false"),
}


class RunConfig(ConfigModel):
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
    do_arb: bool = True
    use_alt_lamb: bool = False
    use_pre_exp_scaling: bool = True
    optimisation_settings: OptimisationSettings = Field(default_factory=OptimisationSettings)
    multi_period: MultiPeriodSettings | None = None

    @field_validator("tokens")
    @classmethod
    def _sorted_tokens(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) < 2 or len(set(v)) != len(v):
            raise ValueError("tokens must hold at least two distinct names")
        from algotrader.data.names import NAME_HINT, is_safe_name

        unsafe = [t for t in v if not is_safe_name(t)]
        if unsafe:  # token names become file names (per-token price files): docs/errors.md
            raise ValueError(f"unsafe token name {unsafe[0]!r}: {NAME_HINT}")
        return tuple(sorted(v))

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            _refuse_unknown(data, cls.model_fields)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        self._check_consistency()
        return self

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
        """Stable 16-hex-digit id of the resolved configuration (every section's defaults
        included): :func:`algotrader.artifacts.run_id`."""
        return _run_id(self, length=16)

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
    def from_yaml(cls, path: str | Path, *, section: str | None = None) -> RunConfig:
        """Load a (reference-style) YAML mapping with :func:`load_reference_config`.

        Errors name the file and the key; ignored reference keys are dropped with a
        logged note.
        """
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config: {exc}", file=str(p)) from None
        if section is not None:
            if not isinstance(data, Mapping) or section not in data:
                raise ConfigError(f"missing section {section!r}", file=str(p), key=section)
            data = data[section] or {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                "config must be a YAML mapping", file=str(p), hint="write key: value pairs"
            )
        cfg, _ = load_reference_config(data, source=p)
        return cfg


def _refuse_unknown(data: Mapping[str, Any], known: Mapping[str, Any], prefix: str = "") -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            ref = (
                " (a reference key this simulator ignores: load the file with "
                "RunConfig.from_yaml / load_reference_config)"
                if key in REFERENCE_NO_EFFECT or key in REFERENCE_UNSUPPORTED
                else ""
            )
            raise ConfigError(
                f"unknown key {prefix}{key!r}{ref}",
                key=f"{prefix}{key}",
                hint=f"{hint}Known keys are listed in docs/amm.md",
            )


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple) and list(value) == list(default)
    if isinstance(default, dict):
        if not isinstance(value, Mapping):
            return False
        return all(_same(value.get(k, v), v) for k, v in default.items()) and set(value) <= set(
            default
        )
    return bool(value == default)


def load_reference_config(
    data: Mapping[str, Any], *, source: str | Path | None = None
) -> tuple[RunConfig, dict[str, Any]]:
    """A :class:`RunConfig` from a reference-style ``run_fingerprint`` mapping.

    Keys in :data:`REFERENCE_NO_EFFECT` are dropped (a note is logged: INFO at their
    reference default, WARNING otherwise, since the value has no effect here); keys in
    :data:`REFERENCE_UNSUPPORTED` (and the reference-only ``optimisation_settings`` keys)
    are dropped when they switch their feature off and refused otherwise. Every other
    key must be a :class:`RunConfig` field.

    Returns:
        ``(config, dropped)``: the validated config and the dropped key -> value.

    Raises:
        ConfigError: an unsupported feature is switched on, an unknown key, or any
            invalid value; it names the key and ``source``.
    """
    file = None if source is None else str(source)
    kept: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for key, value in data.items():
        if key in REFERENCE_NO_EFFECT:
            if key == "weight_calculation_method" and value not in _WEIGHT_METHODS:
                raise ConfigError(
                    f"inconsistent value for {key}: {value!r}",
                    file=file,
                    key=key,
                    hint=f"use one of {_WEIGHT_METHODS} (all give the same weights here)",
                )
            dropped[key] = value
        elif key in REFERENCE_UNSUPPORTED:
            off, hint = REFERENCE_UNSUPPORTED[key]
            if not _same(value, off):
                raise ConfigError(
                    f"inconsistent value for {key}: {value!r} is not supported",
                    file=file,
                    key=key,
                    hint=hint,
                )
            dropped[key] = value
        else:
            kept[key] = value
    opt = kept.get("optimisation_settings")
    if isinstance(opt, Mapping):
        opt_kept = {}
        for key, value in opt.items():
            if key in _OPT_UNSUPPORTED:
                off, hint = _OPT_UNSUPPORTED[key]
                if value != off:
                    raise ConfigError(
                        f"inconsistent value for optimisation_settings.{key}: {value!r}",
                        file=file,
                        key=f"optimisation_settings.{key}",
                        hint=hint,
                    )
                dropped[f"optimisation_settings.{key}"] = value
            else:
                opt_kept[key] = value
        kept["optimisation_settings"] = opt_kept
    cfg = RunConfig.from_mapping(kept, source=source)
    if dropped:
        changed = sorted(
            k
            for k, v in dropped.items()
            if k in REFERENCE_NO_EFFECT and v != REFERENCE_NO_EFFECT[k]
        )
        where = f" in {file}" if file else ""
        logger.info(
            "ignored %d reference key(s)%s with no effect on this simulator: %s",
            len(dropped),
            where,
            ", ".join(sorted(dropped)),
        )
        if changed:
            logger.warning(
                "reference key(s)%s set to a non-default value have no effect here: %s",
                where,
                ", ".join(changed),
            )
    return cfg, dropped


def parse_date(text: str, key: str) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS`` (UTC) or raise :class:`ConfigError` naming ``key``."""
    try:
        return datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise ConfigError(
            f"bad date {text!r}", key=key, hint="use 'YYYY-MM-DD HH:MM:SS' (UTC)"
        ) from None


__all__ = [
    "DATE_FORMAT",
    "REFERENCE_NO_EFFECT",
    "REFERENCE_UNSUPPORTED",
    "RunConfig",
    "load_reference_config",
    "parse_date",
]
