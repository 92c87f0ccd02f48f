"""SVI trainer: conjugate closed form, windows, one compile per shape, seeds, predictive."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from algotrader.errors import ConfigError, ShapeError
from algotrader.forecasting import svi as svi_mod
from algotrader.forecasting.models import get_model
from algotrader.forecasting.svi import SviConfig, cut_windows, derive_seed, fit_svi, predict


def _linear_data(t: int = 60, a: int = 2, f: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(t, a, f))
    w = rng.normal(size=(a, f))
    y = np.einsum("taf,af->ta", X, w) + rng.normal(size=(t, a))
    return X, y


def test_windows_never_straddle_gaps() -> None:
    idx = np.array([0, 1, 2, 3, 4, 10, 11, 12])
    wins = cut_windows(idx, 2)
    assert [w.tolist() for w in wins] == [[0, 1], [2, 3], [4], [10, 11], [12]]
    for w in wins:
        assert np.all(np.diff(w) == 1)
    assert [w.tolist() for w in cut_windows(idx, None)] == [[0, 1, 2, 3, 4], [10, 11, 12]]
    with pytest.raises(ShapeError, match="increasing"):
        cut_windows(np.array([3, 1]), 2)


def test_bayes_linear_matches_conjugate_posterior() -> None:
    """One feature per asset: mean-field is exact, so AutoNormal must hit the conjugate answer."""
    X, y = _linear_data(t=80, a=2, f=1)
    cfg = SviConfig(
        model="bayes_linear",
        guide="AutoNormal",
        num_steps=3000,
        lr=0.05,
        schedule="cosine",
        num_elbo_particles=8,
    )
    fit = fit_svi(X, y, np.arange(80), cfg, seed=1)
    for a in range(2):
        xa = X[:, a, :]
        prec = np.eye(1) + xa.T @ xa
        cov = np.linalg.inv(prec)
        mean = cov @ xa.T @ y[:, a]
        sd = np.sqrt(np.diag(cov))
        np.testing.assert_allclose(fit.params["w_auto_loc"][a], mean, atol=0.1 * sd[0])
        np.testing.assert_allclose(fit.params["w_auto_scale"][a], sd, rtol=0.15)


@pytest.mark.slow
def test_one_compile_per_shape_across_splits_and_candidates() -> None:
    X, y = _linear_data(t=50)
    cfg = SviConfig(
        model="bayes_linear",
        guide="AutoNormal",
        num_steps=3,
        window_len=8,
        pad_len=8,
        burn_in=1,
        grad_accum_steps=2,
        log_prob_scaling=True,
    )
    svi_mod.COMPILE_COUNTS.clear()
    for split in range(3):
        idx = np.setdiff1d(np.arange(50), np.arange(10 * split, 10 * split + 10))
        # candidates differing in num_steps and in the constant lr share it (lr is state)
        for cand, (steps, lr) in enumerate(((3, 0.01), (4, 0.05))):
            c = dataclasses.replace(cfg, num_steps=steps, lr=lr)
            fit_svi(X, y, idx, c, seed=derive_seed(0, 0, split, cand))
    assert svi_mod.COMPILE_COUNTS == {"bayes_linear/AutoNormal": 1}


@pytest.mark.slow
def test_feature_bucket_keeps_one_compile_when_splits_keep_different_features() -> None:
    X, y = _linear_data(t=30, f=7)
    cfg = SviConfig(model="bayes_linear", guide="AutoNormal", num_steps=3, feature_bucket=8)
    svi_mod.COMPILE_COUNTS.clear()
    svi_mod._STEP_CACHE.clear()
    svi_mod._PRED_CACHE.clear()
    for f in (5, 6, 7):  # per-split cleaning kept f features
        fit = fit_svi(X[:, :, :f], y, np.arange(30), cfg, seed=0)
        assert fit.params["w_auto_loc"].shape == (2, 8)
        samples, _ = predict(fit, X[20:, :, :f], num_samples=4, seed=0)
        assert samples.shape == (4, 10, 2)
    assert svi_mod.COMPILE_COUNTS == {
        "bayes_linear/AutoNormal": 1,
        "bayes_linear/AutoNormal/predict": 1,
    }


def test_constant_lr_as_state_equals_a_baked_in_rate() -> None:
    """The injected rate gives the same fit as Adam with that rate compiled in."""
    X, y = _linear_data(t=40)
    base = SviConfig(model="bayes_linear", guide="AutoNormal", num_steps=25, lr=0.01)
    svi_mod.fit_svi(X, y, np.arange(40), base, seed=1)  # compiles with lr=0.01
    injected = fit_svi(X, y, np.arange(40), dataclasses.replace(base, lr=0.2), seed=1)
    baked = fit_svi(  # an exponential schedule with rate 1 is a constant 0.2, compiled in
        X,
        y,
        np.arange(40),
        dataclasses.replace(base, lr=0.2, schedule="exponential", decay_rate=1.0),
        seed=1,
    )
    np.testing.assert_allclose(injected.params["w_auto_loc"], baked.params["w_auto_loc"], atol=1e-7)
    slow = svi_mod.fit_svi(X, y, np.arange(40), base, seed=1)
    assert np.abs(slow.params["w_auto_loc"] - injected.params["w_auto_loc"]).max() > 1e-3


@pytest.mark.slow
def test_seeded_fit_is_deterministic_and_masks_nan() -> None:
    X, y = _linear_data(t=30)
    y[3, 1] = np.nan
    cfg = SviConfig(
        model="factor_model_v1",
        guide="factor_guide_v1",
        num_steps=20,
        target_normalization=True,
        window_len=10,
        pad_len=10,
        grad_accum_steps=2,
    )
    a = fit_svi(X, y, np.arange(30), cfg, seed=5)
    b = fit_svi(X, y, np.arange(30), cfg, seed=5)
    assert np.isfinite(a.losses).all() and a.losses.shape == (20,)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    samples, mean = predict(a, X[25:], num_samples=16, seed=2)
    assert samples.shape == (16, 5, 2) and np.isfinite(samples).all()
    np.testing.assert_allclose(mean, samples.mean(axis=0))
    s2, _ = predict(a, X[25:], num_samples=16, seed=2)
    np.testing.assert_array_equal(samples, s2)


def test_corrupting_rows_outside_train_leaves_fit_unchanged() -> None:
    X, y = _linear_data(t=40)
    idx = np.r_[0:15, 25:40]
    cfg = SviConfig(
        model="bayes_linear", guide="AutoNormal", num_steps=10, window_len=10, pad_len=10
    )
    a = fit_svi(X, y, idx, cfg, seed=3)
    y2, X2 = y.copy(), X.copy()
    y2[15:25] = 1e6
    X2[15:25] = -1e6
    b = fit_svi(X2, y2, idx, cfg, seed=3)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_plateau_stop_uses_training_tail() -> None:
    X, y = _linear_data(t=40)
    cfg = SviConfig(
        model="bayes_linear",
        guide="AutoDelta",
        num_steps=400,
        lr=0.1,
        plateau_holdout=8,
        plateau_every=10,
        plateau_patience=2,
    )
    fit = fit_svi(X, y, np.arange(40), cfg, seed=0)
    assert fit.stopped_at < 400 and fit.losses.size == fit.stopped_at


def test_unknown_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        get_model("nope")
    X, y = _linear_data(t=10)
    with pytest.raises(ConfigError, match="unknown guide"):
        fit_svi(X, y, np.arange(10), SviConfig(model="bayes_linear", guide="Nope", num_steps=1), 0)
