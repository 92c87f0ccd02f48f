"""Compiled dense linear algebra of the optimiser's row kernel (numba).

LAPACK ``potrf`` through numba's own binding (resolved by symbol at run time, so the
compiled code can be cached on disk), triangular solves whose loops vectorise, the
residual and ``m'x``, and the eigen fallback for a matrix that is not numerically
positive definite (the policy of :mod:`algotrader.portfolio.solve`).

Example:
    >>> import numpy as np
    >>> a = np.array([[2.0, 0.5], [0.5, 1.0]]); m = np.array([1.0, -1.0])
    >>> method, ss, d = solve_one(a, a.copy(), m, np.empty(2), x := np.empty(2))
    >>> int(method) == METHOD_CHOLESKY, bool(np.allclose(a @ x, m)), bool(ss < 1e-28)
    (True, True, True)
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.np.linalg import _LAPACK, ensure_lapack

from algotrader.portfolio.solve import COND_LIMIT

#: Solver codes (``none``, ``cholesky``, ``eigen``, ``singular``).
METHOD_NONE, METHOD_CHOLESKY, METHOD_EIGEN, METHOD_SINGULAR = 0, 1, 2, 3

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
        col = f[k, k + 1 :]  # slices, not offset indices: the loop then vectorises
        rest = y[k + 1 :]
        for i in range(rest.shape[0]):
            rest[i] -= col[i] * yk
    for i in range(n - 1, -1, -1):  # back: L' x = y, dot-product form
        row = f[i, i + 1 :]
        done = x[i + 1 :]
        s = 0.0
        for k in range(row.shape[0]):
            s += row[k] * done[k]
        x[i] = (y[i] - s) / f[i, i]


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
def _eigen_solve(a: np.ndarray, m: np.ndarray, x: np.ndarray) -> int:  # pragma: no cover
    """Minimum-norm solution on the eigen-directions with ``lambda > max|lambda| / COND_LIMIT``
    (the policy of :mod:`algotrader.portfolio.solve`); returns the method code."""
    if not np.all(np.isfinite(a)):
        return METHOD_SINGULAR
    vals, vecs = np.linalg.eigh(a)
    top = np.max(np.abs(vals)) if vals.size else 0.0
    floor = top / COND_LIMIT
    if top <= 0.0 or not np.any(vals > floor):
        return METHOD_SINGULAR
    x[:] = 0.0
    for e in range(vals.shape[0]):
        if vals[e] > floor:
            c = np.dot(vecs[:, e], m) / vals[e]
            x += c * vecs[:, e]
    return METHOD_EIGEN


@nb.njit(cache=True, error_model="numpy")
def _solve_one(
    a: np.ndarray, f: np.ndarray, m: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[int, float, float]:  # pragma: no cover - compiled
    """Solve ``a x = m`` (Cholesky of ``f``, else eigen); ``(method, ||ax - m||^2, m'x)``."""
    if _cholesky_upper(f) == 0:
        _solve_factor(f, m, y, x)
        method = METHOD_CHOLESKY
    else:
        method = _eigen_solve(a, m, x)
        if method == METHOD_SINGULAR:
            return method, np.nan, np.nan
    ss, d = _residual_and_dot(a, x, m)
    return method, ss, d


solve_one = _solve_one

__all__ = [
    "METHOD_CHOLESKY",
    "METHOD_EIGEN",
    "METHOD_NONE",
    "METHOD_SINGULAR",
    "solve_one",
]
