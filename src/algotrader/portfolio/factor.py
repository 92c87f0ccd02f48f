"""Rank-k factor model of a window of vol-adjusted returns (sliding-window mode).

For a window ``X`` of shape (W, n) (missing entries already set to 0):
``X = U S V'``, ``B = V[:, :k]``, ``F = diag(s_j^2 / W)``, ``f_i = sum_j B_ij^2 F_j``,
``d_i = max(1 - f_i, eps)`` and the model matrix is ``C = B F B' + diag(d)`` (unit
diagonal unless the k factors explain at least all of an asset's variance, in which
case ``d_i`` is clamped to machine epsilon, as in the reference).

The reference streams solve ``C`` with the Woodbury identity, which loses most digits
when some ``d_i`` is clamped; we always form the dense (n, n) matrix and hand it to
:func:`algotrader.portfolio.solve.solve_symmetric` (Cholesky, eigen fallback).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fm = FactorModel.from_window(rng.standard_normal((50, 4)), n_factors=2)
    >>> fm.loadings.shape, fm.factor_var.shape, fm.idio_var.shape
    ((4, 2), (2,), (4,))
    >>> bool(np.allclose(np.diagonal(fm.covariance()), 1.0))
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algotrader.errors import ShapeError

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class FactorModel:
    """``B`` (n, k) loadings, ``F`` (k,) factor variances, ``d`` (n,) idiosyncratic variances."""

    loadings: np.ndarray
    factor_var: np.ndarray
    idio_var: np.ndarray

    @classmethod
    def from_window(cls, window: np.ndarray, n_factors: int) -> FactorModel:
        """Fit by SVD on ``window`` of shape (W, n); ``k = min(n_factors, W, n)``."""
        if window.ndim != 2 or window.shape[0] == 0 or window.shape[1] == 0:
            raise ShapeError(
                f"factor model needs a non-empty (W, n) window; got shape {window.shape}",
                hint="pass at least one row and one asset",
            )
        if n_factors < 1:
            raise ShapeError(f"n_factors must be >= 1; got {n_factors}", key="n_factors")
        n_rows, n_assets = window.shape
        k = min(n_factors, n_rows, n_assets)
        _, s, vt = np.linalg.svd(window, full_matrices=False)
        b = vt[:k].T
        fvar = s[:k] ** 2 / n_rows
        explained = (b * b) @ fvar
        d = np.maximum(1.0 - explained, _EPS)
        return cls(b, fvar, d)

    def covariance(self) -> np.ndarray:
        """Dense ``B F B' + diag(d)`` of shape (n, n)."""
        c = (self.loadings * self.factor_var) @ self.loadings.T
        c[np.diag_indices_from(c)] += self.idio_var
        return c


__all__ = ["FactorModel"]
