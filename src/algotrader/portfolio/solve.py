"""Stable solve of ``A x = m`` for a symmetric (correlation-like) matrix ``A``.

Policy (the same in batch and stream):

1. Cholesky factorisation (LAPACK ``potrf``) and a reciprocal condition estimate
   (``pocon``, O(n^2)). When ``A`` is positive definite and ``cond(A) <= COND_LIMIT``
   the Cholesky solution is returned (``method = "cholesky"``).
2. Otherwise (indefinite matrix, e.g. a pairwise-complete correlation after gaps, or a
   factor model whose idiosyncratic variances were clamped to machine epsilon) the
   symmetric eigendecomposition is used and the eigen-directions whose eigenvalue is
   below ``max|lambda| / COND_LIMIT`` are dropped: the minimum-norm least-squares
   solution on the well-determined subspace (``method = "eigen"``). This bounds the
   amplification of rounding errors by ``COND_LIMIT`` instead of returning noise.

Example:
    >>> import numpy as np
    >>> x, method = solve_symmetric(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0]))
    >>> np.round(x, 12).tolist(), method
    ([0.5, 0.25], 'cholesky')
    >>> x, method = solve_symmetric(np.ones((2, 2)), np.array([1.0, 1.0]))
    >>> np.round(x, 12).tolist(), method
    ([0.5, 0.5], 'eigen')
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

#: Largest 2-norm condition number accepted from the Cholesky path.
COND_LIMIT = 1e12


def solve_symmetric(
    a: np.ndarray,
    m: np.ndarray,
    *,
    cond_bound: float | None = None,
    work: np.ndarray | None = None,
) -> tuple[np.ndarray | None, str]:
    """Solve ``a x = m`` for symmetric ``a`` of shape (n, n); ``m`` of shape (n,).

    The Cholesky path copies ``a.T`` (a plain copy for a row-major ``a``) into a
    column-major buffer and factors its lower triangle in place (i.e. it reads the upper
    triangle of ``a``; the other triangle is neither read nor zeroed).

    Args:
        cond_bound: a proven upper bound of ``cond(a)`` when ``a`` is positive definite
            (e.g. ``(shrink * n + 1 - shrink) / (1 - shrink)`` for a shrunk exact
            correlation matrix); when it is below :data:`COND_LIMIT` the ``pocon`` estimate
            is skipped.
        work: optional Fortran-ordered float64 buffer of shape (n, n) that receives the
            factor (saves one allocation per call; results do not depend on it).

    Returns:
        ``(x, method)`` with ``method`` in ``{"cholesky", "eigen", "singular"}``;
        ``x`` is None when ``a`` has no usable direction (``"singular"``).
    """
    n = a.shape[0]
    work = np.empty((n, n), order="F") if work is None else work
    np.copyto(work, a.T)
    factor, info = lapack.dpotrf(work, lower=1, clean=0, overwrite_a=1)
    if info == 0:
        if cond_bound is not None and cond_bound <= COND_LIMIT:
            rcond = 1.0
        else:
            anorm = float(np.abs(a).sum(axis=0).max())
            rcond, _ = lapack.dpocon(factor, anorm, uplo="L")
        if rcond * COND_LIMIT >= 1.0:
            x, _ = lapack.dpotrs(factor, m, lower=1)
            return x, "cholesky"
    return _eigen_solve(a, m)


def _eigen_solve(a: np.ndarray, m: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Minimum-norm solution on the eigen-directions with ``lambda > max|lambda| / COND_LIMIT``."""
    if not np.all(np.isfinite(a)):
        return None, "singular"
    w, v = np.linalg.eigh(a)
    top = float(np.max(np.abs(w))) if w.size else 0.0
    keep = w > top / COND_LIMIT
    if top <= 0.0 or not np.any(keep):
        return None, "singular"
    vk = v[:, keep]
    return vk @ ((vk.T @ m) / w[keep]), "eigen"


__all__ = ["COND_LIMIT", "solve_symmetric"]
