"""Reference-compatible fee arbitrage: the literal invariant check decides validity.

``SimConfig(arb_validity="reference")`` replaces the closed-form pair pass of
:mod:`algotrader.amm.arbitrage` by the signature enumeration of the specification
(``docs/amm.md``, "Fee arbitrage"), evaluated in the same floating-point order as the
reference simulator.  For each of the ``n (n - 1)`` pair signatures (token ``i`` in,
``j`` out, ``S = {i, j}``, ``wh = w / sum_S w``, ``g_k = gamma`` for the token paid in,
else 1, ``K = prod_S R^wh``)::

    D_k   = (1 / g_k) (K ((wh_k g_k) / p_k)^(1 - wh_k) prod_{l in S, l != k} (p_l / (g_l wh_l))^wh_l - R_k)
    valid = all(R + D > 0) and (prod (R + D gamma^[D > 0])^w - prod R^w) / prod R^w >= 0
    D     = 0 where not valid;  profit = -sum D p;  executed: sum of the D with maximal profit

At the optimal trade the fee-adjusted invariant is preserved *exactly* in exact
arithmetic, so the ``>= 0`` test is decided by rounding: the reference often rejects
the best pair and executes the next valid pair or nothing.
Reproducing those decisions needs the same rounding, so every value the reference
rounds on its own is kept from being fused into a following add by XLA (a fused
multiply-add rounds once; :func:`_rounded`).  From the reference's own state this
reproduces 119 of 120 consecutive golden minutes bit for bit.

Example:
    >>> import jax.numpy as jnp
    >>> delta, best = reference_delta(jnp.array([1.0, 1.0]), jnp.array([1.21, 1.0]),
    ...                               jnp.array([0.5, 0.5]), 0.997)
    >>> delta.shape, bool(best >= 0.0)  # the best pair or, rejected by rounding, none
    ((2,), True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    from algotrader.amm.arbitrage import PassCosts

Array = jax.Array

VALIDITY_MODES = ("exact", "reference")


def _rounded(x: Array) -> Array:
    """``x`` itself, but materialised: a select stops XLA contracting it into an FMA."""
    return jnp.where(jnp.isnan(x), 0.0, x)


def _signatures(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair signatures ``(n (n - 1), n)`` (+1 in, -1 out) and leave-one-out indices ``(n, n - 1)``."""
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    sig = np.zeros((len(pairs), n), np.int64)
    for row, (i, j) in enumerate(pairs):
        sig[row, i], sig[row, j] = 1, -1
    loo = np.array([[j for j in range(n) if j != i] for i in range(n)], np.int64)
    return sig, loo


def reference_delta(res: Array, prices: Array, weights: Array, gamma: Any) -> tuple[Array, Array]:
    """Executed reserve change ``(n,)`` of the reference rule and its profit (USD).

    ``res``, ``prices``, ``weights`` have shape ``(n,)``; ``gamma = 1 - fee``.  No
    costs are applied here (see :func:`reference_pass`).
    """
    sig, loo_idx = _signatures(res.shape[-1])
    off = jnp.asarray(sig == 0)
    g = jnp.where(jnp.asarray(sig == 1), gamma, 1.0)
    wh = weights / jnp.sum(jnp.where(off, 0.0, weights), axis=1, keepdims=True)
    own = ((wh * g) / prices) ** (1.0 - wh)
    others = jnp.where(off, 1.0, (prices / (g * wh)) ** wh)
    loo = jnp.prod(others[:, loo_idx], axis=-1)
    r_act = jnp.where(off, 1.0, res)
    k = jnp.prod(r_act**wh, axis=1, keepdims=True)
    delta = jnp.where(off, 0.0, (1.0 / g) * (_rounded(k * own * loo) - r_act))
    c0 = _rounded(jnp.prod(res**weights))
    paid = _rounded(delta * jnp.where(delta > 0, gamma, 1.0))
    c1 = _rounded(jnp.prod((res + paid) ** weights, axis=1))
    valid = jnp.all(res + delta > 0, axis=1) & ((c1 - c0) / c0 >= 0.0)
    delta = jnp.where(valid[:, None], delta, 0.0)
    profit = -jnp.sum(_rounded(delta * prices), axis=1)
    best = jnp.max(profit)
    mask = jnp.where(profit == best, 1.0, 0.0)
    return mask @ delta, best


def reference_pass(
    res: Array, prices: Array, weights: Array, c: PassCosts, noise: float, split: float
) -> tuple[tuple[Array, Array], Array]:
    """One pass with the reference rule; same contract as the exact passes.

    Returns ``((R, log R), inbound notional)``; the trade executes when
    ``profit - gas_cost >= 0.5 arb_fees sum|D| p`` and ``do_arb``; the protocol keeps
    ``split (1 - gamma)`` of the paid-in amount and noise traders scale every reserve.
    """
    delta, best = reference_delta(res, prices, weights, c.gamma)
    inbound = jnp.sum(jnp.where(delta > 0, delta * prices, 0.0))
    turnover = jnp.sum(jnp.abs(delta) * prices)
    execute = (best - c.gas_cost >= 0.5 * c.arb_fees * turnover) & c.do_arb
    if split > 0.0:
        delta = jnp.where(delta > 0, delta * (1.0 - split * (1.0 - c.gamma)), delta)
    new = res + delta
    if noise > 0.0:
        gamma_eff = 1.0 - (1.0 - c.gamma) * (1.0 - split)
        new = new * (1.0 + noise * (1.0 - gamma_eff) * inbound / jnp.sum(res * prices))
    new = jnp.where(execute, new, res)
    return (new, jnp.log(new)), jnp.where(execute, inbound, 0.0)


__all__ = ["VALIDITY_MODES", "reference_delta", "reference_pass"]
