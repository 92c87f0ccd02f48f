"""Closed-form cases of spec §12 for every feature family."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.features.config import FeatureConfig
from algotrader.features.engine import compute_features
from algotrader.features.kernels import cs_rank
from algotrader.features.registry import GROUP_ORDER

from .conftest import daily_inputs, weekly_inputs

EPS_CFG = FeatureConfig(degenerate_policy="eps")


def features(inputs, config=None):
    res = compute_features(inputs, config or FeatureConfig())
    out = {}
    for r in res.values():
        for j, n in enumerate(r.features):
            out[n] = (r.values[:, :, j], r.status[:, :, j])
    return out


@pytest.fixture(scope="module")
def constant():
    return daily_inputs(np.full((5 * 80, 2), 100.0))


def test_constant_series_eps_policy_matches_source(constant):
    f = features(constant, EPS_CFG)
    for name in ("z_mom_4w", "z_mom_26w", "ema_spread_4w_26w", "z_price_ema_12w", "range_z_12w"):
        v = f[name][0]
        assert np.all(v[30:] == 0.0), name
    for name in ("brk_up_4w", "brk_dn_4w", "brk_up_26w", "brk_dn_26w"):
        assert np.all(f[name][0][26:] == 0.0)
    for name in ("donch_pos_4w", "range_pos_1w", "rsi_centered_4w"):
        assert np.isnan(f[name][0]).all() and (f[name][1][5:] == 2).all(), name
    for name in (
        "vol_cc_d_4w",
        "vol_cc_d_26w",
        "atrp_d_4w",
        "realized_skew_d_12w",
        "jump_freq_4w",
        "vol_ts_cc_1w_4w",
        "vol_ts_cc_4w_26w",
        "down_up_vol_ratio_4w",
        "vov_norm_12w",
        "vol_regime_cc_4w_26w",
    ):
        assert np.all(f[name][0][60:] == 0.0), name
    np.testing.assert_allclose(f["tail_5p_sigma_ratio_12w"][0][13:], np.log(2 / 2.645), atol=1e-12)
    assert abs(np.log(2 / 2.645) - (-0.27953)) < 1e-5  # spec rounds -0.279524


def test_constant_series_nan_policy_marks_degenerate(constant):
    f = features(constant)
    for name in (
        "z_mom_4w",
        "z_mom_12w",
        "ema_spread_12w_26w",
        "z_price_ema_26w",
        "z_price_med_26w",
        "shock_4w",
        "range_z_12w",
        "jump_freq_4w",
    ):
        v, s = f[name]
        assert np.isnan(v[60:]).all() and (s[60:] == 2).all(), name
    assert (f["brk_up_4w"][0][4:] == 0).all()  # not a ratio: defined


def test_warmup_indices():
    x = daily_inputs(
        100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (5 * 80, 2)), 0))
    )
    f = features(x)
    first = {
        "z_mom_4w": 26,
        "ema_spread_4w_26w": 26,
        "z_price_ema_12w": 11,
        "z_price_ema_26w": 25,
        "z_price_med_26w": 50,
        "rsi_centered_4w": 4,
        "shock_4w": 4,
        "rev_1w": 2,
        "donch_pos_4w": 3,
        "range_z_12w": 11,
        "brk_up_4w": 4,
        "brk_dn_26w": 26,
        "dow_alpha_Mon_26w": 25,
        "dow_spread_26w": 25,
        "cs_rank_z_price_med_26w": 50,
        "vol_cc_d_4w": 4,
        "vol_cc_d_26w": 26,
        "atrp_d_4w": 3,
        "jump_freq_4w": 12,
        "vov_norm_12w": 12 + 26,
        "vol_regime_cc_4w_26w": 4 + 26,
    }
    for name, t0 in first.items():
        v, s = f[name]
        assert np.isnan(v[t0 - 1]).all() and (s[:t0] == 1).all(), name
        assert np.isfinite(v[t0]).all(), name


def test_geometric_growth():
    b, n = 0.01, 500
    c = 100 * np.exp(b * np.arange(n))
    f = features(weekly_inputs(np.stack([c, 2 * c], 1)))
    np.testing.assert_allclose(f["rev_1w"][0][2:], -b, rtol=1e-9)
    assert (f["brk_up_4w"][0][4:] == 1).all() and (f["brk_dn_26w"][0][26:] == 0).all()
    np.testing.assert_allclose(f["donch_pos_4w"][0][3:], 1.0, rtol=1e-12)
    a = 1 - 2 ** (-1 / 12)
    np.testing.assert_allclose(
        f["z_price_ema_12w"][0][400:], (1 - a) * np.sqrt(2 / (2 - a)), atol=1e-6
    )
    assert (
        round((1 - (1 - 2 ** (-1 / 12))) * np.sqrt(2 / (2 - (1 - 2 ** (-1 / 12)))), 6) == 0.957404
    )
    assert (f["z_mom_4w"][1][26:] == 2).all()  # sigma of a constant return: degenerate
    src = features(weekly_inputs(c), EPS_CFG)
    for h in (4, 12, 26):
        np.testing.assert_allclose(src[f"z_mom_{h}w"][0][30:], h * b / 1e-8, rtol=1e-6)


def test_known_breakout():
    c = np.full(40, 100.0)
    h, lo = c + 1, c - 1
    c[30], h[30] = 105.0, 106.0
    c[35], lo[35] = 90.0, 89.0
    f = features(weekly_inputs(c, h, lo))
    up4, up26, dn4 = f["brk_up_4w"][0][:, 0], f["brk_up_26w"][0][:, 0], f["brk_dn_4w"][0][:, 0]
    assert up4[30] == 1 and up26[30] == 1 and np.nansum(up4) == 1 and np.nansum(up26) == 1
    assert dn4[35] == 1 and np.nansum(dn4) == 1
    assert np.isnan(up4[:4]).all() and np.isnan(up26[:26]).all()


def test_alternating_daily_returns():
    r = 0.01 * np.where(np.arange(5 * 40) % 2 == 0, 1.0, -1.0)
    f = features(daily_inputs(100 * np.exp(np.cumsum(r))[:, None]))
    t = slice(14, None)
    np.testing.assert_allclose(f["down_up_vol_ratio_4w"][0][t], 0.0, atol=1e-9)
    np.testing.assert_allclose(f["realized_skew_d_12w"][0][t], 0.0, atol=1e-9)
    want = np.log((0.01 + 1e-6) / (1.645 * 0.01 * np.sqrt(60 / 59) + 1e-6))
    np.testing.assert_allclose(f["tail_5p_sigma_ratio_12w"][0][t], want, atol=1e-9)
    assert abs(want - (-np.log(1.645) - 0.5 * np.log(60 / 59))) < 2e-4
    assert (f["jump_freq_4w"][0][t] == 0).all()


def test_spike_skew_clipped():
    r = np.zeros(5 * 20)
    r[90] = 0.05
    f = features(daily_inputs(100 * np.exp(np.cumsum(r))[:, None]))
    assert f["realized_skew_d_12w"][0][18, 0] == 5.0
    assert f["jump_freq_4w"][0][18, 0] == pytest.approx(1 / 20)


def test_weekday_pattern():
    m = 0.003
    days = np.arange(5 * 40)
    r = np.where(days % 5 == 0, m, 0.0)
    f = features(daily_inputs(100 * np.exp(np.cumsum(r))[:, None]))
    np.testing.assert_allclose(f["dow_alpha_Mon_26w"][0][25:], m, rtol=1e-9)
    np.testing.assert_allclose(f["dow_alpha_Fri_26w"][0][25:], 0.0, atol=1e-15)
    np.testing.assert_allclose(f["dow_spread_26w"][0][25:], m, rtol=1e-9)


def test_identical_assets_regime():
    c = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 5 * 40)))
    f = features(daily_inputs(np.stack([c, c, c], 1)))
    np.testing.assert_allclose(f["glob_corr_mean_12w"][0][13:], 1.0, atol=1e-12)
    np.testing.assert_allclose(f["glob_pc1_share_12w"][0][13:], 1.0, atol=1e-12)
    for name in ("glob_disp_ret_1w", "glob_disp_mom_12w", "glob_disp_vol_4w"):
        assert (f[name][0][13:] == 0).all(), name
    v = f["glob_vol_cc_d_4w"][0]
    np.testing.assert_array_equal(v, np.repeat(v[:, :1], 3, axis=1))  # broadcast


def test_cs_rank_cases():
    x = np.array([[3.0, 1.0, 4.0, 2.0], [1.0, 1.0, 2.0, 3.0], [np.nan, 5.0, np.nan, np.nan]])
    out = cs_rank(x)
    assert out[0].tolist() == [0.625, 0.125, 0.875, 0.375]
    assert out[1].tolist() == [(1.5 - 0.5) / 4, (1.5 - 0.5) / 4, 0.625, 0.875]
    assert out[2, 1] == 0.5 and np.isnan(out[2, [0, 2, 3]]).all()


def test_all_45_features_have_registry_order():
    f = features(daily_inputs(np.full((5 * 30, 2), 50.0)))
    assert len(f) == 45 and len(GROUP_ORDER) == 7
