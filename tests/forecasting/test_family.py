"""forecast family through the simulation Family protocol; allocation rules; no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.errors import ConfigError
from algotrader.forecasting import family as fam_mod  # noqa: F401  (registers "forecast")
from algotrader.forecasting.allocation import (
    allocate,
    kelly,
    long_only,
    mean_variance,
    moments,
    optimiser_weights,
)
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


@pytest.mark.slow
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


def _random_moments(seed: int, n: int = 6, a: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, a, 2 * a)) * rng.uniform(0.01, 0.05, size=(n, a, 1))
    return rng.normal(0.0, 0.01, size=(n, a)), np.einsum("tak,tbk->tab", g, g) / (2 * a)


def test_optimiser_rule_closed_forms() -> None:
    """Diagonal Sigma: ``mu / sigma^2`` whatever ``shrink``; ``shrink = 1``: the Kelly
    direction ``Sigma^-1 mu``; ``shrink = 0``: ``mu / sigma^2``; always gross-scaled."""
    mu, cov = _random_moments(3)
    diag = np.stack([np.diag(np.diagonal(c)) for c in cov])
    expect = mu / np.diagonal(diag, axis1=1, axis2=2)
    expect = expect / np.abs(expect).sum(axis=1, keepdims=True)
    for shrink in (0.0, 0.4, 1.0):
        np.testing.assert_allclose(optimiser_weights(mu, diag, shrink=shrink), expect, rtol=1e-12)
    np.testing.assert_allclose(optimiser_weights(mu, cov, shrink=0.0), expect, rtol=1e-12)
    kel = np.stack([np.linalg.solve(c, m) for m, c in zip(mu, cov, strict=True)])
    kel = kel / np.abs(kel).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(optimiser_weights(mu, cov, shrink=1.0), kel, rtol=1e-9)
    # in between: the shrunk correlation solved explicitly
    s = np.sqrt(np.diagonal(cov[0]))
    a_mat = 0.5 * cov[0] / np.outer(s, s) + 0.5 * np.eye(5)
    x = np.linalg.solve(a_mat, mu[0] / s) / s
    np.testing.assert_allclose(
        optimiser_weights(mu, cov, shrink=0.5)[0], x / np.abs(x).sum(), rtol=1e-10
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), c=st.floats(1e-3, 1e3), shrink=st.floats(0.0, 1.0))
def test_optimiser_rule_properties(seed: int, c: float, shrink: float) -> None:
    """Gross exposure exactly ``gross`` (caps permitting), invariant to scaling mu and to
    scaling the covariance, and an asset with zero predictive variance gets no weight."""
    mu, cov = _random_moments(seed)
    w = optimiser_weights(mu, cov, shrink=shrink, gross=1.5, max_weight=1.5)
    np.testing.assert_allclose(np.abs(w).sum(axis=1), 1.5, rtol=1e-10)
    np.testing.assert_allclose(
        optimiser_weights(c * mu, cov, shrink=shrink, gross=1.5, max_weight=1.5), w, atol=1e-9
    )
    np.testing.assert_allclose(
        optimiser_weights(mu, c * cov, shrink=shrink, gross=1.5, max_weight=1.5), w, atol=1e-9
    )
    capped = optimiser_weights(mu, cov, shrink=shrink, gross=1.0, max_weight=0.3)
    assert np.all(np.abs(capped) <= 0.3 + 1e-12)
    cov0 = cov.copy()
    cov0[:, 2, :] = 0.0
    cov0[:, :, 2] = 0.0
    w0 = optimiser_weights(mu, cov0, shrink=shrink)
    assert np.all(w0[:, 2] == 0.0) and np.all(np.isfinite(w0))


def test_optimiser_rule_zero_signal_and_bad_settings() -> None:
    mu, cov = _random_moments(1)
    assert np.all(optimiser_weights(np.zeros_like(mu), cov) == 0.0)
    rng = np.random.default_rng(0)
    x = rng.normal(0.01, 0.05, size=(300, 4, 3))
    m, cv = moments(x)
    np.testing.assert_allclose(
        allocate(x, "optimiser", shrink=0.3), optimiser_weights(m, cv, shrink=0.3)
    )
    with pytest.raises(ConfigError, match="shrink") as err:
        allocate(x, "optimiser", shrink=1.5)
    assert err.value.key == "allocation.shrink"
    with pytest.raises(ConfigError, match="unknown setting") as err:
        allocate(x, "optimiser", gamma=3.0)
    assert err.value.key == "allocation.gamma"
    with pytest.raises(ConfigError, match="unknown setting"):
        allocate(x, "kelly", shrink=0.5)
