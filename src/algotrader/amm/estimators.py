"""EWMA estimators on chunk-sampled prices (pure JAX, causal).

All functions take ``chunk_prices`` of shape ``(C, n)`` -- the loaded prices sampled
every ``chunk_period`` minutes, ``prices[::chunk_period]`` -- and per-asset decays
``lamb`` of shape ``(n,)``.  They return one row per chunk *after the first*: row ``j``
is computed from chunk prices ``0 .. j+1`` only (the row for ``p_0``, the initial
state, is dropped), so outputs have shape ``(C - 1, n)``.

Gradient estimator (``G = 1/(1-lamb)``, ``b = lamb/(1-lamb)^3``)::

    ewma_t = ewma_{t-1} + (p_t - ewma_{t-1}) / G
    a_t    = lamb a_{t-1} + G (p_t - ewma_t);   a_t := 0 where |a_t| < 1e-10
    grad_t = a_t / (b * ewma_t)           (or b * alt_ewma_t with an alternative lambda)

with ``ewma_0 = p_0`` and ``a_0 = 0``: a proportional slope ``(1/p) dp/dt`` per chunk.

Example:
    >>> import jax.numpy as jnp
    >>> p = jnp.array([[1.0], [2.0], [3.0]])
    >>> ewma_path(p, jnp.array([0.5])).tolist()
    [[1.5], [2.25]]
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

_A_ZERO_THRESHOLD = 1e-10


def ewma_path(chunk_prices: Array, lamb: Any) -> Array:
    """EWMA ``lamb * ewma + (1 - lamb) * p`` from ``ewma_0 = p_0``; shape ``(C - 1, n)``."""

    def step(ewma: Array, p: Array) -> tuple[Array, Array]:
        new = ewma + (p - ewma) * (1.0 - lamb)
        return new, new

    _, out = jax.lax.scan(step, chunk_prices[0], chunk_prices[1:])
    return out


def gradient_state_step(
    ewma_prev: Array, a_prev: Array, price: Array, lamb: Any
) -> tuple[Array, Array]:
    """One estimator step: ``(ewma_t, a_t)`` from ``(ewma_{t-1}, a_{t-1})`` and ``p_t``."""
    g_factor = 1.0 / (1.0 - lamb)
    ewma = ewma_prev + (price - ewma_prev) * (1.0 - lamb)
    a = lamb * a_prev + g_factor * (price - ewma)
    a = jnp.where(jnp.abs(a) < _A_ZERO_THRESHOLD, 0.0, a)
    return ewma, a


def gradient_from_state(a: Array, denominator: Array, lamb: Any) -> Array:
    """Proportional gradient ``a / (b * denominator)`` with ``b = lamb / (1 - lamb)^3``."""
    b = lamb / (1.0 - lamb) ** 3
    return a / (b * denominator)


def gradient_estimator(
    chunk_prices: Array, lamb: Any, alt_lamb: Any | None = None
) -> dict[str, Array]:
    """EWMA price gradients; returns ``ewma``, ``running_a`` and ``gradient``, each ``(C-1, n)``.

    ``alt_lamb`` (if given) drives a second EWMA used as the gradient's denominator.
    """
    alt = lamb if alt_lamb is None else alt_lamb

    def step(carry: tuple[Array, Array, Array], p: Array) -> tuple[Any, tuple[Array, ...]]:
        ewma_prev, a_prev, alt_prev = carry
        ewma, a = gradient_state_step(ewma_prev, a_prev, p, lamb)
        alt_ewma = alt_prev + (p - alt_prev) * (1.0 - alt)
        den = ewma if alt_lamb is None else alt_ewma
        return (ewma, a, alt_ewma), (ewma, a, gradient_from_state(a, den, lamb))

    p0 = chunk_prices[0]
    init = (p0, jnp.zeros_like(p0), p0)
    _, (ewma, a, grad) = jax.lax.scan(step, init, chunk_prices[1:])
    return {"ewma": ewma, "running_a": a, "gradient": grad}


def ewma_return_variance(chunk_prices: Array, lamb: Any) -> Array:
    """EWMA variance of chunk returns ``r_t = p_t / p_{t-1} - 1``; shape ``(C - 1, n)``.

    ``m_t = lamb m_{t-1} + (1 - lamb) r_t``, ``V_t = lamb V_{t-1} + (r_t - m_{t-1})(r_t - m_t)``,
    ``var_t = (1 - lamb) V_t``, from ``m_0 = V_0 = 0``.
    """
    returns = chunk_prices[1:] / chunk_prices[:-1] - 1.0

    def step(carry: tuple[Array, Array], r: Array) -> tuple[tuple[Array, Array], Array]:
        mean_prev, v_prev = carry
        mean = lamb * mean_prev + (1.0 - lamb) * r
        v = lamb * v_prev + (r - mean_prev) * (r - mean)
        return (mean, v), (1.0 - lamb) * v

    zeros = jnp.zeros_like(chunk_prices[0])
    _, var = jax.lax.scan(step, (zeros, zeros), returns)
    return var


__all__ = [
    "ewma_path",
    "ewma_return_variance",
    "gradient_estimator",
    "gradient_from_state",
    "gradient_state_step",
]
