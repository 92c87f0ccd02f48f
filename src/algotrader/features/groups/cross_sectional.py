"""Cross-sectional ranks (weekly OHLC): (rank - 0.5) / N_eff of six base features per week.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> v, s = compute(FeatureContext(synthetic_inputs(40, 4)))["cs_rank_rev_1w"]
    >>> sorted(v[10].tolist())
    [0.125, 0.375, 0.625, 0.875]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import FeatureDef, statuses, warm_rows
from algotrader.features.context import FeatureContext
from algotrader.features.groups import mean_reversion, momentum
from algotrader.features.kernels import cs_rank

GROUP = "cross_sectional"
INPUT = "weekly OHLC"
REQUIRED_WEEKS = (1, 4, 12, 26)
BASES: tuple[tuple[str, int], ...] = (
    ("z_mom_4w", 26),
    ("z_mom_12w", 26),
    ("z_price_ema_26w", 25),
    ("z_price_med_26w", 50),
    ("rev_1w", 2),
    ("shock_4w", 4),
)

FEATURES: tuple[FeatureDef, ...] = tuple(
    FeatureDef(
        f"cs_rank_{b}",
        GROUP,
        "cs_rank",
        f"(average ascending rank of {b} - 0.5) / N_eff over assets with a finite {b}",
        "1 w cross-section",
        "weekly OHLC",
        f"t >= {w}",
    )
    for b, w in BASES
)


def compute(ctx: FeatureContext) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]:
    """Every cross-sectional rank as (values (T, A), status (T, A))."""
    mom = ctx.cached("group:momentum", lambda: momentum.compute(ctx))
    base = {
        "z_mom_4w": mom["z_mom_4w"],
        "z_mom_12w": mom["z_mom_12w"],
        "z_price_ema_26w": mean_reversion.z_price_ema(ctx, 26),
        "z_price_med_26w": mean_reversion.z_price_med(ctx),
        "rev_1w": mean_reversion.rev(ctx),
        "shock_4w": mean_reversion.shock(ctx),
    }
    out: dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]] = {}
    for b, w in BASES:
        bv, bs = base[b]
        v = cs_rank(np.ascontiguousarray(bv))
        deg = ~np.isfinite(v) & (bs == 2)
        out[f"cs_rank_{b}"] = (v, statuses(v, deg, warm_rows(bv.shape[0], bv.shape[1], w)))
    return out
