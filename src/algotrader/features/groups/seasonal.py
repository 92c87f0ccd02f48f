"""Seasonal (daily, all rows, sampled weekly): 26-week day-of-week mean returns.

r_d = ln C_d - ln C_(d-1) over all daily rows (a missing close makes that day and the next
NaN; Monday's return spans the weekend). R_(t,k) = r of weekday k in week t; A_(t,k) = mean
of the available R_(s,k), s in [t-25, t], defined for t >= 25.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> out = compute(FeatureContext(synthetic_inputs(30, 2)))
    >>> list(out), bool(np.isnan(out["dow_spread_26w"][0][24]).all())
    (['dow_alpha_Mon_26w', 'dow_alpha_Fri_26w', 'dow_spread_26w'], True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features import daily_kernels
from algotrader.features.common import FeatureDef, statuses, warm_rows
from algotrader.features.context import FeatureContext

GROUP = "seasonal"
INPUT = "daily all rows"
REQUIRED_WEEKS = (26,)
_D = "daily all rows, by weekday"

FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        "dow_alpha_Mon_26w",
        GROUP,
        "dow_alpha",
        "A_(t,Mon): mean Monday r_d, weeks t-25..t",
        "26 w",
        _D,
        "t >= 25",
    ),
    FeatureDef(
        "dow_alpha_Fri_26w",
        GROUP,
        "dow_alpha",
        "A_(t,Fri): mean Friday r_d, weeks t-25..t",
        "26 w",
        _D,
        "t >= 25",
    ),
    FeatureDef(
        "dow_spread_26w",
        GROUP,
        "dow_spread",
        "max_k A_(t,k) - min_k A_(t,k) (>= 2 weekdays defined)",
        "26 w",
        _D,
        "t >= 25",
    ),
)


def weekday_means(ctx: FeatureContext) -> NDArray[np.float64]:
    """A_(t,k), shape (T, 5, A) (one compiled pass, see ``daily_kernels.weekday_means``)."""
    x = ctx.x
    wd = ((x.days.astype(np.int64) + 3) % 7).astype(np.int64)
    return daily_kernels.weekday_means(
        np.ascontiguousarray(x.daily_close), x.day_week, wd, x.n_weeks, 26
    )


def compute(ctx: FeatureContext) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]:
    """Every seasonal feature as (values (T, A), status (T, A))."""
    a = weekday_means(ctx)
    n_t, _, n_a = a.shape
    warm = warm_rows(n_t, n_a, 25)
    none = np.zeros((n_t, n_a), dtype=bool)
    ok = np.isfinite(a)
    with np.errstate(all="ignore"):
        hi = np.max(np.where(ok, a, -np.inf), axis=1)
        lo = np.min(np.where(ok, a, np.inf), axis=1)
    spread = np.where(ok.sum(axis=1) >= 2, hi - lo, np.nan)
    return {
        "dow_alpha_Mon_26w": (a[:, 0], statuses(a[:, 0], none, warm)),
        "dow_alpha_Fri_26w": (a[:, 4], statuses(a[:, 4], none, warm)),
        "dow_spread_26w": (spread, statuses(spread, none, warm)),
    }
