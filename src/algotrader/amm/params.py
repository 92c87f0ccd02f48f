"""Raw parameters of AMM pools and their reparameterisations.

Parameters are kept in *raw* (unconstrained) space so that gradient ascent can move
them freely; the maps below turn them into the effective quantities the rules use.

* ``lambda = sigmoid(logit_lamb)``; memory (days) of an EWMA with per-chunk decay
  ``lambda``: ``m(lambda) = 2 * cbrt(6 lambda / (1 - lambda)^3) * chunk_period / 1440``.
  Its inverse is the closed-form root of a cubic (:func:`memory_days_to_lamb`).
  ``lambda`` is always capped at ``lambda(max_memory_days)``.
* ``k = 2**log_k * memory_days`` ("k per day" times the memory), or
  ``k = squareplus(sp_k) * memory_days``.
* ``squareplus(x) = (x + sqrt(x^2 + 4)) / 2`` (inverse ``(y^2 - 1) / y``) for every
  ``sp_*`` parameter.
* ``initial_weights = softmax(stop_gradient(initial_weights_logits))``: never trained.

Every per-asset vector follows the tokens sorted alphabetically.  A *parameter
batch* is ``dict[str, np.ndarray]`` whose arrays have a leading parameter-set axis
``(n_sets, n_assets)``; a single parameter set (what :func:`algotrader.amm.forward_pass`
takes) has arrays of shape ``(n_assets,)``.

Example:
    >>> round(float(memory_days(lamb_from_memory_days(10.0, 1440), 1440)), 10)
    10.0
    >>> round(float(logit(lamb_from_memory_days(10.0, 1440))), 4)
    0.7554
    >>> float(squareplus(inverse_squareplus(2.5)))
    2.5
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Params = dict[str, Any]

MINUTES_PER_DAY = 1440


def squareplus(x: Any) -> Any:
    """Smooth positive map ``(x + sqrt(x^2 + 4)) / 2`` (jnp, elementwise)."""
    return (x + jnp.sqrt(x * x + 4.0)) / 2.0


def inverse_squareplus(y: Any) -> Any:
    """Inverse of :func:`squareplus` for ``y > 0``: ``(y^2 - 1) / y`` (numpy)."""
    y = np.asarray(y, dtype=np.float64)
    return (y * y - 1.0) / y


def logit(p: Any) -> Any:
    """``log(p / (1 - p))`` (numpy, float64)."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def memory_days(lamb: Any, chunk_period: int) -> Any:
    """Memory in days of an EWMA with per-chunk decay ``lamb`` (jnp, elementwise).

    ``2 * cbrt(6 lamb / (1 - lamb)^3) * chunk_period / 1440``.
    """
    return 2.0 * jnp.cbrt(6.0 * lamb / (1.0 - lamb) ** 3) * chunk_period / MINUTES_PER_DAY


def lamb_from_memory_days(days: Any, chunk_period: int) -> Any:
    """Closed-form inverse of :func:`memory_days` (numpy, float64; 0 days -> 0).

    With ``s = ((1440 m) / (2 cp))^3 / 6`` (so ``s = lamb / (1 - lamb)^3``) and
    ``c = cbrt(sqrt(3 (27 s^4 + 4 s^3)) - 9 s^2)``:
    ``lamb = c / (2^(1/3) 3^(2/3) s) - (2/3)^(1/3) / c + 1``, refined by three Newton
    steps (the closed form loses digits to cancellation as ``lamb -> 1``).
    """
    m = np.asarray(days, dtype=np.float64)
    if np.any(m < 0) or not np.all(np.isfinite(m)):
        raise ValueError("memory days must be finite and >= 0")
    safe = np.where(m > 0, m, 1.0)
    s = ((MINUTES_PER_DAY * safe) / (2.0 * chunk_period)) ** 3 / 6.0
    c = np.cbrt(np.sqrt(3.0 * (27.0 * s**4 + 4.0 * s**3)) - 9.0 * s**2)
    lamb = c / (2.0 ** (1.0 / 3.0) * 3.0 ** (2.0 / 3.0) * s) - (2.0 / 3.0) ** (1.0 / 3.0) / c + 1.0
    # the closed form cancels badly for long memories (lamb -> 1): polish with Newton
    # steps on log(lamb) - 3 log(1 - lamb) = log(s)
    lamb = np.clip(lamb, 1e-300, 1.0 - 1e-16)
    for _ in range(3):
        g = np.log(lamb) - 3.0 * np.log1p(-lamb) - np.log(s)
        lamb = np.clip(lamb - g / (1.0 / lamb + 3.0 / (1.0 - lamb)), 1e-300, 1.0 - 1e-16)
    return np.where(m > 0, lamb, 0.0)


def logit_lamb_from_memory_days(days: Any, chunk_period: int) -> Any:
    """``logit(lamb(days))`` (numpy); the worked value for 10 days at daily chunks is 0.7554."""
    return logit(lamb_from_memory_days(days, chunk_period))


def capped_lamb(logit_lamb: Any, chunk_period: int, max_memory_days: float) -> Any:
    """``clip(sigmoid(logit_lamb), 0, lamb(max_memory_days))`` (jnp)."""
    cap = float(lamb_from_memory_days(max_memory_days, chunk_period))
    return jnp.clip(jax.nn.sigmoid(logit_lamb), 0.0, cap)


def capped_memory_days(logit_lamb: Any, chunk_period: int, max_memory_days: float) -> Any:
    """Memory days of the capped lambda, clipped to ``[0, max_memory_days]`` (jnp)."""
    lamb = capped_lamb(logit_lamb, chunk_period, max_memory_days)
    return jnp.clip(memory_days(lamb, chunk_period), 0.0, max_memory_days)


def initial_weights(params: Params) -> Any:
    """``softmax(stop_gradient(initial_weights_logits))`` over the last axis (jnp)."""
    return jax.nn.softmax(jax.lax.stop_gradient(params["initial_weights_logits"]), axis=-1)


def k_from_params(params: Params, mem_days: Any) -> Any:
    """Effective ``k``: ``2**log_k * memory_days`` or ``squareplus(sp_k) * memory_days``."""
    if "log_k" in params:
        return jnp.exp2(params["log_k"]) * mem_days
    if "sp_k" in params:
        return squareplus(params["sp_k"]) * mem_days
    raise KeyError("parameters need 'log_k' or 'sp_k'")


def pre_exp_scaling(params: Params, use_pre_exp_scaling: bool) -> Any:
    """``squareplus(sp_pre_exp_scaling)`` if enabled (and present), else 0.5."""
    if use_pre_exp_scaling and "sp_pre_exp_scaling" in params:
        return squareplus(params["sp_pre_exp_scaling"])
    return 0.5


def stack_param_sets(sets: list[Params]) -> dict[str, np.ndarray]:
    """Stack single parameter sets (arrays ``(n,)``) into a batch ``(n_sets, n)``."""
    if not sets:
        raise ValueError("need at least one parameter set")
    keys = sorted(sets[0])
    return {k: np.stack([np.asarray(s[k], dtype=np.float64) for s in sets]) for k in keys}


def param_set(batch: Params, index: int) -> dict[str, np.ndarray]:
    """Parameter set ``index`` of a batch, arrays of shape ``(n,)``."""
    return {k: np.asarray(v)[index] for k, v in batch.items()}


__all__ = [
    "capped_lamb",
    "capped_memory_days",
    "initial_weights",
    "inverse_squareplus",
    "k_from_params",
    "lamb_from_memory_days",
    "logit",
    "logit_lamb_from_memory_days",
    "memory_days",
    "param_set",
    "pre_exp_scaling",
    "squareplus",
    "stack_param_sets",
]
