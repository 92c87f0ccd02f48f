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
from concurrent.futures import ThreadPoolExecutor
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
    solve_one,
)

#: Status codes written by the kernel (mapped to :class:`SolveStatus` by the caller).
STATUS_ZERO_SIGNAL, STATUS_DEGENERATE, STATUS_VALID = 0, 1, 2
#: Stop codes: all rows done, a variance is undefined.
DONE, STOP_VARIANCE = 0, 1
#: Cache budget of a :class:`RowKernel` block's matrices, in bytes.
BLOCK_BYTES = 2**20

ZERO_SIGNAL_ATOL = 1e-8
#: ``solver: cg`` runs its inner products on a float32 copy of ``xy`` with float64 iterative
#: refinement (:func:`cg_solve_mixed`; the bound is from the float64 residual). ``False``
#: (module switch, read when a :class:`RowKernel` is built) keeps every product in float64.
CG_MIXED_PRECISION = True
UTILISATION_MIN_SIGNAL = 1e-14


@nb.njit(cache=True)
def _advance_state(
    xy: np.ndarray, w: np.ndarray, xs: np.ndarray, r: np.ndarray, beta: float
) -> None:  # pragma: no cover - compiled
    """``xy <- beta xy + r r'`` (row by row, contiguous; stays exactly symmetric), ``w``, ``x``."""
    n = r.shape[0]
    for i in range(n):
        ri = r[i]
        row = xy[i]
        for k in range(n):
            row[k] = row[k] * beta + ri * r[k]
    w[0] = w[0] * beta + 1.0
    for i in range(n):
        xs[i] = xs[i] * beta + r[i]


@nb.njit(cache=True)
def _advance_state_low(
    xy: np.ndarray, xy_low: np.ndarray, w: np.ndarray, xs: np.ndarray, r: np.ndarray, beta: float
) -> None:  # pragma: no cover - compiled
    """:func:`_advance_state` that also writes the full float32 copy of ``xy`` into
    ``xy_low`` in the same pass (``xy`` itself, the state, stays float64)."""
    n = r.shape[0]
    for i in range(n):
        ri = r[i]
        row = xy[i]
        low = xy_low[i]
        for k in range(n):
            v = row[k] * beta + ri * r[k]
            row[k] = v
            low[k] = np.float32(v)
    w[0] = w[0] * beta + 1.0
    for i in range(n):
        xs[i] = xs[i] * beta + r[i]


@nb.njit(cache=True, error_model="numpy")
def _scalings(
    xy: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    lam: float,
    min_denom: float,
    t: np.ndarray,
    u: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """``t = sqrt(lam / w) / sd``, ``u = sqrt(lam) mean / sd``; False if a variance is undefined."""
    inv_w = 1.0 / w[0]
    scale_t = math.sqrt(lam * inv_w)
    sqrt_lam = math.sqrt(lam)
    for i in range(xs.shape[0]):
        mean = xs[i] * inv_w
        var = xy[i, i] * inv_w - mean * mean
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
    copy_f: bool,
) -> None:  # pragma: no cover - compiled
    """The shrunk correlation in ``a`` and (``copy_f``) a copy in ``f`` for the factorisation."""
    diag = lam * 1.0 + (1.0 - lam)
    for i in range(t.shape[0]):
        ti, ui = t[i], u[i]
        xrow, arow = xy[i], a[i]
        for k in range(t.shape[0]):
            arow[k] = min(max(xrow[k] * (ti * t[k]) - ui * u[k], -lam), lam)
        arow[i] = diag
        if copy_f:
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
    copy_f: bool,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """State updates and matrices of a block of rows (in order), into ``a[b]``, ``f[b]``,
    ``vec[b]`` (t, u, m, y, x); stops after the update of a row with an undefined variance."""
    for b in range(radj.shape[0]):
        _advance_state(xy, w, xs, radj[b], beta)
        if not _scalings(xy, w, xs, lam, min_denom, vec[b, 0], vec[b, 1]):
            return b, STOP_VARIANCE
        zero[b] = _signal(mu[b], vec[b, 2]) <= ZERO_SIGNAL_ATOL
        if not zero[b]:
            _build(xy, vec[b, 0], vec[b, 1], lam, a[b], f[b], copy_f)
    return radj.shape[0], DONE


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _solve_range(
    a: np.ndarray,
    f: np.ndarray,
    vec: np.ndarray,
    zero: np.ndarray,
    lo: int,
    hi: int,
    meth: np.ndarray,
    ss: np.ndarray,
    dd: np.ndarray,
    eb: np.ndarray,
    lam_min: float,
) -> None:  # pragma: no cover - compiled
    """Solve block rows ``lo .. hi - 1`` (independent of each other: any thread, any order)."""
    for b in range(lo, hi):
        if zero[b]:
            meth[b], ss[b], dd[b], eb[b] = METHOD_NONE, 0.0, 0.0, 0.0
        else:
            meth[b], ss[b], dd[b] = solve_one(a[b], f[b], vec[b, 2], vec[b, 3], vec[b, 4])
            x = vec[b, 4]
            eb[b] = position_error_bound(math.sqrt(ss[b]), math.sqrt(np.dot(x, x)), lam_min)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _run_cg_rows(
    xy: np.ndarray,
    xy_low: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    radj: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    beta: float,
    lam: float,
    min_denom: float,
    a: np.ndarray,
    f: np.ndarray,
    vec: np.ndarray,
    work: np.ndarray,
    carry: np.ndarray,
    ring: np.ndarray,
    ring_apply: np.ndarray,
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
    """Rows of the CG solver, each complete before the next: state update, scalings, CG on
    ``A = T xy T - u u' + diag(e)`` (the shrunk correlation, never formed: one pass over
    ``xy`` per iteration) warm-started from the previous solved row's ``x`` (``carry``,
    updated), status, cash, turnover cap. A row CG cannot bring to ``tol`` within
    ``max_iter`` iterations is solved exactly (Cholesky of the formed matrix in ``a``/``f``).
    Every row enters the preconditioner ring ``ring`` (K, N) / ``gram`` (K, K) at slot
    ``ring_count[0] % K`` (:func:`precond_update`; ``K = 0``: plain CG). ``xy_low`` of
    ``xy``'s shape: float32 inner products (refreshed from ``xy`` with each state update).
    ``vec`` (5, N): t, u, m, y, x; ``work`` (6, N): e and CG scratch. Stops after the state
    update of a row with an undefined variance: ``(rows_done, code)``."""
    lam_min = 1.0 - lam
    diag = lam * 1.0 + (1.0 - lam)  # the formed matrix's diagonal (see _build)
    t, u, m, y, x = vec[0], vec[1], vec[2], vec[3], vec[4]
    e = work[0]
    mixed = xy_low.shape[0] == xy.shape[0]
    k = ring.shape[0]
    fm = np.empty((k, k))
    dw = np.empty(k)
    kv = np.empty((3, k))
    for b in range(radj.shape[0]):
        if mixed:
            _advance_state_low(xy, xy_low, w, xs, radj[b], beta)
        else:
            _advance_state(xy, w, xs, radj[b], beta)
        if not _scalings(xy, w, xs, lam, min_denom, t, u):
            return b, STOP_VARIANCE
        zero = _signal(mu[b], m) <= ZERO_SIGNAL_ATOL
        ring_k = 0
        if k > 0:
            slot = ring_count[0] % k
            ring_count[0] += 1
            if precond_update(ring, gram, fm, dw, t, radj[b], slot, beta, lam_min) == 0:
                ring_k = k
            dst, src = ring_apply[slot], ring[slot]
            for i in range(dst.shape[0]):
                dst[i] = src[i]
        it = 0
        if zero:
            meth, ss, dd, eb = METHOD_NONE, 0.0, 0.0, 0.0
        else:
            for i in range(t.shape[0]):
                e[i] = diag - (xy[i, i] * (t[i] * t[i]) - u[i] * u[i])
            x[:] = carry
            it, ss, dd, eb = cg_solve_pre(
                xy, xy_low, t, u, e, m, x, work[1:], lam_min, tol, max_iter,
                ring_apply[:ring_k], dw, fm, kv,
            )  # fmt: skip
            meth = METHOD_CG
            if it < 0:
                it = max_iter
                _build(xy, t, u, lam, a, f, True)
                meth, ss, dd = solve_one(a, f, m, y, x)
                eb = position_error_bound(math.sqrt(ss), math.sqrt(np.dot(x, x)), lam_min)
            if meth != METHOD_SINGULAR:
                carry[:] = x
        status_out[b], method_out[b], res_out[b] = _finish_row(
            zero, meth, ss, dd, x, m, sigma[b], cash_out[b], util_out[b], prev_cash,
            denom_tol, cap,
        )  # fmt: skip
        eb_out[b] = eb
        it_out[b] = it
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
    """Conjugate-gradient settings of a kernel run: the warm start ``carry`` (N,) (the last
    solved row's ``A^-1 m``; updated in place), the bound target ``tol`` and ``max_iter``,
    and the preconditioner's ring of the last ``K`` scaled rows ``ring`` (K, N), their Gram
    matrix ``gram`` (K, K) and the count of rows entered ``ring_count`` (1,) int64 (all
    updated in place; ``K = 0``: no preconditioner)."""

    carry: np.ndarray
    tol: float
    max_iter: int
    ring: np.ndarray
    gram: np.ndarray
    ring_count: np.ndarray


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
    turnover cap in row order (:func:`_finish`). Block size and threads change only the
    schedule, never a number: every row goes through the same compiled functions (the
    stream uses blocks of one row).
    """

    def __init__(
        self, n_assets: int, block: int = 1, threads: int = 1, solver: str = "exact"
    ) -> None:
        self.n_assets = n_assets
        # CG rows chain (warm start) and solve on the live state: one at a time
        self.block = 1 if solver == "cg" else block
        self.threads = 1 if solver == "cg" else threads
        self.solver = solver
        block = self.block
        self._a = np.empty((block, n_assets, n_assets))
        self._f = np.empty((block, n_assets, n_assets))
        self._work = np.empty((6, n_assets)) if solver == "cg" else np.empty((0, 0))
        # float32 copy of the state's xy for the inner CG products (cg_solve_mixed);
        # CG_MIXED_PRECISION = False keeps every product in float64 (comparison runs)
        low = solver == "cg" and CG_MIXED_PRECISION
        self._mixed = low
        shape = (n_assets, n_assets) if low else (0, 0)
        self._low = np.zeros(shape, dtype=np.float32)
        self._vec = np.empty((block, 5, n_assets))
        self._zero = np.zeros(block, dtype=np.bool_)
        self._meth = np.zeros(block, dtype=np.int64)
        self._ss = np.zeros(block)
        self._dd = np.zeros(block)
        self._eb = np.zeros(block)
        self._it = np.zeros(block, dtype=np.int32)

    def _solve(self, rows: int, lam_min: float) -> None:
        args = (self._a, self._f, self._vec, self._zero)
        res = (self._meth, self._ss, self._dd, self._eb)
        self._it[:rows] = 0
        parts = min(self.threads, rows)
        if parts <= 1:
            _solve_range(*args, 0, rows, *res, lam_min)
            return
        edges = np.linspace(0, rows, parts + 1).astype(int)
        pool = _pool(parts - 1)
        futures = [
            pool.submit(_solve_range, *args, int(lo), int(hi), *res, lam_min)
            for lo, hi in itertools.pairwise(edges[1:])
        ]
        _solve_range(*args, 0, int(edges[1]), *res, lam_min)
        for fut in futures:
            fut.result()

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
            # the preconditioner is applied from a float32 mirror of the (float64, saved)
            # ring in mixed precision: rebuilt here from the ring, so it is a function of
            # the state alone (batch == stream); each row refreshes its own slot
            ring_apply = cg.ring.astype(np.float32) if self._mixed else cg.ring
            return _run_cg_rows(
                xy, self._low, w, x, radj, mu, sigma, float(beta), float(shrink), float(min_denom),
                self._a[0], self._f[0], self._vec[0], self._work, cg.carry,
                cg.ring, ring_apply, cg.gram, cg.ring_count, out.cash, out.utilisation, out.residual, out.status, out.method,
                out.error_bound, out.iterations, prev_cash, float(denom_tol), float(cap),
                float(cg.tol), int(cg.max_iter),
            )  # fmt: skip
        start = 0
        while start < n_rows:
            sl = slice(start, min(start + self.block, n_rows))
            rows, code = _prepare(
                xy, w, x, radj[sl], mu[sl], float(beta), float(shrink), float(min_denom),
                self._a, self._f, self._vec, self._zero, True,
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
