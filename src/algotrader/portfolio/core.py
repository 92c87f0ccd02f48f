"""Orchestration of the optimiser's rows: which path runs a row, in which order.

One direction: validated inputs (:mod:`.frames`) -> recursion state (:mod:`.state`) ->
rows (this module: gap-free EWMA rows in the compiled kernel :mod:`.kernel`, every other
row through the readable row maths :mod:`.rowmath`) -> arrays that
:mod:`.engine` wraps into the result and its tables. The stream calls :func:`step_core`
for one row; the batch calls :func:`run_rows` for all of them; both take the same paths,
so they agree bit for bit.

Timing: the output of row ``t`` uses prices and signals of rows ``<= t`` only.
"""

from __future__ import annotations

import numpy as np

from algotrader.errors import StateError
from algotrader.portfolio.config import EwmaShrinkConfig, OptimiserConfig
from algotrader.portfolio.kernel import CgParams, KernelOutputs, RowKernel, block_rows
from algotrader.portfolio.kernel_pending import PENDING_ROWS, settle_rows
from algotrader.portfolio.parallel import default_threads, single_threaded_blas
from algotrader.portfolio.rowmath import (
    RowOutput,
    SolveStatus,
    cond_bound,
    matrix_part,
    tradeable_assets,
    update_dependence,
    vector_row,
    vector_rows,
)
from algotrader.portfolio.solve import COND_LIMIT
from algotrader.portfolio.state import CoreState

#: Most gap-free rows handed to the compiled kernel in one call.
KERNEL_SPAN = 4096


def step_core(
    state: CoreState,
    cfg: OptimiserConfig,
    price: np.ndarray,
    mu: np.ndarray,
    *,
    keep_matrix: bool = False,
) -> RowOutput:
    """Advance ``state`` by one row (prices and signal of shape (N,)) and return its outputs.

    ``state`` is mutated in place. ``keep_matrix`` keeps the solved matrix (diagnostics).
    """
    radj, vola = vector_row(state, cfg, price)
    return matrix_row(
        state, cfg, mu, radj, vola, tradeable_assets(price, radj, vola), keep_matrix=keep_matrix
    )


def kernel_ready(state: CoreState, cfg: OptimiserConfig) -> bool:
    """True when the next gap-free row may run in the compiled kernel (:mod:`.kernel`).

    EWMA mode, compact state (no gap so far), every pair warm, past the warm-up rows,
    and a proven condition bound below the solver's limit (``shrink < 1``).
    """
    pair = state.pair
    if pair is None or pair.dense or not pair.warm or state.step_count < cfg.warmup_rows:
        return False
    bound = cond_bound(state, cfg, state.prev_price.shape[0])
    return bound is not None and bound <= COND_LIMIT and float(pair.w[0, 0]) > 0.0


_KERNEL_STATUS = np.array(
    [SolveStatus.ZERO_SIGNAL, SolveStatus.DEGENERATE, SolveStatus.VALID], dtype=object
)


_KERNEL_METHOD = np.array(["none", "cholesky", "eigen", "singular", "cg"], dtype=object)


def kernel_status(out: KernelOutputs, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Statuses and solver names (object arrays) of the first ``rows`` kernel rows."""
    return _KERNEL_STATUS[out.status[:rows]], _KERNEL_METHOD[out.method[:rows]]


def _flat_view(arr: np.ndarray) -> np.ndarray:
    """A 1-d view of a compact state array (the kernel updates it in place: never a copy)."""
    flat = arr.reshape(-1)
    if not np.shares_memory(flat, arr):  # pragma: no cover - state arrays are contiguous
        raise StateError("optimiser state array is not contiguous", key="pair")
    return flat


def settle_pending(state: CoreState, cfg: OptimiserConfig) -> None:
    """Fold the CG rows' deferred state updates into ``pair.xy``
    (:mod:`algotrader.portfolio.kernel_pending`): the eagerly updated sums, bit for bit.
    Called before any path that reads or changes the sums outside the kernel."""
    if state.pair is not None:
        empty = np.zeros((0, 0), dtype=np.float32)
        settle_rows(state.pair.xy, empty, state.cg_pend, state.cg_pend_count, cfg.corr_beta)
    state.cg_pend_count[0] = 0
    if state.kernel is not None:
        state.kernel.invalidate_low()


def cg_ring_rows(cfg: OptimiserConfig, n_assets: int) -> int:
    """Rows of the CG preconditioner's ring: ``cg_rank``, at most ``N / 4`` (where applying
    it costs about half a product with the matrix)."""
    return min(cfg.cg_rank, n_assets // 4)


def run_kernel(
    state: CoreState,
    cfg: OptimiserConfig,
    mu: np.ndarray,
    radj: np.ndarray,
    vola: np.ndarray,
    out: KernelOutputs,
) -> int:
    """Run gap-free rows (L, N) through the kernel; returns the number of rows finished.

    Requires :func:`kernel_ready`. When fewer than L rows are finished, the next row has
    had its dependence update and still needs :func:`matrix_part`. ``state.step_count``
    counts the finished rows only.
    """
    pair = state.pair
    assert pair is not None
    n = radj.shape[1]
    block, threads = (1, 1) if radj.shape[0] == 1 else (block_rows(n), default_threads(n))
    solver = cfg.solver
    if solver == "cg":  # rows chain through the warm start: one at a time or in pairs
        # (two threads or more: pairs; the worker's solve is claimed back by the calling
        # thread when it has not started, so a busy machine costs little, see
        # docs/optimiser.md "Threads")
        block = 1
    kernel = state.kernel
    key = (n, block, threads, solver)
    if kernel is None or (kernel.n_assets, kernel.block, kernel.threads, kernel.solver) != key:
        state.kernel = RowKernel(n, block, threads, solver)
    assert state.kernel is not None
    cg = None
    if solver == "cg":
        if state.cg_x.shape == (n,):  # saved by a release with one warm start
            state.cg_x = np.stack([state.cg_x, state.cg_x])
        elif state.cg_x.shape != (2, n):
            state.cg_x = np.zeros((2, n))
        k = cg_ring_rows(cfg, n)
        if state.cg_ring.shape != (k, n) or state.cg_gram.shape != (k, k):
            state.cg_ring, state.cg_gram = np.zeros((k, n)), np.zeros((k, k))
            state.cg_count = np.zeros(1, dtype=np.int64)
        if state.cg_pend.shape != (PENDING_ROWS, n):
            settle_pending(state, cfg)  # a state saved with another buffer size
            state.cg_pend = np.zeros((PENDING_ROWS, n))
        cg = CgParams(
            state.cg_x, cfg.cg_tol, cfg.cg_max_iter, state.cg_ring, state.cg_gram,
            state.cg_count, state.cg_pend, state.cg_pend_count,
        )  # fmt: skip
    # the previous cash may be an array handed out to a caller: never mutate it
    state.prev_cash = np.array(state.prev_cash, dtype=np.float64)
    done, _ = state.kernel.run(
        pair.xy,
        _flat_view(pair.w),
        _flat_view(pair.x),
        state.prev_cash,
        radj,
        mu,
        vola,
        out,
        beta=cfg.corr_beta,
        shrink=cfg.shrink,
        min_denom=cfg.min_corr_denom,
        denom_tol=cfg.denom_tol,
        cap=-1.0 if cfg.max_turnover is None else cfg.max_turnover,
        cg=cg,
    )
    state.step_count += done
    return done


def _kernel_row(
    state: CoreState, cfg: OptimiserConfig, mu: np.ndarray, radj: np.ndarray, vola: np.ndarray
) -> RowOutput | None:
    """One row through the kernel; None when the row still needs :func:`matrix_part`."""
    n = mu.shape[0]
    out = KernelOutputs.empty(1, n)
    if run_kernel(state, cfg, mu[None, :], radj[None, :], vola[None, :], out) == 0:
        return None
    status, method = kernel_status(out, 1)
    mask = np.ones(n, dtype=bool)
    return RowOutput(
        out.cash[0],
        status[0],
        vola,
        mask,
        float(out.residual[0]),
        out.utilisation[0],
        method[0],
        error_bound=float(out.error_bound[0]),
        iterations=int(out.iterations[0]),
    )


def matrix_row(
    state: CoreState,
    cfg: OptimiserConfig,
    mu: np.ndarray,
    radj: np.ndarray,
    vola: np.ndarray,
    tradeable: np.ndarray,
    *,
    keep_matrix: bool = False,
) -> RowOutput:
    """Second half of :func:`step_core`, given this row's ``r~``, ``sigma`` and
    :func:`tradeable_assets` (N,).

    Gap-free rows in the compact EWMA state run in the compiled kernel (also in the
    batch engine, so both agree bit for bit); ``keep_matrix`` forces the Python path.
    """
    if not keep_matrix and bool(tradeable.all()) and kernel_ready(state, cfg):
        row = _kernel_row(state, cfg, mu, radj, vola)
        if row is not None:
            return row
    else:
        settle_pending(state, cfg)
        update_dependence(state, cfg, radj)
    return matrix_part(state, cfg, mu, vola, tradeable, keep_matrix=keep_matrix)


def _eig_diagnostics(matrix: np.ndarray | None) -> tuple[float, float]:
    if matrix is None or matrix.size == 0 or not np.all(np.isfinite(matrix)):
        return np.nan, np.nan
    w = np.linalg.eigvalsh(matrix)
    aw = np.abs(w)
    cond = float(aw.max() / aw.min()) if aw.min() > 0 else np.inf
    p = np.clip(w, 0.0, None)
    total = p.sum()
    if total <= 0:
        return cond, np.nan
    p = p[p > 0] / total
    return cond, float(np.exp(-(p * np.log(p)).sum()))


def run_rows(
    state: CoreState,
    cfg: OptimiserConfig,
    prices: np.ndarray,
    mu: np.ndarray,
    *,
    diagnostics: bool = False,
) -> dict[str, np.ndarray]:
    """Run the recursion over ``prices``/``mu`` (T, N) from ``state`` (mutated in place).

    The BLAS runs single-threaded throughout (:mod:`algotrader.portfolio.parallel`).
    """
    with single_threaded_blas():
        return _run_rows(state, cfg, prices, mu, diagnostics=diagnostics)


def _run_rows(
    state: CoreState,
    cfg: OptimiserConfig,
    prices: np.ndarray,
    mu: np.ndarray,
    *,
    diagnostics: bool,
) -> dict[str, np.ndarray]:
    t_len, n = prices.shape
    radj, sigma = vector_rows(state, cfg, prices)
    out = {
        "cash": np.full((t_len, n), np.nan),
        "vola": sigma,
        "utilisation": np.full((t_len, n), np.nan),
        "residual": np.full(t_len, np.nan),
        "status": np.empty(t_len, dtype=object),
        "method": np.empty(t_len, dtype=object),
        "cond": np.full(t_len, np.nan),
        "erank": np.full(t_len, np.nan),
        "error_bound": np.full(t_len, np.nan),
        "iterations": np.zeros(t_len, dtype=np.int32),
    }
    tradeable = tradeable_assets(prices, radj, sigma)
    complete = np.asarray(tradeable.all(axis=1))
    use_kernel = not diagnostics and isinstance(cfg.covariance_config, EwmaShrinkConfig)
    t = 0
    while t < t_len:
        if use_kernel and complete[t] and kernel_ready(state, cfg):
            end = t + 1
            while end < t_len and end - t < KERNEL_SPAN and complete[end]:
                end += 1
            t = _kernel_span(state, cfg, mu, radj, sigma, tradeable, out, t, end)
            continue
        r = matrix_row(state, cfg, mu[t], radj[t], sigma[t], tradeable[t], keep_matrix=diagnostics)
        _store(out, t, r)
        if diagnostics:
            out["cond"][t], out["erank"][t] = _eig_diagnostics(r.matrix)
        t += 1
    return out


def _store(out: dict[str, np.ndarray], t: int, r: RowOutput) -> None:
    out["cash"][t] = r.cash
    out["status"][t] = r.status
    out["method"][t] = r.method
    out["residual"][t] = r.residual
    out["error_bound"][t] = r.error_bound
    out["iterations"][t] = r.iterations
    if r.utilisation.size:
        out["utilisation"][t] = r.utilisation


def _kernel_span(
    state: CoreState,
    cfg: OptimiserConfig,
    mu: np.ndarray,
    radj: np.ndarray,
    sigma: np.ndarray,
    tradeable: np.ndarray,
    out: dict[str, np.ndarray],
    start: int,
    end: int,
) -> int:
    """Gap-free rows ``start .. end - 1`` in the compiled kernel; returns the next row.

    A row the kernel stops at (undefined variance, Cholesky failure) is finished by the
    Python path (its dependence update is already done), then the caller goes on.
    """
    sl = slice(start, end)
    codes = np.full((2, end - start), -1, dtype=np.int8)
    kout = KernelOutputs(
        out["cash"][sl],
        out["residual"][sl],
        codes[0],
        codes[1],
        out["utilisation"][sl],
        out["error_bound"][sl],
        out["iterations"][sl],
    )
    done = run_kernel(state, cfg, mu[sl], radj[sl], sigma[sl], kout)
    status, method = kernel_status(kout, done)
    out["status"][start : start + done] = status
    out["method"][start : start + done] = method
    t = start + done
    if t < end:
        _store(out, t, matrix_part(state, cfg, mu[t], sigma[t], tradeable[t]))
        t += 1
    return t


__all__ = [
    "KERNEL_SPAN",
    "CoreState",
    "RowOutput",
    "SolveStatus",
    "kernel_ready",
    "matrix_row",
    "run_kernel",
    "run_rows",
    "settle_pending",
    "step_core",
    "tradeable_assets",
    "vector_rows",
]
