"""Breakout (weekly OHLC): 1 when the close breaks the prior h-week high (low), else 0.

Warm-up rows are NaN with status ``warmup`` (the source emits 0 there).

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> v, s = compute(FeatureContext(synthetic_inputs(30, 2)))["brk_up_4w"]
    >>> bool(np.isnan(v[3]).all()), set(np.unique(v[4:]).tolist()) <= {0.0, 1.0}
    (True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import FeatureDef, statuses, warm_rows
from algotrader.features.context import FeatureContext
from algotrader.features.kernels import rolling_extreme

GROUP = "breakout"
INPUT = "weekly OHLC"
REQUIRED_WEEKS = (4, 26)

FEATURES: tuple[FeatureDef, ...] = tuple(
    FeatureDef(
        f"brk_{d}_{h}w",
        GROUP,
        f"brk_{d}",
        f"1 if C_t {'>' if d == 'up' else '<'} {'max(H' if d == 'up' else 'min(L'}_(t-{h}..t-1)) else 0",
        f"prior {h} w",
        "weekly OHLC",
        f"t >= {h}",
    )
    for h in (4, 26)
    for d in ("up", "dn")
)


def compute(ctx: FeatureContext) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]:
    """Every breakout feature as (values (T, A), status (T, A))."""
    x = ctx.x
    c = x.weekly_close
    out: dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]] = {}
    no_deg = np.zeros(c.shape, dtype=bool)
    for h in (4, 26):
        warm = warm_rows(c.shape[0], c.shape[1], h)
        hi = rolling_extreme(x.weekly_high, h, True, True)
        lo = rolling_extreme(x.weekly_low, h, True, False)
        for d, ref in (("up", hi), ("dn", lo)):
            hit = c > ref if d == "up" else c < ref
            v = np.where(np.isfinite(ref), hit.astype(np.float64), np.nan)
            out[f"brk_{d}_{h}w"] = (v, statuses(v, no_deg, warm))
    return out
