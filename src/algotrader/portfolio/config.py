"""Configuration of the correlation-aware signal optimiser.

The field names and defaults follow ``basanos`` 0.7.3 (``BasanosConfig``) so that
existing configurations load unchanged; the covariance mode is a discriminated
union on ``covariance_mode``.

Example:
    >>> cfg = OptimiserConfig(vola=16, corr=32, clip=3.5, shrink=0.5, aum=1e6)
    >>> cfg.covariance_mode
    'ewma_shrink'
    >>> sw = cfg.model_copy(update={"covariance_config": SlidingWindowConfig(window=60, n_factors=3)})
    >>> (sw.covariance_mode, sw.covariance_config.window)
    ('sliding_window', 60)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from algotrader.artifacts import run_id
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError

_LEGACY_KEYS = ("covariance_mode", "window", "n_factors")


class EwmaShrinkConfig(ConfigModel):
    """EWMA correlation shrunk towards the identity: ``shrink * C + (1 - shrink) * I``."""

    covariance_mode: Literal["ewma_shrink"] = "ewma_shrink"


class SlidingWindowConfig(ConfigModel):
    """Rank-k factor model fitted by SVD on the last ``window`` vol-adjusted returns.

    Attributes:
        window: rows in the sliding window (W); a row is in warm-up while ``t + 1 < W``.
        n_factors: number of factors k.
        max_components: optional hard cap on k (``k_eff = min(k, W, n, max_components)``).
    """

    covariance_mode: Literal["sliding_window"] = "sliding_window"
    window: int = Field(gt=0)
    n_factors: int = Field(gt=0)
    max_components: int | None = Field(default=None, gt=0)

    @field_validator("max_components")
    @classmethod
    def _components_within_factors(cls, value: int | None, info: ValidationInfo) -> int | None:
        # A field validator (not a model one) so the error's key is ``max_components``.
        k = info.data.get("n_factors")
        if value is not None and k is not None and value > k:
            raise ValueError(f"max_components ({value}) must be <= n_factors ({k})")
        return value


CovarianceConfig = Annotated[
    EwmaShrinkConfig | SlidingWindowConfig, Field(discriminator="covariance_mode")
]


class OptimiserConfig(ConfigModel):
    """All knobs of the optimiser: a :class:`~algotrader.config_base.ConfigModel` (frozen,
    unknown keys refused; every validation error is a :class:`ConfigError` naming the key
    path, e.g. ``covariance_config.window``, and the file when loaded from one).

    Attributes:
        vola: EWM lookback of the volatilities, ``com = vola - 1`` (alpha = 1/vola). Used for
            the vol-adjustment of log returns (min 1 sample) and the cash scaling by the EWM
            std of simple returns (min ``vola`` samples).
        corr: EWM lookback of the correlation, ``span = 2 * corr + 1``; also the number of
            rows of warm-up in EWMA mode (rows ``t < corr`` report ``warmup``). Must be >= vola.
        clip: vol-adjusted returns are clipped to ``[-clip, clip]``.
        shrink: retention weight lambda of the EWM correlation, in [0, 1] (EWMA mode only).
        aum: assets under management; used by the analytics (returns = profit / aum),
            never by the positions.
        denom_tol: rows whose normaliser ``sqrt(mu' C^-1 mu)`` is <= this are ``degenerate``.
        position_scale: multiplier applied to cash positions by the analytics only.
        min_corr_denom: variances at or below this make the correlation entry undefined.
        max_nan_fraction: an asset whose price column has a larger fraction of missing
            values is refused as input.
        covariance_config: ``ewma_shrink`` (default) or ``sliding_window``.
        cost_per_unit: trading cost per unit of cash traded (analytics only).
        max_turnover: optional L1 cap on the cash change of a ``valid`` row.
        solver: ``exact`` (Cholesky, default) or ``cg``: conjugate gradients on the shrunk
            correlation warm-started from the previous row's solution, O(N^2) per
            iteration (EWMA mode with ``shrink < 1`` only; rows after a gap and rows where
            CG does not reach ``cg_tol`` within ``cg_max_iter`` iterations are solved exactly).
        cg_tol: CG stops once the proven bound on the relative 2-norm error of the row's
            position vector (versus the exact solve of the same matrix) is <= this.
        cg_max_iter: most CG iterations per row before the exact fallback.
        cg_rank: rows of the CG preconditioner (the last ``cg_rank`` rows' part of the
            correlation, inverted by Woodbury in O(N cg_rank) per iteration; at most
            ``N / 4`` are used); 0: plain CG.
    """

    vola: int = Field(gt=0)
    corr: int = Field(gt=0)
    clip: float = Field(gt=0)
    shrink: float = Field(ge=0.0, le=1.0)
    aum: float = Field(gt=0)
    denom_tol: float = Field(default=1e-12, gt=0)
    position_scale: float = Field(default=1e6, gt=0)
    min_corr_denom: float = Field(default=1e-14, gt=0)
    max_nan_fraction: float = Field(default=0.9, gt=0, lt=1)
    covariance_config: CovarianceConfig = Field(default_factory=EwmaShrinkConfig)
    cost_per_unit: float = Field(default=0.0, ge=0)
    max_turnover: float | None = Field(default=None, gt=0)
    solver: Literal["exact", "cg"] = "exact"
    cg_tol: float = Field(default=1e-8, gt=0, lt=0.1)
    cg_max_iter: int = Field(default=200, gt=0)
    cg_rank: int = Field(default=128, ge=0, le=1024)

    @model_validator(mode="before")
    @classmethod
    def _refuse_legacy_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            legacy = [k for k in _LEGACY_KEYS if k in data]
            if legacy:
                raise ConfigError(
                    f"flat keys {legacy} are not accepted at the top level",
                    key=legacy[0],
                    hint="nest them: covariance_config: {covariance_mode: sliding_window, "
                    "window: W, n_factors: k}",
                )
        return data

    @model_validator(mode="after")
    def _corr_at_least_vola(self) -> OptimiserConfig:
        # Cross-field checks raise ConfigError directly so the key is named (a ValueError
        # here would have no location).
        if self.corr < self.vola:
            raise ConfigError(
                f"invalid OptimiserConfig: corr ({self.corr}) must be >= vola ({self.vola})",
                key="corr",
                hint="raise corr or lower vola",
            )
        if self.solver == "cg":
            if isinstance(self.covariance_config, SlidingWindowConfig):
                raise ConfigError(
                    "invalid OptimiserConfig: solver 'cg' needs covariance_mode ewma_shrink",
                    key="solver",
                    hint="use solver: exact with sliding_window",
                )
            if self.shrink >= 1.0:
                raise ConfigError(
                    "invalid OptimiserConfig: solver 'cg' needs shrink < 1 "
                    "(its error bound uses lambda_min >= 1 - shrink)",
                    key="solver",
                    hint="use shrink < 1 or solver: exact",
                )
        return self

    @property
    def covariance_mode(self) -> str:
        """``"ewma_shrink"`` or ``"sliding_window"``."""
        return self.covariance_config.covariance_mode

    @property
    def corr_beta(self) -> float:
        """Decay of the pairwise EWMA sums a row: ``1 - 1 / (corr + 1)`` (com = ``corr``)."""
        return 1.0 - 2.0 / (2.0 * self.corr + 2.0)

    @property
    def warmup_rows(self) -> int:
        """Rows reported as ``warmup`` at the start of a history (corr, or window - 1)."""
        cc = self.covariance_config
        return cc.window - 1 if isinstance(cc, SlidingWindowConfig) else self.corr

    def fingerprint(self) -> str:
        """A stable 16-hex-digit id of the resolved configuration.

        :func:`algotrader.artifacts.run_id` of the resolved model (the package's one run-id
        hash; every field with its default, the covariance section as its typed model; key
        order does not matter, secrets never enter it).
        """
        return run_id(self, length=16)


def config_from_mapping(data: Any, *, source: str | None = None) -> OptimiserConfig:
    """Validate a mapping into an :class:`OptimiserConfig`, raising :class:`ConfigError`.

    :meth:`OptimiserConfig.from_mapping` (the one converter of
    :class:`~algotrader.config_base.ConfigModel`); ``source`` is the file named in errors.

    Example:
        >>> config_from_mapping({"vola": 4, "corr": 8, "clip": 3, "shrink": 0.5, "aum": 1}).corr
        8
        >>> config_from_mapping({"vola": 4, "corr": 8, "clip": 3, "shrink": 0.5, "aum": 1, "x": 1})
        Traceback (most recent call last):
        ...
        algotrader.errors.ConfigError: invalid OptimiserConfig: Extra inputs are not permitted (x) [key=x] -- fix: ...
    """
    return OptimiserConfig.from_mapping(data, source=source)


def load_config(path: str | Path) -> OptimiserConfig:
    """Load an :class:`OptimiserConfig` from a YAML file (``yaml.safe_load``)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError as exc:
        raise ConfigError("config file not found", file=str(p), hint="check the path") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config is not valid YAML: {exc}", file=str(p)) from exc
    return config_from_mapping(data, source=str(p))


__all__ = [
    "CovarianceConfig",
    "EwmaShrinkConfig",
    "OptimiserConfig",
    "SlidingWindowConfig",
    "config_from_mapping",
    "load_config",
]
