"""Batch-only kernel: a run of gap-free EWMA rows processed as a stack.

While no row has had a gap, the pairwise EWM state is compact (one weight sum ``w``,
a vector ``x`` and the matrix ``xy``) and every asset is tradeable, so a run of rows can
be processed with few numpy calls: ``w`` and ``x`` follow their recursions in
``scipy.signal.lfilter`` (same roundings as the per-row update), ``xy`` is stacked row by
row, the shrunk correlations of the whole run are built with the elementwise operations of
:func:`algotrader.portfolio.core.compact_matrix` on a (L, N, N) stack (L chosen so the
stack stays a few MB: memory is still O(N^2)), and each row is then solved with the very
function the stream uses. The results are bit-identical to the per-row path (property-tested
through batch == stream).
"""

from __future__ import annotations

import math

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
)
from algotrader.portfolio.solve import solve_symmetric

#: Target size of one (L, N, N) stack, in float64 elements.
STACK_ELEMENTS = 262_144


def run_length(n_assets: int) -> int:
    """Rows per stack for ``n_assets`` assets (at least 1)."""
    return max(1, min(128, STACK_ELEMENTS // max(n_assets * n_assets, 1)))


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


def _advance_sums(
    state: CoreState, radj: np.ndarray, beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Update the compact pair sums over the rows of ``radj`` (L, N); per-row snapshots."""
    pair = state.pair
    assert pair is not None
    n_rows, n = radj.shape
    w_seq, _ = lfilter([1.0], [1.0, -beta], np.ones(n_rows), zi=pair.w[0] * beta)
    x_seq, _ = lfilter([1.0], [1.0, -beta], radj.T, axis=-1, zi=pair.x * beta)
    xy_stack = np.empty((n_rows, n, n))
    xy = pair.xy
    for j in range(n_rows):
        xy *= beta
        xy += np.outer(radj[j], radj[j])
        xy_stack[j] = xy
    pair.w[0, 0] = w_seq[-1]
    pair.x[:, 0] = x_seq[:, -1]
    return w_seq, np.ascontiguousarray(x_seq.T), xy_stack


def _stack_matrices(
    w_seq: np.ndarray, x_seq: np.ndarray, xy_stack: np.ndarray, cfg: OptimiserConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`compact_matrix` for every row with all assets; returns ``(A, full_ok)``."""
    n = xy_stack.shape[1]
    diag = np.arange(n)
    inv_w = 1.0 / w_seq
    mean = x_seq * inv_w[:, None]
    var = xy_stack[:, diag, diag] * inv_w[:, None] - mean * mean
    ok = np.asarray((np.isfinite(var) & (var > cfg.min_corr_denom)).all(axis=1))
    lam = cfg.shrink
    # Rows with an undefined variance (not ``ok``) produce inf/NaN here and are redone
    # by the per-row code; silence the warnings they raise on the way.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv_sd = 1.0 / np.sqrt(var)
        t = inv_sd * np.sqrt(lam * inv_w)[:, None]
        u = mean * inv_sd * np.sqrt(lam)
        a = xy_stack * (t[:, :, None] * t[:, None, :])
        a -= u[:, :, None] * u[:, None, :]
        np.clip(a, -lam, lam, out=a)
    a[:, diag, diag] = lam * 1.0 + (1.0 - lam)
    return a, ok


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
    state: CoreState, cfg: OptimiserConfig, a: np.ndarray, m: np.ndarray, bound: float | None
) -> tuple[SolveStatus, np.ndarray | None, np.ndarray, str]:
    """Status, raw solution, normalised position and solver of a row with every asset.

    Mirrors :func:`algotrader.portfolio.core._solve_row` step for step (same calls, same
    roundings) but leaves the residual and the utilisation to a vectorised pass.
    """
    n = m.shape[0]
    if float(np.abs(m).max()) <= ZERO_SIGNAL_ATOL:
        return SolveStatus.ZERO_SIGNAL, None, np.zeros(n), "none"
    x, method = solve_symmetric(a, m, cond_bound=bound)
    if x is None:
        return SolveStatus.DEGENERATE, None, np.zeros(n), method
    d = float(m @ x)
    if not (d > 0.0 and math.isfinite(d)) or math.sqrt(d) <= cfg.denom_tol:
        return SolveStatus.DEGENERATE, x, np.zeros(n), method
    return SolveStatus.VALID, x, x / math.sqrt(d), method


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
    beta = 1.0 - 2.0 / (2.0 * cfg.corr + 2.0)
    n_rows, n = radj.shape
    w_seq, x_seq, xy_stack = _advance_sums(state, radj, beta)
    a_stack, full_ok = _stack_matrices(w_seq, x_seq, xy_stack, cfg)
    bound = _cond_bound(state, cfg, n)
    every = np.ones(n, dtype=bool)
    signal = np.ascontiguousarray(
        np.where(np.isnan(mu), 0.0, mu)
    )  # rows contiguous, as the stream's
    raw = np.full((n_rows, n), np.nan)
    solved = np.zeros(n_rows, dtype=bool)
    for j in range(n_rows):
        t = start + j
        state.step_count += 1
        if not full_ok[j]:
            a, mask = compact_matrix(float(w_seq[j]), x_seq[j], xy_stack[j], cfg, every)
            _generic_row(state, cfg, a, mask, mu[j], sigma[j], out, t)
            continue
        status, x, pos, method = _full_row(state, cfg, a_stack[j], signal[j], bound)
        cash = pos / sigma[j] if status is SolveStatus.VALID else pos
        if status is SolveStatus.VALID and cfg.max_turnover is not None:
            cash = _cap_turnover(cash, state.prev_cash, every, cfg.max_turnover)
        state.prev_cash = cash
        out["cash"][t] = cash
        out["status"][t], out["method"][t] = status, method
        if status is SolveStatus.ZERO_SIGNAL:
            out["residual"][t] = 0.0
            out["utilisation"][t] = 0.0
        elif x is not None:
            raw[j], solved[j] = x, True
    _residual_and_utilisation(a_stack, signal, raw, solved, out, start)


def _residual_and_utilisation(
    a_stack: np.ndarray,
    signal: np.ndarray,
    raw: np.ndarray,
    solved: np.ndarray,
    out: dict[str, np.ndarray],
    start: int,
) -> None:
    """``||A x - m||`` and ``x_i / m_i`` of the solved full rows, vectorised."""
    if not solved.any():
        return
    rows = np.flatnonzero(solved)
    x, m = raw[rows], signal[rows]
    res = np.matmul(a_stack[rows], x[:, :, None])[:, :, 0] - m
    out["residual"][start + rows] = np.sqrt((res * res).sum(axis=1))
    nz = np.abs(m) > UTILISATION_MIN_SIGNAL
    util = np.full_like(x, np.nan)
    util[nz] = x[nz] / m[nz]
    out["utilisation"][start + rows] = util


__all__ = ["eligible", "run_length", "run_stack"]
