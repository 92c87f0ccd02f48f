"""NumPyro models and guides, chosen by name (spec section 6.1-6.2).

Contract (:class:`ForecastModel`): ``model(X, y=None, mask=None, obs_scale=None, **hyper)``
with ``X`` (T, A, F), ``y`` (T, A) or None (predictive), ``mask`` (T, A) bool (entries with
False are out of the likelihood) and ``obs_scale`` (a positive scalar multiplying the
observation log-density). The observation site is called ``obs`` with batch shape (T, A).
Masked targets must be finite placeholders (the trainer puts 0 there); a masked entry
contributes exactly nothing.

Models: ``factor_model_v1`` (Student-t likelihood, regularised horseshoe on per-asset
feature weights; spec section 6.2) and ``bayes_linear`` (Gaussian linear model with known
noise, conjugate). Guides: ``factor_guide_v1`` (hand-written mean-field with the spec's init
values) and the autoguides ``AutoNormal``, ``AutoLowRankMultivariateNormal``, ``AutoDelta``.

Example:
    >>> sorted(available_models())
    ['bayes_linear', 'factor_model_v1']
    >>> "AutoNormal" in available_guides()
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

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
    "available_guides",
    "available_models",
    "bayes_linear",
    "factor_guide_v1",
    "factor_model_v1",
    "get_guide",
    "get_model",
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
    mu = alpha[None, :] + jnp.einsum("taf,af->ta", X, w)
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
    mu = jnp.einsum("taf,af->ta", X, w)
    _observe(dist.Normal(mu, noise_scale), y, mask, obs_scale)


_MODELS: dict[str, Callable[..., None]] = {
    "factor_model_v1": factor_model_v1,
    "bayes_linear": bayes_linear,
}
_HAND_GUIDES: dict[str, Callable[..., None]] = {"factor_guide_v1": factor_guide_v1}
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


def get_guide(name: str, model: Callable[..., None], **kwargs: Any) -> Callable[..., Any]:
    """Build the guide ``name`` for ``model`` (autoguides take ``kwargs``, e.g. ``rank``)."""
    if name in _HAND_GUIDES:
        return _HAND_GUIDES[name]
    if name in _AUTO:
        return _AUTO[name](model, **kwargs)  # type: ignore[no-any-return]
    raise ConfigError(
        f"unknown guide {name!r}", key="model.guide", hint=f"use one of {available_guides()}"
    )
