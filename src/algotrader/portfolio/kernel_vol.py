"""Compiled EWM volatility accumulators of the optimiser (numba), shared by batch and stream.

Example:
    >>> import numpy as np
    >>> sums, counts = np.zeros((4, 2, 1)), np.zeros((2, 1), dtype=np.int64)
    >>> prices = np.array([[101.0], [99.0], [100.5]])
    >>> radj, sigma = advance_vol_prices(
    ...     sums, counts, prices, np.array([100.0]), beta=0.5, min_samples=1, clip=3.0
    ... )
    >>> radj.shape, int(counts[0, 0])
    ((3, 1), 3)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, error_model="numpy", inline="always")
def _vol_step(
    sums: np.ndarray,
    counts: np.ndarray,
    s: int,
    i: int,
    v: float,
    need: int,
    beta: float,
    beta2: float,
) -> float:  # pragma: no cover - compiled
    """Add the return ``v`` (no observation if not finite) to series ``s`` of asset ``i``;
    returns the series' std after it (see :func:`_vol_prices`)."""
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
    return std


@nb.njit(cache=True, error_model="numpy")
def _vol_prices(
    sums: np.ndarray,
    counts: np.ndarray,
    prices: np.ndarray,
    prev: np.ndarray,
    beta: float,
    min_samples: int,
    clip: float,
    radj: np.ndarray,
    sigma: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """EWM vol of the log (series 0) and simple (series 1) returns of ``prices`` (T, N)
    after the row ``prev`` (N,), ``log(p_t / p_(t-1))`` and ``p_t / p_(t-1) - 1`` (NaN where
    either price is missing), computed in the same pass (no (T, N) temporaries).

    ``sums`` (4, 2, N): weighted sums of x, x^2, weights, squared weights; ``counts``
    (2, N). Missing (non-finite) returns add no observation; the decay still advances.
    Std: ``sqrt(max(sx2/sw - (sx/sw)^2, 0) sw^2 / (sw^2 - sw2))``, 0 after exactly one
    observation, NaN below the minimum count (1 for series 0, ``min_samples`` for
    series 1) or with ``sw^2 <= sw2``.
    """
    n_rows, n = prices.shape
    beta2 = beta * beta
    for j in range(n_rows):
        before = prev if j == 0 else prices[j - 1]
        for i in range(n):
            ratio = prices[j, i] / before[i]
            lr, q = math.log(ratio), ratio - 1.0
            r = lr / _vol_step(sums, counts, 0, i, lr, 1, beta, beta2)
            if r > clip:
                r = clip
            elif r < -clip:
                r = -clip
            radj[j, i] = r if math.isfinite(r) else np.nan
            std_q = _vol_step(sums, counts, 1, i, q, min_samples, beta, beta2)
            sigma[j, i] = std_q if math.isfinite(q) else np.nan


def advance_vol_prices(
    sums: np.ndarray,
    counts: np.ndarray,
    prices: np.ndarray,
    prev: np.ndarray,
    *,
    beta: float,
    min_samples: int,
    clip: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Feed the log and simple returns of ``prices`` (T, N), following the price row ``prev``
    (N,), to the vol sums (in place; one compiled pass, :func:`_vol_prices`).

    Returns the vol-adjusted log returns ``clip(lr / std_log, +-clip)`` (NaN where
    undefined) and ``sigma`` (the simple-return std, NaN where the return is missing),
    each (T, N). Batch and stream both call it (one row at a time for the stream).
    """
    prices = np.ascontiguousarray(prices, dtype=np.float64)
    prev = np.ascontiguousarray(prev, dtype=np.float64)
    radj, sigma = np.empty_like(prices), np.empty_like(prices)
    _vol_prices(sums, counts, prices, prev, float(beta), int(min_samples), float(clip), radj, sigma)
    return radj, sigma


__all__ = ["advance_vol_prices"]
