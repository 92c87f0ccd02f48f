"""Fee-aware arbitrage of a G3M pool (optimal pairwise trades) as a ``lax.scan`` over minutes.

For token ``k`` let ``s_k = log(R_k p_k / w_k)`` (the pool quotes ``q = V w / R``, so
``p_k / q_k = exp(s_k) / V``).  With ``gamma = 1 - fee``, the optimal trade putting
token ``i`` in and taking token ``j`` out (arXiv 2402.06731 restricted to the pair,
whose renormalised weights are ``wh_i = w_i / (w_i + w_j)``, ``wh_j = 1 - wh_i``) is,
with ``L = log gamma + s_j - s_i``::

    dR_i / R_i = (exp(wh_j L) - 1) / gamma      (> 0: paid in; the fee stays in the pool)
    dR_j / R_j =  exp(-wh_i L) - 1               (< 0: taken out)
    profit     = -(R_i p_i dR_i/R_i + R_j p_j dR_j/R_j)

A pair is profitable iff ``L > 0``: which token goes in and which goes out follows
from the ranking of ``s`` against the fee band ``-log gamma``, so each trade is a
closed form of ``s`` alone.  Of the ``n (n - 1)`` pairs the most profitable one is
executed (exact ties are summed) when ``profit - gas_cost >= 0.5 arb_fees sum|dR| p``.
For two assets at most one pair can be profitable (``L_01 + L_10 = 2 log gamma < 0``)
and the step reduces to a handful of scalar operations.

Each minute has two passes: new prices at the old weights, then (after injected
trades, which use the old weights, and LP supply changes) the new weights.  Noise
traders scale every reserve by ``1 + ratio (1 - gamma') inbound / V`` with
``gamma' = 1 - (1 - gamma)(1 - protocol_fee_split)``; the protocol keeps
``protocol_fee_split (1 - gamma)`` of the paid-in amount.

Speed: everything that does not depend on the reserves (``log p - log w`` for both
passes, the pair weights) is computed vectorised before the scan; the scan carries
``R`` and ``log R`` together so a pass needs no logarithm of the reserves.

Example:
    >>> import jax.numpy as jnp
    >>> r = jnp.array([1.0, 1.0])
    >>> new, vol = arbitrage_pass(r, jnp.log(r), jnp.array([1.21, 1.0]),
    ...                           jnp.array([0.5, 0.5]), PassCosts(1.0, 0.0, 0.0, True))
    >>> [round(float(x), 6) for x in new[0]], round(float(vol), 6)
    ([0.909091, 1.1], 0.1)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from algotrader.amm.reference_arb import reference_pass
from algotrader.amm.static import SimConfig

Array = jax.Array


class PassCosts(NamedTuple):
    """Per-pass scalars: ``gamma = 1 - fee``, ``gas_cost`` (USD), ``arb_fees``, ``do_arb``."""

    gamma: Any
    gas_cost: Any
    arb_fees: Any
    do_arb: Any


def pair_trades(s: Array, weights: Array, gamma: Any) -> tuple[Array, Array, Array, Array]:
    """All pair trades as ``(n, n)`` matrices (row = token in, column = token out).

    Returns ``L``, ``gain = dR_in/R_in``, ``loss = dR_out/R_out`` and ``wh_in``;
    the diagonal has ``L = log gamma <= 0``, so ``L > 0`` selects exactly the profitable pairs.
    """
    big_l = jnp.log(gamma) + s[None, :] - s[:, None]
    wh_in = weights[:, None] / (weights[:, None] + weights[None, :])
    gain = jnp.expm1((1.0 - wh_in) * big_l) / gamma
    loss = jnp.expm1(-wh_in * big_l)
    return big_l, gain, loss, wh_in


def _execute_flag(profit: Any, inbound: Any, outbound: Any, valid: Any, c: PassCosts) -> Any:
    return valid & (profit - c.gas_cost >= 0.5 * c.arb_fees * (inbound + outbound)) & c.do_arb


def _noise_factor(inbound: Any, value: Any, c: PassCosts, cfg_noise: float, split: float) -> Any:
    gamma_eff = 1.0 - (1.0 - c.gamma) * (1.0 - split)
    return 1.0 + cfg_noise * (1.0 - gamma_eff) * inbound / value


def _pass_two(
    res: Array, log_res: Array, prices: Array, shift: Array, wh0: Any, c: PassCosts, **kw: Any
) -> tuple[tuple[Array, Array], Array]:
    """Two-asset pass: at most one profitable direction, no pair enumeration."""
    s0, s1 = log_res[0] + shift[0], log_res[1] + shift[1]
    zero_in = s1 > s0  # token 0 is the cheap one in the pool: it goes in
    big_l = jnp.log(c.gamma) + jnp.abs(s1 - s0)
    wh_in = jnp.where(zero_in, wh0, 1.0 - wh0)
    gain = jnp.expm1((1.0 - wh_in) * big_l) / c.gamma
    loss = jnp.expm1(-wh_in * big_l)
    v0, v1 = res[0] * prices[0], res[1] * prices[1]
    v_in, v_out = jnp.where(zero_in, v0, v1), jnp.where(zero_in, v1, v0)
    inbound, outbound = v_in * gain, -v_out * loss
    execute = _execute_flag(outbound - inbound, inbound, outbound, big_l > 0.0, c)
    keep = 1.0 - kw["split"] * (1.0 - c.gamma)
    f_in, lf_in = 1.0 + gain * keep, jnp.log1p(gain * keep)
    f_out, lf_out = 1.0 + loss, -wh_in * big_l
    f0, f1 = jnp.where(zero_in, f_in, f_out), jnp.where(zero_in, f_out, f_in)
    l0, l1 = jnp.where(zero_in, lf_in, lf_out), jnp.where(zero_in, lf_out, lf_in)
    factors, log_factors = jnp.stack([f0, f1]), jnp.stack([l0, l1])
    if kw["noise"] > 0.0:
        nf = _noise_factor(inbound, v0 + v1, c, kw["noise"], kw["split"])
        factors, log_factors = factors * nf, log_factors + jnp.log(nf)
    new = jnp.where(execute, res * factors, res)
    new_log = jnp.where(execute, log_res + log_factors, log_res)
    return (new, new_log), jnp.where(execute, inbound, 0.0)


def _pass_many(
    res: Array, log_res: Array, prices: Array, shift: Array, weights: Array, c: PassCosts, **kw: Any
) -> tuple[tuple[Array, Array], Array]:
    """``n``-asset pass over the ``(n, n)`` pair matrices."""
    big_l, gain, loss, wh_in = pair_trades(log_res + shift, weights, c.gamma)
    notional = res * prices
    inbound_m = notional[:, None] * gain
    outbound_m = -notional[None, :] * loss
    valid = big_l > 0.0
    profit = jnp.where(valid, outbound_m - inbound_m, 0.0)
    best = jnp.max(profit)
    sel = (profit == best) & valid
    self_f = sel.astype(res.dtype)
    inbound, outbound = jnp.sum(self_f * inbound_m), jnp.sum(self_f * outbound_m)
    execute = _execute_flag(best, inbound, outbound, jnp.any(sel), c)
    keep = 1.0 - kw["split"] * (1.0 - c.gamma)
    safe_l = jnp.where(valid, big_l, 0.0)
    log_gain = jnp.log1p(jnp.where(sel, gain, 0.0) * keep)
    log_factors = jnp.sum(self_f * log_gain, axis=1) + jnp.sum(-self_f * wh_in * safe_l, axis=0)
    if kw["noise"] > 0.0:
        nf = _noise_factor(inbound, jnp.sum(notional), c, kw["noise"], kw["split"])
        log_factors = log_factors + jnp.log(nf)
    factors = jnp.exp(log_factors)
    new = jnp.where(execute, res * factors, res)
    new_log = jnp.where(execute, log_res + log_factors, log_res)
    return (new, new_log), jnp.where(execute, inbound, 0.0)


def arbitrage_pass(
    res: Array,
    log_res: Array,
    prices: Array,
    weights: Array,
    costs: PassCosts,
    noise: float = 0.0,
    split: float = 0.0,
) -> tuple[tuple[Array, Array], Array]:
    """One arbitrage pass at ``prices``/``weights``; returns ``((R, log R), inbound notional)``."""
    shift = jnp.log(prices) - jnp.log(weights)
    if res.shape[-1] == 2:
        wh0 = weights[0] / (weights[0] + weights[1])
        return _pass_two(res, log_res, prices, shift, wh0, costs, noise=noise, split=split)
    return _pass_many(res, log_res, prices, shift, weights, costs, noise=noise, split=split)


class StepInputs(NamedTuple):
    """Per-minute inputs of the fee scan, each with a leading time axis ``T - 1``."""

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


def _inject_trade(res: Array, x: StepInputs) -> Array:
    """G3M exact-in trade at the old weights: ``out = R_o (1 - (R_i / (R_i + g a))^(w_i/w_o))``."""
    n = res.shape[-1]
    r_in, r_out = res[x.trade_in], res[x.trade_out]
    w_in, w_out = x.w_prev[x.trade_in], x.w_prev[x.trade_out]
    amount = x.trade_amount
    out = r_out * -jnp.expm1((w_in / w_out) * jnp.log(r_in / (r_in + x.gamma * amount)))
    eye = jnp.eye(n, dtype=res.dtype)
    return res + eye[x.trade_in] * amount - eye[x.trade_out] * out


def fee_scan(
    r0: Array, xs: StepInputs, cfg: SimConfig, with_trades: bool, with_lp: bool
) -> tuple[Array, Array]:
    """Two-pass arbitrage over minutes; returns reserves ``(T, n)`` and inbound ``(T,)``."""
    n = r0.shape[-1]
    log_p = jnp.log(xs.prices)
    shift_a = log_p - jnp.log(xs.w_prev)
    shift_b = log_p - jnp.log(xs.w_next)
    kw = {"noise": cfg.noise_trader_ratio, "split": cfg.protocol_fee_split}
    reference = cfg.arb_validity == "reference"
    if n == 2 and not reference:
        mix_a = xs.w_prev[:, 0] / (xs.w_prev[:, 0] + xs.w_prev[:, 1])
        mix_b = xs.w_next[:, 0] / (xs.w_next[:, 0] + xs.w_next[:, 1])
    else:
        mix_a, mix_b = xs.w_prev, xs.w_next

    def one_pass(
        carry: tuple[Array, Array], p: Array, shift: Array, mix: Array, c: PassCosts
    ) -> Any:
        if reference:
            return reference_pass(carry[0], p, mix, c, kw["noise"], kw["split"])
        if n == 2:
            return _pass_two(carry[0], carry[1], p, shift, mix, c, **kw)
        return _pass_many(carry[0], carry[1], p, shift, mix, c, **kw)

    def step(carry: tuple[Array, Array], x: tuple[Any, ...]) -> tuple[Any, tuple[Array, Array]]:
        step_in, sa, sb, ma, mb = x
        costs = PassCosts(step_in.gamma, step_in.gas_cost, step_in.arb_fees, step_in.do_arb)
        carry, vol1 = one_pass(carry, step_in.prices, sa, ma, costs)
        if with_trades or with_lp:
            res = carry[0]
            if with_trades:
                res = _inject_trade(res, step_in)
            if with_lp:
                res = res * step_in.lp_ratio
            carry = (res, jnp.log(res))
        carry, vol2 = one_pass(carry, step_in.prices, sb, mb, costs)
        return carry, (carry[0], vol1 + vol2)

    init = (r0, jnp.log(r0))
    seq = (xs, shift_a, shift_b, mix_a, mix_b)
    _, (path, volume) = jax.lax.scan(step, init, seq, unroll=cfg.scan_unroll)
    path = jnp.concatenate([r0[None], path], axis=0)
    volume = jnp.concatenate([jnp.zeros((1,), path.dtype), volume])
    return path, volume


__all__ = ["PassCosts", "StepInputs", "arbitrage_pass", "fee_scan", "pair_trades"]
