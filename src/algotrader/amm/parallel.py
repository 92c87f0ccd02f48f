"""Parallel-in-time fee arbitrage (exact), with a parallel adjoint for gradients.

Why it works.  Without gas costs, arbitrage-fee thresholds and injected trades, one
minute of two-pass arbitrage ``R_t = f_t(R_{t-1})`` is *homogeneous*: scaling the
reserves scales the result, ``f_t(c R) = c f_t(R)`` (every trade is a fraction of the
reserves fixed by log-reserve differences).  Only the *shape* ``log R - log R_0``
carries information forward, and it is pulled to the fee band by every trade (a
strong contraction), so a block of minutes soon forgets the shape it started from.

Forward.  The ``T - 1`` minutes are cut into ``NB`` blocks of ``B``.  All blocks run
at once (vectorised) from guessed starting shapes; each block's final shape becomes
the next block's guess; this repeats until no guess changes (block ``k`` is exact
after ``k`` rounds, so it always terminates; in practice after a few rounds).  The
block scales then follow by a cumulative sum of log growth over blocks.  The result
equals the sequential scan to rounding (about 1e-15 relative per block boundary).

Backward (``jax.custom_vjp``).  The adjoint of ``R_t = f_t(R_{t-1})`` is the *linear*
recurrence ``a_{t-1} = J_t^T a_t + (cotangent of R_{t-1})`` with the per-step
Jacobians ``J_t`` (computed for all steps at once, one vectorised sweep); it is solved
by a sequential reverse scan of small matrix-vector products (one native loop on CPU;
an associative scan over affine maps, ``_compose``, is the parallel alternative but is
20x slower on a CPU), and the input cotangents come from one vectorised VJP.

Example:
    >>> import jax.numpy as jnp
    >>> p = jnp.array([[1.0, 1.0], [1.21, 1.0]]); w = jnp.full((2, 2), 0.5)
    >>> x = pack_rows(p[1:], w[:-1], w[1:], jnp.array([0.997]), jnp.ones(1))
    >>> path, vol = parallel_fee_path(jnp.array([1.0, 1.0]), x, jnp.array([True]), 0.0, 0.0, -1)
    >>> bool(path[1, 0] < 1.0 < path[1, 1]), bool(vol[1] > 0)
    (True, True)
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp

from algotrader.amm.arbitrage import PassCosts

Array = jax.Array


def _pass_two_ratio(
    res: Array, prices: Array, k: Any, wh0: Any, c: PassCosts, noise: float, split: float
) -> tuple[Array, Array]:
    """Two-asset pass with one log and one exp.

    ``r = exp(s_1 - s_0) = (R_1 / R_0) k`` with ``k = (p_1 w_0) / (p_0 w_1)``; the
    profitable direction has ``rho = gamma max(r, 1/r) > 1``, ``L = log rho``,
    ``e = exp(wh_out L)``: the paid-in reserve grows by ``(e - 1) / gamma`` and the
    other is multiplied by ``e / rho`` (= ``exp(-wh_in L)``).
    """
    ratio = res[1] / res[0] * k
    zero_in = ratio > 1.0
    rho = c.gamma * jnp.where(zero_in, ratio, 1.0 / ratio)
    big_l = jnp.log(rho)
    wh_in = jnp.where(zero_in, wh0, 1.0 - wh0)
    e = jnp.exp((1.0 - wh_in) * big_l)
    gain = (e - 1.0) / c.gamma
    keep_out = e / rho
    v0, v1 = res[0] * prices[0], res[1] * prices[1]
    v_in, v_out = jnp.where(zero_in, v0, v1), jnp.where(zero_in, v1, v0)
    inbound, outbound = v_in * gain, v_out * (1.0 - keep_out)
    ok = (rho > 1.0) & (outbound - inbound - c.gas_cost >= 0.5 * c.arb_fees * (inbound + outbound))
    execute = ok & c.do_arb
    f_in = 1.0 + gain * (1.0 - split * (1.0 - c.gamma))
    factors = jnp.stack([jnp.where(zero_in, f_in, keep_out), jnp.where(zero_in, keep_out, f_in)])
    if noise > 0.0:
        gamma_eff = 1.0 - (1.0 - c.gamma) * (1.0 - split)
        factors = factors * (1.0 + noise * (1.0 - gamma_eff) * inbound / (v0 + v1))
    return jnp.where(execute, res * factors, res), jnp.where(execute, inbound, 0.0)


def _pair_matrices(
    res: Array, prices: Array, shift: Array, weights: Array, gamma: Any
) -> tuple[Array, Array, Array, Array, Array, Array, Array]:
    """Every pair's trade, ``(n, n)`` (row = token in): ``gain``, ``keep_out``, the notional
    ``(n,)``, inbound and outbound notionals, ``valid`` (``L > 0``) and the profit (0 where
    not valid); see :func:`_pass_many_ratio`."""
    s = jnp.log(res) + shift
    r = res * prices / weights
    big_l = jnp.log(gamma) + s[None, :] - s[:, None]
    rho = gamma * r[None, :] / r[:, None]
    wh_in = weights[:, None] / (weights[:, None] + weights[None, :])
    e = jnp.exp((1.0 - wh_in) * big_l)
    gain = (e - 1.0) / gamma
    keep_out = e / rho
    notional = res * prices
    inbound_m = notional[:, None] * gain
    outbound_m = notional[None, :] * (1.0 - keep_out)
    valid = big_l > 0.0
    profit = jnp.where(valid, outbound_m - inbound_m, 0.0)
    return gain, keep_out, notional, inbound_m, outbound_m, valid, profit


def _pass_many_ratio(
    res: Array,
    prices: Array,
    shift: Array,
    weights: Array,
    c: PassCosts,
    noise: float,
    split: float,
) -> tuple[Array, Array]:
    """``n``-asset pass with ``n`` logs and ``n^2`` exps (no per-pair logarithms).

    ``L = log gamma + s_j - s_i`` from ``s = log R + shift``; ``e = exp(wh_j L)``; the
    paid-in reserve grows by ``(e - 1)/gamma`` and the paid-out one is multiplied by
    ``e / rho`` with ``rho = gamma r_j / r_i`` (``r = R p / w``), i.e. ``exp(-wh_i L)``.
    """
    gain, keep_out, notional, inbound_m, outbound_m, valid, profit = _pair_matrices(
        res, prices, shift, weights, c.gamma
    )
    best = jnp.max(profit)
    sel = ((profit == best) & valid).astype(res.dtype)
    inbound, outbound = jnp.sum(sel * inbound_m), jnp.sum(sel * outbound_m)
    ok = jnp.any(sel > 0) & (best - c.gas_cost >= 0.5 * c.arb_fees * (inbound + outbound))
    keep = 1.0 - split * (1.0 - c.gamma)
    factors = 1.0 + jnp.sum(sel * gain, axis=1) * keep + jnp.sum(sel * (keep_out - 1.0), axis=0)
    if noise > 0.0:
        gamma_eff = 1.0 - (1.0 - c.gamma) * (1.0 - split)
        factors = factors * (1.0 + noise * (1.0 - gamma_eff) * inbound / jnp.sum(notional))
    execute = ok & c.do_arb
    return jnp.where(execute, res * factors, res), jnp.where(execute, inbound, 0.0)


def _layout(n: int) -> tuple[int, int]:
    """Width of one pass's pair-weight block and of a packed step row."""
    mix = 1 if n == 2 else n
    return mix, 3 * n + 2 * mix + 2


def _step(
    res: Array, log_res: Array, x: Array, do_arb: Any, noise: float, split: float
) -> tuple[tuple[Array, Array], Array]:
    """One minute (two passes) from a packed row ``x``; homogeneous in ``res``."""
    n = res.shape[-1]
    if n == 2:
        costs = PassCosts(x[6], 0.0, 0.0, do_arb)
        new, v1 = _pass_two_ratio(res, x[:2], x[2], x[4], costs, noise, split)
        new = new * x[7]
        new, v2 = _pass_two_ratio(new, x[:2], x[3], x[5], costs, noise, split)
        return (new, jnp.log(new)), v1 + v2
    mix, _ = _layout(n)
    p, sa, sb = x[:n], x[n : 2 * n], x[2 * n : 3 * n]
    ma, mb = x[3 * n : 3 * n + mix], x[3 * n + mix : 3 * n + 2 * mix]
    gamma, lp = x[3 * n + 2 * mix], x[3 * n + 2 * mix + 1]
    costs = PassCosts(gamma, 0.0, 0.0, do_arb)
    new, v1 = _pass_many_ratio(res, p, sa, ma, costs, noise, split)
    new, v2 = _pass_many_ratio(new * lp, p, sb, mb, costs, noise, split)
    return (new, jnp.log(new)), v1 + v2


def _blocks(x: Array, do_arb: Array, block: int) -> tuple[Array, Array, int]:
    m = x.shape[0]
    nb = -(-m // block)
    pad = nb * block - m
    if pad:
        filler = jnp.broadcast_to(x[-1], (pad, x.shape[1]))
        filler = filler.at[:, -1].set(1.0)  # LP ratio 1
        x = jnp.concatenate([x, filler])
        do_arb = jnp.concatenate([do_arb, jnp.zeros((pad,), bool)])
    return x.reshape(nb, block, -1), do_arb.reshape(nb, block), pad


def _run_blocks(
    shapes: Array, xb: Array, db: Array, noise: float, split: float, unroll: int
) -> tuple[Array, Array, Array]:
    """Run every block from its starting log-shape; paths ``(NB, B, n)`` of R, log R, vol.

    Blocks are the minor (vectorised) axis inside the scan: per-asset rows of length
    ``NB`` are contiguous, which is what XLA's CPU vectoriser needs.
    """
    step = jax.vmap(
        lambda r, lr, xx, dd: _step(r, lr, xx, dd, noise, split),
        in_axes=(1, 1, 1, 0),
        out_axes=((1, 1), 0),
    )

    def body(carry: tuple[Array, Array], xs: tuple[Array, Array]) -> Any:
        x, d = xs
        carry, vol = step(carry[0], carry[1], x, d)
        return carry, (carry[0], carry[1], vol)

    init = (jnp.exp(shapes).T, shapes.T)
    seq = (jnp.transpose(xb, (1, 2, 0)), jnp.swapaxes(db, 0, 1))
    _, (res, logs, vol) = jax.lax.scan(body, init, seq, unroll=unroll)
    return jnp.transpose(res, (2, 0, 1)), jnp.transpose(logs, (2, 0, 1)), jnp.swapaxes(vol, 0, 1)


def _forward(
    r0: Array, x: Array, do_arb: Array, noise: float, split: float, block: int, unroll: int = 4
) -> tuple[Array, Array]:
    m, n = x.shape[0], r0.shape[0]
    xb, db, _ = _blocks(x, do_arb, block)
    nb = xb.shape[0]
    log_r0 = jnp.log(r0)
    first = (log_r0 - log_r0[0])[None, :]

    def shapes_from(ends: Array) -> Array:
        rel = ends - ends[:, :1]
        return jnp.concatenate([first, rel[:-1]], axis=0)

    def cond(state: tuple[Any, ...]) -> Any:
        return state[0] & (state[1] < nb)

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        _, it, shapes, _, _, _ = state
        res, logs, vol = _run_blocks(shapes, xb, db, noise, split, unroll)
        new = shapes_from(logs[:, -1, :])
        return (jnp.any(new != shapes), it + 1, new, res, logs, vol)

    zeros = jnp.zeros((nb, block, n), r0.dtype)
    start = (jnp.array(True), 0, jnp.broadcast_to(first, (nb, n)), zeros, zeros, zeros[..., 0])
    _, _, shapes, res, logs, vol = jax.lax.while_loop(cond, body, start)
    growth = logs[:, -1, 0] - shapes[:, 0]
    offsets = log_r0[0] + jnp.concatenate([jnp.zeros((1,), r0.dtype), jnp.cumsum(growth)[:-1]])
    scale = jnp.exp(offsets)
    path = (res * scale[:, None, None]).reshape(-1, n)[:m]
    volume = (vol * scale[:, None]).reshape(-1)[:m]
    return jnp.concatenate([r0[None], path]), jnp.concatenate([jnp.zeros((1,), r0.dtype), volume])


def _sequential(
    r0: Array, x: Array, do_arb: Array, noise: float, split: float, unroll: int
) -> tuple[Array, Array]:
    """The plain ``lax.scan`` (one minute per iteration), columns unpacked outside the loop.

    It carries and emits only the reserves (:func:`_pass_many_lean`); the volume is
    replayed afterwards by :func:`_volume` (and dropped by XLA when unused).
    """
    n = r0.shape[0]
    if n == 2:
        return _sequential_two(r0, x, do_arb, noise, split, unroll)
    mix, _ = _layout(n)
    cols = (
        x[:, :n],
        x[:, n : 2 * n],
        x[:, 2 * n : 3 * n],
        x[:, 3 * n : 3 * n + mix],
        x[:, 3 * n + mix : 3 * n + 2 * mix],
        x[:, 3 * n + 2 * mix],
        x[:, 3 * n + 2 * mix + 1],
        do_arb,
    )

    def body(res: Array, xs: tuple[Array, ...]) -> Any:
        p, sa, sb, ma, mb, gamma, lp, d = xs
        res = _pass_many_lean(res, p, sa, ma, gamma, d, noise, split)
        res = _pass_many_lean(res * lp, p, sb, mb, gamma, d, noise, split)
        return res, res

    _, path = jax.lax.scan(body, r0, cols, unroll=unroll)
    path = jnp.concatenate([r0[None], path])
    return path, _volume(path, x, do_arb, noise, split)


def _pass_many_lean(
    res: Array,
    prices: Array,
    shift: Array,
    weights: Array,
    gamma: Any,
    do_arb: Any,
    noise: float,
    split: float,
) -> Array:
    """:func:`_pass_many_ratio`'s new reserves with fewer reductions (for the scan).

    Same operations on every pair; what is left out cannot change the result here:
    with no gas and no arbitrage fee the execution test is ``any(selected)``, and when
    nothing is selected every factor is exactly ``1 + 0 + 0`` (and the noise factor
    ``1``), so ``R * factors == R``; the in and out moves of a token are summed in one
    reduction (``sel * gain * keep`` by row plus ``sel * (keep_out - 1)`` by column),
    which rounds like two sums as long as a token is only paid in or only paid out.
    Two reductions per pass (max, factor sums) instead of six: XLA's CPU runtime
    dispatches each reduction separately in every iteration of the scan.
    """
    gain, keep_out, notional, inbound_m, _, valid, profit = _pair_matrices(
        res, prices, shift, weights, gamma
    )
    sel = (profit == jnp.max(profit)) & valid
    keep = 1.0 - split * (1.0 - gamma)
    moves = jnp.where(sel, gain * keep, 0.0) + jnp.where(sel, keep_out - 1.0, 0.0).T
    factors = 1.0 + jnp.sum(moves, axis=1)
    if noise > 0.0:
        inbound = jnp.sum(jnp.where(sel, inbound_m, 0.0))
        gamma_eff = 1.0 - (1.0 - gamma) * (1.0 - split)
        factors = factors * (1.0 + noise * (1.0 - gamma_eff) * inbound / jnp.sum(notional))
    return jnp.where(do_arb, res * factors, res)


def _sequential_two(
    r0: Array, x: Array, do_arb: Array, noise: float, split: float, unroll: int
) -> tuple[Array, Array]:
    """Two-asset scan carrying only the reserves; the volume is recomputed afterwards.

    The loop is kept lean on purpose: XLA's CPU backend compiles a ``while`` loop into
    one native kernel (instead of dispatching every fused op of every iteration) when
    its cost model puts one iteration under 1 kB of memory traffic
    (``xla_cpu_small_while_loop_byte_threshold``).  Two passes that carry ``R`` and
    emit only ``R`` count about 0.9 kB; also emitting the volume, or unrolling, goes
    over and makes the loop 3-5x slower.  So one parameter set runs the loop
    un-unrolled; under ``vmap`` (several sets: over the threshold anyway) the loop is
    unrolled ``unroll`` times, which is then the faster choice.
    """
    path = _two_loop_fn(noise, split, unroll)(r0, x, do_arb)
    path = jnp.concatenate([r0[None], path])
    return path, _volume(path, x, do_arb, noise, split)


def _two_loop(r0: Array, x: Array, do_arb: Array, noise: float, split: float, unroll: int) -> Array:
    cols = (x[:, :2], x[:, 2], x[:, 3], x[:, 4], x[:, 5], x[:, 6], x[:, 7], do_arb)

    def body(res: Array, xs: tuple[Array, ...]) -> Any:
        p, ka, kb, wa, wb, gamma, lp, d = xs
        costs = PassCosts(gamma, 0.0, 0.0, d)
        res, _ = _pass_two_ratio(res, p, ka, wa, costs, noise, split)
        res, _ = _pass_two_ratio(res * lp, p, kb, wb, costs, noise, split)
        return res, res

    return jax.lax.scan(body, r0, cols, unroll=unroll)[1]


@lru_cache(maxsize=64)
def _two_loop_fn(noise: float, split: float, unroll: int) -> Any:
    """The 2-asset loop, one kernel when unbatched, unrolled ``unroll`` times under vmap."""

    @jax.custom_batching.custom_vmap
    def loop(r0: Array, x: Array, do_arb: Array) -> Array:
        return _two_loop(r0, x, do_arb, noise, split, 1)

    @loop.def_vmap
    def loop_batched(axis_size: int, in_batched: list[bool], *args: Array) -> tuple[Array, bool]:
        del axis_size
        axes = [0 if b else None for b in in_batched]
        run = partial(_two_loop, noise=noise, split=split, unroll=max(unroll, 1))
        return jax.vmap(run, in_axes=axes)(*args), True

    return loop


def _volume(path: Array, x: Array, do_arb: Array, noise: float, split: float) -> Array:
    """Inbound notional ``(M + 1,)`` of each minute, recomputed from the reserves path.

    Every minute's two passes are replayed at once (vectorised) from ``R_{t-1}``, with
    the same operations as the scan; XLA removes this when the volume is not used.
    """
    step = jax.vmap(lambda r, xx, d: _step_r(r, xx, d, noise, split)[1])
    vol = step(path[:-1], x, do_arb)
    return jnp.concatenate([jnp.zeros((1,), path.dtype), vol])


def _step_r(r: Array, x: Array, d: Any, noise: float, split: float) -> tuple[Array, Array]:
    (new, _), vol = _step(r, jnp.log(r), x, d, noise, split)
    return new, vol


def _solve(
    r0: Array, x: Array, do_arb: Array, noise: float, split: float, block: int
) -> tuple[Array, Array]:
    if block > 0:
        return _forward(r0, x, do_arb, noise, split, block)
    return _sequential(r0, x, do_arb, noise, split, -block or 1)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def parallel_fee_path(
    r0: Array, x: Array, do_arb: Array, noise: float, split: float, block: int
) -> tuple[Array, Array]:
    """Reserves ``(M + 1, n)`` and inbound notional ``(M + 1,)`` for packed rows ``x (M, m)``.

    Row layout of ``x`` (see :func:`pack_rows`): for two assets ``p_0, p_1, k_1, k_2,
    wh_1, wh_2, gamma, lp`` (``k = p_1 w_0 / (p_0 w_1)`` and ``wh = w_0 / (w_0 + w_1)``
    of each pass); otherwise prices ``n``, pass-1 shift ``n``, pass-2 shift ``n``
    (``log p - log w``), pass-1 and pass-2 weights ``n`` each, ``gamma``, LP ratio.  ``do_arb`` is ``(M,)`` bool.  ``block > 0`` runs
    the block-parallel forward with blocks of that many minutes; ``block <= 0`` the
    sequential scan unrolled ``-block`` times (faster on a small CPU).  Either way the
    gradient uses the parallel adjoint.
    """
    return _solve(r0, x, do_arb, noise, split, block)


def _fwd(r0: Array, x: Array, do_arb: Array, noise: float, split: float, block: int) -> Any:
    path, vol = _solve(r0, x, do_arb, noise, split, block)
    return (path, vol), (path, x, do_arb)


def _compose(first: tuple[Array, Array], second: tuple[Array, Array]) -> tuple[Array, Array]:
    """Affine maps ``a -> A a + b``: apply ``first`` then ``second``."""
    a1, b1 = first
    a2, b2 = second
    return a2 @ a1, jnp.einsum("...ij,...j->...i", a2, b1) + b2


#: minutes per block of the backward pass's vectorised sweeps (``lax.map`` batch): the
#: per-minute linearisations of a 4-asset step are ~1 kB each, so a whole-year vmap
#: materialises hundreds of MB of intermediates and is memory-bound (and slows most
#: under load); blocks of 2048 minutes keep them in cache.
BWD_BLOCK = 2048


def _bwd(noise: float, split: float, block: int, resid: Any, cts: Any) -> Any:
    path, x, do_arb = resid
    ct_path, ct_vol = cts
    prev = path[:-1]
    n = path.shape[1]
    step = partial(_step_r, noise=noise, split=split)
    eye = jnp.eye(n, dtype=path.dtype)
    zero = jnp.zeros((), path.dtype)

    def linearise(r: Array, xx: Array, d: Any) -> Any:
        return jax.vjp(lambda rr, q: step(rr, q, d), r, xx)[1]

    def jacobian_rows(args: tuple[Array, Array, Array, Array]) -> tuple[Array, Array]:
        """``J_t^T`` and the volume row of one minute, from one linearisation."""
        r, xx, d, cv = args
        f = linearise(r, xx, d)
        rows = jax.vmap(lambda e: f((e, zero))[0])(eye)  # rows[e] = J^T e
        return rows.T, f((jnp.zeros((n,), path.dtype), cv))[0]

    def input_cotangent(args: tuple[Array, Array, Array, Array, Array]) -> Array:
        r, xx, d, a, v = args
        return linearise(r, xx, d)((a, v))[1]

    batch = min(BWD_BLOCK, max(prev.shape[0], 1))
    mats, vol_rows = jax.lax.map(
        jacobian_rows, (prev, x, do_arb, ct_vol[1:]), batch_size=batch
    )  # J_t^T, J^v_t ct_vol_t
    bias = ct_path[:-1] + vol_rows

    # a_{t-1} = J_t^T a_t + J^v_t ct_vol_t + ct_path_{t-1}; solved backwards in time by a
    # sequential scan of n x n matrix-vector products (written out per column, so the
    # loop body is small and XLA compiles the whole loop into one native kernel).  An
    # associative scan over the affine maps (``_compose``) is the parallel form, but on
    # a CPU its batched n x n matrix products cost 20x more (4 assets, a year of
    # minutes: 1.9-2.1 s against 0.09-0.11 s, same run, load 15; docs/amm.md).
    def back(a: Array, xs: tuple[Array, Array]) -> tuple[Array, Array]:
        m, b = xs
        a_prev = b
        for k in range(n):
            a_prev = a_prev + m[:, k] * a[k]
        return a_prev, a_prev

    _, head = jax.lax.scan(back, ct_path[-1], (mats, bias), reverse=True)
    adj = jnp.concatenate([head, ct_path[-1][None]], axis=0)  # adj[t]: cotangent of R_t
    ct_x = jax.lax.map(input_cotangent, (prev, x, do_arb, adj[1:], ct_vol[1:]), batch_size=batch)
    return adj[0], ct_x, None


parallel_fee_path.defvjp(_fwd, _bwd)


def pack_rows(prices: Array, w_prev: Array, w_next: Array, gamma: Array, lp_ratio: Array) -> Array:
    """Packed per-minute rows ``(M, m)`` for :func:`parallel_fee_path` (see its layout)."""
    if prices.shape[1] == 2:

        def k(w: Array) -> Array:
            return (prices[:, 1] * w[:, 0]) / (prices[:, 0] * w[:, 1])

        def mix(w: Array) -> Array:
            return w[:, 0] / (w[:, 0] + w[:, 1])

        cols = [prices[:, 0], prices[:, 1], k(w_prev), k(w_next), mix(w_prev), mix(w_next)]
        return jnp.stack([*cols, gamma, lp_ratio.reshape(-1)], axis=1)
    log_p = jnp.log(prices)
    shift_a = log_p - jnp.log(w_prev)
    shift_b = log_p - jnp.log(w_next)
    if prices.shape[1] == 2:
        mix_a = (w_prev[:, 0] / (w_prev[:, 0] + w_prev[:, 1]))[:, None]
        mix_b = (w_next[:, 0] / (w_next[:, 0] + w_next[:, 1]))[:, None]
    else:
        mix_a, mix_b = w_prev, w_next
    return jnp.concatenate(
        [prices, shift_a, shift_b, mix_a, mix_b, gamma[:, None], lp_ratio.reshape(-1, 1)], axis=1
    )


__all__ = ["pack_rows", "parallel_fee_path"]
