"""Batch-only kernel: a run of gap-free EWMA rows processed with preallocated buffers.

While no row has had a gap, the pairwise EWM state is compact (one weight sum ``w``,
a vector ``x`` and the matrix ``xy``) and every asset is tradeable. For a run of such
rows, every per-asset quantity is computed for the whole run at once: ``w``, ``x`` and
the diagonal of ``xy`` follow their recursions in ``scipy.signal.lfilter`` (same two
roundings per step as the per-row update), then means, variances and the scalings
``t``, ``u`` of :func:`algotrader.portfolio.core.compact_matrix` are (L, N) elementwise
operations. Only the O(N^2) work is left per row, done in place in cache-resident
buffers: the rank-one update of ``xy``, the shrunk correlation
(:func:`algotrader.portfolio.core.shrunk_from_sums`, the stream's own kernel), the
Cholesky factor copied into a Fortran-ordered buffer and the solve. Memory is O(N^2 + L N);
results are bit-identical to the per-row stream path (property-tested through
batch == stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from algotrader.portfolio.config import OptimiserConfig
from algotrader.portfolio.core import (
    UTILISATION_MIN_SIGNAL,
    ZERO_SIGNAL_ATOL,
    CoreState,
    SolveStatus,
    _cap_turnover,
    _cond_bound,
    _solve_row,
    compact_matrix,
    shrunk_from_sums,
)
from algotrader.portfolio.ewm import outer_into
from algotrader.portfolio.solve import solve_symmetric

#: Target size of the (L, N) per-run arrays, in float64 elements.
STACK_ELEMENTS = 262_144


def run_length(n_assets: int) -> int:
    """Rows per run for ``n_assets`` assets (at least 1)."""
    return max(1, min(1024, STACK_ELEMENTS // max(n_assets, 1)))


def eligible(state: CoreState, cfg: OptimiserConfig) -> bool:
    """True when the next rows may use the stacked kernel (EWMA, compact, warm, warmed-up)."""
    pair = state.pair
    return (
        pair is not None
        and not pair.dense
        and pair.warm
        and state.step_count >= cfg.warmup_rows
        and float(pair.w[0, 0]) > 0.0
    )


def _ewm(values: np.ndarray, start: np.ndarray, beta: float) -> np.ndarray:
    """``y_j = beta * y_{j-1} + v_j`` along the last axis from ``y_{-1} = start``."""
    y, _ = lfilter([1.0], [1.0, -beta], values, axis=-1, zi=start * beta)
    return np.asarray(y)


@dataclass(frozen=True)
class _RunVectors:
    """Per-row vectors of a run: weight sums (L,), ``x`` sums (L, N), scalings and ``ok``."""

    w: np.ndarray
    x: np.ndarray
    t: np.ndarray
    u: np.ndarray
    ok: np.ndarray


def _run_vectors(state: CoreState, radj: np.ndarray, cfg: OptimiserConfig) -> _RunVectors:
    """Every per-asset quantity of :func:`compact_matrix` for the rows of ``radj`` (L, N).

    Advances ``w`` and ``x`` of the compact state to the last row (``xy`` is advanced
    row by row by :func:`run_stack`). Rows with an undefined variance (not ``ok``) produce
    inf/NaN scalings here and are redone by the per-row code.
    """
    pair = state.pair
    assert pair is not None
    beta = 1.0 - 2.0 / (2.0 * cfg.corr + 2.0)
    n_rows = radj.shape[0]
    w_seq = _ewm(np.ones(n_rows), pair.w[0], beta)
    x_seq = np.ascontiguousarray(_ewm(radj.T, pair.x, beta).T)
    diag = np.ascontiguousarray(_ewm((radj * radj).T, np.diagonal(pair.xy)[:, None], beta).T)
    pair.w[0, 0] = w_seq[-1]
    pair.x[:, 0] = x_seq[-1]
    inv_w = 1.0 / w_seq
    mean = x_seq * inv_w[:, None]
    var = diag * inv_w[:, None] - mean * mean
    ok = np.asarray((np.isfinite(var) & (var > cfg.min_corr_denom)).all(axis=1))
    lam = cfg.shrink
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv_sd = 1.0 / np.sqrt(var)
        t = inv_sd * np.sqrt(lam * inv_w)[:, None]
        u = mean * inv_sd * np.sqrt(lam)
    return _RunVectors(w_seq, x_seq, t, u, ok)


def _generic_row(
    state: CoreState,
    cfg: OptimiserConfig,
    a: np.ndarray,
    mask: np.ndarray,
    mu_row: np.ndarray,
    sigma_row: np.ndarray,
    out: dict[str, np.ndarray],
    t: int,
) -> None:
    """One row whose matrix misses some asset (rare inside a run): the per-row logic."""
    n = mu_row.shape[0]
    if not mask.any():
        state.prev_cash = np.full(n, np.nan)
        out["status"][t], out["method"][t] = SolveStatus.DEGENERATE, "none"
        return
    m = mu_row[mask]
    m[np.isnan(m)] = 0.0
    bound = _cond_bound(state, cfg, int(mask.sum()))
    status, pos, residual, util, method = _solve_row(a, m, cfg.denom_tol, bound)
    cash = np.full(n, np.nan)
    cash[mask] = pos / sigma_row[mask] if status is SolveStatus.VALID else 0.0
    if status is SolveStatus.VALID and cfg.max_turnover is not None:
        cash = _cap_turnover(cash, state.prev_cash, mask, cfg.max_turnover)
    state.prev_cash = cash
    out["cash"][t] = cash
    out["utilisation"][t, mask] = util
    out["residual"][t] = residual
    out["status"][t], out["method"][t] = status, method


def _full_row(
    cfg: OptimiserConfig,
    a: np.ndarray,
    m: np.ndarray,
    zero_signal: bool,
    bound: float | None,
    work: np.ndarray,
) -> tuple[SolveStatus, np.ndarray, float, np.ndarray, str]:
    """Status, normalised position, residual, raw solution and solver of a full row.

    Mirrors :func:`algotrader.portfolio.core._solve_row` step for step (same calls, same
    roundings; ``zero_signal`` is its ``max|m| <= 1e-8`` test, vectorised by the caller);
    the raw solution (NaN when none) feeds the vectorised utilisation (zero-signal rows
    get a utilisation of 0 there).
    """
    n = m.shape[0]
    if zero_signal:
        return SolveStatus.ZERO_SIGNAL, np.zeros(n), 0.0, np.full(n, np.nan), "none"
    x, method = solve_symmetric(a, m, cond_bound=bound, work=work)
    if x is None:
        return SolveStatus.DEGENERATE, np.zeros(n), math.nan, np.full(n, np.nan), method
    res = a @ x - m
    residual = math.sqrt(float(res @ res))
    d = float(m @ x)
    if not (d > 0.0 and math.isfinite(d)) or math.sqrt(d) <= cfg.denom_tol:
        return SolveStatus.DEGENERATE, np.zeros(n), residual, x, method
    return SolveStatus.VALID, x / math.sqrt(d), residual, x, method


def run_stack(
    state: CoreState,
    cfg: OptimiserConfig,
    mu: np.ndarray,
    radj: np.ndarray,
    sigma: np.ndarray,
    out: dict[str, np.ndarray],
    start: int,
) -> None:
    """Process rows ``start .. start + L - 1`` (arrays (L, N), every asset tradeable)."""
    pair = state.pair
    assert pair is not None
    beta = 1.0 - 2.0 / (2.0 * cfg.corr + 2.0)
    n_rows, n = radj.shape
    vec = _run_vectors(state, radj, cfg)
    bound = _cond_bound(state, cfg, n)
    every = np.ones(n, dtype=bool)
    signal = np.ascontiguousarray(np.where(np.isnan(mu), 0.0, mu))  # contiguous rows
    zero = np.abs(signal).max(axis=1, initial=0.0) <= ZERO_SIGNAL_ATOL
    raw = np.full((n_rows, n), np.nan)
    cash_out, res_out, status_out, method_out = (
        out["cash"],
        out["residual"],
        out["status"],
        out["method"],
    )
    cap, valid = cfg.max_turnover, SolveStatus.VALID
    xy = pair.xy
    a, tmp, work = np.empty((n, n)), np.empty((n, n)), np.empty((n, n), order="F")
    for j in range(n_rows):
        t = start + j
        state.step_count += 1
        r = radj[j]
        xy *= beta
        xy += outer_into(r, r, tmp)  # as PairwiseEwmCov.update
        if not vec.ok[j]:
            sub, mask = compact_matrix(float(vec.w[j]), vec.x[j], xy, cfg, every)
            _generic_row(state, cfg, sub, mask, mu[j], sigma[j], out, t)
            continue
        shrunk_from_sums(xy, vec.t[j], vec.u[j], cfg.shrink, out=a, tmp=tmp)
        status, pos, res_out[t], raw[j], method = _full_row(
            cfg, a, signal[j], bool(zero[j]), bound, work
        )
        cash = pos / sigma[j] if status is valid else pos
        if cap is not None and status is valid:
            cash = _cap_turnover(cash, state.prev_cash, every, cap)
        state.prev_cash = cash
        cash_out[t] = cash
        status_out[t], method_out[t] = status, method
    _utilisation(raw, signal, vec.ok, out, start)
    zero_rows = np.flatnonzero(vec.ok & zero)
    out["utilisation"][start + zero_rows] = 0.0


def _utilisation(
    raw: np.ndarray, signal: np.ndarray, full: np.ndarray, out: dict[str, np.ndarray], start: int
) -> None:
    """``x_i / m_i`` where ``|m_i| > 1e-14`` (NaN elsewhere) for the full rows, vectorised."""
    rows = np.flatnonzero(full)
    if rows.size == 0:
        return
    x, m = raw[rows], signal[rows]
    nz = np.abs(m) > UTILISATION_MIN_SIGNAL
    util = np.full_like(x, np.nan)
    util[nz] = x[nz] / m[nz]
    out["utilisation"][start + rows] = util


__all__ = ["eligible", "run_length", "run_stack"]
