"""forecast family through the simulation Family protocol; allocation rules; no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.errors import ConfigError
from algotrader.forecasting import family as fam_mod  # noqa: F401  (registers "forecast")
from algotrader.forecasting.allocation import allocate, kelly, long_only, mean_variance, moments
from algotrader.simulation.family import Family, FamilyContext, SimulationData, get_family

PARAMS = {
    "model": "bayes_linear",
    "guide": "AutoNormal",
    "num_steps": 30,
    "lr": 0.05,
    "window_len": 10,
    "num_samples": 32,
    "allocation": {"rule": "long_only"},
}


def _data(t: int = 48, a: int = 3, f: int = 2, seed: int = 0) -> SimulationData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(t, a, f))
    y = 0.01 * np.einsum("taf,af->ta", X, rng.normal(size=(a, f))) + 0.01 * rng.normal(size=(t, a))
    dates = np.arange(t).astype("datetime64[W]").astype("datetime64[us]")
    return SimulationData(
        dates=dates,
        assets=("A", "B", "C")[:a],
        y=y,
        y_mask=np.isfinite(y),
        X=X,
        x_mask=np.ones(X.shape, bool),
        features=tuple(f"f{i}" for i in range(f)),
    )


def test_family_contract_and_scores() -> None:
    fam = get_family("forecast")
    assert isinstance(fam, Family)
    data = _data()
    ctx = FamilyContext(phase="inner", seed=7, num_samples=32)
    train, test = np.arange(0, 36), np.arange(36, 48)
    state = fam.fit(data, train, PARAMS, ctx)
    dec = fam.decide(state, data, test, PARAMS, ctx)
    assert dec.weights.shape == (12, 3) and dec.samples is not None
    assert np.all(dec.weights >= 0) and np.all(dec.weights.sum(axis=1) <= 1 + 1e-12)
    for name, scorer in fam.scorers().items():
        v = scorer(data, test, dec, np.zeros(12), ctx)
        assert np.isfinite(v), name
        if name != "neg_mse":
            assert v < 0


def test_no_look_ahead_corrupting_after_test_block() -> None:
    """Targets after the test block (and the test block itself) never move the decision."""
    data = _data()
    ctx = FamilyContext(phase="outer", seed=3, num_samples=32)
    train, test = np.arange(0, 30), np.arange(30, 40)
    fam = get_family("forecast")
    dec = fam.decide(fam.fit(data, train, PARAMS, ctx), data, test, PARAMS, ctx)
    y2 = np.array(data.y)
    y2[30:] = 5.0
    bad = SimulationData(
        dates=data.dates,
        assets=data.assets,
        y=y2,
        y_mask=data.y_mask,
        X=data.X,
        x_mask=data.x_mask,
        features=data.features,
    )
    dec2 = fam.decide(fam.fit(bad, train, PARAMS, ctx), bad, test, PARAMS, ctx)
    np.testing.assert_array_equal(dec.weights, dec2.weights)
    np.testing.assert_array_equal(dec.samples, dec2.samples)


def test_bad_params() -> None:
    fam = get_family("forecast")
    with pytest.raises(ConfigError, match="unknown forecast params"):
        fam.fit(_data(), np.arange(10), {"bogus": 1}, FamilyContext())
    with pytest.raises(ConfigError, match="allocation rule"):
        allocate(np.zeros((3, 2, 2)), "nope")


def test_allocation_rules() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.01, 0.05, size=(400, 5, 4))
    mu, cov = moments(x)
    np.testing.assert_allclose(cov[0], np.cov(x[:, 0, :], rowvar=False))
    w = long_only(mu, np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), gross=1.0, max_weight=0.3)
    assert np.all(w <= 0.3 + 1e-12) and np.all(w >= 0)
    pos = (mu > 0).sum(axis=1)
    np.testing.assert_allclose(w.sum(axis=1), np.minimum(1.0, 0.3 * pos), atol=1e-12)
    k = kelly(mu, cov, fraction=1.0, gross=100.0, max_weight=100.0)
    np.testing.assert_allclose(k[0], np.linalg.solve(cov[0] + 1e-8 * np.eye(4), mu[0]), rtol=1e-8)
    capped = kelly(mu, cov, fraction=1.0, gross=1.0, max_weight=0.5)
    assert np.all(np.abs(capped).sum(axis=1) <= 1 + 1e-12)
    mv0 = mean_variance(mu, cov, gamma=5.0, gross=100, max_weight=100)
    np.testing.assert_allclose(mv0[0], np.linalg.solve(5 * cov[0] + 1e-8 * np.eye(4), mu[0]))
    mv1 = mean_variance(mu, cov, gamma=5.0, turnover_penalty=10.0, gross=100, max_weight=100)
    assert np.abs(np.diff(mv1, axis=0)).sum() < np.abs(np.diff(mv0, axis=0)).sum()
    np.testing.assert_allclose(allocate(x, "equal_weight"), 0.25)
