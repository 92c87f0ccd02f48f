"""Volatility (daily valid rows, sampled weekly at each week's last valid day).

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> out = compute(FeatureContext(synthetic_inputs(40, 2)))
    >>> len(out), int(np.argmax(np.isfinite(out["vol_cc_d_4w"][0][:, 0])))
    (11, 4)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import REGIME_EPS, FeatureDef, lr, statuses
from algotrader.features.context import FeatureContext
from algotrader.features.kernels import rolling_median

GROUP = "volatility"
INPUT = "daily valid rows"
REQUIRED_WEEKS = (1, 4, 12, 26)
_D = "daily valid rows, sampled weekly"

FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef("vol_cc_d_4w", GROUP, "vol_cc_d", "W[std1_20(r_d)]", "20 valid days", _D, "row 20"),
    FeatureDef(
        "vol_cc_d_26w", GROUP, "vol_cc_d", "W[std1_130(r_d)]", "130 valid days", _D, "row 130"
    ),
    FeatureDef(
        "atrp_d_4w", GROUP, "atrp_d", "W[mean_20(TR_d) / C_d]", "20 valid days", _D, "row 19"
    ),
    FeatureDef(
        "vov_norm_12w",
        GROUP,
        "vov_norm",
        "LR_1e-8(a_t, med(a_(t-26..t-1))), a = W[std0_60(|r_d|)]",
        "60 days, 26 w prior",
        _D,
        "row 60 + 26 w",
    ),
    FeatureDef(
        "vol_regime_cc_4w_26w",
        GROUP,
        "vol_regime_cc",
        "LR_1e-6(v_t, med(v_(t-26..t-1))), v = vol_cc_d_4w",
        "20 days, 26 w prior",
        _D,
        "row 20 + 26 w",
    ),
    FeatureDef(
        "vol_ts_cc_1w_4w",
        GROUP,
        "vol_ts_cc_1w_4w",
        "LR_1e-6(W[std1_5], W[std1_20])",
        "5 / 20 valid days",
        _D,
        "row 20",
    ),
    FeatureDef(
        "vol_ts_cc_4w_26w",
        GROUP,
        "vol_ts_cc_4w_26w",
        "LR_1e-6(W[std1_20], W[std1_130])",
        "20 / 130 valid days",
        _D,
        "row 130",
    ),
    FeatureDef(
        "down_up_vol_ratio_4w",
        GROUP,
        "down_up_vol_ratio_4w",
        "LR_1e-6(D, U), D/U = sqrt(mean r^2 over r<0 / r>0) of the last 20 r if >= 3 else std1_20",
        "20 valid days",
        _D,
        "row 20",
    ),
    FeatureDef(
        "jump_freq_4w",
        GROUP,
        "jump_freq_4w",
        "W[#(last 20 r: |r| > 2 std1_60) / 20]",
        "20 / 60 valid days",
        _D,
        "row 60",
    ),
    FeatureDef(
        "realized_skew_d_12w",
        GROUP,
        "realized_skew_d_12w",
        "W[clip(mean((r - mean r)^3) / (s^3 + 1e-12), -5, 5)], s = sqrt(ss/59 + 1e-12)",
        "60 valid days",
        _D,
        "row 60",
    ),
    FeatureDef(
        "tail_5p_sigma_ratio_12w",
        GROUP,
        "tail_5p_sigma_ratio_12w",
        "W[LR_1e-6(max(-q_0.05, 1e-6), 1.645 max(std1_60, 1e-6))], q linear 5% quantile",
        "60 valid days",
        _D,
        "row 60",
    ),
)

Pair = tuple[NDArray[np.float64], NDArray[np.int8]]


def warm_after(series: NDArray[np.float64], extra: int) -> NDArray[np.bool_]:
    """(T, A): rows before (first finite row of ``series`` + ``extra``), per column."""
    n_t = series.shape[0]
    fin = np.isfinite(series)
    first = np.where(fin.any(axis=0), np.argmax(fin, axis=0), n_t)
    return np.arange(n_t)[:, None] < (first + extra)[None, :]


def prior_median_lr(v: NDArray[np.float64], eps: float) -> NDArray[np.float64]:
    """LR_eps(v_t, median(v_(t-26..t-1)))."""
    return lr(v, rolling_median(np.ascontiguousarray(v), 26, True), eps)


def compute(ctx: FeatureContext) -> dict[str, Pair]:
    """Every volatility feature as (values (T, A), status (T, A))."""
    st, opts = ctx.stat, ctx.opts
    none = np.zeros(ctx.daily_ends.shape, dtype=bool)
    s5, s20, s60, s130 = st("sigma5"), st("sigma20"), st("sigma60"), st("sigma130")
    out: dict[str, Pair] = {}

    def put(
        name: str, v: NDArray[np.float64], warm: NDArray[np.bool_], deg: NDArray[np.bool_] = none
    ) -> None:
        out[name] = (v, statuses(v, deg, warm))

    put("vol_cc_d_4w", s20, ctx.daily_warm(20))
    put("vol_cc_d_26w", s130, ctx.daily_warm(130))
    put("atrp_d_4w", st("atrp20"), ctx.daily_warm(19))
    a = st("absr_std60")
    put("vov_norm_12w", prior_median_lr(a, 1e-8), ctx.daily_warm(60) | warm_after(a, 26))
    put(
        "vol_regime_cc_4w_26w",
        prior_median_lr(s20, REGIME_EPS),
        ctx.daily_warm(20) | warm_after(s20, 26),
    )
    put("vol_ts_cc_1w_4w", lr(s5, s20, REGIME_EPS), ctx.daily_warm(20))
    put("vol_ts_cc_4w_26w", lr(s20, s130, REGIME_EPS), ctx.daily_warm(130))
    put("down_up_vol_ratio_4w", lr(st("down20"), st("up20"), REGIME_EPS), ctx.daily_warm(20))
    jumps = st("jump_count20") / 20.0
    deg = none
    if opts.policy == "nan":
        deg = np.isfinite(s60) & (s60 <= opts.floor)
        jumps = np.where(deg, np.nan, jumps)
    put("jump_freq_4w", jumps, ctx.daily_warm(60), deg)
    put("realized_skew_d_12w", st("skew60"), ctx.daily_warm(60))
    q = st("q05_60")
    with np.errstate(invalid="ignore"):
        tail = lr(np.maximum(-q, 1e-6), 1.645 * np.maximum(s60, 1e-6), REGIME_EPS)
    put("tail_5p_sigma_ratio_12w", tail, ctx.daily_warm(60))
    return out
