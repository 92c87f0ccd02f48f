"""Compiled column-wise kernels over (T, A) float64 arrays (numba).

Every kernel works on each column (asset) independently and moves forward in time only,
so a value at row t depends on rows <= t alone (the no-look-ahead property the tests
check). NaN policy: a rolling statistic over ``n`` values ending at and including t needs
all ``n`` values finite, otherwise it is NaN (warm-up or a gap).

Example:
    >>> import numpy as np
    >>> x = np.arange(6, dtype=float).reshape(6, 1)
    >>> rolling_mean(x, 3)[:, 0].tolist()
    [nan, nan, 1.0, 2.0, 3.0, 4.0]
    >>> rolling_std(x, 3, 1)[2:, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@nb.njit(cache=True)
def _window_ok(col: F64, t: int, n: int) -> bool:
    if t - n + 1 < 0:
        return False
    for i in range(t - n + 1, t + 1):  # noqa: SIM110 (numba: no generator in all())
        if not np.isfinite(col[i]):
            return False
    return True


@nb.njit(cache=True)
def _mean_std(w: F64, ddof: int) -> tuple[float, float]:
    n = w.size
    lo = w[0]
    hi = w[0]
    s = 0.0
    for v in w:
        s += v
        lo = min(lo, v)
        hi = max(hi, v)
    m = s / n
    if lo == hi:
        return lo, 0.0
    if n - ddof <= 0:
        return m, np.nan
    ss = 0.0
    for v in w:
        ss += (v - m) * (v - m)
    return m, np.sqrt(ss / (n - ddof))


@nb.njit(cache=True)
def rolling_mean(x: F64, n: int) -> F64:
    """Mean of the ``n`` values ending at t, shape (T, A)."""
    out = np.full(x.shape, np.nan)
    for a in range(x.shape[1]):
        col = x[:, a]
        for t in range(x.shape[0]):
            if _window_ok(col, t, n):
                out[t, a] = _mean_std(col[t - n + 1 : t + 1], 0)[0]
    return out


@nb.njit(cache=True)
def rolling_std(x: F64, n: int, ddof: int) -> F64:
    """Standard deviation (``ddof`` 0 or 1) of the ``n`` values ending at t; exactly 0 on
    a window of equal values."""
    out = np.full(x.shape, np.nan)
    for a in range(x.shape[1]):
        col = x[:, a]
        for t in range(x.shape[0]):
            if _window_ok(col, t, n):
                out[t, a] = _mean_std(col[t - n + 1 : t + 1], ddof)[1]
    return out


@nb.njit(cache=True)
def _sorted_remove(buf: F64, size: int, v: float) -> int:
    i = np.searchsorted(buf[:size], v)
    for j in range(i, size - 1):
        buf[j] = buf[j + 1]
    return size - 1


@nb.njit(cache=True)
def _sorted_insert(buf: F64, size: int, v: float) -> int:
    i = np.searchsorted(buf[:size], v)
    for j in range(size, i, -1):
        buf[j] = buf[j - 1]
    buf[i] = v
    return size + 1


@nb.njit(cache=True)
def rolling_median(x: F64, n: int, prior: bool) -> F64:
    """Median of the ``n`` values ending at t (``prior``: ending at t - 1); NaN unless all
    ``n`` are finite. A sorted window is updated in place (O(n) per step, no allocation)."""
    out = np.full(x.shape, np.nan)
    off = 1 if prior else 0
    buf = np.empty(n + 1)
    for a in range(x.shape[1]):
        col = x[:, a]
        size = 0
        bad = 0
        for e in range(col.size):
            v = col[e]
            if np.isfinite(v):
                size = _sorted_insert(buf, size, v)
            else:
                bad += 1
            if e - n >= 0:
                old = col[e - n]
                if np.isfinite(old):
                    size = _sorted_remove(buf, size, old)
                else:
                    bad -= 1
            if e - n + 1 >= 0 and bad == 0 and e + off < col.size:
                h = n // 2
                out[e + off, a] = buf[h] if n % 2 else 0.5 * (buf[h - 1] + buf[h])
    return out


@nb.njit(cache=True)
def rolling_extreme(x: F64, n: int, prior: bool, take_max: bool) -> F64:
    """Max (or min) of the ``n`` values ending at t (``prior``: ending at t - 1)."""
    out = np.full(x.shape, np.nan)
    off = 1 if prior else 0
    for a in range(x.shape[1]):
        col = x[:, a]
        for t in range(off, x.shape[0]):
            e = t - off
            if _window_ok(col, e, n):
                w = col[e - n + 1 : e + 1]
                out[t, a] = w.max() if take_max else w.min()
    return out


@nb.njit(cache=True)
def ema_talib(x: F64, n: int) -> F64:
    """TA-Lib EMA: alpha = 2/(n+1), seeded with the mean of the first n values at n - 1.

    The seed window starts at each column's first finite value; a NaN after the seed
    makes the rest of that column NaN (inputs here are complete panels)."""
    alpha = 2.0 / (n + 1.0)
    out = np.full(x.shape, np.nan)
    for a in range(x.shape[1]):
        col = x[:, a]
        start = 0
        while start < col.size and not np.isfinite(col[start]):
            start += 1
        seed_end = start + n - 1
        if seed_end >= col.size or not _window_ok(col, seed_end, n):
            continue
        e = _mean_std(col[start : seed_end + 1], 0)[0]
        out[seed_end, a] = e
        for t in range(seed_end + 1, col.size):
            e = alpha * col[t] + (1.0 - alpha) * e
            out[t, a] = e
    return out


@nb.njit(cache=True)
def true_range(h: F64, lo: F64, c: F64, first_hl: bool) -> F64:
    """TR_t = max(H - L, |H - C_{t-1}|, |L - C_{t-1}|); row 0 is H - L if ``first_hl``
    else NaN (TA-Lib)."""
    out = np.full(h.shape, np.nan)
    for a in range(h.shape[1]):
        if first_hl:
            out[0, a] = h[0, a] - lo[0, a]
        for t in range(1, h.shape[0]):
            pc = c[t - 1, a]
            out[t, a] = max(h[t, a] - lo[t, a], abs(h[t, a] - pc), abs(lo[t, a] - pc))
    return out


@nb.njit(cache=True)
def atr_wilder(h: F64, lo: F64, c: F64, n: int) -> F64:
    """Wilder ATR (TA-Lib): mean(TR_1..TR_n) at t = n, then ((n-1) ATR + TR) / n."""
    tr = true_range(h, lo, c, False)
    out = np.full(h.shape, np.nan)
    for a in range(h.shape[1]):
        if h.shape[0] <= n:
            continue
        s = 0.0
        for t in range(1, n + 1):
            s += tr[t, a]
        atr = s / n
        out[n, a] = atr
        for t in range(n + 1, h.shape[0]):
            atr = ((n - 1) * atr + tr[t, a]) / n
            out[t, a] = atr
    return out


@nb.njit(cache=True)
def ewm_mean_std(x: F64, alpha: float, min_periods: int) -> tuple[F64, F64]:
    """Recursive EWMA (``adjust=False``) from each column's first finite value, and the
    bias-corrected EW standard deviation s_t^2 = sum w_i (x_i - m_t)^2 / (1 - sum w_i^2)
    with weights w_0 = (1-alpha)^t, w_i = alpha (1-alpha)^(t-i). Rows before the
    ``min_periods``-th value are NaN. Inputs must have no NaN after the first value."""
    mean = np.full(x.shape, np.nan)
    std = np.full(x.shape, np.nan)
    beta = 1.0 - alpha
    for a in range(x.shape[1]):
        col = x[:, a]
        start = 0
        while start < col.size and not np.isfinite(col[start]):
            start += 1
        if start >= col.size:
            continue
        m = col[start]
        v = 0.0  # biased EW variance
        q = 1.0  # sum of squared weights
        for t in range(start, col.size):
            if t > start:
                d = col[t] - m
                m = m + alpha * d
                v = beta * (v + alpha * d * d)
                q = beta * beta * q + alpha * alpha
            if t - start + 1 >= min_periods:
                mean[t, a] = m
                std[t, a] = np.sqrt(v / (1.0 - q)) if q < 1.0 else np.nan
    return mean, std


@nb.njit(cache=True)
def ewm_mean(x: F64, alpha: float, min_periods: int) -> F64:
    """Recursive EWMA (``adjust=False``) seeded at each column's first finite value."""
    out = np.full(x.shape, np.nan)
    beta = 1.0 - alpha
    for a in range(x.shape[1]):
        col = x[:, a]
        start = 0
        while start < col.size and not np.isfinite(col[start]):
            start += 1
        if start >= col.size:
            continue
        m = col[start]
        for t in range(start, col.size):
            if t > start:
                m = beta * m + alpha * col[t]
            if t - start + 1 >= min_periods:
                out[t, a] = m
    return out


@nb.njit(cache=True)
def cs_rank(x: F64) -> F64:
    """Per row: (average ascending rank - 0.5) / N_eff over the finite entries; NaN
    elsewhere."""
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        row = x[t]
        idx = np.flatnonzero(np.isfinite(row))
        n = idx.size
        if n == 0:
            continue
        vals = row[idx]
        order = np.argsort(vals, kind="mergesort")
        i = 0
        while i < n:
            j = i
            while j + 1 < n and vals[order[j + 1]] == vals[order[i]]:
                j += 1
            r = 0.5 * (i + j) + 1.0  # average 1-based rank of the tie block
            for k in range(i, j + 1):
                out[t, idx[order[k]]] = (r - 0.5) / n
            i = j + 1
    return out


@nb.njit(cache=True)
def mad_across(x: F64) -> F64:
    """Per row: 1.4826 * median |x - median x| over the finite entries (NaN if none)."""
    out = np.full(x.shape[0], np.nan)
    for t in range(x.shape[0]):
        row = x[t]
        v = row[np.isfinite(row)]
        if v.size:
            med = np.median(v)
            out[t] = 1.4826 * np.median(np.abs(v - med))
    return out


__all__ = [
    "atr_wilder",
    "cs_rank",
    "ema_talib",
    "ewm_mean",
    "ewm_mean_std",
    "mad_across",
    "rolling_extreme",
    "rolling_mean",
    "rolling_median",
    "rolling_std",
    "true_range",
]
