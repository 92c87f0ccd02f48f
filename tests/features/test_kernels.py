"""The compiled kernels against direct (two-pass, per-window) computations, including the
running-sum kernels' exactness rules (equal windows, cancellation fallback, gaps), the
regime windows with assets left out, and thread-count independence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.features.common import feature_threads
from algotrader.features.context import FeatureContext
from algotrader.features.engine import compute_features
from algotrader.features.groups import regime
from algotrader.features.inputs import synthetic_inputs
from algotrader.features.kernels import (
    interleave,
    rolling_extreme,
    rolling_mean,
    rolling_median,
    rolling_std,
)


def _direct(x: np.ndarray, n: int, fn) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for t in range(n - 1, x.shape[0]):
        w = x[t - n + 1 : t + 1]
        for a in range(x.shape[1]):
            if np.isfinite(w[:, a]).all():
                out[t, a] = fn(w[:, a])
    return out


def _hard_series(seed: int, n_rows: int = 400) -> np.ndarray:
    """Columns: returns, a price level (large mean), constant runs, geometric growth with
    a level shift, spikes, NaN gaps."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 0.01, n_rows)
    level = 1e4 + np.cumsum(rng.normal(0, 0.1, n_rows))
    runs = np.repeat(rng.normal(size=n_rows // 20), 20)[:n_rows]
    geo = 100 * 1.01 ** np.arange(n_rows)
    geo[n_rows // 2 :] += 1e6
    spikes = rng.normal(size=n_rows)
    spikes[::37] *= 1e6
    gaps = rng.normal(size=n_rows)
    gaps[rng.random(n_rows) < 0.05] = np.nan
    return np.column_stack([r, level, runs, geo, spikes, gaps])


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.sampled_from([2, 4, 12, 20, 26, 60]),
    ddof=st.sampled_from([0, 1]),
)
def test_running_mean_std_match_direct_two_pass(seed, n, ddof):
    x = _hard_series(seed)
    std = rolling_std(x, n, ddof)
    ref = _direct(x, n, lambda w: 0.0 if (w == w[0]).all() else np.std(w, ddof=ddof))
    np.testing.assert_array_equal(np.isnan(std), np.isnan(ref))
    np.testing.assert_allclose(std, ref, rtol=1e-9, atol=0)
    mean = rolling_mean(x, n)
    ref_m = _direct(x, n, np.mean)
    np.testing.assert_array_equal(np.isnan(mean), np.isnan(ref_m))
    fin = np.isfinite(ref_m)
    scale = _direct(np.abs(x), n, np.mean)[fin]  # error bound relative to the window's mean |x|
    assert (np.abs(mean[fin] - ref_m[fin]) <= 1e-10 * scale).all()


def test_equal_windows_are_exact():
    x = np.column_stack([np.full(50, 0.1), np.r_[np.arange(10.0), np.full(40, 3.3)]])
    std = rolling_std(x, 20, 1)
    assert (std[19:, 0] == 0.0).all() and (std[29:, 1] == 0.0).all()
    assert (rolling_mean(x, 20)[19:, 0] == 0.1).all() and (rolling_mean(x, 20)[29:, 1] == 3.3).all()


@pytest.mark.parametrize("n", [1, 4, 26])
@pytest.mark.parametrize("prior", [False, True])
def test_extreme_and_median_equal_direct(n, prior):
    x = _hard_series(3)
    for take_max, fn in ((True, np.max), (False, np.min)):
        ref = _direct(x, n, fn)
        if prior:
            ref = np.vstack([np.full((1, x.shape[1]), np.nan), ref[:-1]])
        np.testing.assert_array_equal(rolling_extreme(x, n, prior, take_max), ref)
    ref = _direct(x, n, np.median)
    if prior:
        ref = np.vstack([np.full((1, x.shape[1]), np.nan), ref[:-1]])
    np.testing.assert_allclose(rolling_median(x, n, prior), ref, rtol=0, atol=0)


def test_interleave_masks_not_ok_values():
    v = [np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)]
    s = [np.zeros((3, 2), np.int8), np.array([[0, 1], [2, 0], [0, 3]], np.int8)]
    vals, stat = interleave(v, s)
    assert vals.shape == (3, 2, 2) and vals.flags.c_contiguous
    np.testing.assert_array_equal(stat[:, :, 1], s[1])
    np.testing.assert_array_equal(np.isnan(vals[:, :, 1]), s[1] != 0)
    np.testing.assert_array_equal(vals[:, :, 0], v[0])


def test_regime_windows_with_assets_left_out_match_numpy():
    x = synthetic_inputs(40, 6, seed=5)
    close = x.daily_close.copy()
    close[30:95, 2] = np.nan  # asset 2 missing for a while: left out of those windows
    close[:70, 4] = np.nan  # asset 4 starts late
    x = dataclasses.replace(x, daily_close=close)
    ctx = FeatureContext(x)
    corr, pc1, warm, deg = regime.window_corr_pc1(ctx)
    r, wk = regime.daily_return_frame(ctx)
    ends = np.searchsorted(wk, np.arange(x.n_weeks), side="right") - 1
    checked = 0
    for t in range(x.n_weeks):
        e = int(ends[t])
        if e < 59:
            assert warm[t]
            continue
        w = r[e - 59 : e + 1]
        w = w[:, np.isfinite(w).all(axis=0)]
        cov = np.cov(w, rowvar=False)
        assert pc1[t] == pytest.approx(np.linalg.eigvalsh(cov)[-1] / np.trace(cov), rel=1e-9)
        cc = np.corrcoef(w, rowvar=False)
        assert corr[t] == pytest.approx(cc[np.triu_indices_from(cc, 1)].mean(), rel=1e-9)
        checked += 1
    assert checked > 10 and not deg.any()


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    x = synthetic_inputs(80, 150, seed=2)  # several column blocks
    monkeypatch.setenv("ALGOTRADER_THREADS", "1")
    with feature_threads() as n:
        assert n == 1
    one = compute_features(x)
    monkeypatch.setenv("ALGOTRADER_THREADS", "2")
    two = compute_features(x)
    for g in one:
        np.testing.assert_array_equal(one[g].values.view(np.int64), two[g].values.view(np.int64))
        np.testing.assert_array_equal(one[g].status, two[g].status)
