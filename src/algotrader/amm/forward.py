"""The forward pass: rule outputs -> weights -> reserves -> value (pure, jittable, float64).

Signatures (the contract the trainer relies on)::

    forward_pass(params, start_index, prices, cfg, dynamic=None, coarse=None) -> dict
    objective(params, start_index, prices, cfg, metric=None, dynamic=None) -> scalar
    batched_forward(batch, start_index, prices, cfg) -> dict   # jit(vmap) over parameter sets

* ``params``: one parameter set, ``dict[str, Array]`` of per-asset vectors ``(n,)``
  (names: :attr:`algotrader.amm.PoolSpec.param_names`).
* ``start_index``: traced int, minute index of the window start in ``prices``.
  It must satisfy ``start_index + cfg.n_steps <= len(prices)`` (checked by
  :func:`check_window`, not inside jit where ``dynamic_slice`` would clamp).
* ``prices``: ``(N, n)`` float64, the whole loaded minute history including burn-in;
  the estimators run from row 0 (warm start), the pool starts at ``start_index``.
* ``cfg``: :class:`algotrader.amm.SimConfig`, **static** (hashable; a compile key, as
  is ``prices.shape``).  The window length ``cfg.bout_length`` is static.
* ``dynamic``: optional :class:`DynamicInputs` (per-step fees, gas, arb fees, do_arb,
  trades, LP supply), each with ``T = cfg.n_steps`` rows.
* ``coarse``: optional directly supplied coarse weights ``(K + 1, n)`` replacing the rule.

Returned arrays (``T = bout_length - 1`` rows, row ``t`` = minute ``start_index + t``):
``weights (T, n)`` in force at minute t, ``reserves (T, n)`` after both arbitrage
passes of minute t, ``value (T,)`` = ``sum(reserves * prices)`` (at zero fees computed
directly as the pool's value, equal to that sum to rounding), ``prices (T, n)``,
``arb_volume (T,)`` (inbound notional, zero at zero fees), ``rule_outputs (C - 1, n)``
over the whole history (row j uses chunk price j + 1), ``initial_reserves (n,)``,
plus the rule's readouts (``ewma``, ``running_a``, ``gradient``...).

``jax.vmap(jax.value_and_grad(objective), in_axes=(0, None, None, None))`` works and
compiles once per (prices shape, cfg).

Example:
    >>> import numpy as np, jax.numpy as jnp
    >>> cfg = SimConfig(rule="balancer", n_assets=2, bout_length=4, chunk_period=1,
    ...                 weight_interpolation_period=1)
    >>> prices = jnp.array([[1.0, 1.0], [4.0, 1.0], [4.0, 1.0], [1.0, 1.0]])
    >>> out = forward_pass({"initial_weights_logits": jnp.zeros(2)}, 0, prices, cfg)
    >>> [round(float(v), 6) for v in out["value"]]
    [1000000.0, 2000000.0, 2000000.0]
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from algotrader.amm import params as P
from algotrader.amm.arbitrage import StepInputs, fee_scan
from algotrader.amm.metrics import metric_value
from algotrader.amm.parallel import pack_rows, parallel_fee_path
from algotrader.amm.reserves import (
    hodl_reserves,
    initial_reserves,
    rebalancing_reserves,
    zero_fee_log_value,
)
from algotrader.amm.rules import parse_rule, weight_bounds
from algotrader.amm.static import SimConfig
from algotrader.amm.weights import n_coarse_rows, weights_from_coarse, window_fine_weights
from algotrader.errors import ConfigError, ShapeError

Array = jax.Array


class DynamicInputs(NamedTuple):
    """Per-step inputs, each ``(T,)`` (``None`` = use the config's scalar).

    ``trades`` is ``(T, 3)``: ``[token_in_index, token_out_index, amount_in]`` per
    minute (amount 0 = no trade); ``lp_supply`` is the pool-token supply per minute
    (reserves scale by ``lp_t / lp_{t-1}``).
    """

    fees: Array | None = None
    gas_cost: Array | None = None
    arb_fees: Array | None = None
    do_arb: Array | None = None
    trades: Array | None = None
    lp_supply: Array | None = None


def check_window(start_index: int, n_prices: int, cfg: SimConfig) -> None:
    """Raise :class:`ShapeError` unless ``[start_index, start_index + T)`` fits in the prices."""
    if start_index < 0 or start_index + cfg.n_steps > n_prices:
        raise ShapeError(
            f"window [{start_index}, {start_index + cfg.n_steps}) does not fit in "
            f"{n_prices} price rows",
            key="start_index",
            hint="load more data or shorten the window (bout_length)",
        )


def rule_outputs(params: dict[str, Any], prices: Array, cfg: SimConfig) -> dict[str, Array]:
    """The rule's outputs over the whole price history (empty for static rules)."""
    spec = parse_rule(cfg.rule)
    if spec.base.outputs is None:
        return {}
    return spec.base.outputs(params, prices[:: cfg.chunk_period], cfg)


def _window_rows(full: Array, start_index: Any, cfg: SimConfig) -> Array:
    rows = n_coarse_rows(cfg)
    padded = jnp.concatenate([full, jnp.zeros((rows, full.shape[1]), full.dtype)], axis=0)
    first = start_index // cfg.chunk_period
    return jax.lax.dynamic_slice(padded, (first, 0), (rows, full.shape[1]))


def compute_weights(
    params: dict[str, Any], start_index: Any, prices: Array, cfg: SimConfig
) -> tuple[Array, dict[str, Array]]:
    """Fine weights ``(T, n)`` of the window and the rule outputs over the history."""
    spec = parse_rule(cfg.rule)
    w0 = P.initial_weights(params)
    outs = rule_outputs(params, prices, cfg)
    if not outs:
        return jnp.broadcast_to(w0, (cfg.n_steps, cfg.n_assets)), outs
    rows = _window_rows(outs["rule_outputs"], start_index, cfg)
    blend = _window_rows(outs["blend"], start_index, cfg) if "blend" in outs else None
    bounds = weight_bounds(params) if "bounded" in spec.hooks else None
    fine, _ = window_fine_weights(rows, w0, cfg, spec.base.kind, blend, bounds)
    return fine, outs


def _step_inputs(weights: Array, prices: Array, cfg: SimConfig, dyn: DynamicInputs) -> StepInputs:
    m = weights.shape[0] - 1
    dtype = prices.dtype

    def per_step(arr: Array | None, default: float) -> Array:
        if arr is None:
            return jnp.full((m,), default, dtype)
        return jnp.asarray(arr, dtype)[:: cfg.arb_frequency][1:]

    gamma = 1.0 - per_step(dyn.fees, cfg.fees)
    do_arb = per_step(None if dyn.do_arb is None else dyn.do_arb, float(cfg.do_arb)) > 0.5
    if dyn.trades is None:
        t_in = jnp.zeros((m,), jnp.int32)
        t_out = jnp.ones((m,), jnp.int32)
        amount = jnp.zeros((m,), dtype)
    else:
        trades = jnp.asarray(dyn.trades)[:: cfg.arb_frequency][1:]
        t_in, t_out = trades[:, 0].astype(jnp.int32), trades[:, 1].astype(jnp.int32)
        amount = trades[:, 2].astype(dtype)
    if dyn.lp_supply is None:
        lp_ratio = jnp.ones((m, 1), dtype)
    else:
        lp = jnp.asarray(dyn.lp_supply, dtype)[:: cfg.arb_frequency]
        lp_ratio = (lp[1:] / lp[:-1])[:, None]
    return StepInputs(
        prices=prices[1:],
        w_prev=weights[:-1],
        w_next=weights[1:],
        gamma=gamma,
        gas_cost=per_step(dyn.gas_cost, cfg.gas_cost),
        arb_fees=per_step(dyn.arb_fees, cfg.arb_fees),
        do_arb=do_arb,
        trade_in=t_in,
        trade_out=t_out,
        trade_amount=amount,
        lp_ratio=lp_ratio,
    )


def _homogeneous(cfg: SimConfig, dyn: DynamicInputs) -> bool:
    """No gas, no arbitrage-fee threshold, no injected trades: one minute is homogeneous
    in the reserves, so the parallel adjoint (:mod:`algotrader.amm.parallel`) applies."""
    no_gas = cfg.gas_cost == 0.0 and dyn.gas_cost is None
    no_arb_fee = cfg.arb_fees == 0.0 and dyn.arb_fees is None
    return no_gas and no_arb_fee and dyn.trades is None


def _needs_scan(cfg: SimConfig, dyn: DynamicInputs) -> bool:
    return cfg.has_fees or not cfg.do_arb or any(x is not None for x in dyn)


def compute_reserves(
    weights: Array, prices: Array, cfg: SimConfig, dyn: DynamicInputs | None = None
) -> tuple[Array, Array, Array]:
    """Reserves ``(T, n)``, value ``(T,)`` and inbound arbitrage notional ``(T,)``."""
    dyn = DynamicInputs() if dyn is None else dyn
    model = parse_rule(cfg.rule).reserve_model
    f = cfg.arb_frequency
    w_grid, p_grid = weights[::f], prices[::f]
    v0 = cfg.initial_pool_value
    volume = jnp.zeros((w_grid.shape[0],), prices.dtype)
    value = None
    if model == "hodl":
        res = hodl_reserves(w_grid, p_grid, v0)
    elif model in ("lvr", "rvr"):
        cost = cfg.fees if model == "lvr" else cfg.arb_fees
        res = rebalancing_reserves(w_grid, p_grid, v0, cost, both_legs=model == "rvr")
    elif _needs_scan(cfg, dyn):
        xs = _step_inputs(w_grid, p_grid, cfg, dyn)
        r0 = initial_reserves(w_grid[0], p_grid[0], v0)
        if _homogeneous(cfg, dyn) and cfg.arb_validity == "exact":
            rows = pack_rows(xs.prices, xs.w_prev, xs.w_next, xs.gamma, xs.lp_ratio[:, 0])
            noise, split = cfg.noise_trader_ratio, cfg.protocol_fee_split
            res, volume = parallel_fee_path(r0, rows, xs.do_arb, noise, split, -cfg.scan_unroll)
        else:
            with_lp = dyn.lp_supply is not None
            res, volume = fee_scan(r0, xs, cfg, dyn.trades is not None, with_lp)
    else:
        grid_value = jnp.exp(zero_fee_log_value(w_grid, p_grid, v0))
        res = grid_value[:, None] * w_grid / p_grid
        if f == 1:
            value = grid_value
    if f > 1:
        res = jnp.repeat(res, f, axis=0)[: cfg.n_steps]
        volume = jnp.repeat(volume, f, axis=0)[: cfg.n_steps]
    if value is None:
        value = _row_sums(res * prices)
    return res, value, volume


def _row_sums(x: Array) -> Array:
    """Sum over the (short) asset axis, asset by asset (vectorises better on CPU)."""
    total = x[:, 0]
    for k in range(1, x.shape[1]):
        total = total + x[:, k]
    return total


def forward_pass(
    params: dict[str, Any],
    start_index: Any,
    prices: Array,
    cfg: SimConfig,
    dynamic: DynamicInputs | None = None,
    coarse: Array | None = None,
) -> dict[str, Array]:
    """Simulate one parameter set over one window; see the module docstring."""
    if prices.ndim != 2 or prices.shape[1] != cfg.n_assets:
        raise ShapeError(f"prices must be (N, {cfg.n_assets}), got {prices.shape}", key="prices")
    window = jax.lax.dynamic_slice(prices, (start_index, 0), (cfg.n_steps, cfg.n_assets))
    if coarse is None:
        weights, outs = compute_weights(params, start_index, prices, cfg)
    else:
        weights, outs = weights_from_coarse(jnp.asarray(coarse, prices.dtype), cfg), {}
    reserves, value, volume = compute_reserves(weights, window, cfg, dynamic)
    return {
        "weights": weights,
        "reserves": reserves,
        "value": value,
        "prices": window,
        "arb_volume": volume,
        "initial_reserves": reserves[0],
        **outs,
    }


def objective(
    params: dict[str, Any],
    start_index: Any,
    prices: Array,
    cfg: SimConfig,
    metric: str | None = None,
    dynamic: DynamicInputs | None = None,
    path: str = "auto",
) -> Array:
    """Scalar metric (``cfg.return_val`` unless ``metric`` is given) of one window.

    ``path="auto"`` (default): at zero fees, daily chunks and linear interpolation, for
    the daily and return metrics (:func:`algotrader.amm.chunk_objective.supports`), the
    per-chunk closed form :func:`algotrader.amm.chunk_objective.window_objective` is
    used (same value and gradient to rounding, several times cheaper: docs/amm.md,
    "Zero-fee objective"); otherwise, or with ``path="minute"``, the metric of the full
    minute simulation (:func:`forward_pass`).
    """
    name = metric or cfg.return_val
    if path not in ("auto", "minute"):
        raise ConfigError(
            f"objective path must be 'auto' or 'minute', got {path!r}",
            key="path",
            hint="use path='auto' (closed form where it applies) or path='minute'",
        )
    if path == "auto" and dynamic is None:
        # imported here: chunk_objective imports algotrader.amm (an import cycle otherwise)
        from algotrader.amm import chunk_objective

        if chunk_objective.supports(cfg, name):
            return chunk_objective.window_objective(params, start_index, prices, cfg, name)
    out = forward_pass(params, start_index, prices, cfg, dynamic)
    return metric_value(out, name)


@partial(jax.jit, static_argnames=("cfg",))
def batched_forward(
    batch: dict[str, Any], start_index: Any, prices: Array, cfg: SimConfig
) -> dict[str, Array]:
    """``forward_pass`` vmapped over parameter sets (leading axis of every ``batch`` array)."""
    return jax.vmap(forward_pass, in_axes=(0, None, None, None))(batch, start_index, prices, cfg)


jit_forward_pass = jax.jit(forward_pass, static_argnames=("cfg",))
jit_objective = jax.jit(objective, static_argnames=("cfg", "metric", "path"))


__all__ = [
    "DynamicInputs",
    "batched_forward",
    "check_window",
    "compute_reserves",
    "compute_weights",
    "forward_pass",
    "jit_forward_pass",
    "jit_objective",
    "objective",
    "rule_outputs",
]
