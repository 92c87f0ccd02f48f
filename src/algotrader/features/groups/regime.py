"""Regime (market-wide, broadcast to every asset): global volatility level and regime,
60-day correlation and first-principal-component share, cross-sectional dispersions.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> out = compute(FeatureContext(synthetic_inputs(30, 3)))
    >>> len(out), bool((out["glob_corr_mean_12w"][0][20] == out["glob_corr_mean_12w"][0][20, 0]).all())
    (7, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import REGIME_EPS, FeatureDef, statuses
from algotrader.features.context import FeatureContext
from algotrader.features.daily_kernels import valid_row_returns, window_gram
from algotrader.features.kernels import mad_across, rolling_median

GROUP = "regime"
INPUT = "daily valid rows"
REQUIRED_WEEKS = (1, 4, 12, 26)
WINDOW = 60
_R = "daily valid rows + weekly closes, all assets"

FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        "glob_vol_cc_d_4w",
        GROUP,
        "glob_vol_cc_d",
        "g_t = mean over assets of vol_cc_d_4w",
        "20 valid days",
        _R,
        "first v",
    ),
    FeatureDef(
        "glob_vol_regime_cc_4w_26w",
        GROUP,
        "glob_vol_regime_cc",
        "ln((g_t + 1e-6) / (med(g_(t-26..t-1)) + 1e-6))",
        "26 w prior",
        _R,
        "first g + 26 w",
    ),
    FeatureDef(
        "glob_corr_mean_12w",
        GROUP,
        "glob_corr_mean",
        "mean upper-triangle Pearson correlation of the last 60 daily return rows",
        "60 daily rows",
        _R,
        "60 rows",
    ),
    FeatureDef(
        "glob_pc1_share_12w",
        GROUP,
        "glob_pc1_share",
        "lambda_max(S) / tr(S), S = sample covariance of the last 60 daily return rows",
        "60 daily rows",
        _R,
        "60 rows",
    ),
    FeatureDef(
        "glob_disp_ret_1w", GROUP, "glob_disp_ret", "1.4826 MAD_a(r^w_(t,a))", "1 w", _R, "t >= 1"
    ),
    FeatureDef(
        "glob_disp_mom_12w",
        GROUP,
        "glob_disp_mom",
        "1.4826 MAD_a(p_t - p_(t-12))",
        "12 w",
        _R,
        "t >= 12",
    ),
    FeatureDef(
        "glob_disp_vol_4w",
        GROUP,
        "glob_disp_vol",
        "1.4826 MAD_a(vol_cc_d_4w)",
        "20 valid days",
        _R,
        "first v",
    ),
)

F64 = NDArray[np.float64]


def daily_return_frame(ctx: FeatureContext) -> tuple[F64, NDArray[np.int64]]:
    """Returns over each asset's own valid rows at their dates (D', A), with the rows where
    every asset is missing dropped, and each kept row's week index."""
    x = ctx.x
    r, keep = valid_row_returns(ctx.daily_valid > 0, np.ascontiguousarray(x.daily_close))
    return r[keep], x.day_week[keep]


def window_corr_pc1(ctx: FeatureContext) -> tuple[F64, F64, NDArray[np.bool_], NDArray[np.bool_]]:
    """(corr_mean, pc1_share, warm, degenerate) per week, each shape (T,).

    The windows' centred Gram matrices come from one compiled pass
    (:func:`~algotrader.features.daily_kernels.window_gram`); their largest eigenvalues
    from one batched ``eigvalsh``."""
    r, wk = daily_return_frame(ctx)
    n_t = ctx.x.n_weeks
    ends = (np.searchsorted(wk, np.arange(n_t), side="right") - 1).astype(np.int64)
    gram, trace, corr, kind = window_gram(np.ascontiguousarray(r), ends, WINDOW)
    warm = kind == 1
    deg = (kind == 2) & ~(trace > 0)
    pc1 = np.full(n_t, np.nan)
    ok = np.flatnonzero((kind == 2) & (trace > 0))
    if ok.size:
        pc1[ok] = np.linalg.eigvalsh(gram[ok])[:, -1] / trace[ok]
    return corr, pc1, warm, deg


def _first_warm(v: F64) -> NDArray[np.bool_]:
    fin = np.isfinite(v)
    first = int(np.argmax(fin)) if fin.any() else v.size
    return np.arange(v.size) < first


def compute(ctx: FeatureContext) -> dict[str, tuple[F64, NDArray[np.int8]]]:
    """Every regime feature as (values (T, A), status (T, A)), equal across assets."""
    x = ctx.x
    v = ctx.stat("sigma20")
    n_t, n_a = v.shape
    with np.errstate(all="ignore"):
        cnt = np.isfinite(v).sum(axis=1)
        g = np.where(cnt > 0, np.nansum(v, axis=1) / np.maximum(cnt, 1), np.nan)
    med = rolling_median(np.ascontiguousarray(g[:, None]), 26, True)[:, 0]
    regime = np.log((g + REGIME_EPS) / (med + REGIME_EPS))
    corr, pc1, warm_w, deg_w = window_corr_pc1(ctx)
    p = ctx.log_close
    mom = np.full(p.shape, np.nan)
    mom[12:] = p[12:] - p[:-12]
    none = np.zeros(n_t, dtype=bool)
    g_warm = _first_warm(g)
    series = {
        "glob_vol_cc_d_4w": (g, g_warm, none),
        "glob_vol_regime_cc_4w_26w": (
            regime,
            g_warm | (np.arange(n_t) < np.argmax(np.isfinite(g)) + 26),
            none,
        ),
        "glob_corr_mean_12w": (corr, warm_w, deg_w),
        "glob_pc1_share_12w": (pc1, warm_w, deg_w),
        "glob_disp_ret_1w": (mad_across(ctx.weekly_return), np.arange(n_t) < 1, none),
        "glob_disp_mom_12w": (mad_across(mom), np.arange(n_t) < 12, none),
        "glob_disp_vol_4w": (mad_across(np.ascontiguousarray(v)), g_warm, none),
    }
    out: dict[str, tuple[F64, NDArray[np.int8]]] = {}
    for name, (s, warm, deg) in series.items():
        vals = np.repeat(s[:, None], n_a, axis=1)
        out[name] = (
            vals,
            statuses(vals, np.repeat(deg[:, None], n_a, 1), np.repeat(warm[:, None], n_a, 1)),
        )
    del x
    return out
