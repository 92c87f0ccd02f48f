"""The registry of feature groups: their order, keys, features and compute functions.

The documentation table (``docs/features.md``) is generated from :data:`GROUPS` by
:func:`feature_table_markdown`, and a test checks the two agree.

Example:
    >>> len(all_features()), group_keys("breakout")
    (45, ('brk_up', 'brk_dn'))
    >>> feature_names("breakout", ("brk_dn",))
    ('brk_dn_4w', 'brk_dn_26w')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

from algotrader.errors import ConfigError
from algotrader.features.common import FeatureDef
from algotrader.features.groups import (
    breakout,
    cross_sectional,
    mean_reversion,
    momentum,
    regime,
    seasonal,
    volatility,
)

ComputeFn = Callable[..., dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]]


@dataclass(frozen=True)
class GroupSpec:
    """One registered group."""

    name: str
    input: str
    required_weeks: tuple[int, ...]
    features: tuple[FeatureDef, ...]
    compute: ComputeFn

    @property
    def weekly_input(self) -> bool:
        """True for groups that need a complete weekly OHLC panel."""
        return self.input == "weekly OHLC"


def _spec(mod: ModuleType) -> GroupSpec:
    return GroupSpec(
        mod.GROUP, mod.INPUT, tuple(mod.REQUIRED_WEEKS), tuple(mod.FEATURES), mod.compute
    )


#: Default group order (the spec's table order).
GROUP_ORDER: tuple[str, ...] = (
    "momentum",
    "mean_reversion",
    "breakout",
    "cross_sectional",
    "volatility",
    "seasonal",
    "regime",
)
GROUPS: dict[str, GroupSpec] = {
    m.GROUP: _spec(m)
    for m in (momentum, mean_reversion, breakout, cross_sectional, volatility, seasonal, regime)
}


def get_group(name: str) -> GroupSpec:
    """The group named ``name``; ``ConfigError`` naming it if unknown."""
    if name not in GROUPS:
        raise ConfigError(
            f"unknown feature group {name!r}",
            key=f"groups.{name}",
            hint=f"use one of {', '.join(GROUP_ORDER)}",
        )
    return GROUPS[name]


def group_keys(group: str) -> tuple[str, ...]:
    """The group's feature keys, in table order."""
    return tuple(dict.fromkeys(f.key for f in get_group(group).features))


def feature_names(group: str, keys: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The group's feature names for ``keys`` (default all), in table order."""
    chosen = set(group_keys(group) if keys is None else keys)
    return tuple(f.name for f in get_group(group).features if f.key in chosen)


def all_features() -> tuple[FeatureDef, ...]:
    """Every registered feature, groups in :data:`GROUP_ORDER`."""
    return tuple(f for g in GROUP_ORDER for f in GROUPS[g].features)


def feature_table_markdown() -> str:
    """The Markdown feature table of ``docs/features.md`` (generated; do not edit by hand)."""
    lines = [
        "| # | group | feature | key | formula | window | input | warm-up (first valid) |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(all_features(), 1):
        formula = f.formula.replace("|", "\\|")
        lines.append(
            f"| {i} | {f.group} | `{f.name}` | `{f.key}` | {formula} | {f.window} | {f.input} | {f.warmup} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "GROUPS",
    "GROUP_ORDER",
    "GroupSpec",
    "all_features",
    "feature_names",
    "feature_table_markdown",
    "get_group",
    "group_keys",
]
