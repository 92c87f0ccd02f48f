"""Momentum (weekly OHLC): volatility-scaled momentum and EMA spreads over ATR.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> out = compute(FeatureContext(synthetic_inputs(40, 3)))
    >>> list(out), bool(np.isnan(out["z_mom_4w"][0][25]).all()), bool(np.isfinite(out["z_mom_4w"][0][26]).all())
    (['z_mom_4w', 'z_mom_12w', 'z_mom_26w', 'ema_spread_4w_26w', 'ema_spread_12w_26w'], True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import FeatureDef, ratio, statuses, warm_rows
from algotrader.features.context import FeatureContext
from algotrader.features.kernels import atr_wilder, ema_talib, rolling_std

GROUP = "momentum"
INPUT = "weekly OHLC"
REQUIRED_WEEKS = (4, 12, 26)
_W = "weekly OHLC"

FEATURES: tuple[FeatureDef, ...] = (
    *(
        FeatureDef(
            f"z_mom_{h}w",
            GROUP,
            "vol_scaled_momentum",
            f"(p_t - p_(t-{h})) / (sigma_t * sqrt({h})), sigma = std1_26(r^w)",
            f"{h} w momentum, 26 w sigma",
            _W,
            "t >= 26",
        )
        for h in (4, 12, 26)
    ),
    *(
        FeatureDef(
            f"ema_spread_{s}w_26w",
            GROUP,
            "ema_spread",
            f"(EMA_{s}(C) - EMA_26(C)) / ATR_26 (TA-Lib EMA, Wilder ATR)",
            f"{s} w / 26 w",
            _W,
            "t >= 26",
        )
        for s in (4, 12)
    ),
)


def compute(ctx: FeatureContext) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]:
    """Every momentum feature as (values (T, A), status (T, A))."""
    x, opts = ctx.x, ctx.opts
    p, c = ctx.log_close, x.weekly_close
    n_t, n_a = c.shape
    sigma = rolling_std(ctx.weekly_return, 26, 1)
    out: dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]] = {}
    warm = warm_rows(n_t, n_a, 26)
    for h in (4, 12, 26):
        num = np.full(p.shape, np.nan)
        num[h:] = p[h:] - p[:-h]
        v, deg = ratio(num, sigma * np.sqrt(h), opts)
        out[f"z_mom_{h}w"] = (v, statuses(v, deg, warm))
    atr = atr_wilder(x.weekly_high, x.weekly_low, c, 26)
    long = ema_talib(c, 26)
    for s in (4, 12):
        v, deg = ratio(ema_talib(c, s) - long, atr, opts, scale=c)
        out[f"ema_spread_{s}w_26w"] = (v, statuses(v, deg, warm))
    return out
