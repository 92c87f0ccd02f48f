"""Chunk-level zero-fee window objective: the same numbers as the minute simulation, far cheaper.

At zero fees the pool's log value grows each minute by
``sum_i w_{t-1,i} r_{t,i} - sum_i w_{t,i} log(w_{t,i} / w_{t-1,i})`` with
``r_t = log p_t - log p_{t-1}`` (see :mod:`algotrader.amm.reserves`). Within chunk
``c`` the weights are linear, ``w_{c,j} = s_c + min(j, span) d_c`` (``j = 0..cp``,
``w_{c,cp} = s_{c+1}``), so the chunk's increment splits into

* a price term ``sum_i s_{c,i} S0_{c,i} + d_{c,i} S1_{c,i}`` whose data sums
  ``S0 = sum_j r_{a+j}`` and ``S1 = sum_j min(j - 1, span) r_{a+j}`` come from two
  prefix sums of the whole history (``P0 = cumsum r``, ``P1 = cumsum u r_u``),
  gathered at the window's chunk boundaries -- nothing of size ``(T, n)`` is built;
* a weight term ``sum_{j<=span} w_j log(w_j / w_{j-1})`` that depends on
  ``(s_c, d_c)`` only: one fused reduction, no data reads.

The daily value samples and the final value follow by a cumulative sum over
chunks, and the daily/return metrics are computed from them with the same
formulas as :mod:`algotrader.amm.metrics`. The rule outputs and the guardrailed
coarse weights are those of :mod:`algotrader.amm` (same functions), so the result
equals ``metric_value(forward_pass(...))`` to rounding (a differential test
checks values and gradients). Applies when fees, gas and arbitrage costs are
zero, arbitrage runs every minute, ``chunk_period`` is one day, interpolation is
``linear`` and the pool is an arbitraged G3M with a delta or target rule;
otherwise :func:`supports` is false and the minute simulation is used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.amm import SimConfig, parse_rule
from algotrader.amm import params as P
from algotrader.amm.forward import rule_outputs
from algotrader.amm.rules import weight_bounds
from algotrader.amm.weights import coarse_weights, n_coarse_rows

Array = jax.Array
DAY = 1440
YEAR = 365 * DAY
FAST_METRICS: tuple[str, ...] = (
    "daily_log_sharpe",
    "daily_sharpe",
    "returns",
    "annualised_returns",
    "returns_over_hodl",
    "annualised_returns_over_hodl",
    "returns_over_uniform_hodl",
    "annualised_returns_over_uniform_hodl",
)


def supports(cfg: SimConfig, metric: str) -> bool:
    """Whether the chunk-level objective reproduces ``metric`` for ``cfg`` exactly."""
    spec = parse_rule(cfg.rule)
    return (
        metric in FAST_METRICS
        and not cfg.has_fees
        and cfg.do_arb
        and cfg.arb_frequency == 1
        and cfg.chunk_period == DAY
        and cfg.weight_interpolation_method == "linear"
        and spec.reserve_model == "amm"
        and spec.base.kind in ("delta", "target")
        and cfg.n_steps > cfg.chunk_period
        and cfg.min_weight >= 1e-6
    )


class ChunkSums(NamedTuple):
    """What :func:`window_metric` reads (a JAX pytree: pass it through ``jit``/``grad``).

    Attributes:
        train_prices: (N, n) training prices (minute rows).
        P0: (N, n) ``cumsum r`` of the log returns (:func:`prefix_sums`).
        P1: (N, n) ``cumsum u r_u``.
    """

    train_prices: Array
    P0: Array
    P1: Array

    @classmethod
    def from_prices(cls, prices: np.ndarray) -> ChunkSums:
        """The prices and their :func:`prefix_sums` as JAX arrays."""
        p0, p1 = prefix_sums(prices)
        return cls(jnp.asarray(prices), jnp.asarray(p0), jnp.asarray(p1))


def prefix_sums(prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P0, P1)``: ``P0 = cumsum r`` and ``P1 = cumsum u r_u`` over rows ``u`` (``r_0 = 0``),
    each (N, n)."""
    logp = np.log(np.asarray(prices, dtype=np.float64))
    r = np.zeros_like(logp)
    r[1:] = np.diff(logp, axis=0)
    u = np.arange(r.shape[0], dtype=np.float64)[:, None]
    return np.cumsum(r, axis=0), np.cumsum(u * r, axis=0)


def _window_rows(full: Array, start: Array, rows: int) -> Array:
    padded = jnp.concatenate([full, jnp.zeros((rows, full.shape[1]), full.dtype)], axis=0)
    return jax.lax.dynamic_slice(padded, (start // DAY, 0), (rows, full.shape[1]))


def _chunk_weights(
    params: dict[str, Any], start: Array, prices: Array, cfg: SimConfig, n_chunks: int
) -> tuple[Array, Array, Array]:
    """Chunk starts ``s`` and per-minute deltas ``d`` (C, n), and ``w0``."""
    spec = parse_rule(cfg.rule)
    w0 = P.initial_weights(params)
    outs = rule_outputs(params, prices, cfg)
    k = n_coarse_rows(cfg)
    rows = _window_rows(outs["rule_outputs"], start, k)
    blend = _window_rows(outs["blend"], start, k) if "blend" in outs else None
    bounds = weight_bounds(params) if "bounded" in spec.hooks else None
    starts, deltas = coarse_weights(rows, w0, cfg, spec.base.kind, blend, bounds)
    s = jnp.concatenate([w0[None], starts], axis=0)[:n_chunks]
    d = jnp.concatenate([jnp.zeros_like(w0)[None], deltas], axis=0)[:n_chunks]
    return s, d, w0


_BLOCK = 8  # product block: safe from underflow for weights >= 1e-38
_SERIES_BLOCK = 16
_HALF = (_SERIES_BLOCK - 1) / 2.0


def _ap_weights(s: Array, d: Array, mask: np.ndarray) -> tuple[Array, Array]:
    j = jnp.arange(mask.shape[1], dtype=s.dtype)
    w = s[:, None, :] + j[None, :, None] * d[:, None, :]
    return jnp.where(jnp.asarray(mask)[:, :, None], w, 1.0), j


@jax.custom_vjp
def _sum_log_product(s: Array, d: Array, mask: np.ndarray) -> Array:
    """``sum_{j: mask[r, j]} log(s_r + j d_r)`` per row and asset (R, n), blocked products."""
    w, _ = _ap_weights(s, d, mask)
    r, m, n = w.shape
    return jnp.sum(jnp.log(jnp.prod(w.reshape(r, m // _BLOCK, _BLOCK, n), axis=2)), axis=1)


def _sum_log_fwd(
    s: Array, d: Array, mask: np.ndarray
) -> tuple[Array, tuple[Array, Array, np.ndarray]]:
    return _sum_log_product(s, d, mask), (s, d, mask)


def _sum_log_bwd(res: tuple[Array, Array, np.ndarray], g: Array) -> tuple[Array, Array, None]:
    s, d, mask = res
    w, j = _ap_weights(s, d, mask)
    inv = jnp.where(jnp.asarray(mask)[:, :, None], 1.0 / w, 0.0)
    return g * jnp.sum(inv, axis=1), g * jnp.sum(inv * j[None, :, None], axis=1), None


_sum_log_product.defvjp(_sum_log_fwd, _sum_log_bwd)


def series_order(y_max: float) -> int | None:
    """Even order ``K`` making the block series exact to 1e-17, or None if it converges too slowly.

    Over a block of 16 weights centred on ``c``, ``sum_i log(c + (i - 7.5) d) =
    16 log c - sum_{k even} (d/c)^k M_k / k`` with ``M_k = sum_i (i - 7.5)^k``;
    ``|d/c| <= y_max = maximum_change / min_weight``.
    """
    z = _HALF * y_max
    if z >= 0.3:
        return None
    k = 2
    while _SERIES_BLOCK * z ** (k + 2) / (k + 2) > 1e-17:
        k += 2
    return k


def _sum_log_series(s: Array, d: Array, jw: np.ndarray, order: int) -> Array:
    """``sum_{j < jw_r} log(s_r + j d_r)`` (R, n): block series for full blocks, logs for the rest."""
    nb = jw // _SERIES_BLOCK
    rem = jw - nb * _SERIES_BLOCK
    out = jnp.zeros_like(s)
    if nb.max() > 0:
        b = np.arange(int(nb.max()))
        live = (b[None, :] < nb[:, None])[:, :, None]
        centre = jnp.asarray(b * _SERIES_BLOCK + _HALF, dtype=s.dtype)
        c = s[:, None, :] + centre[None, :, None] * d[:, None, :]
        c = jnp.where(live, c, 1.0)
        y2 = (d[:, None, :] / c) ** 2
        offsets = np.arange(_SERIES_BLOCK) - _HALF
        poly = jnp.zeros_like(c)
        for k in range(order, 0, -2):  # Horner in y^2
            poly = poly * y2 + float(np.sum(offsets**k) / k)
        block = _SERIES_BLOCK * jnp.log(c) - poly * y2
        out = out + jnp.sum(jnp.where(live, block, 0.0), axis=1)
    if rem.max() > 0:
        i = np.arange(int(rem.max()))
        live_r = (i[None, :] < rem[:, None])[:, :, None]
        j = jnp.asarray(nb[:, None] * _SERIES_BLOCK + i[None, :], dtype=s.dtype)
        w = jnp.where(live_r, s[:, None, :] + j[:, :, None] * d[:, None, :], 1.0)
        out = out + jnp.sum(jnp.log(w), axis=1)
    return out


def _prefix_price_sums(
    u: Array, jn: np.ndarray, span: int, p0: Array, p1: Array
) -> tuple[Array, Array]:
    """``S0``, ``S1`` (R, n) of chunks starting at history rows ``u`` from the prefix sums."""

    def q(p: Array, x: Any, y: Any) -> Array:
        return jnp.take(p, y, axis=0) - jnp.take(p, x - 1, axis=0)

    m = np.minimum(span + 1, jn)
    first = u + 1
    s0 = q(p0, first, u + jn)
    s1 = (
        q(p1, first, u + m) - first[:, None] * q(p0, first, u + m) + span * q(p0, u + m + 1, u + jn)
    )
    return s0, s1


def window_price_sums(window: Array, jn: np.ndarray, span: int, cp: int) -> tuple[Array, Array]:
    """``S0``, ``S1`` (C, n) of the window's chunks straight from its prices ``(T, n)``.

    Chunk ``c`` starts at window row ``a = c cp`` and covers minutes ``j = 1..J_c``
    (``J = jn``, static). With ``L_j = log p_{a+j}`` and ``c_j = min(j - 1, span)``,
    summation by parts gives ``S0 = L_J - L_0`` and
    ``S1 = sum_j c_j (L_j - L_{j-1}) = c_J (L_J - L_0) - sum_{i=1}^{c_J} (L_i - L_0)``,
    so only the chunk's price ratios to its first minute are read (no prefix sum over
    the history, no per-minute gather, no cumulative sum: ``jnp.cumsum`` over ``(T, n)``
    costs more on CPU than everything else here). The interior sum is a log of
    blocked products of ``_BLOCK`` ratios (one log per block; a block underflows only
    if a price falls by a factor 1e38 ** (1 / _BLOCK) = 1e-4.75 within one chunk: then
    the plain per-minute log sum is used, see ``blocked``). Nothing here depends on
    the parameters, so the backward pass never touches the ``(T, n)`` data.
    """
    t, n = window.shape
    n_chunks = jn.shape[0]
    a = np.arange(n_chunks) * cp
    rows = n_chunks * cp
    if rows > t:
        window = jnp.concatenate([window, jnp.broadcast_to(window[-1:], (rows - t, n))], axis=0)
    x = window[:rows].reshape(n_chunks, cp, n)
    base = x[:, 0, :]
    end = jnp.take(window, jnp.asarray(a + jn), axis=0)
    s0 = jnp.log(end / base)
    c_end = np.minimum(jn - 1, span)
    width = int(c_end.max()) + 1
    blocked = cp % _BLOCK == 0
    if blocked:
        width = min(-(-width // _BLOCK) * _BLOCK, cp)
    i = np.arange(width)
    live = (i[None, :] >= 1) & (i[None, :] <= c_end[:, None])
    ratio = jnp.where(jnp.asarray(live)[:, :, None], x[:, :width, :] / base[:, None, :], 1.0)
    if blocked:
        prods = jnp.prod(ratio.reshape(n_chunks, width // _BLOCK, _BLOCK, n), axis=2)
        interior = jnp.sum(jnp.log(prods), axis=1)
        safe = jnp.all((prods > 1e-290) & (prods < 1e290))
        interior = jax.lax.cond(safe, lambda: interior, lambda: jnp.sum(jnp.log(ratio), axis=1))
    else:
        interior = jnp.sum(jnp.log(ratio), axis=1)
    s1 = jnp.asarray(c_end, window.dtype)[:, None] * s0 - interior
    return s0, s1


def _chunk_increments(
    s: Array, d: Array, s0: Array, s1: Array, jn: np.ndarray, span: int, order: int | None
) -> Array:
    """Log-value increment over minutes ``j = 1..J`` of chunks ``(s, d)`` with price sums.

    Price term ``s S0 + d S1``; weight term telescoped:
    ``sum_{j<=Jw} w_j log(w_j / w_{j-1}) = w_Jw log w_Jw - s log s - d sum_{j<Jw} log w_j``
    with ``Jw = min(J, span)``.
    """
    jw = np.minimum(span, jn)
    if order is None:
        width = -(-max(int(jw.max()), 1) // _BLOCK) * _BLOCK
        mask = np.arange(width)[None, :] < jw[:, None]
        logs = _sum_log_product(s, d, mask)
    else:
        logs = _sum_log_series(s, d, jw, order)
    w_end = s + jnp.asarray(jw, dtype=s.dtype)[:, None] * d
    weight = w_end * jnp.log(w_end) - s * jnp.log(s) - d * logs
    return jnp.sum(s * s0 + d * s1 - weight, axis=-1)


def _increments(
    s: Array,
    d: Array,
    u: Array,
    jn: np.ndarray,
    span: int,
    p0: Array,
    p1: Array,
    order: int | None,
) -> Array:
    """Log-value increment of chunks ``(s, d)`` starting at history rows ``u`` (prefix sums)."""
    s0, s1 = _prefix_price_sums(u, jn, span, p0, p1)
    return _chunk_increments(s, d, s0, s1, jn, span, order)


def chunk_count(cfg: SimConfig) -> int:
    """Chunks holding the window's minutes ``1..T-1``."""
    return -(-(cfg.n_steps - 1) // cfg.chunk_period)


def value_rows(
    params: dict[str, Any],
    start: Array,
    prices: Array,
    p0: Array,
    p1: Array,
    cfg: SimConfig,
    rows: np.ndarray,
) -> tuple[Array, Array, Array]:
    """``log V`` (R,) and weights (R, n) at window rows ``rows`` (static ints < T), and ``w0``."""
    t, cp, span = cfg.n_steps, cfg.chunk_period, cfg.weight_interpolation_period
    n_chunks = chunk_count(cfg)
    a = np.arange(n_chunks) * cp
    jmax = np.minimum(cp, t - 1 - a)
    s, d, w0 = _chunk_weights(params, start, prices, cfg, n_chunks)
    order = series_order(cfg.maximum_change / cfg.min_weight)
    inc = _increments(s, d, start + a, jmax, span, p0, p1, order)
    at_start = jnp.log(cfg.initial_pool_value) + jnp.concatenate(
        [jnp.zeros((1,), inc.dtype), jnp.cumsum(inc)[:-1]]
    )
    rows = np.asarray(rows, dtype=np.int64)
    c = np.minimum(rows // cp, n_chunks - 1)
    j = rows - c * cp
    logv = at_start[c]
    part = np.nonzero(j > 0)[0]
    if part.size:
        extra = _increments(
            s[c[part]], d[c[part]], start + c[part] * cp, j[part], span, p0, p1, order
        )
        logv = logv.at[part].add(extra)
    weights = s[c] + jnp.asarray(np.minimum(j, span), dtype=s.dtype)[:, None] * d[c]
    return logv, weights, w0


def log_values(
    params: dict[str, Any], start: Array, data: ChunkSums, cfg: SimConfig
) -> tuple[Array, Array]:
    """``log V`` at rows ``0, cp, 2 cp, ...`` (< T) followed by row ``T - 1``, and ``w0``."""
    t = cfg.n_steps
    rows = np.append(np.arange(0, t, DAY), t - 1)
    logv, _, w0 = value_rows(params, start, data.train_prices, data.P0, data.P1, cfg, rows)
    return logv, w0


def _daily_log_sharpe(v: Array) -> Array:
    lr = jnp.diff(jnp.log(v + 1e-12))
    return jnp.sqrt(365.0) * jnp.mean(lr) / (jnp.std(lr) + 1e-8)


def _daily_sharpe(v: Array) -> Array:
    r = v[1:] / v[:-1] - 1.0
    return jnp.sqrt(365.0) * jnp.mean(r) / jnp.std(r)


def window_metric(
    params: dict[str, Any], start: Array, data: ChunkSums, cfg: SimConfig, metric: str
) -> Array:
    """``metric`` of the window starting at ``start`` (the minute simulation's value, cheaply)."""
    logv, w0 = log_values(params, start, data, cfg)
    return _metric_from_log_values(logv, w0, start, data.train_prices, cfg, metric)


def window_log_values(
    params: dict[str, Any], start: Array, prices: Array, cfg: SimConfig
) -> tuple[Array, Array]:
    """Like :func:`log_values`, from the price history alone (no precomputed prefix sums).

    The chunk price sums come from the window's own prices (:func:`window_price_sums`),
    so a single objective evaluation reads the ``(T, n)`` window once, in the forward
    pass only. This is the zero-fee path of :func:`algotrader.amm.objective`.
    """
    t, cp, span = cfg.n_steps, cfg.chunk_period, cfg.weight_interpolation_period
    n_chunks = chunk_count(cfg)
    a = np.arange(n_chunks) * cp
    jn = np.minimum(cp, t - 1 - a)
    s, d, w0 = _chunk_weights(params, start, prices, cfg, n_chunks)
    window = jax.lax.dynamic_slice(prices, (start, 0), (t, cfg.n_assets))
    s0, s1 = window_price_sums(jax.lax.stop_gradient(window), jn, span, cp)
    order = series_order(cfg.maximum_change / cfg.min_weight)
    inc = _chunk_increments(s, d, s0, s1, jn, span, order)
    bounds = jnp.log(cfg.initial_pool_value) + jnp.concatenate(
        [jnp.zeros((1,), inc.dtype), jnp.cumsum(inc)]
    )
    n_daily = len(range(0, t, DAY))
    return jnp.concatenate([bounds[:n_daily], bounds[-1:]]), w0


def window_objective(
    params: dict[str, Any], start: Array, prices: Array, cfg: SimConfig, metric: str
) -> Array:
    """``metric`` of one window at zero fees from the price history (see :func:`supports`).

    Equal to ``metric_value(forward_pass(params, start, prices, cfg), metric)`` to
    rounding (tests: values and gradients against the minute simulation, and the
    reference's default-settings golden), at a fraction of the cost: the
    per-minute work is one read of the window's prices (blocked products of price
    ratios per chunk); everything differentiable is per chunk.
    """
    logv, w0 = window_log_values(params, start, prices, cfg)
    return _metric_from_log_values(logv, w0, start, prices, cfg, metric)


def segment_metric(
    metric: str,
    v_daily: Array,
    v_first: Array,
    v_last: Array,
    w_first: Array,
    p_first: Array,
    p_last: Array,
    n_rows: int,
) -> Array:
    """One chunk-level metric of a segment from its value samples (zero fees).

    ``v_daily``: the daily value samples; ``v_first``/``v_last``: the values at the
    segment's first and last rows; ``w_first``, ``p_first``, ``p_last``: weights and prices
    there; ``n_rows``: the segment's rows. The formulas are those of
    :mod:`algotrader.amm.metrics` (daily Sharpe ddof 0, ``+1e-12``/``+1e-8`` guards of the
    log Sharpe, HODL of the first row's reserves ``v w / p``, uniform HODL ``v / (n p)``,
    annualised by ``525600 / (n_rows - 1)``); the window objective and the training
    package's fast evaluation both use this one function.

    Raises:
        ValueError: the metric has no chunk-level form (see :data:`FAST_METRICS`).
    """
    if metric == "daily_log_sharpe":
        return _daily_log_sharpe(v_daily)
    if metric == "daily_sharpe":
        return _daily_sharpe(v_daily)
    base = metric.removeprefix("annualised_")
    if base == "returns":
        total = v_last / v_first - 1.0
    elif base == "returns_over_hodl":
        total = v_last / jnp.sum(w_first * v_first / p_first * p_last) - 1.0
    elif base == "returns_over_uniform_hodl":
        total = v_last / jnp.sum(v_first / (p_first.shape[0] * p_first) * p_last) - 1.0
    else:
        raise ValueError(f"metric {metric!r} has no chunk-level form")
    if metric.startswith("annualised_"):
        return (1.0 + total) ** (YEAR / (n_rows - 1)) - 1.0
    return total


def _metric_from_log_values(
    logv: Array, w0: Array, start: Array, prices: Array, cfg: SimConfig, metric: str
) -> Array:
    t = cfg.n_steps
    p_start = jax.lax.dynamic_index_in_dim(prices, start, keepdims=False)
    p_end = jax.lax.dynamic_index_in_dim(prices, start + t - 1, keepdims=False)
    return segment_metric(
        metric, jnp.exp(logv[:-1]), jnp.exp(logv[0]), jnp.exp(logv[-1]), w0, p_start, p_end, t
    )


__all__ = [
    "FAST_METRICS",
    "ChunkSums",
    "chunk_count",
    "log_values",
    "prefix_sums",
    "segment_metric",
    "series_order",
    "supports",
    "value_rows",
    "window_log_values",
    "window_metric",
    "window_objective",
    "window_price_sums",
]
