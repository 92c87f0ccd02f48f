"""Recursive exponentially weighted accumulators (the O(N^2) state of the optimiser).

All EWMs here follow the ``adjust=True, ignore_nulls=False`` convention: an
observation made ``k`` rows ago has weight ``beta**k`` (a missing row adds no
observation but the decay still advances), and the statistic is a ratio of
weighted sums. Every update is ``s <- beta * s + u``. The optimiser runs these
recursions in its compiled kernel (:mod:`algotrader.portfolio.kernel`); the classes here
hold the state and are the plain-numpy reference the kernel is tested against.

Example:
    >>> import numpy as np
    >>> acc = VolAccumulator.empty(1)  # one asset, one series
    >>> for r in (0.01, -0.02, 0.015):
    ...     acc.update(np.array([r]), beta=0.5)
    >>> float(np.round(acc.std(min_samples=1)[0], 12))  # = pandas ewm(com=1).std()
    0.020441554316
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas


@dataclass
class VolAccumulator:
    """EWM sums for K series of N assets (K = 2 here: log and simple returns).

    Attributes:
        sums: shape (4, K, N): weighted sums of x, of x^2, of the weights and of the
            squared weights.
        n: number of observations seen, shape (K, N) (int64).
    """

    sums: np.ndarray
    n: np.ndarray

    @classmethod
    def empty(cls, n_assets: int, n_series: int = 1) -> VolAccumulator:
        """All sums zero."""
        return cls(
            np.zeros((4, n_series, n_assets)), np.zeros((n_series, n_assets), dtype=np.int64)
        )

    def update(self, x: np.ndarray, beta: float) -> None:
        """Decay by ``beta`` and add the finite entries of ``x`` (shape (K, N) or (N,))."""
        x = x.reshape(self.n.shape)
        obs = np.isfinite(x)
        u = np.where(obs, x, 0.0)
        w = obs.astype(np.float64)
        s = self.sums
        s[:3] *= beta
        s[3] *= beta * beta
        s[0] += u
        s[1] += u * u
        s[2] += w
        s[3] += w
        self.n += obs

    def std(self, min_samples: int | np.ndarray) -> np.ndarray:
        """Bias-corrected EWM standard deviation, shape (K, N) (or (N,) when K = 1).

        See :func:`ewm_std`.
        """
        out = ewm_std(self.sums, self.n, min_samples)
        return out[0] if out.shape[0] == 1 else out


def ewm_std(sums: np.ndarray, n: np.ndarray, min_samples: int | np.ndarray) -> np.ndarray:
    """Bias-corrected EWM std from sums (4, ...) and counts (...), elementwise.

    ``sqrt(v * sw^2 / (sw^2 - sw2))`` with ``v = sx2/sw - (sx/sw)^2``; 0 after exactly
    one observation (the polars 1.x convention the reference was built with); NaN with
    fewer than ``min_samples`` (broadcastable to ``n``) observations or a non-positive
    denominator.
    """
    sx, sx2, sw, sw2 = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sx / sw
        mean *= mean
        out = sx2 / sw
        out -= mean  # sx2/sw - (sx/sw)^2
        np.maximum(out, 0.0, out=out)
        sw_sq = np.multiply(sw, sw, out=mean)
        denom = sw_sq - sw2
        out *= sw_sq
        out /= denom
        np.sqrt(out, out=out)
    np.copyto(out, np.nan, where=~(denom > 0.0))
    np.copyto(out, 0.0, where=n == 1)
    np.copyto(out, np.nan, where=(n < min_samples) | (n < 1))
    return out


def outer_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i, j] = x[i] * y[j]`` for ``x`` (n,), ``y`` (m,) into C-ordered ``out`` (n, m).

    BLAS ``dgemm`` with inner dimension 1 and ``beta = 0``: each entry is the correctly
    rounded product, as in ``np.outer`` (``0 + x y`` is exact with or without FMA), except
    that an exact zero product may be ``+0.0``; about three times faster than numpy's
    broadcast product at n = 100. Used for every outer product of the recursion so batch
    and stream share the same bits.

    Example:
        >>> import numpy as np
        >>> outer_into(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.empty((2, 3)))
        array([[ 3.,  4.,  5.],
               [ 6.,  8., 10.]])
    """
    if out.size == 0:
        return out
    target = out.T  # column-major when out is row-major: out.T = y x' in place
    res = blas.dgemm(1.0, y[:, None], x[None, :], beta=0.0, c=target, overwrite_c=1)
    if res is not target:  # BLAS had to work on a copy (out not row-major float64)
        out[...] = res.T
    return out


@dataclass
class PairwiseEwmCov:
    """Pairwise-complete EWM covariance accumulators.

    For the pair (i, j) only rows where both ``x_i`` and ``x_j`` are present count:
    ``w[i, j] = sum beta^k``, ``x[i, j] = sum beta^k x_i`` (so ``x[j, i]`` carries ``x_j``),
    ``xy[i, j] = sum beta^k x_i x_j`` and ``n[i, j]`` the number of such rows.

    While every row has had all values or none, every pair shares the same rows, so ``w`` and
    ``n`` are stored as (1, 1) and ``x`` as (N, 1) arrays that broadcast to (N, N)
    (``dense`` False); the first incomplete row expands them to (N, N). The compact and
    the dense recursions produce the same numbers bit for bit. ``warm`` becomes True once
    every pair has at least ``min_samples`` rows (counts are then no longer updated).
    """

    w: np.ndarray
    x: np.ndarray
    xy: np.ndarray
    n: np.ndarray
    warm: bool
    dense: bool

    @classmethod
    def empty(cls, n_assets: int) -> PairwiseEwmCov:
        """All sums zero, compact representation."""
        return cls(
            np.zeros((1, 1)),
            np.zeros((n_assets, 1)),
            np.zeros((n_assets, n_assets)),
            np.zeros((1, 1), dtype=np.int64),
            False,
            False,
        )

    def _expand(self) -> None:
        n = self.xy.shape[0]
        self.w = np.broadcast_to(self.w, (n, n)).copy()
        self.x = np.broadcast_to(self.x, (n, n)).copy()
        self.n = np.broadcast_to(self.n, (n, n)).copy()
        self.dense = True

    def update(self, v: np.ndarray, present: np.ndarray, beta: float, min_samples: int) -> None:
        """Decay and add one row; ``v`` (N,) holds 0 where ``present`` (bool (N,)) is False."""
        complete = bool(present.all())
        empty = not complete and not present.any()
        if not complete and not empty and not self.dense:
            self._expand()
        self.w *= beta
        self.x *= beta
        self.xy *= beta
        if empty:  # no pair observed: decay only (keeps the compact form valid)
            return
        if complete:
            # Adding 1.0 / v is bit-identical to adding outer(p, p) / outer(v, p) with p = 1.
            self.w += 1.0
            self.x += v[:, None]
            if not self.warm:
                self.n += 1
        else:
            p = present.astype(np.float64)
            self.w += np.outer(p, p)
            self.x += np.outer(v, p)
            if not self.warm:
                self.n += np.outer(present, present)
        self.xy += outer_into(v, v, np.empty_like(self.xy))
        if not self.warm and int(self.n.min()) >= min_samples:
            self.warm = True

    def covariance(self) -> np.ndarray:
        """Biased EWM covariance ``m_xy - m_x m_y`` over each pair's common rows, (N, N)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_w = 1.0 / self.w
            mx = self.x * inv_w
            cov = self.xy * inv_w
            cov -= mx * mx.T
        return cov

    def pair_ok(self, min_samples: int) -> np.ndarray | None:
        """Bool (N, N) of pairs with at least ``min_samples`` common rows (None: all)."""
        if self.warm:
            return None
        n = self.xy.shape[0]
        return np.broadcast_to(self.n >= min_samples, (n, n))


def correlation_from_cov(
    cov: np.ndarray, pair_ok: np.ndarray | None, min_denom: float
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation matrix (computed in place over ``cov``) and its valid diagonal.

    Args:
        cov: covariance of shape (N, N); overwritten.
        pair_ok: bool (N, N), False where a pair has too few common rows (None: all ok).
        min_denom: variances at or below it make the asset undefined.

    Returns:
        ``(corr, diag_ok)``; ``corr`` is clipped to [-1, 1] with unit diagonal; entries of
        pairs with too few common rows are 0 (no evidence of co-movement); rows and
        columns of assets with ``diag_ok`` False are NaN.
    """
    d = np.diagonal(cov).copy()
    diag_ok = np.isfinite(d) & (d > min_denom)
    if pair_ok is not None:
        diag_ok &= np.diagonal(pair_ok)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 1.0 / np.sqrt(d)
    s[~diag_ok] = np.nan
    corr = cov
    corr *= np.outer(s, s)
    np.clip(corr, -1.0, 1.0, out=corr)
    if pair_ok is not None:
        corr[~pair_ok] = 0.0
        bad = ~diag_ok
        corr[bad, :] = np.nan
        corr[:, bad] = np.nan
    np.fill_diagonal(corr, np.where(diag_ok, 1.0, np.nan))
    return corr, diag_ok


__all__ = [
    "PairwiseEwmCov",
    "VolAccumulator",
    "correlation_from_cov",
    "ewm_std",
    "outer_into",
]
