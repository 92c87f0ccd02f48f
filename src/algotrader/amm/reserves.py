"""Reserve paths without fees: closed-form G3M, HODL and rebalancing benchmarks.

Zero fees, gas and arbitrage costs (each minute: arbitrage to the new prices at the
old weights, then to the new weights at the new prices)::

    R_t = R_{t-1} * [prod_i (p_ti/p_{t-1,i})^{w_{t-1,i}} / (p_t/p_{t-1})]
                  * [(w_t/w_{t-1}) / prod_i (w_ti/w_{t-1,i})^{w_ti}]

which keeps ``R_t p_t / V_t = w_t`` exactly.  It is evaluated in log space as one
cumulative sum of the pool's log value,
``log V_t = log V_{t-1} + sum_i w_{t-1,i} dlog p_ti - sum_i w_ti log(w_ti/w_{t-1,i})``,
then ``R_t = V_t w_t / p_t``.

Example:
    >>> import jax.numpy as jnp
    >>> p = jnp.array([[1.0, 1.0], [4.0, 1.0]]); w = jnp.full((2, 2), 0.5)
    >>> [round(float(x), 9) for x in zero_fee_reserves(w, p, 100.0)[1]]
    [25.0, 100.0]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def initial_reserves(w0: Array, p0: Array, value: float) -> Array:
    """``R_0 = w_0 V_0 / p_0``."""
    return w0 * value / p0


def zero_fee_increments(weights: Array, prices: Array) -> Array:
    """Per-minute log-value increments ``(T - 1,)`` of the zero-fee pool.

    ``sum_i w_{t-1,i} log(p_ti / p_{t-1,i}) - sum_i w_ti log(w_ti / w_{t-1,i})``, summed
    asset by asset on asset-major rows (a reduction over the short asset axis defeats
    XLA's vectorisation on CPU).
    """
    wt, pt = weights.T, prices.T
    inc = jnp.zeros((weights.shape[0] - 1,), weights.dtype)
    for k in range(weights.shape[1]):
        w_prev, w_next = wt[k, :-1], wt[k, 1:]
        inc = inc + w_prev * jnp.log(pt[k, 1:] / pt[k, :-1]) - w_next * jnp.log(w_next / w_prev)
    return inc


def zero_fee_log_value(weights: Array, prices: Array, value0: float) -> Array:
    """``log V_t`` of the zero-fee pool, shape ``(T,)``, from weights/prices ``(T, n)``."""
    inc = zero_fee_increments(weights, prices)
    return jnp.log(value0) + jnp.concatenate([jnp.zeros((1,), inc.dtype), jnp.cumsum(inc)])


def zero_fee_reserves(weights: Array, prices: Array, value0: float) -> Array:
    """Zero-fee reserves ``(T, n)``: ``V_t w_t / p_t``."""
    value = jnp.exp(zero_fee_log_value(weights, prices, value0))
    return value[:, None] * weights / prices


def hodl_reserves(weights: Array, prices: Array, value0: float) -> Array:
    """Reserves that never trade: ``R_t = R_0`` for every row."""
    r0 = initial_reserves(weights[0], prices[0], value0)
    return jnp.broadcast_to(r0, prices.shape)


def rebalancing_reserves(
    weights: Array, prices: Array, value0: float, cost: float, both_legs: bool
) -> Array:
    """Frictionless rebalancing benchmark (``lvr``/``rvr`` hooks); reserves ``(T, n)``.

    Each minute the holdings are valued at the new price and rebalanced to ``w_t``,
    paying ``cost`` on the sold notional (``lvr``) or ``cost / 2`` on the notional of
    both legs (``rvr``, a half spread per leg).  The post-cost value solves
    ``V' = V - c(V')`` by two fixed-point iterations (exact to ``O(cost^3)``).
    """
    r0 = initial_reserves(weights[0], prices[0], value0)

    def step(hold: Array, xs: tuple[Array, Array]) -> tuple[Array, Array]:
        w, p = xs
        notional = hold * p
        value = jnp.sum(notional)
        new_value = value
        for _ in range(2):
            trade = w * new_value - notional
            paid = 0.5 * jnp.sum(jnp.abs(trade)) if both_legs else jnp.sum(jnp.maximum(-trade, 0))
            new_value = value - cost * paid
        new_hold = w * new_value / p
        return new_hold, new_hold

    _, rest = jax.lax.scan(step, r0, (weights[1:], prices[1:]))
    return jnp.concatenate([r0[None], rest], axis=0)


__all__ = [
    "hodl_reserves",
    "initial_reserves",
    "rebalancing_reserves",
    "zero_fee_increments",
    "zero_fee_log_value",
    "zero_fee_reserves",
]
