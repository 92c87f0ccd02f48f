"""Differential tests on the bundled 20 stocks (1990-2022): TA-Lib and pandas references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from algotrader.features.config import FeatureConfig
from algotrader.features.engine import compute_features
from algotrader.features.kernels import atr_wilder, ema_talib

TOL = {"rtol": 1e-9, "atol": 1e-11}


@pytest.fixture(scope="module")
def feats(bundled_inputs):
    res = compute_features(bundled_inputs, FeatureConfig(degenerate_policy="eps"))
    return {n: r.values[:, :, j] for r in res.values() for j, n in enumerate(r.features)}


def close(x, a=None):
    v = x[:, a] if a is not None else x
    return v


def check(ours, ref, name):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    both = np.isfinite(ours) & np.isfinite(ref)
    assert both.sum() > 0.9 * np.isfinite(ref).sum(), name
    np.testing.assert_allclose(ours[both], ref[both], err_msg=name, **TOL)


def test_ema_and_atr_vs_talib(bundled_inputs):
    x = bundled_inputs
    for a in range(x.n_assets):
        c, h, lo = x.weekly_close[:, a], x.weekly_high[:, a], x.weekly_low[:, a]
        for n in (4, 12, 26):
            np.testing.assert_allclose(
                ema_talib(c[:, None], n)[:, 0], talib.EMA(c, n), equal_nan=True, **TOL
            )
        np.testing.assert_allclose(
            atr_wilder(h[:, None], lo[:, None], c[:, None], 26)[:, 0],
            talib.ATR(h, lo, c, 26),
            equal_nan=True,
            **TOL,
        )


def test_ema_spread_vs_talib(bundled_inputs, feats):
    x = bundled_inputs
    for a in range(0, x.n_assets, 4):
        c, h, lo = x.weekly_close[:, a], x.weekly_high[:, a], x.weekly_low[:, a]
        atr = talib.ATR(h, lo, c, 26)
        for s in (4, 12):
            check(
                feats[f"ema_spread_{s}w_26w"][:, a],
                (talib.EMA(c, s) - talib.EMA(c, 26)) / (atr + 1e-8),
                s,
            )


def test_weekly_features_vs_pandas(bundled_inputs, feats):
    x = bundled_inputs
    c = pd.DataFrame(x.weekly_close)
    h, lo = pd.DataFrame(x.weekly_high), pd.DataFrame(x.weekly_low)
    p = np.log(c)
    r = p.diff()
    sig = r.rolling(26).std()
    for k in (4, 12, 26):
        check(feats[f"z_mom_{k}w"], (p - p.shift(k)) / (sig * np.sqrt(k) + 1e-8), f"z_mom_{k}")
    for k in (12, 26):
        ew = p.ewm(halflife=k, adjust=False, min_periods=k)
        check(feats[f"z_price_ema_{k}w"], (p - ew.mean()) / (ew.std() + 1e-8), f"ema{k}")
    mu = p.rolling(26).median()
    dev = (p - mu).abs().rolling(26).median()
    check(feats["z_price_med_26w"], (p - mu) / (1.4826 * dev + 1e-8), "med")
    lo4, hi4 = lo.rolling(4).min(), h.rolling(4).max()
    check(feats["donch_pos_4w"], ((c - lo4) / (hi4 - lo4 + 1e-8)).where(hi4 > lo4), "donch")
    d = c.diff()
    g = d.clip(lower=0).ewm(alpha=0.25, adjust=False, min_periods=4).mean()
    ls = (-d).clip(lower=0).ewm(alpha=0.25, adjust=False, min_periods=4).mean()
    check(feats["rsi_centered_4w"], 100 - 100 / (1 + g / ls) - 50, "rsi")
    check(feats["rev_1w"], -r.shift(1), "rev")
    check(feats["shock_4w"], r.shift(1) / (r.rolling(4).std(ddof=0) + 1e-8), "shock")
    rr = h - lo
    check(
        feats["range_z_12w"],
        (rr - rr.rolling(12).mean()) / (rr.rolling(12).std(ddof=0) + 1e-8),
        "range_z",
    )
    for k in (4, 26):
        check(
            feats[f"brk_up_{k}w"],
            (c > h.shift(1).rolling(k).max())
            .astype(float)
            .where(h.shift(1).rolling(k).max().notna()),
            "up",
        )
        check(
            feats[f"brk_dn_{k}w"],
            (c < lo.shift(1).rolling(k).min())
            .astype(float)
            .where(lo.shift(1).rolling(k).min().notna()),
            "dn",
        )
    ranks = (-r.shift(1)).rank(axis=1, method="average")
    check(
        feats["cs_rank_rev_1w"], (ranks - 0.5).div((-r.shift(1)).notna().sum(axis=1), axis=0), "cs"
    )


def _weekly_last(x, daily: pd.DataFrame) -> np.ndarray:
    return daily.groupby(x.day_week).last().reindex(range(x.n_weeks)).to_numpy()


def test_volatility_vs_pandas_and_talib(bundled_inputs, feats):
    x = bundled_inputs
    assert np.isfinite(x.daily_close).all()  # bundled data: every day valid
    c = pd.DataFrame(x.daily_close)
    r = np.log(c).diff()
    s5, s20, _s60, s130 = (r.rolling(n).std() for n in (5, 20, 60, 130))
    check(feats["vol_cc_d_4w"], _weekly_last(x, s20), "vol20")
    check(feats["vol_cc_d_26w"], _weekly_last(x, s130), "vol130")
    eps = 1e-6

    def lr(a, b, e=eps):
        return np.log((np.maximum(a, e) + e) / (np.maximum(b, e) + e))

    check(feats["vol_ts_cc_1w_4w"], lr(_weekly_last(x, s5), _weekly_last(x, s20)), "ts1")
    check(feats["vol_ts_cc_4w_26w"], lr(_weekly_last(x, s20), _weekly_last(x, s130)), "ts26")
    # TA-Lib: STDDEV is population std; TRANGE/SMA give the ATR% numerator
    for a in range(0, x.n_assets, 5):
        ca = x.daily_close[:, a]
        ra = np.diff(np.log(ca), prepend=np.nan)
        std20 = talib.STDDEV(ra, 20) * np.sqrt(20 / 19)
        check(feats["vol_cc_d_4w"][:, a], _weekly_last(x, pd.DataFrame(std20))[:, 0], "talib std")
        tr = talib.TRANGE(x.daily_high[:, a], x.daily_low[:, a], ca)
        atrp = talib.SMA(tr, 20) / (ca + 1e-8)
        ours = feats["atrp_d_4w"][:, a]
        ref = _weekly_last(x, pd.DataFrame(atrp))[:, 0]
        check(ours[5:], ref[5:], "atrp")
    absr = r.abs().rolling(60).std(ddof=0)
    a_w = pd.DataFrame(_weekly_last(x, absr))
    check(feats["vov_norm_12w"], lr(a_w, a_w.shift(1).rolling(26).median(), 1e-8), "vov")
    v_w = pd.DataFrame(_weekly_last(x, s20))
    check(feats["vol_regime_cc_4w_26w"], lr(v_w, v_w.shift(1).rolling(26).median()), "vreg")


def test_window_statistics_vs_numpy(bundled_inputs, feats):
    x = bundled_inputs
    a = 7
    r = np.diff(np.log(x.daily_close[:, a]), prepend=np.nan)
    last = pd.Series(np.arange(r.size)).groupby(x.day_week).last().to_numpy()
    for t in range(20, x.n_weeks, 37):
        k = last[t]
        w60, w20 = r[k - 59 : k + 1], r[k - 19 : k + 1]
        s60 = w60.std(ddof=1)
        dev = w60 - w60.mean()
        s = np.sqrt((dev**2).sum() / 59 + 1e-12)
        assert feats["realized_skew_d_12w"][t, a] == pytest.approx(
            np.clip((dev**3).mean() / (s**3 + 1e-12), -5, 5), rel=1e-9, abs=1e-12
        )
        assert feats["jump_freq_4w"][t, a] == pytest.approx((np.abs(w20) > 2 * s60).mean())
        q = np.quantile(w60, 0.05)
        tail = np.log((max(-q, 1e-6) + 1e-6) / (1.645 * max(s60, 1e-6) + 1e-6))
        assert feats["tail_5p_sigma_ratio_12w"][t, a] == pytest.approx(tail, rel=1e-9)
        neg, pos = w20[w20 < 0], w20[w20 > 0]
        s20 = w20.std(ddof=1)
        dn = np.sqrt((neg**2).mean()) if neg.size >= 3 else s20
        up = np.sqrt((pos**2).mean()) if pos.size >= 3 else s20
        assert feats["down_up_vol_ratio_4w"][t, a] == pytest.approx(
            np.log((max(dn, 1e-6) + 1e-6) / (max(up, 1e-6) + 1e-6)), rel=1e-9, abs=1e-12
        )


def test_seasonal_vs_pandas(bundled_inputs, feats):
    x = bundled_inputs
    r = pd.DataFrame(np.log(x.daily_close)).diff()
    wd = (x.days.astype(np.int64) + 3) % 7
    for k, name in ((0, "dow_alpha_Mon_26w"), (4, "dow_alpha_Fri_26w")):
        rk = r[wd == k].groupby(x.day_week[wd == k]).mean().reindex(range(x.n_weeks))
        ref = rk.rolling(26, min_periods=1).mean()
        ref.iloc[:25] = np.nan
        check(feats[name], ref.to_numpy(), name)


def test_regime_vs_numpy(bundled_inputs, feats):
    x = bundled_inputs
    r = np.diff(np.log(x.daily_close), axis=0, prepend=np.nan)
    last = pd.Series(np.arange(r.shape[0])).groupby(x.day_week).last().to_numpy()
    for t in range(15, x.n_weeks, 97):
        w = r[last[t] - 59 : last[t] + 1]
        cc = np.corrcoef(w.T)
        iu = np.triu_indices(x.n_assets, 1)
        assert feats["glob_corr_mean_12w"][t, 0] == pytest.approx(cc[iu].mean(), rel=1e-9)
        cov = np.cov(w.T)
        assert feats["glob_pc1_share_12w"][t, 3] == pytest.approx(
            np.linalg.eigvalsh(cov)[-1] / np.trace(cov), rel=1e-9
        )
        rw = np.log(x.weekly_close[t]) - np.log(x.weekly_close[t - 1])
        assert feats["glob_disp_ret_1w"][t, 5] == pytest.approx(
            1.4826 * np.median(np.abs(rw - np.median(rw))), rel=1e-12
        )
    g = pd.DataFrame(feats["vol_cc_d_4w"]).mean(axis=1)
    check(feats["glob_vol_cc_d_4w"][:, 0], g.to_numpy(), "g")
    check(
        feats["glob_vol_regime_cc_4w_26w"][:, 0],
        np.log((g + 1e-6) / (g.shift(1).rolling(26).median() + 1e-6)).to_numpy(),
        "greg",
    )
