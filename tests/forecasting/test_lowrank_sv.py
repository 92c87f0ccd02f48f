"""``lowrank_sv`` (spec section 6.3 factor l10): exact masked likelihood, prior predictive
moments, recovery of a planted low-rank covariance, one compile per shape, no look-ahead."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer import Predictive
from numpyro.infer.util import log_density
from scipy.stats import multivariate_t

from algotrader.errors import ConfigError
from algotrader.forecasting.models import LowRankScaleMixture, ar1_path, lowrank_sv
from algotrader.forecasting.svi import COMPILE_COUNTS, SviConfig, fit_svi, predict

# every SVI test below shares this shape and config key: one compile for the module
T, A, F, K = 160, 5, 2, 2
CFG = SviConfig(
    model="lowrank_sv",
    guide="AutoNormal",
    num_steps=1200,
    lr=0.03,
    pad_len=T,
    model_kwargs=(("n_factors", K),),
)


def _planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features with no signal and targets from a 1-factor t scale mixture (nu = 10)."""
    rng = np.random.default_rng(seed)
    b = np.array([[1.2], [1.0], [-0.9], [0.8], [0.1]])
    d = np.array([0.3, 0.4, 0.3, 0.5, 0.6])
    x = rng.normal(size=(T, A, F))
    v = rng.gamma(5.0, 1.0 / 5.0, size=T)
    y = (rng.normal(size=(T, 1)) @ b.T + rng.normal(size=(T, A)) * np.sqrt(d)) / np.sqrt(v)[:, None]
    return x, y, b, d


def test_ar1_path_is_the_stationary_recurrence() -> None:
    rng = np.random.default_rng(1)
    eps = rng.normal(size=50)
    phi = 0.9
    g = np.empty(50)
    g[0] = eps[0] / np.sqrt(1 - phi**2)
    for t in range(1, 50):
        g[t] = phi * g[t - 1] + eps[t]
    np.testing.assert_allclose(np.asarray(ar1_path(jnp.asarray(eps), phi)), g, rtol=1e-13)
    # stationary: every row has variance 1 / (1 - phi^2)
    many = jax.vmap(lambda e: ar1_path(e, phi))(jnp.asarray(rng.normal(size=(20000, 30))))
    np.testing.assert_allclose(np.var(np.asarray(many), axis=0), 1 / (1 - phi**2), rtol=0.06)


def test_log_prob_is_the_observed_marginal_student_t() -> None:
    """Masked entries are integrated out exactly; a fully masked row adds exactly 0."""
    rng = np.random.default_rng(2)
    t, a, k, nu = 6, 4, 2, 7.0
    loc = rng.normal(size=(t, a))
    b = rng.normal(size=(a, k))
    d = rng.uniform(0.2, 1.0, size=a)
    r = rng.uniform(0.5, 2.0, size=t)
    y = rng.normal(size=(t, a)) * 2
    mask = rng.uniform(size=(t, a)) > 0.3
    mask[0] = True
    mask[1] = False
    mask[2] = [True, False, False, False]
    fn = LowRankScaleMixture(*(jnp.asarray(v) for v in (loc, b, d, r)), nu, jnp.asarray(mask))
    lp = np.asarray(fn.log_prob(jnp.asarray(y)))
    full = b @ b.T + np.diag(d)
    for i in range(t):
        o = mask[i]
        if not o.any():
            assert lp[i] == 0.0
            continue
        ref = multivariate_t(loc=loc[i, o], shape=r[i] * full[np.ix_(o, o)], df=nu).logpdf(y[i, o])
        np.testing.assert_allclose(lp[i], ref, rtol=1e-12, atol=1e-12)
    # the masked values themselves are never read
    y2 = np.where(mask, y, 1e6)
    np.testing.assert_array_equal(np.asarray(fn.log_prob(jnp.asarray(y2))), lp)


def _fixed_latents(x: np.ndarray, seed: int = 3) -> dict[str, jnp.ndarray]:
    tr = handlers.trace(handlers.seed(lowrank_sv, seed)).get_trace(
        jnp.asarray(x), jnp.zeros(x.shape[:2]), None, None, n_factors=K
    )
    return {k: v["value"] for k, v in tr.items() if v["type"] == "sample" and k != "obs"}


@pytest.mark.slow
def test_masked_entries_do_not_affect_the_loss() -> None:
    x, y, _, _ = _planted()
    x, y = x[:20], y[:20]
    lat = _fixed_latents(x)
    mask = np.ones(y.shape, bool)
    mask[3, 1] = mask[7, :] = mask[11, 4] = False

    def lp(yv: np.ndarray, m: np.ndarray) -> float:
        args = (jnp.asarray(x), jnp.asarray(yv), jnp.asarray(m), None)
        return float(log_density(lowrank_sv, args, {"n_factors": K}, lat)[0])

    base = lp(y, mask)
    corrupt = np.where(mask, y, -123.0)
    assert lp(corrupt, mask) == base
    # failing-capable: the same corruption with the entries observed changes the density
    assert lp(corrupt, np.ones(y.shape, bool)) < base - 100


def test_prior_predictive_shapes_and_moments() -> None:
    x = np.random.default_rng(4).normal(size=(3, 3, 2))
    out = Predictive(lowrank_sv, num_samples=7)(jax.random.PRNGKey(0), jnp.asarray(x))
    assert out["obs"].shape == (7, 3, 3)
    assert out["B_raw"].shape == (7, 3, 3) and out["h_eps_new"].shape == (7, 3)
    assert np.isfinite(np.asarray(out["obs"])).all()
    # given the parameters and h = 0: mean alpha + X w, covariance
    # nu / (nu - 2) * exp(Var h / 2) * (B B' + diag sigma^2)
    b_raw = np.array([[1.0, 0.0, 0.0], [0.5, 1.0, 0.0], [-0.5, 0.2, 0.0]])
    col = np.array([1.0, 0.5, 0.1])
    sig = np.array([0.5, 0.7, 0.4])
    s_h, phi, nu = 0.3, 0.97, 10.0
    fixed = {
        "alpha": jnp.array([0.1, -0.2, 0.0]),
        "w": jnp.array([[0.2, 0.0], [0.0, -0.3], [0.1, 0.1]]),
        "sigma": jnp.asarray(sig),
        "col_scale": jnp.asarray(col),
        "B_raw": jnp.asarray(b_raw),
        "s_h": jnp.asarray(s_h),
        "h_eps_new": jnp.zeros(3),
    }
    cond = handlers.condition(lowrank_sv, fixed)
    obs = np.asarray(
        Predictive(cond, num_samples=40000)(jax.random.PRNGKey(1), jnp.asarray(x))["obs"]
    )
    mean = np.asarray(fixed["alpha"])[None] + np.einsum("taf,af->ta", x, np.asarray(fixed["w"]))
    bb = b_raw * col[None, :]
    cov = nu / (nu - 2) * np.exp(0.5 * s_h**2 / (1 - phi**2)) * (bb @ bb.T + np.diag(sig**2))
    for t in range(3):
        np.testing.assert_allclose(obs[:, t].mean(axis=0), mean[t], atol=0.03)
        np.testing.assert_allclose(np.cov(obs[:, t].T), cov, atol=0.06 * np.abs(cov).max())


def test_hand_written_guide_refused() -> None:
    x, y, _, _ = _planted()
    bad = SviConfig(model="lowrank_sv", guide="factor_guide_v1", num_steps=1)
    with pytest.raises(ConfigError) as exc:
        fit_svi(x, y, np.arange(T), bad, seed=0)
    assert exc.value.key == "model.params.guide"


def _corr(c: np.ndarray) -> np.ndarray:
    s = np.sqrt(np.diag(c))
    return c / np.outer(s, s)


@pytest.mark.slow
def test_recovers_planted_low_rank_covariance_one_compile_no_look_ahead() -> None:
    x, y, b, d = _planted()
    name = "lowrank_sv/AutoNormal"
    fit = fit_svi(x, y, np.arange(T), CFG, seed=11)
    compiles = COMPILE_COUNTS[name]
    assert fit.losses[-50:].mean() < fit.losses[:50].mean()
    samples, _ = predict(fit, x[:40], 500, seed=12)
    assert samples.shape == (500, 40, A)
    emp = np.cov(samples.reshape(-1, A).T)
    true = 10.0 / 8.0 * (b @ b.T + np.diag(d))
    err = np.abs(_corr(emp) - _corr(true)).max()
    # a model ignoring the factor (diagonal covariance) would be off by the planted
    # correlations (up to 0.67); the fit recovers them to within 0.12
    assert np.abs(np.eye(A) - _corr(true)).max() > 0.6
    assert err < 0.12, (err, np.round(_corr(emp), 2))
    ratio = np.diag(emp) / np.diag(true)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio

    # a CPCV-like train set with a gap (two windows), another seed and rate: no recompile;
    # targets and features after the last training row never move the fit or the forecast
    train = np.r_[0:60, 80:120]
    cfg2 = SviConfig(**{**CFG.__dict__, "num_steps": 40, "lr": 0.01})
    a = fit_svi(x, y, train, cfg2, seed=5)
    y_bad, x_bad = y.copy(), x.copy()
    y_bad[120:] = 9.0
    y_bad[60:80] = np.nan
    x_bad[120:] = -7.0
    x_bad[60:80] = 3.0
    b2 = fit_svi(x_bad, y_bad, train, cfg2, seed=5)
    assert COMPILE_COUNTS[name] == compiles
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b2.params[k])
    pa, _ = predict(a, x[120:140], 64, seed=1)
    pb, _ = predict(b2, x[120:140], 64, seed=1)
    np.testing.assert_array_equal(pa, pb)
    assert COMPILE_COUNTS[name + "/predict"] <= 2  # sample counts 500 and 64


@pytest.mark.slow
def test_through_the_forecast_family_with_the_low_rank_autoguide() -> None:
    """``family: forecast`` with ``model: lowrank_sv`` and a guide by name."""
    from algotrader.forecasting import family as _fam  # noqa: F401  (registers "forecast")
    from algotrader.simulation.family import FamilyContext, SimulationData, get_family

    x, y, _, _ = _planted(5)
    t = 48
    x, y = x[:t, :3], y[:t, :3]
    y[5, 1] = np.nan
    data = SimulationData(
        dates=np.arange(t).astype("datetime64[W]").astype("datetime64[us]"),
        assets=("A", "B", "C"),
        y=np.nan_to_num(y),
        y_mask=np.isfinite(y),
        X=x,
        x_mask=np.ones(x.shape, bool),
        features=("f0", "f1"),
    )
    params = {
        "model": "lowrank_sv",
        "guide": "AutoLowRankMultivariateNormal",
        "guide_rank": 2,
        "num_steps": 30,
        "lr": 0.02,
        "model_kwargs": {"n_factors": 1},
        "num_samples": 32,
    }
    fam = get_family("forecast")
    ctx = FamilyContext(phase="inner", seed=7, num_samples=32)
    train, test = np.r_[0:20, 28:36], np.arange(36, 48)
    state = fam.fit(data, train, params, ctx)
    assert np.isfinite(state.fit.losses).all() and np.isfinite(state.complexity)
    dec = fam.decide(state, data, test, params, ctx)
    assert dec.samples is not None and dec.samples.shape == (32, 12, 3)
    for name, scorer in fam.scorers().items():
        assert np.isfinite(scorer(data, test, dec, np.zeros(12), ctx)), name
    # the default guide of a non-v1 model is AutoNormal
    from algotrader.forecasting.family import svi_config_from_params

    assert svi_config_from_params({"model": "lowrank_sv"}, t).guide == "AutoNormal"
