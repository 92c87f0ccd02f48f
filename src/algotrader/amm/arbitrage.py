"""Fee-aware arbitrage of a G3M pool (pairwise optimal trades), as a ``lax.scan`` over minutes.

For token ``k`` let ``r_k = R_k p_k / w_k`` (market value of the reserve per unit of
weight; the pool quotes ``q = V w / R``, so ``p_k / q_k`` is ``r_k / V``) and
``s_k = log r_k``.  With ``gamma = 1 - fee``, the optimal trade that puts token ``i``
in and takes token ``j`` out (arXiv 2402.06731, restricted to the pair, whose
renormalised weights are ``wh_i = w_i / (w_i + w_j)``, ``wh_j = 1 - wh_i``) is, with
``L = log gamma + s_j - s_i``::

    dR_i / R_i = (exp(wh_j L) - 1) / gamma      (> 0, paid in, fee kept by the pool)
    dR_j / R_j =  exp(-wh_i L) - 1               (< 0, taken out)
    profit     = -(R_i p_i dR_i/R_i + R_j p_j dR_j/R_j)

It is profitable iff ``L > 0``: which token goes in and which goes out is decided by
the ranking of ``s`` against the fee band, so every quantity is a closed form of
``s``; no signature enumeration of reserve-dependent vectors is needed.  Of the
``n (n - 1)`` pairs the most profitable one is executed (the reference's pairwise
rule) when ``profit - gas_cost >= 0.5 arb_fees sum|dR| p``.

Each minute has two passes: new prices at the old weights, then the new weights
(after injected trades, which use the old weights, and LP supply changes).  Noise
traders scale every reserve by ``1 + ratio (1 - gamma') inbound / V`` and the
protocol keeps ``protocol_fee_split (1 - gamma) inbound`` of the paid-in token.

Example:
    >>> import jax.numpy as jnp
    >>> r, vol = arbitrage_pass(jnp.array([1.0, 1.0]), jnp.array([1.21, 1.0]),
    ...                          jnp.array([0.5, 0.5]), 1.0, 0.0, 0.0, True, 0.0, 0.0)
    >>> [round(float(x), 6) for x in r], round(float(vol), 6)
    ([0.909091, 1.1], 0.1)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.amm.static import SimConfig

Array = jax.Array


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(i in, j out)``, ``i != j``: two int arrays of length ``n (n-1)``."""
    ins, outs = zip(*[(i, j) for i in range(n) for j in range(n) if i != j], strict=True)
    return np.asarray(ins), np.asarray(outs)


def arbitrage_pass(
    reserves: Array,
    prices: Array,
    weights: Array,
    gamma: Any,
    gas_cost: Any,
    arb_fees: Any,
    do_arb: Any,
    noise_ratio: float,
    protocol_split: float,
) -> tuple[Array, Array]:
    """One arbitrage pass; returns new reserves ``(n,)`` and the inbound notional (scalar)."""
    n = reserves.shape[-1]
    ins, outs = pair_indices(n)
    notional = reserves * prices
    s = jnp.log(notional) - jnp.log(weights)
    w_in, w_out = weights[ins], weights[outs]
    wh_in = w_in / (w_in + w_out)
    wh_out = 1.0 - wh_in
    big_l = jnp.log(gamma) + s[outs] - s[ins]
    gain = jnp.expm1(wh_out * big_l) / gamma
    loss = jnp.expm1(-wh_in * big_l)
    v_in, v_out = notional[ins], notional[outs]
    profit = jnp.where(big_l > 0.0, -(v_in * gain + v_out * loss), 0.0)
    best = jnp.argmax(profit)
    sel = jax.nn.one_hot(best, ins.shape[0], dtype=reserves.dtype)
    inbound = jnp.sum(sel * v_in * gain)
    outbound = -jnp.sum(sel * v_out * loss)
    cost = 0.5 * arb_fees * (inbound + outbound)
    execute = (
        (jnp.max(big_l * sel - (1.0 - sel)) > 0.0)
        & (jnp.sum(sel * profit) - gas_cost >= cost)
        & do_arb
    )
    keep = 1.0 - protocol_split * (1.0 - gamma)
    eye = np.eye(n)
    factors = 1.0 + (sel * gain * keep) @ eye[ins] + (sel * loss) @ eye[outs]
    if noise_ratio > 0.0:
        gamma_eff = 1.0 - (1.0 - gamma) * (1.0 - protocol_split)
        factors = factors * (1.0 + noise_ratio * (1.0 - gamma_eff) * inbound / jnp.sum(notional))
    new = jnp.where(execute, reserves * factors, reserves)
    return new, jnp.where(execute, inbound, 0.0)


class StepInputs(NamedTuple):
    """Per-minute inputs of the fee scan (each with a leading time axis ``T - 1``)."""

    prices: Array
    w_prev: Array
    w_next: Array
    gamma: Array
    gas_cost: Array
    arb_fees: Array
    do_arb: Array
    trade_in: Array
    trade_out: Array
    trade_amount: Array
    lp_ratio: Array


def _inject_trade(reserves: Array, x: StepInputs) -> Array:
    """G3M exact-in trade at the old weights: ``out = R_o (1 - (R_i / (R_i + g a))^(w_i/w_o))``."""
    n = reserves.shape[-1]
    r_in, r_out = reserves[x.trade_in], reserves[x.trade_out]
    w_in, w_out = x.w_prev[x.trade_in], x.w_prev[x.trade_out]
    amount = x.trade_amount
    out = r_out * -jnp.expm1((w_in / w_out) * jnp.log(r_in / (r_in + x.gamma * amount)))
    eye = jnp.eye(n, dtype=reserves.dtype)
    return reserves + eye[x.trade_in] * amount - eye[x.trade_out] * out


def fee_scan(
    r0: Array, xs: StepInputs, cfg: SimConfig, with_trades: bool, with_lp: bool
) -> tuple[Array, Array]:
    """Scan the two-pass arbitrage over minutes; returns reserves ``(T, n)`` and inbound ``(T,)``."""

    def step(reserves: Array, x: StepInputs) -> tuple[Array, tuple[Array, Array]]:
        common = (x.gamma, x.gas_cost, x.arb_fees, x.do_arb)
        noise, split = cfg.noise_trader_ratio, cfg.protocol_fee_split
        reserves, vol1 = arbitrage_pass(reserves, x.prices, x.w_prev, *common, noise, split)
        if with_trades:
            reserves = _inject_trade(reserves, x)
        if with_lp:
            reserves = reserves * x.lp_ratio
        reserves, vol2 = arbitrage_pass(reserves, x.prices, x.w_next, *common, noise, split)
        return reserves, (reserves, vol1 + vol2)

    _, (path, volume) = jax.lax.scan(step, r0, xs, unroll=cfg.scan_unroll)
    path = jnp.concatenate([r0[None], path], axis=0)
    volume = jnp.concatenate([jnp.zeros((1,), path.dtype), volume])
    return path, volume


__all__ = ["StepInputs", "arbitrage_pass", "fee_scan", "pair_indices"]
