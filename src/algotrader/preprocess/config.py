"""Configuration of the leakage-safe per-split preprocessing pipeline (spec §3.2).

Defaults follow the source except ``max_abs_corr`` (0.95 here, required >= 0.5; the
source's 0 prunes every correlated feature).

Example:
    >>> PipelineConfig().max_abs_corr
    0.95
    >>> PipelineConfig(max_abs_corr=0.2)
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: max_abs_corr 0.2 must be in [0.5, 1] [key=max_abs_corr] -- fix: 0.95 drops near-duplicates only
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError


class PipelineConfig(ConfigModel):
    """Knobs of :func:`algotrader.preprocess.pipeline.fit`: a
    :class:`~algotrader.config_base.ConfigModel` (frozen; unknown keys rejected; every error
    a :class:`ConfigError` naming the key)."""

    min_usable_ratio: float = Field(0.0, ge=0, le=1)
    min_variance: float = Field(0.0, ge=0)
    max_abs_corr: float = 0.95
    corr_subsample: int | None = Field(None, ge=2)
    mad_eps: float = Field(0.0, ge=0)
    breakout_var_floor: float = Field(1e-3, ge=0)
    winsor_low_q: float = Field(0.005, ge=0, le=1)
    winsor_high_q: float = Field(0.995, ge=0, le=1)
    scale_floor: float = Field(1e-3, gt=0)
    guard_abs_eps: float = Field(1e-6, ge=0)
    guard_rel_eps: float = Field(1e-3, ge=0)
    guard_rel_offset: float = Field(1e-8, ge=0)
    clip_min: float = -10.0
    clip_max: float = 10.0
    max_abs_fail: float = Field(50.0, gt=0)
    impute_missing_to_zero: bool = True
    append_mask_as_features: bool = False

    @model_validator(mode="before")
    @classmethod
    def _checks(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        corr = data.get("max_abs_corr", 0.95)
        if not isinstance(corr, int | float) or not 0.5 <= corr <= 1.0:
            raise ConfigError(
                f"max_abs_corr {corr} must be in [0.5, 1]",
                key="max_abs_corr",
                hint="0.95 drops near-duplicates only",
            )
        return data

    @model_validator(mode="after")
    def _order(self) -> PipelineConfig:
        # After field validation, so a non-number is pydantic's typed error, not a TypeError.
        if self.winsor_low_q > self.winsor_high_q:
            raise ConfigError(
                f"winsor_low_q {self.winsor_low_q} > winsor_high_q {self.winsor_high_q}",
                key="winsor_low_q",
            )
        if self.clip_min >= self.clip_max:
            raise ConfigError("clip_min must be below clip_max", key="clip_min")
        return self


__all__ = ["PipelineConfig"]
