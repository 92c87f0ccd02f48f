"""NumPyro models and guides, chosen by name (spec section 6.1-6.2).

Contract (:class:`ForecastModel`): ``model(X, y=None, mask=None, obs_scale=None, **hyper)``
with ``X`` (T, A, F), ``y`` (T, A) or None (predictive), ``mask`` (T, A) bool (entries with
False are out of the likelihood) and ``obs_scale`` (a positive scalar multiplying the
observation log-density). The observation site is called ``obs`` with batch shape (T, A).
Masked targets must be finite placeholders (the trainer puts 0 there); a masked entry
contributes exactly nothing.

Models: ``factor_model_v1`` (Student-t likelihood, regularised horseshoe on per-asset
feature weights; spec section 6.2), ``lowrank_sv`` (low-rank multivariate scale mixture with
AR(1) log-volatility, spec section 6.3 "factor l10"; use an autoguide) and ``bayes_linear``
(Gaussian linear model with known noise, conjugate). Guides: ``factor_guide_v1`` (hand-written mean-field with the spec's init
values) and the autoguides ``AutoNormal``, ``AutoLowRankMultivariateNormal``, ``AutoDelta``.

Example:
    >>> sorted(available_models())
    ['bayes_linear', 'factor_model_v1', 'lowrank_sv']
    >>> "AutoNormal" in available_guides()
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.distributions import constraints
from numpyro.infer import autoguide

from algotrader.errors import ConfigError

jax.config.update("jax_enable_x64", True)  # float64 fits (spec section 6.4)

__all__ = [
    "ForecastModel",
    "LowRankScaleMixture",
    "ar1_path",
    "available_guides",
    "available_models",
    "bayes_linear",
    "check_pair",
    "factor_guide_v1",
    "factor_model_v1",
    "get_guide",
    "get_model",
    "lowrank_sv",
]

Array = Any


class ForecastModel(Protocol):
    """The model contract of spec section 6.1."""

    def __call__(
        self,
        X: Array,
        y: Array | None = None,
        mask: Array | None = None,
        obs_scale: Array | None = None,
    ) -> None: ...


def _per_asset_dot(X: Array, w: Array) -> Array:
    """``mu[t, a] = X[t, a, :] . w[a, :]`` as a broadcast multiply and a last-axis sum.

    Same numbers as ``einsum("taf,af->ta")`` up to summation order; XLA on CPU fuses it
    into one pass (the einsum lowers to a batched dot with the batch axis in the middle
    and transposes), which made a whole ``factor_model_v1`` SVI step at T=500, A=20, F=45
    ~2x faster (3.9 -> 1.6 ms, measured in the same session, load ~2.5).

    >>> import jax.numpy as jnp
    >>> X = jnp.arange(12.0).reshape(2, 2, 3); w = jnp.ones((2, 3))
    >>> _per_asset_dot(X, w).tolist()
    [[3.0, 12.0], [21.0, 30.0]]
    """
    return jnp.sum(X * w[None, :, :], axis=-1)


def _observe(
    fn: dist.Distribution, y: Array | None, mask: Array | None, obs_scale: Array | None
) -> None:
    site = fn if mask is None else fn.mask(mask)
    if obs_scale is None:
        numpyro.sample("obs", site, obs=y)
    else:
        with handlers.scale(scale=obs_scale):
            numpyro.sample("obs", site, obs=y)


def factor_model_v1(
    X: Array,
    y: Array | None = None,
    mask: Array | None = None,
    obs_scale: Array | None = None,
    regularised: bool = True,
) -> None:
    """Student-t regression with a (regularised) horseshoe per asset and feature."""
    _, a, f = X.shape
    nu_raw = numpyro.sample("nu_raw", dist.Gamma(2.0, 0.2))
    tau0 = numpyro.sample("tau0", dist.HalfCauchy(0.10))
    lam = numpyro.sample("lam", dist.HalfCauchy(jnp.ones(f)).to_event(1))
    c = numpyro.sample("c", dist.HalfCauchy(0.5))
    alpha = numpyro.sample("alpha", dist.Normal(jnp.zeros(a), 0.02).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(0.05 * jnp.ones(a)).to_event(1))
    kappa = numpyro.sample("kappa", dist.HalfCauchy(jnp.ones((a, f))).to_event(2))
    b = lam[None, :] * kappa
    if regularised:
        lam_t = jnp.sqrt(c**2 * b**2 / (c**2 + tau0**2 * b**2 + 1e-12))
        w_scale = tau0 * lam_t
    else:
        w_scale = tau0 * b
    w = numpyro.sample("w", dist.Normal(jnp.zeros((a, f)), w_scale).to_event(2))
    mu = alpha[None, :] + _per_asset_dot(X, w)
    _observe(dist.StudentT(nu_raw + 2.0, mu, sigma[None, :]), y, mask, obs_scale)


def _lognormal_site(name: str, shape: tuple[int, ...], loc0: float) -> None:
    loc = numpyro.param(f"{name}_loc", jnp.full(shape, loc0))
    scale = numpyro.param(f"{name}_scale", jnp.full(shape, 0.30), constraint=constraints.positive)
    numpyro.sample(name, dist.LogNormal(loc, scale).to_event(len(shape)))


def _normal_site(name: str, shape: tuple[int, ...], scale0: float) -> None:
    loc = numpyro.param(f"{name}_loc", jnp.zeros(shape))
    scale = numpyro.param(f"{name}_scale", jnp.full(shape, scale0), constraint=constraints.positive)
    numpyro.sample(name, dist.Normal(loc, scale).to_event(len(shape)))


def factor_guide_v1(
    X: Array,
    y: Array | None = None,
    mask: Array | None = None,
    obs_scale: Array | None = None,
    regularised: bool = True,
) -> None:
    """Mean-field guide of spec section 6.2 (LogNormal positives, Normal signed sites)."""
    _, a, f = X.shape
    _lognormal_site("nu_raw", (), math.log(10.0))
    _lognormal_site("tau0", (), -4.76)
    _lognormal_site("lam", (f,), 0.0)
    _lognormal_site("c", (), math.log(0.5))
    _normal_site("alpha", (a,), 0.10)
    _lognormal_site("sigma", (a,), math.log(1.2))
    _lognormal_site("kappa", (a, f), 0.0)
    _normal_site("w", (a, f), 0.02)


def bayes_linear(
    X: Array,
    y: Array | None = None,
    mask: Array | None = None,
    obs_scale: Array | None = None,
    prior_scale: float = 1.0,
    noise_scale: float = 1.0,
) -> None:
    """``w_a ~ N(0, prior_scale^2 I)``, ``y[t, a] ~ N(X[t, a] . w_a, noise_scale^2)``.

    Conjugate: per asset the posterior is Gaussian with precision
    ``I / prior_scale^2 + X_a' X_a / noise_scale^2`` (masked rows dropped).
    """
    _, a, f = X.shape
    w = numpyro.sample("w", dist.Normal(jnp.zeros((a, f)), prior_scale).to_event(2))
    mu = _per_asset_dot(X, w)
    _observe(dist.Normal(mu, noise_scale), y, mask, obs_scale)


class LowRankScaleMixture(dist.Distribution):  # type: ignore[misc]
    """``y_t ~ N(loc_t, r_t (B B' + diag(d)) / v_t)``, ``v_t ~ Gamma(nu/2, nu/2)``, per row t.

    ``loc`` (T, A), ``cov_factor`` B (A, K), ``cov_diag`` d (A,), ``row_scale`` r (T,),
    ``nu`` > 0, ``mask`` (T, A) bool or None. ``log_prob`` is the exact density with every
    ``v_t`` integrated out (a multivariate Student-t with ``nu`` degrees of freedom and scale
    matrix ``r_t (B B' + diag(d))``) of the *observed* entries of each row only: masked
    entries are marginalised (their rows of B and d drop out), a row with nothing observed
    contributes exactly 0. Computed with the Woodbury identity and a K x K Cholesky per row,
    O(T A K^2). ``sample`` draws ``v_t`` then the Gaussian (every entry, mask ignored).
    """

    arg_constraints: ClassVar[dict[str, Any]] = {
        "loc": constraints.real,
        "cov_factor": constraints.real,
        "cov_diag": constraints.positive,
        "row_scale": constraints.positive,
        "nu": constraints.positive,
    }
    support = constraints.real_vector
    reparametrized_params: ClassVar[list[str]] = ["loc", "cov_factor", "cov_diag", "row_scale"]

    def __init__(
        self,
        loc: Array,
        cov_factor: Array,
        cov_diag: Array,
        row_scale: Array,
        nu: float | Array,
        mask: Array | None = None,
        *,
        validate_args: bool | None = None,
    ) -> None:
        self.loc, self.cov_factor, self.cov_diag = loc, cov_factor, cov_diag
        self.row_scale, self.nu = row_scale, nu
        self.obs_mask = None if mask is None else jnp.asarray(mask, dtype=bool)
        super().__init__(
            batch_shape=jnp.shape(loc)[:-1],
            event_shape=jnp.shape(loc)[-1:],
            validate_args=validate_args,
        )

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        kv, kf, kd = jax.random.split(key, 3)
        t, a = self.loc.shape
        k = self.cov_factor.shape[-1]
        half = 0.5 * jnp.asarray(self.nu)
        v = jax.random.gamma(kv, half, (*sample_shape, t)) / half
        zf = jax.random.normal(kf, (*sample_shape, t, k))
        zd = jax.random.normal(kd, (*sample_shape, t, a))
        noise = zf @ self.cov_factor.T + zd * jnp.sqrt(self.cov_diag)
        return self.loc + jnp.sqrt(self.row_scale / v)[..., None] * noise

    def log_prob(self, value: Array) -> Array:
        m = jnp.ones(self.loc.shape, dtype=bool) if self.obs_mask is None else self.obs_mask
        b = jnp.where(m[..., None], self.cov_factor, 0.0)  # (T, A, K)
        d = jnp.where(m, self.cov_diag, 1.0)  # (T, A)
        e = jnp.where(m, value - self.loc, 0.0)
        n = m.sum(-1).astype(e.dtype)
        bd = b / d[..., None]
        cap = jnp.eye(b.shape[-1]) + jnp.einsum("tak,taj->tkj", bd, b)
        chol = jnp.linalg.cholesky(cap)
        proj = jnp.einsum("tak,ta->tk", bd, e)
        sol = jax.scipy.linalg.solve_triangular(chol, proj[..., None], lower=True)[..., 0]
        maha = jnp.sum(e * e / d, -1) - jnp.sum(sol * sol, -1)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
        logdet = logdet + jnp.sum(jnp.log(d), -1) + n * jnp.log(self.row_scale)
        nu = jnp.asarray(self.nu, dtype=e.dtype)
        lp = (
            jax.scipy.special.gammaln(0.5 * (nu + n))
            - jax.scipy.special.gammaln(0.5 * nu)
            - 0.5 * n * jnp.log(nu * jnp.pi)
            - 0.5 * logdet
            - 0.5 * (nu + n) * jnp.log1p(maha / (self.row_scale * nu))
        )
        return jnp.where(n > 0, lp, 0.0)


def ar1_path(eps: Array, phi: float) -> Array:
    """Unit-innovation stationary AR(1) path from standard-normal ``eps`` (T,):
    ``g_0 = eps_0 / sqrt(1 - phi^2)``, ``g_t = phi g_{t-1} + eps_t`` (a ``lax.scan``).

    >>> ar1_path(jnp.array([0.0, 1.0, 0.0]), 0.5).tolist()
    [0.0, 1.0, 0.5]
    """
    g0 = eps[0] / math.sqrt(1.0 - phi * phi)

    def step(g: Array, e: Array) -> tuple[Array, Array]:
        g = phi * g + e
        return g, g

    _, rest = jax.lax.scan(step, g0, eps[1:])
    return jnp.concatenate([g0[None], rest])


def lowrank_sv(
    X: Array,
    y: Array | None = None,
    mask: Array | None = None,
    obs_scale: Array | None = None,
    n_factors: int = 3,
    phi: float = 0.97,
    nu: float = 10.0,
    h_scale: float = 0.2,
    alpha_scale: float = 0.1,
    noise_scale: float = 0.5,
    loading_scale: float = 0.5,
    tau0_scale: float = 0.1,
) -> None:
    """Low-rank stochastic-volatility factor model (spec section 6.3, "factor l10").

    ``y_t ~ LowRankMVN(mu_t, B B' / u_t, diag(sigma^2) / u_t)`` with
    ``u_t = exp(h_t - Var(h) / 2) v_t``; ``h`` a stationary AR(1) (coefficient ``phi``,
    innovation scale ``s_h ~ HalfStudentT(4, h_scale)``, non-centred), ``v_t ~ Gamma(nu/2,
    nu/2)`` (integrated out in the likelihood, see :class:`LowRankScaleMixture`);
    ``mu = alpha + X w`` with the regularised horseshoe of :func:`factor_model_v1` on ``w``;
    ``B = B_raw * col_scale`` (K = ``n_factors`` columns, ``col_scale_k ~
    HalfCauchy(loading_scale)``: column shrinkage), ``sigma_a ~ HalfCauchy(noise_scale)``.
    The default scales assume normalised targets (``target_normalization``).

    Rows with ``y`` given use the latent path ``h_eps`` (T,) of the training batch; a
    predictive call (``y`` None) draws a fresh path ``h_eps_new`` from the stationary AR(1)
    law, so predictions never use the training rows' volatility states (no online filtering).
    """
    _, a, f = X.shape
    k = int(n_factors)
    tau0 = numpyro.sample("tau0", dist.HalfCauchy(tau0_scale))
    lam = numpyro.sample("lam", dist.HalfCauchy(jnp.ones(f)).to_event(1))
    c = numpyro.sample("c", dist.HalfCauchy(0.5))
    kappa = numpyro.sample("kappa", dist.HalfCauchy(jnp.ones((a, f))).to_event(2))
    b = lam[None, :] * kappa
    w_scale = tau0 * jnp.sqrt(c**2 * b**2 / (c**2 + tau0**2 * b**2 + 1e-12))
    w = numpyro.sample("w", dist.Normal(jnp.zeros((a, f)), w_scale).to_event(2))
    alpha = numpyro.sample("alpha", dist.Normal(jnp.zeros(a), alpha_scale).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(noise_scale * jnp.ones(a)).to_event(1))
    col = numpyro.sample("col_scale", dist.HalfCauchy(loading_scale * jnp.ones(k)).to_event(1))
    b_raw = numpyro.sample("B_raw", dist.Normal(jnp.zeros((a, k)), 1.0).to_event(2))
    s_h = numpyro.sample("s_h", dist.FoldedDistribution(dist.StudentT(4.0, 0.0, h_scale)))
    site = "h_eps" if y is not None else "h_eps_new"
    eps = numpyro.sample(site, dist.Normal(jnp.zeros(X.shape[0]), 1.0).to_event(1))
    h = s_h * ar1_path(eps, phi)
    var_h = s_h**2 / (1.0 - phi * phi)
    row_scale = jnp.exp(-(h - 0.5 * var_h))  # 1 / exp(h - Var h / 2)
    mu = alpha[None, :] + _per_asset_dot(X, w)
    fn = LowRankScaleMixture(mu, b_raw * col[None, :], sigma**2, row_scale, nu, mask)
    if obs_scale is None:
        numpyro.sample("obs", fn, obs=y)
    else:
        with handlers.scale(scale=obs_scale):
            numpyro.sample("obs", fn, obs=y)


_MODELS: dict[str, Callable[..., None]] = {
    "factor_model_v1": factor_model_v1,
    "bayes_linear": bayes_linear,
    "lowrank_sv": lowrank_sv,
}
_HAND_GUIDES: dict[str, Callable[..., None]] = {"factor_guide_v1": factor_guide_v1}
#: the models each hand-written guide matches (site names and shapes)
_HAND_GUIDE_MODELS: dict[str, tuple[str, ...]] = {"factor_guide_v1": ("factor_model_v1",)}
_AUTO: dict[str, Callable[..., Any]] = {
    "AutoNormal": autoguide.AutoNormal,
    "AutoLowRankMultivariateNormal": autoguide.AutoLowRankMultivariateNormal,
    "AutoDelta": autoguide.AutoDelta,
}


def available_models() -> list[str]:
    """Registered model names."""
    return sorted(_MODELS)


def available_guides() -> list[str]:
    """Registered guide names (hand-written and autoguides)."""
    return sorted([*_HAND_GUIDES, *_AUTO])


def get_model(name: str) -> Callable[..., None]:
    """The model registered as ``name`` (:class:`ConfigError` listing the known ones)."""
    if name not in _MODELS:
        raise ConfigError(
            f"unknown model {name!r}", key="model.name", hint=f"use one of {available_models()}"
        )
    return _MODELS[name]


def check_pair(model: str, guide: str) -> None:
    """Refuse a hand-written guide used with a model it was not written for."""
    ok = _HAND_GUIDE_MODELS.get(guide)
    if ok is not None and model not in ok:
        raise ConfigError(
            f"guide {guide!r} is written for {list(ok)}, not model {model!r}",
            key="model.params.guide",
            hint="use an autoguide (AutoNormal, AutoLowRankMultivariateNormal, AutoDelta)",
        )


def get_guide(name: str, model: Callable[..., None], **kwargs: Any) -> Callable[..., Any]:
    """Build the guide ``name`` for ``model`` (autoguides take ``kwargs``, e.g. ``rank``)."""
    if name in _HAND_GUIDES:
        return _HAND_GUIDES[name]
    if name in _AUTO:
        return _AUTO[name](model, **kwargs)  # type: ignore[no-any-return]
    raise ConfigError(
        f"unknown guide {name!r}", key="model.guide", hint=f"use one of {available_guides()}"
    )
