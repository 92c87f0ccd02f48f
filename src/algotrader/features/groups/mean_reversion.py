"""Mean reversion (weekly OHLC): price z-scores, Donchian position, RSI, reversal, shock,
range position and range z-score.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.context import FeatureContext
    >>> out = compute(FeatureContext(synthetic_inputs(60, 2)))
    >>> len(out), int(np.argmax(np.isfinite(out["z_price_med_26w"][0][:, 0])))
    (9, 50)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import FeatureDef, ratio, statuses, warm_rows
from algotrader.features.context import FeatureContext
from algotrader.features.kernels import (
    ewm_mean_std,
    rolling_extreme,
    rolling_mean,
    rolling_median,
    rolling_std,
    rsi_ewm,
)

GROUP = "mean_reversion"
INPUT = "weekly OHLC"
REQUIRED_WEEKS = (1, 4, 12, 26)
_W = "weekly OHLC"

FEATURES: tuple[FeatureDef, ...] = (
    *(
        FeatureDef(
            f"z_price_ema_{h}w",
            GROUP,
            "z_price_ema",
            f"(p_t - m_t) / s_t; m = EWMA(p, halflife {h} w, m_0 = p_0), s = bias-corrected EW std",
            f"halflife {h} w",
            _W,
            f"t >= {h - 1}",
        )
        for h in (12, 26)
    ),
    FeatureDef(
        "z_price_med_26w",
        GROUP,
        "z_price_med",
        "(p_t - med_26(p)) / (1.4826 * med_26(|p_s - med_26(p)_s|))",
        "26 w",
        _W,
        "t >= 50",
    ),
    FeatureDef(
        "donch_pos_4w",
        GROUP,
        "donch_pos",
        "(C_t - min_4(L)) / (max_4(H) - min_4(L)); NaN if the range is 0",
        "4 w incl. t",
        _W,
        "t >= 3",
    ),
    FeatureDef(
        "rsi_centered_4w",
        GROUP,
        "rsi_centered",
        "RSI - 50; gains/losses by EWMA alpha 1/4 from the first change",
        "alpha 1/4",
        _W,
        "t >= 4",
    ),
    FeatureDef("rev_1w", GROUP, "rev", "-(p_(t-1) - p_(t-2))", "1 w, lagged", _W, "t >= 2"),
    FeatureDef(
        "shock_4w",
        GROUP,
        "shock",
        "r^w_(t-1) / std0_4(r^w)_t (window r_(t-3..t))",
        "4 w",
        _W,
        "t >= 4",
    ),
    FeatureDef(
        "range_pos_1w",
        GROUP,
        "range_pos",
        "(C_t - (H_t + L_t)/2) / ((H_t - L_t)/2); NaN if H = L",
        "1 w",
        _W,
        "t >= 0",
    ),
    FeatureDef(
        "range_z_12w",
        GROUP,
        "range_z",
        "(R_t - mean_12(R)) / std0_12(R), R = H - L",
        "12 w",
        _W,
        "t >= 11",
    ),
)

Out = dict[str, tuple[NDArray[np.float64], NDArray[np.int8]]]


def z_price_ema(ctx: FeatureContext, h: int) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """(p - EWMA) / EW std with halflife ``h`` weeks."""
    p = ctx.log_close
    m, s = ewm_mean_std(p, 1.0 - 2.0 ** (-1.0 / h), h)
    v, deg = ratio(p - m, s, ctx.opts)
    return v, statuses(v, deg, warm_rows(p.shape[0], p.shape[1], h - 1))


def z_price_med(ctx: FeatureContext) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """(p - rolling median) / (1.4826 x rolling median of the own-median deviations)."""

    def make() -> tuple[NDArray[np.float64], NDArray[np.int8]]:
        p = ctx.log_close
        mu = rolling_median(p, 26, False)
        dev = rolling_median(np.abs(p - mu), 26, False)
        v, deg = ratio(p - mu, 1.4826 * dev, ctx.opts)
        return v, statuses(v, deg, warm_rows(p.shape[0], p.shape[1], 50))

    return ctx.cached("z_price_med_26w", make)


def rev(ctx: FeatureContext) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """-(p_{t-1} - p_{t-2})."""
    r = ctx.weekly_return
    v = np.full(r.shape, np.nan)
    v[1:] = -r[:-1]
    return v, statuses(v, np.zeros(r.shape, dtype=bool), warm_rows(r.shape[0], r.shape[1], 2))


def shock(ctx: FeatureContext) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """r_{t-1} / std0_4(r)_t."""
    r = ctx.weekly_return
    lag = np.full(r.shape, np.nan)
    lag[1:] = r[:-1]
    v, deg = ratio(lag, rolling_std(r, 4, 0), ctx.opts)
    return v, statuses(v, deg, warm_rows(r.shape[0], r.shape[1], 4))


def _rsi(ctx: FeatureContext) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    c = ctx.x.weekly_close
    rsi, deg = rsi_ewm(c, 0.25, 4)
    v = rsi - 50.0
    return v, statuses(v, deg, warm_rows(c.shape[0], c.shape[1], 4))


def compute(ctx: FeatureContext) -> Out:
    """Every mean-reversion feature as (values (T, A), status (T, A))."""
    x, opts = ctx.x, ctx.opts
    c, h, lo = x.weekly_close, x.weekly_high, x.weekly_low
    n_t, n_a = c.shape
    out: Out = {f"z_price_ema_{k}w": z_price_ema(ctx, k) for k in (12, 26)}
    out["z_price_med_26w"] = z_price_med(ctx)
    lo4 = rolling_extreme(lo, 4, False, False)
    rng = rolling_extreme(h, 4, False, True) - lo4
    v, deg = ratio(c - lo4, rng, opts, scale=c)
    flat = rng <= 0
    v = np.where(flat, np.nan, v)
    out["donch_pos_4w"] = (v, statuses(v, deg | flat, warm_rows(n_t, n_a, 3)))
    out["rsi_centered_4w"] = _rsi(ctx)
    out["rev_1w"] = rev(ctx)
    out["shock_4w"] = shock(ctx)
    half = (h - lo) / 2.0
    v, deg = ratio(c - (h + lo) / 2.0, half, opts, scale=c)
    v = np.where(half <= 0, np.nan, v)
    out["range_pos_1w"] = (v, statuses(v, deg | (half <= 0), warm_rows(n_t, n_a, 0)))
    rr = h - lo
    v, deg = ratio(rr - rolling_mean(rr, 12), rolling_std(rr, 12, 0), opts, scale=c)
    out["range_z_12w"] = (v, statuses(v, deg, warm_rows(n_t, n_a, 11)))
    return out
