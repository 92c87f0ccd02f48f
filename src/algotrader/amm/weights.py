"""Coarse weights (per chunk, with guardrails) and fine per-minute interpolation.

Coarse step (``m = minimum_weight``, ``M = 1 - (n-1) m``, ``W`` the interpolation period)::

    raw = w_prev + dw                    (target rules: Lambda w_prev + (1-Lambda) target)
    u   = raw / sum(raw)
    [bounded hook: clip to [lo, hi], move the deficit/surplus onto assets with slack]
    L   = {i : u_i < m}                  (chosen before clipping)
    u   = clip(u, m, M);  u_i *= (1 - |L| m) / sum_{j not in L} u_j   for i not in L
    u  += stop_gradient(1 - sum(u)) at argmax(u)            -> target
    d   = (target - w_prev) / W;  if max|d| > maximum_change: d *= maximum_change / (max|d| + 1e-10)
    w   = w_prev + W d                   (the carry; may undershoot the target)

Fine weights: chunk ``c`` emits ``chunk_period`` minutes from its start weight ``s``:
``linear``: ``s + min(j, W) d``; ``approx_optimal``: rows ``j < W`` are
``normalise((s + j d) + s (e / s)^(j / (W + 1)))`` with ``e = s + W d``, then ``e``.

Timing: a target computed from the chunk price at minute ``start + (c+1) cp`` starts
being interpolated at that minute; the first chunk of every window holds the initial
weights (for every non-static rule), so no weight ever uses a later price.

Example:
    >>> import jax.numpy as jnp
    >>> w = apply_guardrails(jnp.array([0.9, 0.08, 0.02]), 0.05)
    >>> [round(float(x), 6) for x in w]
    [0.872449, 0.077551, 0.05]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algotrader.amm.static import SimConfig

Array = jax.Array


def apply_guardrails(u: Array, min_weight: float) -> Array:
    """Minimum-weight guardrail with redistribution; ``u`` sums to 1, shape ``(n,)``."""
    n = u.shape[-1]
    max_weight = 1.0 - (n - 1) * min_weight
    below = u < min_weight
    clipped = jnp.clip(u, min_weight, max_weight)
    n_below = jnp.sum(below)
    free_sum = jnp.sum(jnp.where(below, 0.0, clipped))
    free_sum = jnp.where(free_sum == 0.0, 1.0, free_sum)
    scaled = jnp.where(below, clipped, clipped * (1.0 - n_below * min_weight) / free_sum)
    fix = jax.lax.stop_gradient(1.0 - jnp.sum(scaled))
    return scaled + fix * jax.nn.one_hot(jnp.argmax(scaled), n, dtype=scaled.dtype)


def apply_bounds(u: Array, lo: Array, hi: Array) -> Array:
    """Clip to per-asset ``[lo, hi]``, move the excess/deficit onto assets with slack."""
    c = jnp.clip(u, lo, hi)
    excess = 1.0 - jnp.sum(c)
    slack = jnp.where(excess > 0, hi - c, c - lo)
    total = jnp.sum(slack)
    total = jnp.where(total == 0.0, 1.0, total)
    c = jnp.clip(c + excess * slack / total, lo, hi)
    return c / jnp.sum(c)


def max_change_delta(target: Array, w_prev: Array, cfg: SimConfig) -> Array:
    """Per-minute change ``d`` towards ``target``, uniformly scaled to ``maximum_change``."""
    d = (target - w_prev) / cfg.weight_interpolation_period
    biggest = jnp.max(jnp.abs(d))
    scale = jnp.where(biggest > cfg.maximum_change, cfg.maximum_change / (biggest + 1e-10), 1.0)
    return d * scale


def coarse_weights(
    rows: Array,
    w0: Array,
    cfg: SimConfig,
    kind: str,
    blend: Array | None = None,
    bounds: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Run the coarse scan over rule rows ``(K, n)``; returns chunk starts and deltas ``(K, n)``.

    ``kind`` is ``delta`` (rows are weight changes) or ``target`` (rows are target
    weights blended with ``blend`` of shape ``(K, n)``).
    """
    mw = cfg.min_weight
    span = cfg.weight_interpolation_period

    def step(w_prev: Array, xs: tuple[Array, Array]) -> tuple[Array, tuple[Array, Array]]:
        row, lam = xs
        raw = w_prev + row if kind == "delta" else lam * w_prev + (1.0 - lam) * row
        u = raw / jnp.sum(raw)
        if bounds is not None:
            u = apply_bounds(u, bounds[0], bounds[1])
        target = apply_guardrails(u, mw)
        d = max_change_delta(target, w_prev, cfg)
        return w_prev + span * d, (w_prev, d)

    lam_rows = jnp.zeros_like(rows) if blend is None else blend
    _, (starts, deltas) = jax.lax.scan(step, w0, (rows, lam_rows))
    return starts, deltas


def fine_weights(starts: Array, deltas: Array, cfg: SimConfig) -> Array:
    """Per-minute weights of shape ``(K * chunk_period, n)`` from chunk starts/deltas."""
    cp, span = cfg.chunk_period, cfg.weight_interpolation_period
    j = jnp.arange(cp, dtype=starts.dtype)
    steps = jnp.minimum(j, span)[None, :, None]
    linear = starts[:, None, :] + steps * deltas[:, None, :]
    if cfg.weight_interpolation_method == "approx_optimal":
        end = starts + span * deltas
        frac = (j / (span + 1.0))[None, :, None]
        ratio = jnp.where(starts > 0, end / jnp.where(starts > 0, starts, 1.0), 1.0)
        geo = starts[:, None, :] * ratio[:, None, :] ** frac
        mixed = linear + geo
        mixed = mixed / jnp.sum(mixed, axis=-1, keepdims=True)
        linear = jnp.where((j < span)[None, :, None], mixed, end[:, None, :])
    return linear.reshape(-1, starts.shape[-1])


def n_coarse_rows(cfg: SimConfig) -> int:
    """Coarse rows needed after the held first chunk to cover ``T`` minutes."""
    remaining = cfg.n_steps - cfg.chunk_period
    return max(-(-remaining // cfg.chunk_period), 0)


def window_fine_weights(
    rule_rows: Array,
    w0: Array,
    cfg: SimConfig,
    kind: str,
    blend: Array | None = None,
    bounds: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Fine weights ``(T, n)`` for a window and the coarse actual weights ``(K + 1, n)``.

    ``rule_rows`` are the ``K = n_coarse_rows(cfg)`` rule rows of the window (row ``c``
    computed from the chunk price at minute ``start + (c + 1) * chunk_period``).
    """
    if kind in ("static", "hodl") or rule_rows.shape[0] == 0:
        fine = jnp.broadcast_to(w0, (cfg.n_steps, w0.shape[-1]))
        return fine, w0[None, :]
    starts, deltas = coarse_weights(rule_rows, w0, cfg, kind, blend, bounds)
    held = jnp.broadcast_to(w0, (cfg.chunk_period, w0.shape[-1]))
    fine = jnp.concatenate([held, fine_weights(starts, deltas, cfg)], axis=0)
    coarse = jnp.concatenate(
        [starts, (starts[-1] + cfg.weight_interpolation_period * deltas[-1])[None]]
    )
    return fine[: cfg.n_steps], coarse


def weights_from_coarse(coarse: Array, cfg: SimConfig) -> Array:
    """Fine weights ``(T, n)`` from directly supplied coarse weights ``(K + 1, n)``.

    Row 0 is held for the first chunk; each later row ``c`` is the target for chunk
    ``c``, reached through the same guardrails, maximum-change limit and interpolation
    as a rule's targets (a target rule with no blending).
    """
    rows = coarse[1:]
    blend = jnp.zeros_like(rows)
    return window_fine_weights(rows, coarse[0], cfg, "target", blend=blend)[0]


__all__ = [
    "apply_bounds",
    "apply_guardrails",
    "coarse_weights",
    "fine_weights",
    "max_change_delta",
    "n_coarse_rows",
    "weights_from_coarse",
    "window_fine_weights",
]
