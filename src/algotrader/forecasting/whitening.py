"""Energy-score whitening (spec section 7.1), fitted on a split's training targets only.

Per asset ``scale_a = MAD(y_train[:, a]) (* 1.4826 for "mad_normal") + mad_eps``; on
``z = y_train / scale``: ``Sigma = cov(z)`` (ddof 1), shrinkage ``lambda(n)`` = 0.30
(n < 150), 0.15 (150 <= n < 300), 0.075 (n >= 300); ``Sigma_s = (1 - lambda) Sigma +
lambda diag(Sigma) + (var_floor + eps) I``; ``W = L^-1`` with ``L = chol(Sigma_s)``.
Transform: ``u = (x / scale) W^T`` (no centring; the energy score is translation invariant).

Conventions: ``lower_median=True`` takes the lower middle value for even n (the source);
``allow_zero_mad=True`` keeps the source's behaviour of flooring a zero MAD at ``mad_eps``
(otherwise a zero MAD is a :class:`~algotrader.errors.DataError` naming the asset).

Example:
    >>> import numpy as np
    >>> y = np.random.default_rng(0).normal(size=(200, 3))
    >>> w = fit_es_whitening(y)
    >>> w.shrinkage
    0.15
    >>> bool(np.allclose(w.W @ w.sigma_shrunk @ w.W.T, np.eye(3), atol=1e-10))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.errors import DataError, ShapeError

__all__ = ["EsWhitening", "fit_es_whitening", "shrinkage_for"]

FloatArray = NDArray[np.float64]
MAD_NORMAL = 1.4826


def shrinkage_for(n: int) -> float:
    """Shrinkage intensity by number of training rows (spec section 7.1).

    >>> [shrinkage_for(n) for n in (149, 150, 299, 300)]
    [0.3, 0.15, 0.15, 0.075]
    """
    if n < 150:
        return 0.30
    if n < 300:
        return 0.15
    return 0.075


def _median(x: FloatArray, lower: bool) -> FloatArray:
    if not lower:
        out: FloatArray = np.median(x, axis=0)
        return out
    srt = np.sort(x, axis=0)
    low: FloatArray = srt[(x.shape[0] - 1) // 2]
    return low


@dataclass(frozen=True)
class EsWhitening:
    """A fitted whitening: ``scale`` (A,), ``W`` (A, A) lower-triangular inverse Cholesky."""

    scale: FloatArray
    W: FloatArray
    sigma_shrunk: FloatArray
    shrinkage: float
    n_rows: int

    def transform(self, x: ArrayLike) -> FloatArray:
        """Whiten values of shape (..., A): ``(x / scale) W^T``."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.shape[-1] != self.scale.size:
            raise ShapeError(
                f"last axis {arr.shape[-1]} != {self.scale.size} assets of the whitening",
                key="x",
            )
        out: FloatArray = (arr / self.scale) @ self.W.T
        return out

    def standardise(self, x: ArrayLike) -> FloatArray:
        """Scale only (``z = x / scale``), the space CRPS and QL are computed in."""
        out: FloatArray = np.asarray(x, dtype=np.float64) / self.scale
        return out


def fit_es_whitening(
    y_train: ArrayLike,
    *,
    mad_eps: float = 1e-12,
    scale: Literal["mad", "mad_normal"] = "mad",
    lower_median: bool = False,
    allow_zero_mad: bool = False,
    var_floor: float = 1e-8,
    eps: float = 1e-10,
    assets: tuple[str, ...] | None = None,
) -> EsWhitening:
    """Fit the whitening on training targets (T, A), which must be fully finite, T >= 2."""
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim != 2:
        raise ShapeError(f"y_train must be (T, A), got {y.shape}", key="y_train")
    n, a = y.shape
    if n < 2:
        raise DataError(f"whitening needs >= 2 training rows, got {n}", key="y_train")
    if not np.isfinite(y).all():
        t, j = (int(i) for i in np.argwhere(~np.isfinite(y))[0])
        raise DataError(
            "whitening needs fully finite training targets",
            row=t,
            column=assets[j] if assets else str(j),
            hint="score on rows with all assets observed, or drop the asset",
        )
    med = _median(y, lower_median)
    mad = _median(np.abs(y - med), lower_median)
    if scale == "mad_normal":
        mad = mad * MAD_NORMAL
    elif scale != "mad":
        raise ShapeError(f"unknown es_scale {scale!r}; use 'mad' or 'mad_normal'", key="scale")
    if not allow_zero_mad and (mad <= 0).any():
        j = int(np.flatnonzero(mad <= 0)[0])
        raise DataError(
            "MAD of the training targets is 0 (constant asset): whitening would explode",
            column=assets[j] if assets else str(j),
            hint="drop the asset from scoring or pass allow_zero_mad=True (source convention)",
        )
    sc = mad + mad_eps
    z = y / sc
    sigma = np.atleast_2d(np.cov(z, rowvar=False, ddof=1))
    lam = shrinkage_for(n)
    shrunk = (1 - lam) * sigma + lam * np.diag(np.diag(sigma)) + (var_floor + eps) * np.eye(a)
    try:
        chol = np.linalg.cholesky(shrunk)
    except np.linalg.LinAlgError as exc:
        raise DataError(
            "shrunk covariance of the training targets is not positive definite",
            hint="raise var_floor",
        ) from exc
    w = np.linalg.solve(chol, np.eye(a))
    w = np.tril(w)
    return EsWhitening(scale=sc, W=w, sigma_shrunk=shrunk, shrinkage=lam, n_rows=n)
