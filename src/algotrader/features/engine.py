"""Compute feature groups from :class:`~algotrader.features.inputs.LakeInputs`.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.config import FeatureConfig
    >>> res = compute_features(synthetic_inputs(40, 3), FeatureConfig())
    >>> list(res)[:2], sum(r.values.shape[2] for r in res.values())
    (['momentum', 'mean_reversion'], 45)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from algotrader.features.common import (
    GroupResult,
    Options,
    feature_threads,
    require_complete_weekly,
    require_positive_daily,
)
from algotrader.features.config import FeatureConfig
from algotrader.features.context import FeatureContext
from algotrader.features.inputs import LakeInputs
from algotrader.features.kernels import BLOCK, interleave
from algotrader.features.registry import feature_names, get_group

logger = logging.getLogger(__name__)


def options_of(config: FeatureConfig) -> Options:
    """The ratio options of a configuration."""
    return Options(policy=config.degenerate_policy, floor=config.degenerate_floor)


def compute_group(
    inputs: LakeInputs,
    group: str,
    config: FeatureConfig | None = None,
    *,
    ctx: FeatureContext | None = None,
) -> GroupResult:
    """One group's features: values and statuses of shape (T, A, F), F in table order.

    Raises ``DataError`` when a weekly group gets an incomplete weekly panel (naming the
    week and asset) or any group sees a non-positive price."""
    config = config or FeatureConfig()
    spec = get_group(group)
    keys = config.groups.get(group)
    names = feature_names(group, keys)
    ctx = ctx or FeatureContext(inputs, options_of(config))
    ctx.cached("check:daily", lambda: require_positive_daily(inputs))
    if spec.weekly_input:
        ctx.cached("check:weekly", lambda: require_complete_weekly(inputs, group))
    # one column block: the kernels have nothing to split, thread start-up would only cost
    with feature_threads(1 if inputs.n_assets <= BLOCK else None):
        computed = ctx.cached(f"group:{group}", lambda: spec.compute(ctx))
        values, status = interleave(
            [computed[n][0] for n in names], [computed[n][1] for n in names]
        )
    return GroupResult(group, names, values, status)


def compute_features(
    inputs: LakeInputs,
    config: FeatureConfig | None = None,
    groups: Sequence[str] | None = None,
    *,
    on_group: Callable[[str, GroupResult], None] | None = None,
) -> dict[str, GroupResult]:
    """The configured groups (or ``groups``, in that order) sharing one context."""
    config = config or FeatureConfig()
    names = list(groups) if groups is not None else list(config.groups)
    ctx = FeatureContext(inputs, options_of(config))
    out: dict[str, GroupResult] = {}
    for g in names:
        out[g] = compute_group(inputs, g, config, ctx=ctx)
        logger.info("computed group %s: %d features", g, len(out[g].features))
        if on_group is not None:
            on_group(g, out[g])
    return out


__all__ = ["compute_features", "compute_group", "options_of"]
