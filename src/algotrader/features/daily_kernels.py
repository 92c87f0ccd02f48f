"""Compiled kernels for the daily-input groups: valid-row compaction and window statistics
evaluated only at each week's last valid daily row (numba).

A daily row of an asset is *valid* when its open, high, low and close are all finite.
Windows count valid rows (a gap makes one multi-day return). Because the weekly sampling
``W[x]`` reads a daily statistic only at the last valid row of each week, the statistics
are computed at those rows alone.

Example:
    >>> import numpy as np
    >>> c = np.array([[1.0], [np.nan], [2.0], [4.0]])
    >>> valid = np.isfinite(c)
    >>> cv, hv, lv, n, ends = compact_valid(valid, c, c, c, np.array([0, 0, 1, 1]), 2)
    >>> n.tolist(), ends[:, 0].tolist(), cv[:3, 0].tolist()
    ([3], [0, 2], [1.0, 2.0, 4.0])
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Columns of :func:`window_stats`' last axis.
STATS: tuple[str, ...] = (
    "sigma5",
    "sigma20",
    "sigma60",
    "sigma130",
    "atrp20",
    "absr_std60",
    "down20",
    "up20",
    "jump_count20",
    "skew60",
    "q05_60",
)


@nb.njit(cache=True)
def compact_valid(
    valid: NDArray[np.bool_], h: F64, lo: F64, c: F64, day_week: I64, n_weeks: int
) -> tuple[F64, F64, F64, I64, I64]:
    """Per asset, move the valid daily rows to the top of each column.

    Returns (C_v, H_v, L_v) of shape (D, A) padded with NaN, the valid-row counts (A,),
    and ``ends`` (W, A): the compacted index of the week's last valid row, -1 if none.
    """
    d_rows, n_assets = c.shape
    cv = np.full((d_rows, n_assets), np.nan)
    hv = np.full((d_rows, n_assets), np.nan)
    lv = np.full((d_rows, n_assets), np.nan)
    counts = np.zeros(n_assets, dtype=np.int64)
    ends = np.full((n_weeks, n_assets), -1, dtype=np.int64)
    for a in range(n_assets):
        k = 0
        for d in range(d_rows):
            if valid[d, a]:
                cv[k, a] = c[d, a]
                hv[k, a] = h[d, a]
                lv[k, a] = lo[d, a]
                ends[day_week[d], a] = k
                k += 1
        counts[a] = k
    return cv, hv, lv, counts, ends


@nb.njit(cache=True)
def _std(w: F64, ddof: int) -> float:
    n = w.size
    lo = w.min()
    hi = w.max()
    if lo == hi:
        return 0.0
    m = w.sum() / n
    ss = 0.0
    for v in w:
        ss += (v - m) * (v - m)
    return np.sqrt(ss / (n - ddof))


@nb.njit(cache=True)
def _side_vol(w: F64, negative: bool, fallback: float) -> float:
    s = 0.0
    k = 0
    for v in w:
        if (v < 0.0) if negative else (v > 0.0):
            s += v * v
            k += 1
    if k >= 3:
        return np.sqrt(s / k)
    return fallback


@nb.njit(cache=True)
def _skew(w: F64) -> float:
    n = w.size
    m = w.sum() / n
    s2 = 0.0
    s3 = 0.0
    for v in w:
        d = v - m
        s2 += d * d
        s3 += d * d * d
    s = np.sqrt(s2 / (n - 1) + 1e-12)
    return min(max((s3 / n) / (s * s * s + 1e-12), -5.0), 5.0)


@nb.njit(cache=True)
def _q05_of_60(w: F64) -> float:
    """numpy's linear 5 % quantile of 60 values: h = 59 * 0.05 = 2.95 between the 3rd and
    4th smallest (same lerp as numpy for t >= 0.5)."""
    s0 = s1 = s2 = s3 = np.inf
    for v in w:
        if v < s3:
            if v < s2:
                s3 = s2
                if v < s1:
                    s2 = s1
                    if v < s0:
                        s1 = s0
                        s0 = v
                    else:
                        s1 = v
                else:
                    s2 = v
            else:
                s3 = v
    t = 59 * 0.05 - 2.0
    return s3 - (s3 - s2) * (1.0 - t)


@nb.njit(cache=True)
def _abs_std0(w: F64) -> float:
    n = w.size
    s = 0.0
    lo = np.inf
    hi = -np.inf
    for v in w:
        av = abs(v)
        s += av
        lo = min(lo, av)
        hi = max(hi, av)
    if lo == hi:
        return 0.0
    m = s / n
    ss = 0.0
    for v in w:
        d = abs(v) - m
        ss += d * d
    return np.sqrt(ss / n)


@nb.njit(cache=True)
def window_stats(cv: F64, hv: F64, lv: F64, ends: I64) -> F64:
    """Daily window statistics at each week's last valid row, shape (W, A, len(STATS)).

    r_k = ln C_k - ln C_{k-1} over valid rows (k >= 1); TR_k as Wilder with TR_0 = H - L.
    A statistic needing more rows than exist is NaN (warm-up)."""
    n_weeks, n_assets = ends.shape
    out = np.full((n_weeks, n_assets, len(STATS)), np.nan)
    n_rows = cv.shape[0]
    lc = np.empty(n_rows)
    rr = np.empty(n_rows)
    tr = np.empty(n_rows)
    for a in range(n_assets):
        last = -1
        for t in range(n_weeks):
            last = max(last, ends[t, a])
        if last < 0:
            continue
        for i in range(last + 1):
            lc[i] = np.log(cv[i, a])
        rr[0] = np.nan
        tr[0] = hv[0, a] - lv[0, a]
        for i in range(1, last + 1):
            rr[i] = lc[i] - lc[i - 1]
            pc = cv[i - 1, a]
            tr[i] = max(hv[i, a] - lv[i, a], abs(hv[i, a] - pc), abs(lv[i, a] - pc))
        for t in range(n_weeks):
            k = ends[t, a]
            if k < 0:
                continue
            if k >= 19:
                s = 0.0
                for i in range(k - 19, k + 1):
                    s += tr[i]
                out[t, a, 4] = (s / 20.0) / (cv[k, a] + 1e-8)
            if k < 5:
                continue
            out[t, a, 0] = _std(rr[k - 4 : k + 1], 1)
            if k >= 20:
                w20 = rr[k - 19 : k + 1]
                s20 = _std(w20, 1)
                out[t, a, 1] = s20
                out[t, a, 6] = _side_vol(w20, True, s20)
                out[t, a, 7] = _side_vol(w20, False, s20)
            if k >= 60:
                w60 = rr[k - 59 : k + 1]
                s60 = _std(w60, 1)
                out[t, a, 2] = s60
                out[t, a, 5] = _abs_std0(w60)
                cnt = 0.0
                for i in range(k - 19, k + 1):
                    if abs(rr[i]) > 2.0 * s60:
                        cnt += 1.0
                out[t, a, 8] = cnt
                out[t, a, 9] = _skew(w60)
                out[t, a, 10] = _q05_of_60(w60)
            if k >= 130:
                out[t, a, 3] = _std(rr[k - 129 : k + 1], 1)
    return out


@nb.njit(cache=True)
def rolling_nanmean_weeks(x: F64, n: int) -> F64:
    """Mean of the finite values among the ``n`` rows ending at t, defined for t >= n - 1;
    NaN when none is finite. Shape (W, A)."""
    out = np.full(x.shape, np.nan)
    for a in range(x.shape[1]):
        for t in range(n - 1, x.shape[0]):
            s = 0.0
            k = 0
            for i in range(t - n + 1, t + 1):
                v = x[i, a]
                if np.isfinite(v):
                    s += v
                    k += 1
            if k:
                out[t, a] = s / k
    return out


__all__ = ["STATS", "compact_valid", "rolling_nanmean_weeks", "window_stats"]
