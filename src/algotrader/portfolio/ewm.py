"""Recursive exponentially weighted accumulators (the O(N^2) state of the optimiser).

All EWMs here follow the ``adjust=True, ignore_nulls=False`` convention: an
observation made ``k`` rows ago has weight ``beta**k`` (a missing row adds no
observation but the decay still advances), and the statistic is a ratio of
weighted sums. Every update is ``s <- beta * s + u``; the batch engine and the
stream run exactly these updates, so they agree bit for bit.

Example:
    >>> import numpy as np
    >>> acc = VolAccumulator.empty(1)
    >>> for r in (0.01, -0.02, 0.015):
    ...     acc.update(np.array([r]), beta=0.5)
    >>> float(np.round(acc.std(min_samples=1)[0], 12))  # = pandas ewm(com=1).std()
    0.020441554316
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class VolAccumulator:
    """Per-asset EWM sums of x and x^2 and of the weights, shape (N,) each.

    Attributes:
        sx, sx2: weighted sums of the observations and of their squares.
        sw, sw2: sums of the weights and of the squared weights.
        n: number of observations seen (int64).
    """

    sx: np.ndarray
    sx2: np.ndarray
    sw: np.ndarray
    sw2: np.ndarray
    n: np.ndarray

    @classmethod
    def empty(cls, n_assets: int) -> VolAccumulator:
        """All sums zero."""
        z = np.zeros(n_assets)
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), np.zeros(n_assets, dtype=np.int64))

    def update(self, x: np.ndarray, beta: float) -> None:
        """Decay by ``beta`` and add the finite entries of ``x`` (shape (N,)) in place."""
        obs = np.isfinite(x)
        u = np.where(obs, x, 0.0)
        w = obs.astype(np.float64)
        self.sx *= beta
        self.sx += u
        self.sx2 *= beta
        self.sx2 += u * u
        self.sw *= beta
        self.sw += w
        self.sw2 *= beta * beta
        self.sw2 += w
        self.n += obs

    def std(self, min_samples: int) -> np.ndarray:
        """Bias-corrected EWM standard deviation, shape (N,).

        ``sqrt(v * sw^2 / (sw^2 - sw2))`` with ``v = sx2/sw - (sx/sw)^2``; 0 after exactly
        one observation (the polars 1.x convention the reference was built with); NaN
        with fewer than ``min_samples`` observations or a non-positive denominator.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sx / self.sw
            var = np.maximum(self.sx2 / self.sw - mean * mean, 0.0)
            sw_sq = self.sw * self.sw
            denom = sw_sq - self.sw2
            out = np.sqrt(var * sw_sq / denom)
        out = np.where(denom > 0.0, out, np.nan)
        out = np.where(self.n == 1, 0.0, out)
        return np.where((self.n >= min_samples) & (self.n >= 1), out, np.nan)


@dataclass
class PairwiseEwmCov:
    """Pairwise-complete EWM covariance accumulators, shape (N, N) each.

    For the pair (i, j) only rows where both ``x_i`` and ``x_j`` are present count:
    ``w[i, j] = sum beta^k``, ``x[i, j] = sum beta^k x_i`` (so ``x[j, i]`` carries ``x_j``),
    ``xy[i, j] = sum beta^k x_i x_j`` and ``n[i, j]`` the number of such rows.
    ``warm`` becomes True once every pair has at least ``min_samples`` rows (counts then
    stop being updated: they only matter below that threshold).
    """

    w: np.ndarray
    x: np.ndarray
    xy: np.ndarray
    n: np.ndarray
    warm: bool

    @classmethod
    def empty(cls, n_assets: int) -> PairwiseEwmCov:
        """All sums zero."""
        z = np.zeros((n_assets, n_assets))
        n = np.zeros((n_assets, n_assets), dtype=np.int64)
        return cls(z.copy(), z.copy(), z.copy(), n, False)

    def update(self, v: np.ndarray, present: np.ndarray, beta: float, min_samples: int) -> None:
        """Decay and add one row; ``v`` (N,) holds 0 where ``present`` (bool (N,)) is False."""
        self.w *= beta
        self.x *= beta
        self.xy *= beta
        if present.all():
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
        self.xy += np.outer(v, v)
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


def correlation_from_cov(
    cov: np.ndarray, pair_ok: np.ndarray | None, min_denom: float
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation matrix and the per-asset validity of its diagonal.

    Args:
        cov: covariance of shape (N, N).
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
        s = np.where(diag_ok, 1.0 / np.sqrt(np.where(diag_ok, d, 1.0)), np.nan)
        corr = cov * np.outer(s, s)
    np.clip(corr, -1.0, 1.0, out=corr)
    if pair_ok is not None:
        corr[~pair_ok] = 0.0
        bad = ~diag_ok
        corr[bad, :] = np.nan
        corr[:, bad] = np.nan
    np.fill_diagonal(corr, np.where(diag_ok, 1.0, np.nan))
    return corr, diag_ok


__all__ = ["PairwiseEwmCov", "VolAccumulator", "correlation_from_cov"]
