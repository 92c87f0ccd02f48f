"""Compiled EWM volatility accumulators of the optimiser (numba), shared by batch and stream.

Example:
    >>> import numpy as np
    >>> sums, counts = np.zeros((4, 2, 1)), np.zeros((2, 1), dtype=np.int64)
    >>> lr = np.array([[0.01], [-0.02], [0.015]])
    >>> radj, sigma = advance_vol(sums, counts, lr, np.expm1(lr), beta=0.5, min_samples=1, clip=3.0)
    >>> radj.shape, int(counts[0, 0])
    ((3, 1), 3)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


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


__all__ = ["advance_vol"]
