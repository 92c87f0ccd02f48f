"""``config/features.yml``: which groups and keys to compute, horizons, degenerate policy.

Example:
    >>> cfg = FeatureConfig.from_mapping({"groups": {"breakout": ["brk_up"]}})
    >>> cfg.groups, cfg.degenerate_policy
    ({'breakout': ('brk_up',)}, 'nan')
    >>> FeatureConfig.from_mapping({"groups": {"breakout": ["brk_sideways"]}})
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: unknown feature key 'brk_sideways' in group breakout [key=groups.breakout[0]] -- fix: use one of brk_up, brk_dn
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from algotrader.artifacts import config_hash as _config_hash
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError
from algotrader.features.registry import GROUP_ORDER, get_group, group_keys

DEFAULT_HORIZONS: tuple[int, ...] = (5, 20, 60, 130)


def _default_groups() -> dict[str, tuple[str, ...]]:
    return {g: group_keys(g) for g in GROUP_ORDER}


class FeatureConfig(ConfigModel):
    """Validated feature configuration: a :class:`~algotrader.config_base.ConfigModel`
    (frozen; unknown fields rejected; every error a :class:`ConfigError` naming the key).

    Attributes:
        groups: ordered ``{group: [keys]}``; default every group with every key.
        horizons: horizons in trading days, each a multiple of 5 (weeks = days / 5).
        degenerate_policy: ``nan`` (zero/sub-floor denominators give NaN, status
            ``degenerate``) or ``eps`` (the source's ``x / (d + 1e-8)``, for golden tests).
        degenerate_floor: the floor below which a denominator is degenerate (relative to
            the close for price-unit denominators).
    """

    groups: dict[str, tuple[str, ...]] = Field(default_factory=_default_groups)
    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    degenerate_policy: Literal["nan", "eps"] = "nan"
    degenerate_floor: float = Field(1e-10, gt=0, lt=1e-3)

    @model_validator(mode="before")
    @classmethod
    def _check_groups(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "groups" not in data:
            return data
        groups = data["groups"]
        if not isinstance(groups, dict) or not groups:
            raise ConfigError("groups must be a non-empty mapping {group: [keys]}", key="groups")
        for name, keys in groups.items():
            get_group(str(name))
            if keys == "all":
                continue
            if not isinstance(keys, list | tuple) or not keys:
                raise ConfigError(
                    f"group {name} needs a non-empty list of keys",
                    key=f"groups.{name}",
                    hint=f"use 'all' or some of {', '.join(group_keys(name))}",
                )
            valid = group_keys(name)
            seen: set[str] = set()
            for i, k in enumerate(keys):
                if k not in valid:
                    raise ConfigError(
                        f"unknown feature key {k!r} in group {name}",
                        key=f"groups.{name}[{i}]",
                        hint=f"use one of {', '.join(valid)}",
                    )
                if k in seen:
                    raise ConfigError(
                        f"duplicate feature key {k!r} in group {name}", key=f"groups.{name}[{i}]"
                    )
                seen.add(k)
        data = dict(data)
        data["groups"] = {n: (group_keys(n) if k == "all" else tuple(k)) for n, k in groups.items()}
        return data

    @field_validator("horizons")
    @classmethod
    def _check_horizons(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ConfigError("horizons must not be empty", key="horizons")
        for i, h in enumerate(value):
            if h <= 0 or h % 5:
                raise ConfigError(
                    f"horizon {h} is not a positive multiple of 5 trading days",
                    key=f"horizons[{i}]",
                    hint="use e.g. 5, 20, 60, 130 (1, 4, 12, 26 weeks)",
                )
        if len(set(value)) != len(value):
            raise ConfigError("duplicate horizons", key="horizons")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _check_required_weeks(self) -> FeatureConfig:
        weeks = {h // 5 for h in self.horizons}
        for name in self.groups:
            for w in get_group(name).required_weeks:
                if w not in weeks:
                    raise ConfigError(
                        f"group {name} needs a {w}-week horizon ({5 * w} trading days)",
                        key="horizons",
                        hint=f"add {5 * w} to horizons",
                    )
        return self

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of this configuration
        (:func:`algotrader.artifacts.config_hash`, the package's one config hash)."""
        return _config_hash(self)


def parse_feature_config(data: dict[str, Any], *, source: str | None = None) -> FeatureConfig:
    """Validate a mapping (:meth:`FeatureConfig.from_mapping`): errors are ``ConfigError``
    naming the key and ``source``."""
    return FeatureConfig.from_mapping(data, source=source)


def load_feature_config(path: str | os.PathLike[str] | None) -> FeatureConfig:
    """Read ``features.yml`` (``yaml.safe_load``); ``None`` gives the defaults."""
    if path is None:
        return FeatureConfig()
    p = Path(path)
    if not p.is_file():
        raise ConfigError("feature config not found", file=str(p), hint="pass an existing --config")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"feature config is not valid YAML ({exc})", file=str(p)) from exc
    if not isinstance(data, dict):
        raise ConfigError("feature config must be a mapping", file=str(p))
    return parse_feature_config(data, source=str(p))


__all__ = ["DEFAULT_HORIZONS", "FeatureConfig", "load_feature_config", "parse_feature_config"]
