"""Compiled row kernel (numba) for gap-free EWMA rows, shared by the batch engine and the stream.

While no row has had a gap the pairwise EWM state is compact (one weight sum ``w``, the
sums ``x`` (N,) and ``xy`` (N, N)) and every asset is tradeable. For such rows the whole
per-row recursion runs here without returning to Python:

1. ``xy <- beta xy + r r'``, ``w <- beta w + 1``, ``x <- beta x + r`` (row by row; the
   matrix stays exactly symmetric);
2. ``mean = x / w``, ``var = xy_ii / w - mean^2``; ``t = sqrt(shrink / w) / sd``,
   ``u = sqrt(shrink) mean / sd``;
3. ``A_ij = clip(xy_ij t_i t_j - u_i u_j, +-shrink)``, ``A_ii = 1``
   (= ``shrink * corr + (1 - shrink) * I``);
4. zero-signal test, Cholesky factor, forward and back substitution, residual
   ``||A x - m||``, ``d = m'x`` (:mod:`algotrader.portfolio.kernel_linalg`), status, cash
   ``x / sqrt(d) / sigma``, turnover cap, utilisation ``x_i / m_i``.

The per-asset volatilities come from :mod:`algotrader.portfolio.kernel_vol`.

A matrix that is not numerically positive definite is solved on its well-determined
eigen-directions (the policy of :mod:`algotrader.portfolio.solve`). A row with a
variance at or below ``min_corr_denom`` stops the kernel *after* its state update; the
caller handles that row's matrix in Python (:func:`algotrader.portfolio.rowmath.matrix_part`)
and resumes.

Rows run in blocks (see :class:`RowKernel`); the stream runs the same compiled functions
on one row, so batch and stream agree bit for bit. Memory: two (N, N) work buffers per
block row (about 1 MiB a block), no (T, N, N) arrays.

Only used when the condition number of ``A`` is provably below the solver's limit
(``shrink < 1``, see :func:`algotrader.portfolio.rowmath.cond_bound`), so no condition
estimate is needed.

Example:
    >>> import numpy as np
    >>> n = 3
    >>> k = RowKernel(n)
    >>> xy, w, x = np.eye(n) * 2.0, np.array([2.0]), np.zeros(n)
    >>> r = np.array([[0.5, -0.2, 0.1]]); mu = np.array([[1.0, 0.0, -1.0]])
    >>> sigma = np.full((1, n), 0.01)
    >>> out = KernelOutputs.empty(1, n)
    >>> done, code = k.run(xy, w, x, np.full(n, np.nan), r, mu, sigma, out,
    ...                    beta=0.9, shrink=0.5, min_denom=1e-14, denom_tol=1e-12, cap=-1.0)
    >>> int(done), int(code), int(out.status[0]) == STATUS_VALID
    (1, 0, True)
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numba as nb
import numpy as np

from algotrader.portfolio.kernel_linalg import (
    METHOD_CG,
    METHOD_NONE,
    METHOD_SINGULAR,
    cg_solve_pre,
    position_error_bound,
    precond_update,
    solve_mixed,
    solve_one,
)
from algotrader.portfolio.kernel_pending import (
    PENDING_ROWS,
    fold_rows,
    pending_diagonal,
    settle_rows,
)

#: Status codes written by the kernel (mapped to :class:`SolveStatus` by the caller).
STATUS_ZERO_SIGNAL, STATUS_DEGENERATE, STATUS_VALID = 0, 1, 2
#: Stop codes: all rows done, a variance is undefined.
DONE, STOP_VARIANCE = 0, 1
#: Cache budget of a :class:`RowKernel` block's matrices, in bytes.
BLOCK_BYTES = 2**20
#: Blocks of at most this many rows (large matrices) run pipelined on several threads
#: (:meth:`RowKernel._run_pipelined`).
PIPELINE_MAX_BLOCK = 4

ZERO_SIGNAL_ATOL = 1e-8
#: ``solver: cg`` runs its inner products on a float32 copy of ``xy`` with float64 iterative
#: refinement (:func:`cg_solve_mixed`; the bound is from the float64 residual). ``False``
#: (module switch, read when a :class:`RowKernel` is built) keeps every product in float64.
CG_MIXED_PRECISION = True
UTILISATION_MIN_SIGNAL = 1e-14


@nb.njit(cache=True)
def _update_sums(xy: np.ndarray, r: np.ndarray, beta: float) -> None:  # pragma: no cover
    """``xy <- beta xy + r r'`` (row by row, contiguous; stays exactly symmetric)."""
    n = r.shape[0]
    for i in range(n):
        ri = r[i]
        row = xy[i]
        for k in range(n):
            row[k] = row[k] * beta + ri * r[k]


@nb.njit(cache=True, error_model="numpy")
def _scalings(
    dg: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    lam: float,
    min_denom: float,
    t: np.ndarray,
    u: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """``t = sqrt(lam / w) / sd``, ``u = sqrt(lam) mean / sd`` from the diagonal ``dg`` of
    ``xy``; False if a variance is undefined."""
    inv_w = 1.0 / w[0]
    scale_t = math.sqrt(lam * inv_w)
    sqrt_lam = math.sqrt(lam)
    for i in range(xs.shape[0]):
        mean = xs[i] * inv_w
        var = dg[i] * inv_w - mean * mean
        if not (var > min_denom) or not math.isfinite(var):
            return False
        inv_sd = 1.0 / math.sqrt(var)
        t[i] = inv_sd * scale_t
        u[i] = mean * inv_sd * sqrt_lam
    return True


@nb.njit(cache=True)
def _build(
    xy: np.ndarray,
    t: np.ndarray,
    u: np.ndarray,
    lam: float,
    a: np.ndarray,
    f: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The shrunk correlation in ``a`` and a copy in ``f`` for the factorisation."""
    diag = lam * 1.0 + (1.0 - lam)
    for i in range(t.shape[0]):
        ti, ui = t[i], u[i]
        xrow, arow = xy[i], a[i]
        for k in range(t.shape[0]):
            arow[k] = min(max(xrow[k] * (ti * t[k]) - ui * u[k], -lam), lam)
        arow[i] = diag
        f[i, :] = arow


@nb.njit(cache=True)
def _signal(mu_row: np.ndarray, m: np.ndarray) -> float:  # pragma: no cover - compiled
    """Copy the signal with NaN as 0 into ``m``; returns ``max |m|``."""
    top = 0.0
    for i in range(mu_row.shape[0]):
        mi = mu_row[i]
        if mi != mi:
            mi = 0.0
        m[i] = mi
        top = max(top, abs(mi))
    return top


@nb.njit(cache=True, error_model="numpy")
def _finish_row(
    zero: bool,
    method: int,
    ss: float,
    d: float,
    x: np.ndarray,
    m: np.ndarray,
    sigma: np.ndarray,
    cash: np.ndarray,
    util: np.ndarray,
    prev_cash: np.ndarray,
    denom_tol: float,
    cap: float,
) -> tuple[int, int, float]:  # pragma: no cover - compiled
    """Status, cash, utilisation and turnover cap of one solved row; ``(status, method, res)``."""
    n = m.shape[0]
    if zero:
        cash[:] = 0.0
        util[:] = 0.0
        prev_cash[:] = 0.0
        return STATUS_ZERO_SIGNAL, METHOD_NONE, 0.0
    if method == METHOD_SINGULAR:
        cash[:] = 0.0
        util[:] = np.nan
        prev_cash[:] = 0.0
        return STATUS_DEGENERATE, method, np.nan
    for i in range(n):
        util[i] = x[i] / m[i] if abs(m[i]) > UTILISATION_MIN_SIGNAL else np.nan
    residual = math.sqrt(ss)
    if not (d > 0.0 and math.isfinite(d)) or math.sqrt(d) <= denom_tol:
        cash[:] = 0.0
        prev_cash[:] = 0.0
        return STATUS_DEGENERATE, method, residual
    nu = math.sqrt(d)
    for i in range(n):
        cash[i] = x[i] / nu / sigma[i]
    if cap >= 0.0:
        total = 0.0
        for i in range(n):
            p = prev_cash[i] if prev_cash[i] == prev_cash[i] else 0.0
            total += abs(cash[i] - p)
        if total > cap:
            ratio = cap / total
            for i in range(n):
                p = prev_cash[i] if prev_cash[i] == prev_cash[i] else 0.0
                cash[i] = p + (cash[i] - p) * ratio
    prev_cash[:] = cash
    return STATUS_VALID, method, residual


@nb.njit(cache=True, fastmath={"reassoc"})
def _abs_sum(v: np.ndarray) -> float:  # pragma: no cover - compiled
    """``sum |v_i|`` (vectorised)."""
    s = 0.0
    for i in range(v.shape[0]):
        s += abs(v[i])
    return s


@nb.njit(cache=True)
def _advance_build(
    xy: np.ndarray,
    r: np.ndarray,
    beta: float,
    t: np.ndarray,
    u: np.ndarray,
    lam: float,
    a: np.ndarray,
    f: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """:func:`_update_sums` fused with :func:`_build` (one pass over ``xy``; the same
    arithmetic, so the same bits): the shrunk correlation of the updated sums in ``a`` and
    its float32 copy in ``f``. Returns ``||a||_inf``."""
    diag = lam * 1.0 + (1.0 - lam)
    top = 0.0
    for i in range(r.shape[0]):
        ri, ti, ui = r[i], t[i], u[i]
        row, arow, frow = xy[i], a[i], f[i]
        for k in range(r.shape[0]):
            v = row[k] * beta + ri * r[k]
            row[k] = v
            c = min(max(v * (ti * t[k]) - ui * u[k], -lam), lam)
            arow[k] = c
            frow[k] = c
        arow[i] = diag
        frow[i] = diag
        top = max(top, _abs_sum(arow))
    return top


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _prepare(
    xy: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    radj: np.ndarray,
    mu: np.ndarray,
    beta: float,
    lam: float,
    min_denom: float,
    a: np.ndarray,
    f: np.ndarray,
    vec: np.ndarray,
    zero: np.ndarray,
    anorm: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """State updates and matrices of a block of rows (in order), into ``a[b]``, its float32
    copy ``f[b]`` (for :func:`solve_mixed`), ``vec[b]`` (t, u, m, y, x) and
    ``anorm[b] = ||a[b]||_inf``; stops after the update of a row with an undefined variance.

    The variances come from the updated diagonal computed first (``xy_ii beta + r_i^2``,
    the update's own arithmetic), so the update and the matrix are one pass
    (:func:`_advance_build`)."""
    dg = np.empty(xs.shape[0])
    for b in range(radj.shape[0]):
        r = radj[b]
        for i in range(r.shape[0]):
            dg[i] = xy[i, i] * beta + r[i] * r[i]
        w[0] = w[0] * beta + 1.0
        for i in range(r.shape[0]):
            xs[i] = xs[i] * beta + r[i]
        ok = _scalings(dg, w, xs, lam, min_denom, vec[b, 0], vec[b, 1])
        zero[b] = _signal(mu[b], vec[b, 2]) <= ZERO_SIGNAL_ATOL
        if not ok or zero[b]:
            _update_sums(xy, r, beta)
            if not ok:
                return b, STOP_VARIANCE
        else:
            anorm[b] = _advance_build(xy, r, beta, vec[b, 0], vec[b, 1], lam, a[b], f[b])
    return radj.shape[0], DONE


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _solve_range(
    a: np.ndarray,
    f: np.ndarray,
    vec: np.ndarray,
    zero: np.ndarray,
    anorm: np.ndarray,
    w32: np.ndarray,
    lo: int,
    hi: int,
    meth: np.ndarray,
    ss: np.ndarray,
    dd: np.ndarray,
    eb: np.ndarray,
    lam_min: float,
) -> None:  # pragma: no cover - compiled
    """Solve block rows ``lo .. hi - 1`` (independent of each other: any thread, any order)
    by :func:`solve_mixed` (``f`` float32)."""
    for b in range(lo, hi):
        if zero[b]:
            meth[b], ss[b], dd[b], eb[b] = METHOD_NONE, 0.0, 0.0, 0.0
        else:
            x = vec[b, 4]
            meth[b], ss[b], dd[b], _ = solve_mixed(
                a[b], f[b], anorm[b], vec[b, 2], vec[b, 3], x, w32[b]
            )
            eb[b] = position_error_bound(math.sqrt(ss[b]), math.sqrt(np.dot(x, x)), lam_min)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _cg_prepare(
    base: np.ndarray,
    pend: np.ndarray,
    cnt: np.ndarray,
    dst: np.ndarray,
    dst_low: np.ndarray,
    dst_pend: np.ndarray,
    in_place: bool,
    dg: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    r: np.ndarray,
    mu_row: np.ndarray,
    beta: float,
    lam: float,
    min_denom: float,
    vec: np.ndarray,
    e: np.ndarray,
    ring: np.ndarray,
    ring_t: np.ndarray,
    synced: np.ndarray,
    gram: np.ndarray,
    fm: np.ndarray,
    dw: np.ndarray,
    ring_count: np.ndarray,
) -> tuple[bool, bool, int, int]:  # pragma: no cover - compiled
    """Everything of a CG row before its solve, in row order.

    The state update is deferred (:mod:`algotrader.portfolio.kernel_pending`): with
    ``PENDING_ROWS`` rows pending (``cnt[0]``) they are first folded from ``base`` into
    ``dst`` (``in_place``: ``dst`` is ``base``; else a spare buffer the caller copies
    back) with its float32 copy ``dst_low``, and the pending rows continue in
    ``dst_pend``; then the row joins the pending rows, the diagonal ``dg`` of the sums,
    ``w`` and ``x`` are updated, and the scalings ``t, u`` and signal ``m`` go into
    ``vec``, the diagonal ``e``, the ring entry (:func:`precond_update`) and the lane's
    transposed mirror of the ring ``ring_t`` (N, K) brought up to this row (the slots of
    the entries since ``synced[0]``, the count it reflects). Returns ``(variance_ok,
    zero_signal, ring_rows, pending)``: the row's solve reads ``pending`` rows of
    the pending buffer on the base it was folded into. A row with an undefined variance
    stops after its state update."""
    lam_min = 1.0 - lam
    n = r.shape[0]
    if cnt[0] == pend.shape[0]:
        fold_rows(base, dst, dst_low, pend, cnt[0], beta, in_place, 0, n)
        cnt[0] = 0
        pend = dst_pend
    s = cnt[0]
    pend[s, :] = r
    cnt[0] = s + 1
    for i in range(n):
        ri = r[i]
        dg[i] = dg[i] * beta + ri * ri  # the fold's arithmetic on the diagonal
    w[0] = w[0] * beta + 1.0
    for i in range(n):
        xs[i] = xs[i] * beta + r[i]
    t, u, m = vec[0], vec[1], vec[2]
    if not _scalings(dg, w, xs, lam, min_denom, t, u):
        return False, False, 0, s + 1
    zero = _signal(mu_row, m) <= ZERO_SIGNAL_ATOL
    k = ring.shape[0]
    ring_k = 0
    if k > 0:
        slot = ring_count[0] % k
        ring_count[0] += 1
        if precond_update(ring, gram, fm, dw, t, r, slot, beta, lam_min) == 0:
            ring_k = k
        _sync_mirror(ring, ring_t, synced, ring_count[0])
    diag = lam * 1.0 + (1.0 - lam)  # the formed matrix's diagonal (see _build)
    for i in range(n):
        e[i] = diag - (dg[i] * (t[i] * t[i]) - u[i] * u[i])
    return True, zero, ring_k, s + 1


@nb.njit(cache=True)
def _sync_mirror(
    ring: np.ndarray, ring_t: np.ndarray, synced: np.ndarray, count: int
) -> None:  # pragma: no cover - compiled
    """Copy the ring slots of entries ``synced[0] .. count - 1`` (at most the last K)
    into the transposed mirror ``ring_t`` (N, K); ``synced[0] = count``."""
    k, n = ring.shape
    for e in range(max(synced[0], count - k), count):
        slot = e % k
        src = ring[slot]
        for i in range(n):
            ring_t[i, slot] = src[i]
    synced[0] = count


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _cg_solve_row(
    xy: np.ndarray,
    xy_low: np.ndarray,
    pend: np.ndarray,
    pending: int,
    vec: np.ndarray,
    e: np.ndarray,
    start: np.ndarray,
    ring_t: np.ndarray,
    ring_k: int,
    dw: np.ndarray,
    fm: np.ndarray,
    work: np.ndarray,
    kv: np.ndarray,
    lam: float,
    beta: float,
    tol: float,
    max_iter: int,
    res: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """The solve of one prepared CG row (GIL released; the two rows of a batch pair run
    on two threads): CG from ``start`` on the sums ``fold(xy, pend[:pending])`` (never
    formed; ``xy_low`` the float32 copy of ``xy``) (:func:`cg_solve_pre`) preconditioned
    by the lane's ring mirror ``ring_t`` (N, K) when ``ring_k > 0`` (``ring_k = 0``: its
    factor failed, plain CG); a row CG does not bring to ``tol`` within ``max_iter`` is
    solved exactly (the sums folded and the matrix formed for that row only). ``x =
    vec[4]``; ``res`` (5,) <- method, iterations, ``||Ax - m||^2``, ``m'x``, bound."""
    lam_min = 1.0 - lam
    t, u, m, y, x = vec[0], vec[1], vec[2], vec[3], vec[4]
    x[:] = start
    g = ring_t if ring_k > 0 else np.empty((ring_t.shape[0], 0), dtype=ring_t.dtype)
    it, ss, dd, eb = cg_solve_pre(
        xy, xy_low, pend, pending, beta, t, u, e, m, x, work, lam_min, tol, max_iter, g, dw,
        fm, kv,
    )  # fmt: skip
    meth = METHOD_CG
    if it < 0:
        it = max_iter
        n = m.shape[0]
        full, a, f = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
        fold_rows(xy, full, np.empty((0, 0), dtype=np.float32), pend, pending, beta, False, 0, n)
        _build(full, t, u, lam, a, f)
        meth, ss, dd = solve_one(a, f, m, y, x)
        eb = position_error_bound(math.sqrt(ss), math.sqrt(np.dot(x, x)), lam_min)
    res[0], res[1], res[2], res[3], res[4] = meth, it, ss, dd, eb


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _cg_finish(
    zero: bool,
    vec: np.ndarray,
    res: np.ndarray,
    carry: np.ndarray,
    sigma: np.ndarray,
    cash: np.ndarray,
    util: np.ndarray,
    prev_cash: np.ndarray,
    denom_tol: float,
    cap: float,
) -> tuple[int, int, float, float, int]:  # pragma: no cover - compiled
    """Outputs of a solved CG row in row order (status, cash, turnover cap) and the warm
    starts: ``carry[0] <- carry[1]`` (the next row's start: the solution two rows back),
    ``carry[1] <- x`` when solved. Returns ``(status, method, residual, bound, iters)``."""
    if zero:
        meth, ss, dd, eb, it = METHOD_NONE, 0.0, 0.0, 0.0, 0
    else:
        meth, it, ss, dd, eb = int(res[0]), int(res[1]), res[2], res[3], res[4]
    x, m = vec[4], vec[2]
    carry[0, :] = carry[1]
    if not zero and meth != METHOD_SINGULAR:
        carry[1, :] = x
    status, method, residual = _finish_row(
        zero, meth, ss, dd, x, m, sigma, cash, util, prev_cash, denom_tol, cap
    )
    return status, method, residual, eb, it


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _run_cg_rows(
    xy: np.ndarray,
    xy_low: np.ndarray,
    pend: np.ndarray,
    cnt: np.ndarray,
    dg: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    radj: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    beta: float,
    lam: float,
    min_denom: float,
    vec: np.ndarray,
    work: np.ndarray,
    carry: np.ndarray,
    ring: np.ndarray,
    ring_t: np.ndarray,
    synced: np.ndarray,
    gram: np.ndarray,
    ring_count: np.ndarray,
    cash_out: np.ndarray,
    util_out: np.ndarray,
    res_out: np.ndarray,
    status_out: np.ndarray,
    method_out: np.ndarray,
    eb_out: np.ndarray,
    it_out: np.ndarray,
    prev_cash: np.ndarray,
    denom_tol: float,
    cap: float,
    tol: float,
    max_iter: int,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """CG rows one after the other on one thread (the stream; a batch on one thread):
    :func:`_cg_prepare` (folds in place on ``xy``, the base of the deferred sums with the
    ``cnt[0]`` rows of ``pend`` pending and diagonal ``dg``; ``xy_low`` its float32 copy),
    :func:`_cg_solve_row` from ``carry[0]``, :func:`_cg_finish`. The same compiled
    functions as the paired rows of :meth:`RowKernel.run`, so one and two threads give the
    same bits. ``vec`` (5, N): t, u, m, y, x; ``work`` (6, N): e and CG scratch; ``carry``
    (2, N). Stops after the state update of a row with an undefined variance, the sums
    folded into ``xy`` (nothing pending): ``(rows_done, code)``."""
    k = ring.shape[0]
    fm = np.empty((k, k))
    dw = np.empty(k)
    kv = np.empty((3, k))
    res = np.zeros(5)
    e = work[0]
    for b in range(radj.shape[0]):
        ok, zero, ring_k, pending = _cg_prepare(
            xy, pend, cnt, xy, xy_low, pend, True, dg, w, xs, radj[b], mu[b], beta, lam,
            min_denom, vec, e, ring, ring_t, synced, gram, fm, dw, ring_count,
        )  # fmt: skip
        if not ok:
            settle_rows(xy, xy_low, pend, cnt, beta)
            return b, STOP_VARIANCE
        if not zero:
            _cg_solve_row(
                xy, xy_low, pend, pending, vec, e, carry[0], ring_t, ring_k, dw, fm,
                work[1:], kv, lam, beta, tol, max_iter, res,
            )  # fmt: skip
        status_out[b], method_out[b], res_out[b], eb_out[b], it_out[b] = _cg_finish(
            zero, vec, res, carry, sigma[b], cash_out[b], util_out[b], prev_cash,
            denom_tol, cap,
        )  # fmt: skip
    return radj.shape[0], DONE


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _finish(
    rows: int,
    zero: np.ndarray,
    meth: np.ndarray,
    ss: np.ndarray,
    dd: np.ndarray,
    vec: np.ndarray,
    sigma: np.ndarray,
    cash_out: np.ndarray,
    util_out: np.ndarray,
    res_out: np.ndarray,
    status_out: np.ndarray,
    method_out: np.ndarray,
    prev_cash: np.ndarray,
    denom_tol: float,
    cap: float,
) -> None:  # pragma: no cover - compiled
    """Outputs of the first ``rows`` block rows, in order (the turnover cap is sequential)."""
    for b in range(rows):
        status_out[b], method_out[b], res_out[b] = _finish_row(
            zero[b],
            meth[b],
            ss[b],
            dd[b],
            vec[b, 4],
            vec[b, 2],
            sigma[b],
            cash_out[b],
            util_out[b],
            prev_cash,
            denom_tol,
            cap,
        )


@dataclass(frozen=True)
class CgParams:
    """Conjugate-gradient settings of a kernel run: the warm starts ``carry`` (2, N)
    (``carry[0]``: the next row's, the solved ``A^-1 m`` two rows back; ``carry[1]``: the
    last solved row's; updated in place), the bound target ``tol`` and ``max_iter``,
    the preconditioner's ring of the last ``K`` scaled rows ``ring`` (K, N), their Gram
    matrix ``gram`` (K, K) and the count of rows entered ``ring_count`` (1,) int64 (all
    updated in place; ``K = 0``: no preconditioner), and the deferred state update: the
    rows ``pend`` (PENDING_ROWS, N) of which ``pend_count`` (1,) int64 are pending on the
    base ``xy`` (:mod:`algotrader.portfolio.kernel_pending`; updated in place)."""

    carry: np.ndarray
    tol: float
    max_iter: int
    ring: np.ndarray
    gram: np.ndarray
    ring_count: np.ndarray
    pend: np.ndarray
    pend_count: np.ndarray


@dataclass(frozen=True)
class KernelOutputs:
    """Per-row outputs filled by the kernel: cash (L, N), residual (L,), status and solver
    codes (L,) int8, utilisation (L, N), the proven bound on the relative position error
    (L,) and the CG iterations (L,) int32 (0 for the exact solver)."""

    cash: np.ndarray
    residual: np.ndarray
    status: np.ndarray
    method: np.ndarray
    utilisation: np.ndarray
    error_bound: np.ndarray
    iterations: np.ndarray

    @classmethod
    def empty(cls, n_rows: int, n_assets: int) -> KernelOutputs:
        """NaN-filled outputs (codes -1)."""
        return cls(
            np.full((n_rows, n_assets), np.nan),
            np.full(n_rows, np.nan),
            np.full(n_rows, -1, dtype=np.int8),
            np.full(n_rows, -1, dtype=np.int8),
            np.full((n_rows, n_assets), np.nan),
            np.full(n_rows, np.nan),
            np.zeros(n_rows, dtype=np.int32),
        )


def block_rows(n_assets: int) -> int:
    """Rows per block for the batch: their two (N, N) matrices within about 1 MiB
    (cache-resident), between 2 and 64 rows."""
    return max(2, min(64, BLOCK_BYTES // (16 * max(n_assets, 1) ** 2)))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _claim_or_wait(fut: Future[None] | None) -> bool:
    """After the calling thread's own share: True if the worker has not started ``fut``
    (cancelled: the caller runs that share itself, so a descheduled worker never makes the
    caller wait for work not begun), else wait for it (its exception re-raised)."""
    if fut is None:
        return False
    if fut.cancel():
        return True
    fut.result()
    return False


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="algotrader-solve")
        return _POOL


class RowKernel:
    """Work buffers for blocks of ``block`` rows (two (N, N) matrices a row) and the calls
    into the compiled code.

    A block runs in three steps: state updates and matrices in row order (:func:`_prepare`),
    the factorisations and solves, which are independent given their matrices, split over
    ``threads`` threads (:func:`_solve_range`, GIL released), then statuses, cash and the
    turnover cap in row order (:func:`_finish`). Large matrices (blocks of at most
    :data:`PIPELINE_MAX_BLOCK` rows) on several threads are pipelined instead
    (:meth:`_run_pipelined`: the preparation of the next rows overlaps the solves). Block
    size, pipeline and threads change only the schedule, never a number: every row goes
    through the same compiled functions (the stream uses blocks of one row).
    """

    def __init__(
        self, n_assets: int, block: int = 1, threads: int = 1, solver: str = "exact"
    ) -> None:
        self.n_assets = n_assets
        # CG rows chain through the warm start: one row at a time, or (threads >= 2) the
        # two rows of a pair at once (their warm starts are the solutions two rows back)
        self.block = 1 if solver == "cg" else block
        self.threads = threads
        self.solver = solver
        block = self.block
        # large matrices with several threads: rows pipelined through threads + 1 slots
        self._pipelined = solver != "cg" and threads >= 2 and block <= PIPELINE_MAX_BLOCK
        big = 0 if solver == "cg" else threads + 1 if self._pipelined else block
        # the matrix (float64, for the residuals) and the float32 copy it factors
        # (solve_mixed: float32 factor refined to float64 accuracy)
        self._a = np.empty((big, n_assets, n_assets))
        self._f = np.empty((big, n_assets, n_assets), dtype=np.float32)
        self._anorm = np.zeros(big)
        self._w32 = np.empty((big, 2, n_assets), dtype=np.float32)
        lanes = 2 if solver == "cg" and threads >= 2 else 1
        self._lanes = lanes
        # the float32 copy of the state's base sums for the inner CG products
        # (cg_solve_pre), kept with the base across calls (valid until invalidate_low);
        # CG_MIXED_PRECISION = False keeps every product in float64
        low = solver == "cg" and CG_MIXED_PRECISION
        self._mixed = low
        shape = (n_assets, n_assets) if low else (0, 0)
        self._low = np.zeros(shape, dtype=np.float32)
        self._low_for: int | None = None
        # the paired rows' spare base, float32 copy and pending rows (a fold due at the
        # later row of a pair goes there while the earlier row still reads the old base)
        two = lanes == 2
        self._xy2 = np.empty((n_assets, n_assets) if two else (0, 0))
        self._low2 = np.zeros(shape if two else (0, 0), dtype=np.float32)
        self._pend2 = np.empty((PENDING_ROWS, n_assets) if two else (0, n_assets))
        self._dg = np.empty(n_assets)
        self._cg_vec = np.empty((lanes, 5, n_assets))
        self._cg_work = np.empty((lanes, 6, n_assets))
        self._cg_res = np.zeros((lanes, 5))
        self._cg_k = -1
        rows = max(big, block)
        self._vec = np.empty((rows, 5, n_assets))
        self._zero = np.zeros(rows, dtype=np.bool_)
        self._meth = np.zeros(rows, dtype=np.int64)
        self._ss = np.zeros(rows)
        self._dd = np.zeros(rows)
        self._eb = np.zeros(rows)
        self._it = np.zeros(rows, dtype=np.int32)

    def _solve(self, rows: int, lam_min: float) -> None:
        args = (self._a, self._f, self._vec, self._zero, self._anorm, self._w32)
        res = (self._meth, self._ss, self._dd, self._eb, lam_min)
        self._it[:rows] = 0
        parts = min(self.threads, rows)
        if parts <= 1:
            _solve_range(*args, 0, rows, *res)
            return
        edges = np.linspace(0, rows, parts + 1).astype(int)
        pool = _pool(parts - 1)
        ranges = list(itertools.pairwise(int(e) for e in edges[1:]))
        futures = [pool.submit(_solve_range, *args, lo, hi, *res) for lo, hi in ranges]
        try:
            _solve_range(*args, 0, int(edges[1]), *res)
        finally:
            claimed = [rg for rg, fut in zip(ranges, futures, strict=True) if _claim_or_wait(fut)]
        for lo, hi in claimed:  # not started by a worker (a busy machine): solved here
            _solve_range(*args, lo, hi, *res)

    def _run_pipelined(
        self,
        xy: np.ndarray,
        w: np.ndarray,
        x: np.ndarray,
        prev_cash: np.ndarray,
        radj: np.ndarray,
        mu: np.ndarray,
        sigma: np.ndarray,
        out: KernelOutputs,
        prep: tuple[float, float, float],
        fin: tuple[float, float],
    ) -> tuple[int, int]:
        """Exact rows pipelined through ``threads + 1`` slots: the calling thread prepares
        row after row (state update and matrix, in row order) while ``threads - 1``
        workers solve the prepared ones; rows are finished in row order (status, cash,
        turnover cap). When every slot is taken the calling thread first solves the oldest
        row no worker has begun (claimed back from the pool), then finishes the oldest row;
        solved rows are finished (their slots freed) before that check.
        So the serial preparation overlaps the solves, and a descheduled worker delays
        nothing it has not begun. Each row runs the same compiled functions as in a block
        (same bits)."""
        slots = self._a.shape[0]
        lam_min = 1.0 - prep[1]
        bufs = (self._a, self._f, self._vec, self._zero, self._anorm, self._w32)
        res = (self._meth, self._ss, self._dd, self._eb, lam_min)
        pool = _pool(self.threads - 1)
        inflight: deque[list] = deque()  # [row, slot, future or None], oldest first

        def solve(b: int) -> None:
            _solve_range(*bufs, b, b + 1, *res)

        def finish_oldest() -> None:
            j, b, fut = inflight.popleft()
            if _claim_or_wait(fut):
                solve(b)
            sl, one = slice(j, j + 1), slice(b, b + 1)
            _finish(
                1, self._zero[one], self._meth[one], self._ss[one], self._dd[one],
                self._vec[one], sigma[sl], out.cash[sl], out.utilisation[sl],
                out.residual[sl], out.status[sl], out.method[sl], prev_cash, *fin,
            )  # fmt: skip
            out.error_bound[j] = self._eb[b]  # iterations stay 0 (exact rows)

        try:
            for j in range(radj.shape[0]):
                while inflight and (inflight[0][2] is None or inflight[0][2].done()):
                    finish_oldest()  # rows already solved free their slots first
                if len(inflight) == slots:
                    for entry in inflight:  # the oldest share no worker has begun
                        if entry[2] is not None and entry[2].cancel():
                            entry[2] = None
                            solve(entry[1])
                            break
                    finish_oldest()
                b = j % slots  # free: row j - slots is finished
                one = slice(b, b + 1)
                _, code = _prepare(
                    xy, w, x, radj[j : j + 1], mu[j : j + 1], *prep, self._a[one],
                    self._f[one], self._vec[one], self._zero[one], self._anorm[one],
                )  # fmt: skip
                if code != DONE:
                    while inflight:
                        finish_oldest()
                    return j, code
                if self._zero[b]:
                    solve(b)
                    inflight.append([j, b, None])
                else:
                    inflight.append([j, b, pool.submit(solve, b)])
            while inflight:
                finish_oldest()
        finally:
            for _, _, fut in inflight:  # an error: no worker may still write a slot
                if fut is not None and not fut.cancel():
                    fut.exception()
        return radj.shape[0], DONE

    def invalidate_low(self) -> None:
        """Forget the float32 copy of the base sums (call after changing them outside the
        kernel); the next run rebuilds it."""
        self._low_for = None

    def _cg_low(self, xy: np.ndarray) -> np.ndarray:
        """The float32 copy of the base sums ``xy`` (rebuilt unless still valid)."""
        if self._mixed and self._low_for != xy.ctypes.data:
            self._low[...] = xy
            self._low_for = xy.ctypes.data
        return self._low

    def _cg_lane_buffers(self, ring: np.ndarray, count: int) -> None:
        """Per-lane K x K factor scratch and the transposed ring mirrors, rebuilt from the
        ring (float32 in mixed precision), so a function of the state alone (batch ==
        stream)."""
        k = ring.shape[0]
        lanes = self._lanes
        if self._cg_k != k:
            self._fm = np.empty((lanes, k, k))
            self._dw = np.empty((lanes, k))
            self._kv = np.empty((lanes, 3, k))
            dtype = np.float32 if self._mixed else np.float64
            self._ring_t = np.empty((lanes, self.n_assets, k), dtype=dtype)
            self._cg_k = k
        for lane in range(lanes):
            self._ring_t[lane] = ring.T
        self._synced = np.full((lanes, 1), count, dtype=np.int64)

    def _run_cg(
        self,
        xy: np.ndarray,
        w: np.ndarray,
        x: np.ndarray,
        prev_cash: np.ndarray,
        radj: np.ndarray,
        mu: np.ndarray,
        sigma: np.ndarray,
        out: KernelOutputs,
        cg: CgParams,
        args: tuple[float, float, float],
        fin: tuple[float, float],
    ) -> tuple[int, int]:
        """CG rows: one at a time (:func:`_run_cg_rows`) or, with two lanes, in pairs: both
        rows prepared in order (each lane's ring mirror brought up to its own row), their
        solves on two threads (GIL released), then both finished in order. Both rows of a
        pair read the one base ``xy`` and its float32 copy (the later row one more pending
        row), except when the later row's preparation folds: that fold goes into the spare
        base while the earlier row still reads the old one, and is copied back after the
        pair. The same compiled functions on the same numbers either way, so the bits do
        not depend on the thread count."""
        self._cg_lane_buffers(cg.ring, int(cg.ring_count[0]))
        beta, shrink, min_denom = args
        tol, max_iter = float(cg.tol), int(cg.max_iter)
        n_rows = radj.shape[0]
        vec, work, res = self._cg_vec, self._cg_work, self._cg_res
        fm, dw, kv, ring_t, synced = self._fm, self._dw, self._kv, self._ring_t, self._synced
        pend, cnt, dg = cg.pend, cg.pend_count, self._dg
        low = self._cg_low(xy)
        pending_diagonal(xy, pend, int(cnt[0]), beta, dg)

        def rows_alone(lo: int, hi: int) -> tuple[int, int]:
            return _run_cg_rows(
                xy, low, pend, cnt, dg, w, x, radj[lo:hi], mu[lo:hi], sigma[lo:hi], beta,
                shrink, min_denom, vec[0], work[0], cg.carry, cg.ring, ring_t[0], synced[0],
                cg.gram, cg.ring_count, out.cash[lo:hi], out.utilisation[lo:hi],
                out.residual[lo:hi], out.status[lo:hi], out.method[lo:hi],
                out.error_bound[lo:hi], out.iterations[lo:hi], prev_cash, *fin, tol, max_iter,
            )  # fmt: skip

        if self._lanes == 1 or n_rows < 2:
            return rows_alone(0, n_rows)

        def prepare(b: int, lane: int, spare: bool) -> tuple:
            dst, dst_low, dst_pend = (
                (self._xy2, self._low2, self._pend2) if spare else (xy, low, pend)
            )
            return _cg_prepare(
                xy, pend, cnt, dst, dst_low, dst_pend, not spare, dg, w, x, radj[b], mu[b],
                beta, shrink, min_denom, vec[lane], work[lane, 0], cg.ring, ring_t[lane],
                synced[lane], cg.gram, fm[lane], dw[lane], cg.ring_count,
            )  # fmt: skip

        def solve(lane: int, base: tuple, pending: int, ring_k: int) -> None:
            _cg_solve_row(
                base[0], base[1], base[2], pending, vec[lane], work[lane, 0], cg.carry[lane],
                ring_t[lane], ring_k, dw[lane], fm[lane], work[lane, 1:], kv[lane], shrink,
                beta, tol, max_iter, res[lane],
            )  # fmt: skip

        def finish(b: int, lane: int, zero: bool) -> None:
            (
                out.status[b], out.method[b], out.residual[b], out.error_bound[b],
                out.iterations[b],
            ) = _cg_finish(
                zero, vec[lane], res[lane], cg.carry, sigma[b], out.cash[b],
                out.utilisation[b], prev_cash, *fin,
            )  # fmt: skip

        pool = _pool(1)
        own = (xy, low, pend)
        b = 0
        while b + 1 < n_rows:
            ok0, zero0, k0, s0 = prepare(b, 0, False)
            if not ok0:
                settle_rows(xy, low, pend, cnt, beta)
                return b, STOP_VARIANCE
            spare = int(cnt[0]) == pend.shape[0]  # the later row's preparation folds
            ok1, zero1, k1, s1 = prepare(b + 1, 1, spare)
            base1 = (self._xy2, self._low2, self._pend2) if spare else own
            fut = None
            if ok1 and not zero1:
                fut = pool.submit(solve, 1, base1, s1, k1)
            try:
                if not zero0:
                    solve(0, own, s0, k0)
            finally:
                claimed = _claim_or_wait(fut)
            if claimed:  # the worker had not started (a busy machine): solve it here
                solve(1, base1, s1, k1)
            finish(b, 0, zero0)
            if spare:  # the fold of row b + 1 becomes the state's base
                xy[...] = self._xy2
                low[...] = self._low2
                pend[0] = self._pend2[0]
            if not ok1:
                settle_rows(xy, low, pend, cnt, beta)
                return b + 1, STOP_VARIANCE
            finish(b + 1, 1, zero1)
            b += 2
        if b < n_rows:
            # the lone last row runs on lane 0, whose mirror is one pair behind
            done, code = rows_alone(b, n_rows)
            return b + done, code
        return n_rows, DONE

    def run(
        self,
        xy: np.ndarray,
        w: np.ndarray,
        x: np.ndarray,
        prev_cash: np.ndarray,
        radj: np.ndarray,
        mu: np.ndarray,
        sigma: np.ndarray,
        out: KernelOutputs,
        *,
        beta: float,
        shrink: float,
        min_denom: float,
        denom_tol: float,
        cap: float,
        cg: CgParams | None = None,
    ) -> tuple[int, int]:
        """Process the rows of ``radj``/``mu``/``sigma`` (L, N); state arrays updated in place.

        ``xy`` (N, N), ``w`` (1,), ``x`` (N,), ``prev_cash`` (N,) must be C-contiguous
        float64; ``cap < 0`` means no turnover cap; ``shrink < 1``. ``cg`` (required when the
        kernel was built with ``solver="cg"``) carries the warm start, updated in place.
        Returns ``(rows_done, code)``: with ``code != DONE`` row ``rows_done`` had its
        state updated but no output.
        """
        if (cg is not None) != (self.solver == "cg"):
            raise ValueError("pass cg parameters exactly when the kernel's solver is 'cg'")
        lam_min = 1.0 - shrink
        radj = np.ascontiguousarray(radj, dtype=np.float64)
        mu = np.ascontiguousarray(mu, dtype=np.float64)
        sigma = np.ascontiguousarray(sigma, dtype=np.float64)
        n_rows = radj.shape[0]
        if cg is not None:
            args = (float(beta), float(shrink), float(min_denom))
            fin = (float(denom_tol), float(cap))
            return self._run_cg(xy, w, x, prev_cash, radj, mu, sigma, out, cg, args, fin)
        if self._pipelined and n_rows > 1:
            prep = (float(beta), float(shrink), float(min_denom))
            fin = (float(denom_tol), float(cap))
            return self._run_pipelined(xy, w, x, prev_cash, radj, mu, sigma, out, prep, fin)
        start = 0
        while start < n_rows:
            sl = slice(start, min(start + self.block, n_rows))
            rows, code = _prepare(
                xy, w, x, radj[sl], mu[sl], float(beta), float(shrink), float(min_denom),
                self._a, self._f, self._vec, self._zero, self._anorm,
            )  # fmt: skip
            self._solve(rows, lam_min)
            _finish(
                rows, self._zero, self._meth, self._ss, self._dd, self._vec, sigma[sl],
                out.cash[sl], out.utilisation[sl], out.residual[sl], out.status[sl],
                out.method[sl], prev_cash, float(denom_tol), float(cap),
            )  # fmt: skip
            out.error_bound[sl][:rows] = self._eb[:rows]
            out.iterations[sl][:rows] = self._it[:rows]
            if code != DONE:
                return start + rows, code
            start = sl.stop
        return n_rows, DONE


__all__ = [
    "DONE",
    "STATUS_DEGENERATE",
    "STATUS_VALID",
    "STATUS_ZERO_SIGNAL",
    "STOP_VARIANCE",
    "CgParams",
    "KernelOutputs",
    "RowKernel",
    "block_rows",
]
