"""Compiled row kernel (numba) for gap-free EWMA rows, shared by the batch engine and the stream.

While no row has had a gap the pairwise EWM state is compact (one weight sum ``w``, the
sums ``x`` (N,) and ``xy`` (N, N)) and every asset is tradeable. For such rows the whole
per-row recursion runs here without returning to Python:

1. ``xy <- beta xy + r r'``, ``w <- beta w + 1``, ``x <- beta x + r`` (upper triangle
   computed, mirrored: the matrix stays exactly symmetric);
2. ``mean = x / w``, ``var = xy_ii / w - mean^2``; ``t = sqrt(shrink / w) / sd``,
   ``u = sqrt(shrink) mean / sd``;
3. ``A_ij = clip(xy_ij t_i t_j - u_i u_j, +-shrink)``, ``A_ii = 1``
   (= ``shrink * corr + (1 - shrink) * I``);
4. zero-signal test, Cholesky factor (LAPACK ``potrf`` on a copy of the upper triangle),
   forward and back substitution, residual ``||A x - m||``, ``d = m'x``, status, cash
   ``x / sqrt(d) / sigma``, turnover cap, utilisation ``x_i / m_i``.

A row it cannot finish (a variance at or below ``min_corr_denom``, or a matrix that is
not numerically positive definite) stops the kernel *after* its state update; the
caller handles that row's matrix in Python (:func:`algotrader.portfolio.core.matrix_part`)
and resumes. The stream runs the same kernel on one row, so batch and stream agree bit
for bit. Memory: O(N^2) work buffers, no (T, N, N) arrays.

Only used when the condition number of ``A`` is provably below the solver's limit
(``shrink < 1``, see :func:`algotrader.portfolio.core._cond_bound`), so no condition
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

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
from numba import types
from numba.np.linalg import _LAPACK, ensure_lapack

#: Status codes written by the kernel (mapped to :class:`SolveStatus` by the caller).
STATUS_ZERO_SIGNAL, STATUS_DEGENERATE, STATUS_VALID = 0, 1, 2
#: Stop codes: all rows done, a variance is undefined, Cholesky failed.
DONE, STOP_VARIANCE, STOP_CHOLESKY = 0, 1, 2

ZERO_SIGNAL_ATOL = 1e-8
UTILISATION_MIN_SIGNAL = 1e-14

ensure_lapack()
# numba's binding of LAPACK ``?potrf`` (resolved by symbol at run time, so the compiled
# kernel can be cached on disk); called with uplo 'L' on a C-ordered buffer, i.e. the
# Fortran-lower (fast) variant factors the C-upper triangle.
_POTRF = _LAPACK().numba_xxpotrf(types.float64)
_KIND_D, _UPLO_L = ord("d"), ord("L")


@nb.njit(cache=True)
def _cholesky_upper(f: np.ndarray) -> int:  # pragma: no cover - compiled
    """Factor ``f`` (C-ordered, symmetric, upper triangle read) in place; LAPACK info."""
    n = f.shape[0]
    return _POTRF(_KIND_D, _UPLO_L, n, f.ctypes, n)


@nb.njit(cache=True, fastmath={"reassoc"})
def _solve_factor(f: np.ndarray, m: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    """``x = A^-1 m`` from the factor: ``L[k, i] = f[i, k]`` for ``k >= i`` (C upper)."""
    n = m.shape[0]
    for i in range(n):
        y[i] = m[i]
    for k in range(n):  # forward: L y = m, column-oriented (rows of f are contiguous)
        yk = y[k] / f[k, k]
        y[k] = yk
        for i in range(k + 1, n):
            y[i] -= f[k, i] * yk
    for i in range(n - 1, -1, -1):  # back: L' x = y, dot-product form
        s = 0.0
        row = f[i]
        for k in range(i + 1, n):
            s += row[k] * x[k]
        x[i] = (y[i] - s) / row[i]


@nb.njit(cache=True, fastmath={"reassoc"})
def _residual_and_dot(a: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """``||A x - m||^2`` and ``m'x`` (vectorised sums)."""  # pragma: no cover - compiled
    n = m.shape[0]
    ss = 0.0
    d = 0.0
    for i in range(n):
        s = 0.0
        row = a[i]
        for k in range(n):
            s += row[k] * x[k]
        s -= m[i]
        ss += s * s
        d += m[i] * x[i]
    return ss, d


@nb.njit(cache=True, error_model="numpy")
def _run_rows(
    xy: np.ndarray,
    w: np.ndarray,
    xs: np.ndarray,
    prev_cash: np.ndarray,
    radj: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    cash_out: np.ndarray,
    res_out: np.ndarray,
    status_out: np.ndarray,
    util_out: np.ndarray,
    a: np.ndarray,
    f: np.ndarray,
    vec: np.ndarray,
    beta: float,
    lam: float,
    min_denom: float,
    denom_tol: float,
    cap: float,
) -> tuple[int, int]:  # pragma: no cover - compiled
    n_rows, n = radj.shape
    t, u, m, y, x = vec[0], vec[1], vec[2], vec[3], vec[4]
    sqrt_lam = math.sqrt(lam)
    diag = lam * 1.0 + (1.0 - lam)
    for j in range(n_rows):
        r = radj[j]
        # 1. state update (row by row: contiguous, vectorised; stays exactly symmetric)
        for i in range(n):
            ri = r[i]
            row = xy[i]
            for k in range(n):
                row[k] = row[k] * beta + ri * r[k]
        w[0] = w[0] * beta + 1.0
        for i in range(n):
            xs[i] = xs[i] * beta + r[i]
        # 2. per-asset scalings
        inv_w = 1.0 / w[0]
        scale_t = math.sqrt(lam * inv_w)
        for i in range(n):
            mean = xs[i] * inv_w
            var = xy[i, i] * inv_w - mean * mean
            if not (var > min_denom) or not math.isfinite(var):
                return j, STOP_VARIANCE
            inv_sd = 1.0 / math.sqrt(var)
            t[i] = inv_sd * scale_t
            u[i] = mean * inv_sd * sqrt_lam
        # 3. the shrunk correlation in a, and a copy in f for the factorisation
        for i in range(n):
            ti, ui = t[i], u[i]
            xrow, arow, frow = xy[i], a[i], f[i]
            for k in range(n):
                v = min(max(xrow[k] * (ti * t[k]) - ui * u[k], -lam), lam)
                arow[k] = v
                frow[k] = v
            arow[i] = diag
            frow[i] = diag
        # 4. solve
        top = 0.0
        mu_j = mu[j]
        for i in range(n):
            mi = mu_j[i]
            if mi != mi:  # NaN signal -> 0
                mi = 0.0
            m[i] = mi
            if abs(mi) > top:
                top = abs(mi)
        cash = cash_out[j]
        util = util_out[j]
        if top <= ZERO_SIGNAL_ATOL:
            for i in range(n):
                cash[i] = 0.0
                util[i] = 0.0
                prev_cash[i] = 0.0
            res_out[j] = 0.0
            status_out[j] = STATUS_ZERO_SIGNAL
            continue
        if _cholesky_upper(f) != 0:
            return j, STOP_CHOLESKY
        _solve_factor(f, m, y, x)
        ss, d = _residual_and_dot(a, x, m)
        res_out[j] = math.sqrt(ss)
        for i in range(n):
            util[i] = x[i] / m[i] if abs(m[i]) > UTILISATION_MIN_SIGNAL else np.nan
        if not (d > 0.0 and math.isfinite(d)) or math.sqrt(d) <= denom_tol:
            for i in range(n):
                cash[i] = 0.0
                prev_cash[i] = 0.0
            status_out[j] = STATUS_DEGENERATE
            continue
        nu = math.sqrt(d)
        for i in range(n):
            cash[i] = x[i] / nu / sigma[j, i]
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
        for i in range(n):
            prev_cash[i] = cash[i]
        status_out[j] = STATUS_VALID
    return n_rows, DONE


@nb.njit(cache=True, error_model="numpy")
def _vol_rows(
    sums: np.ndarray,
    counts: np.ndarray,
    lr: np.ndarray,
    q: np.ndarray,
    beta: float,
    min_samples: int,
    clip: float,
    radj: np.ndarray,
    sigma: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """EWM vol of log (series 0) and simple (series 1) returns, row by row.

    ``sums`` (4, 2, N): weighted sums of x, x^2, weights, squared weights; ``counts``
    (2, N). Missing (non-finite) returns add no observation; the decay still advances.
    Std: ``sqrt(max(sx2/sw - (sx/sw)^2, 0) sw^2 / (sw^2 - sw2))``, 0 after exactly one
    observation, NaN below the minimum count (1 for series 0, ``min_samples`` for
    series 1) or with ``sw^2 <= sw2``.
    """
    n_rows, n = lr.shape
    beta2 = beta * beta
    for j in range(n_rows):
        for s in range(2):
            x = lr[j] if s == 0 else q[j]
            need = 1 if s == 0 else min_samples
            for i in range(n):
                v = x[i]
                obs = math.isfinite(v)
                u = v if obs else 0.0
                wt = 1.0 if obs else 0.0
                sx = sums[0, s, i] * beta + u
                sx2 = sums[1, s, i] * beta + u * u
                sw = sums[2, s, i] * beta + wt
                sw2 = sums[3, s, i] * beta2 + wt
                sums[0, s, i], sums[1, s, i], sums[2, s, i], sums[3, s, i] = sx, sx2, sw, sw2
                c = counts[s, i] + (1 if obs else 0)
                counts[s, i] = c
                mean = sx / sw
                var = sx2 / sw - mean * mean
                if var < 0.0:
                    var = 0.0
                sw_sq = sw * sw
                denom = sw_sq - sw2
                std = math.sqrt(var * sw_sq / denom)
                if not denom > 0.0:
                    std = np.nan
                if c == 1:
                    std = 0.0
                if c < need or c < 1:
                    std = np.nan
                if s == 0:
                    r = v / std
                    if r > clip:
                        r = clip
                    elif r < -clip:
                        r = -clip
                    radj[j, i] = r if math.isfinite(r) else np.nan
                else:
                    sigma[j, i] = std if obs else np.nan


def advance_vol(
    sums: np.ndarray,
    counts: np.ndarray,
    lr: np.ndarray,
    q: np.ndarray,
    *,
    beta: float,
    min_samples: int,
    clip: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Feed log returns ``lr`` and simple returns ``q`` (T, N) to the vol sums (in place).

    Returns the vol-adjusted log returns ``clip(lr / std_log, +-clip)`` (NaN where
    undefined) and ``sigma`` (the simple-return std, NaN where the return is missing),
    each (T, N). Batch and stream both call it (one row at a time for the stream).
    """
    lr = np.ascontiguousarray(lr, dtype=np.float64)
    q = np.ascontiguousarray(q, dtype=np.float64)
    radj, sigma = np.empty_like(lr), np.empty_like(q)
    _vol_rows(sums, counts, lr, q, float(beta), int(min_samples), float(clip), radj, sigma)
    return radj, sigma


@dataclass(frozen=True)
class KernelOutputs:
    """Per-row outputs filled by the kernel: cash (L, N), residual (L,), status (L,) int8,
    utilisation (L, N)."""

    cash: np.ndarray
    residual: np.ndarray
    status: np.ndarray
    utilisation: np.ndarray

    @classmethod
    def empty(cls, n_rows: int, n_assets: int) -> KernelOutputs:
        """NaN-filled outputs (status -1)."""
        return cls(
            np.full((n_rows, n_assets), np.nan),
            np.full(n_rows, np.nan),
            np.full(n_rows, -1, dtype=np.int8),
            np.full((n_rows, n_assets), np.nan),
        )


class RowKernel:
    """Work buffers of one size N (O(N^2)) and the call into the compiled loop."""

    def __init__(self, n_assets: int) -> None:
        self.n_assets = n_assets
        self._a = np.empty((n_assets, n_assets))
        self._f = np.empty((n_assets, n_assets))
        self._vec = np.empty((5, n_assets))

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
    ) -> tuple[int, int]:
        """Process the rows of ``radj``/``mu``/``sigma`` (L, N); state arrays updated in place.

        ``xy`` (N, N), ``w`` (1,), ``x`` (N,), ``prev_cash`` (N,) must be C-contiguous
        float64; ``cap < 0`` means no turnover cap. Returns ``(rows_done, code)``: with
        ``code != DONE`` row ``rows_done`` had its state updated but no output.
        """
        done, code = _run_rows(
            xy,
            w,
            x,
            prev_cash,
            np.ascontiguousarray(radj, dtype=np.float64),
            np.ascontiguousarray(mu, dtype=np.float64),
            np.ascontiguousarray(sigma, dtype=np.float64),
            out.cash,
            out.residual,
            out.status,
            out.utilisation,
            self._a,
            self._f,
            self._vec,
            float(beta),
            float(shrink),
            float(min_denom),
            float(denom_tol),
            float(cap),
        )
        return int(done), int(code)


__all__ = [
    "DONE",
    "STATUS_DEGENERATE",
    "STATUS_VALID",
    "STATUS_ZERO_SIGNAL",
    "STOP_CHOLESKY",
    "STOP_VARIANCE",
    "KernelOutputs",
    "RowKernel",
    "advance_vol",
]
