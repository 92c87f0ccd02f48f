"""Compiled column-wise kernels over (T, A) float64 arrays (numba).

Every kernel works on each column (asset) independently and moves forward in time only,
so a value at row t depends on rows <= t alone (the no-look-ahead property the tests
check). NaN policy: a rolling statistic over ``n`` values ending at and including t needs
all ``n`` values finite, otherwise it is NaN (warm-up or a gap).

Layout: columns are processed in blocks of :data:`BLOCK` adjacent columns, blocks in
parallel (``numba.prange``; thread count: :func:`algotrader.features.common.feature_threads`).
Inside a block the recursions walk the rows in order with the state of the block's columns
in small arrays (memory read contiguously once); the rolling mean/std and max/min walk
one column at a time with their state in registers (the block's rows stay in cache).
Results never depend on the thread count (each column is computed by one thread, in
row order).

Rolling mean and standard deviation use O(1) running sums of ``x - K`` (``K`` a recent
value of the column, reset with exact sums every ``n`` rows), with two exactness rules: a
window of equal values gives exactly that mean and a zero dispersion (the degenerate
rule), and where the running variance could have lost more than ~1e-10 of its relative
precision to cancellation (variance < 1e-3 of the largest running sum of squares since
the reset: near-constant windows, a large level shift) the window is recomputed directly
(two-pass); likewise a mean whose window sum of |x - K| is over 1e3 times smaller than
earlier since the reset (a spike has left the window; its rounding could remain).

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
I64 = NDArray[np.int64]

#: Adjacent columns one thread handles row by row.
BLOCK = 64
#: Running variance accepted when >= this fraction of the largest running sum of squares
#: since the last exact reset (else the window is recomputed directly).
_CANCEL_TOL = 1e-3
#: Running mean accepted while the running sum of |x - K| has not shrunk by more than this
#: factor since the reset (else recomputed directly).
_SHRINK_TOL = 1e3


@nb.njit(cache=True)
def _n_blocks(n_cols: int) -> int:
    return (n_cols + BLOCK - 1) // BLOCK


@nb.njit(cache=True)
def _direct_mean_std(x: F64, a: int, lo: int, hi: int, ddof: int) -> tuple[float, float]:
    """Mean and std (``ddof``) of ``x[lo:hi, a]``, two-pass; exactly (v, 0) if all equal."""
    n = hi - lo
    v0 = x[lo, a]
    s = 0.0
    same = True
    for i in range(lo, hi):
        v = x[i, a]
        s += v
        if v != v0:
            same = False
    if same:
        return v0, 0.0
    m = s / n
    if n - ddof <= 0:
        return m, np.nan
    ss = 0.0
    for i in range(lo, hi):
        d = x[i, a] - m
        ss += d * d
    return m, np.sqrt(ss / (n - ddof))


@nb.njit(cache=True)
def _moments_column(x: F64, a: int, n: int, ddof: int, want_std: bool, out: F64) -> None:
    """One column of :func:`_rolling_moments` (state in registers)."""
    n_t = x.shape[0]
    inv_n = 1.0 / n
    s1 = s2 = m2 = sa = ma = k0 = 0.0
    bad = 0
    run = 0
    prev = np.nan
    for t in range(n_t):
        v = x[t, a]
        fin = np.isfinite(v)
        if fin:
            run = run + 1 if v == prev else 1
        else:
            run = 0
            bad += 1
        prev = v
        old = np.nan
        if t >= n:
            old = x[t - n, a]
            if not np.isfinite(old):
                bad -= 1
        if t % n == 0:  # exact reset of the running sums
            if fin:
                k0 = v
            s1 = s2 = sa = 0.0
            for i in range(max(0, t - n + 1), t + 1):
                u = x[i, a]
                if np.isfinite(u):
                    d = u - k0
                    s1 += d
                    s2 += d * d
                    sa += abs(d)
            m2 = s2
            ma = sa
        else:
            if fin:
                d = v - k0
                s1 += d
                s2 += d * d
                sa += abs(d)
            if np.isfinite(old):
                d = old - k0
                s1 -= d
                s2 -= d * d
                sa -= abs(d)
            m2 = max(m2, s2)
            ma = max(ma, sa)
        if t < n - 1 or bad != 0:
            continue
        if run >= n:
            out[t, a] = 0.0 if want_std else v
        elif not want_std:
            if ma <= _SHRINK_TOL * sa:
                out[t, a] = k0 + s1 * inv_n
            else:  # much larger values since the reset: their rounding may remain
                out[t, a] = _direct_mean_std(x, a, t - n + 1, t + 1, 0)[0]
        else:
            vn = s2 - s1 * s1 * inv_n
            if vn > _CANCEL_TOL * m2:
                out[t, a] = np.sqrt(vn / (n - ddof)) if n - ddof > 0 else np.nan
            else:
                out[t, a] = _direct_mean_std(x, a, t - n + 1, t + 1, ddof)[1]


@nb.njit(cache=True, parallel=True)
def _rolling_moments(x: F64, n: int, ddof: int, want_std: bool) -> F64:
    n_t, n_a = x.shape
    out = np.full((n_t, n_a), np.nan)
    for b in nb.prange(_n_blocks(n_a)):
        for a in range(b * BLOCK, min(n_a, (b + 1) * BLOCK)):
            _moments_column(x, a, n, ddof, want_std, out)
    return out


def rolling_mean(x: F64, n: int) -> F64:
    """Mean of the ``n`` values ending at t, shape (T, A)."""
    return _rolling_moments(np.ascontiguousarray(x, dtype=np.float64), n, 0, False)


def rolling_std(x: F64, n: int, ddof: int) -> F64:
    """Standard deviation (``ddof`` 0 or 1) of the ``n`` values ending at t; exactly 0 on
    a window of equal values."""
    return _rolling_moments(np.ascontiguousarray(x, dtype=np.float64), n, ddof, True)


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


@nb.njit(cache=True, parallel=True)
def _rolling_median(x: F64, n: int, off: int) -> F64:
    n_t, n_a = x.shape
    out = np.full((n_t, n_a), np.nan)
    for b in nb.prange(_n_blocks(n_a)):
        a0 = b * BLOCK
        w = min(n_a, a0 + BLOCK) - a0
        buf = np.empty((w, n + 1))
        size = np.zeros(w, dtype=np.int64)
        bad = np.zeros(w, dtype=np.int64)
        h = n // 2
        for e in range(n_t):
            for j in range(w):
                a = a0 + j
                v = x[e, a]
                if np.isfinite(v):
                    size[j] = _sorted_insert(buf[j], size[j], v)
                else:
                    bad[j] += 1
                if e - n >= 0:
                    old = x[e - n, a]
                    if np.isfinite(old):
                        size[j] = _sorted_remove(buf[j], size[j], old)
                    else:
                        bad[j] -= 1
                if e - n + 1 >= 0 and bad[j] == 0 and e + off < n_t:
                    out[e + off, a] = buf[j, h] if n % 2 else 0.5 * (buf[j, h - 1] + buf[j, h])
    return out


def rolling_median(x: F64, n: int, prior: bool) -> F64:
    """Median of the ``n`` values ending at t (``prior``: ending at t - 1); NaN unless all
    ``n`` are finite. A sorted window per column is updated in place (O(n) per step)."""
    return _rolling_median(np.ascontiguousarray(x, dtype=np.float64), n, 1 if prior else 0)


@nb.njit(cache=True)
def _extreme_column(x: F64, a: int, n: int, off: int, take_max: bool, out: F64) -> None:
    n_t = x.shape[0]
    idx = -1
    ext = 0.0
    bad = 0
    for e in range(n_t):
        v = x[e, a]
        if not np.isfinite(v):
            bad += 1
        if e >= n and not np.isfinite(x[e - n, a]):
            bad -= 1
        if e < n - 1 or bad != 0:
            idx = -1
            continue
        lo = e - n + 1
        if idx < lo:  # the extreme left the window (or none yet): rescan
            idx = lo
            ext = x[lo, a]
            for i in range(lo + 1, e + 1):
                u = x[i, a]
                if (u > ext) if take_max else (u < ext):
                    idx = i
                    ext = u
        elif (v >= ext) if take_max else (v <= ext):
            idx = e
            ext = v
        if e + off < n_t:
            out[e + off, a] = ext


@nb.njit(cache=True, parallel=True)
def _rolling_extreme(x: F64, n: int, off: int, take_max: bool) -> F64:
    n_t, n_a = x.shape
    out = np.full((n_t, n_a), np.nan)
    for b in nb.prange(_n_blocks(n_a)):
        for a in range(b * BLOCK, min(n_a, (b + 1) * BLOCK)):
            _extreme_column(x, a, n, off, take_max, out)
    return out


def rolling_extreme(x: F64, n: int, prior: bool, take_max: bool) -> F64:
    """Max (or min) of the ``n`` values ending at t (``prior``: ending at t - 1); the
    extreme's row is tracked and the window rescanned only when it leaves."""
    return _rolling_extreme(
        np.ascontiguousarray(x, dtype=np.float64), n, 1 if prior else 0, take_max
    )


@nb.njit(cache=True)
def _first_finite(x: F64) -> I64:
    """Per column: the first row holding a finite value (``T`` if none)."""
    n_t, n_a = x.shape
    start = np.full(n_a, n_t, dtype=np.int64)
    for a in range(n_a):
        for t in range(n_t):
            if np.isfinite(x[t, a]):
                start[a] = t
                break
    return start


@nb.njit(cache=True, parallel=True)
def _ema_talib(x: F64, n: int) -> F64:
    n_t, n_a = x.shape
    alpha = 2.0 / (n + 1.0)
    out = np.full((n_t, n_a), np.nan)
    seed = _first_finite(x) + (n - 1)
    for b in nb.prange(_n_blocks(n_a)):
        a0 = b * BLOCK
        w = min(n_a, a0 + BLOCK) - a0
        e = np.full(w, np.nan)
        for t in range(n_t):
            for j in range(w):
                a = a0 + j
                if t < seed[a]:
                    continue
                if t == seed[a]:
                    lo = t - n + 1
                    ok = True
                    for i in range(lo, t + 1):
                        if not np.isfinite(x[i, a]):
                            ok = False
                    e[j] = _direct_mean_std(x, a, lo, t + 1, 0)[0] if ok else np.nan
                else:
                    e[j] = alpha * x[t, a] + (1.0 - alpha) * e[j]
                out[t, a] = e[j]
    return out


def ema_talib(x: F64, n: int) -> F64:
    """TA-Lib EMA: alpha = 2/(n+1), seeded with the mean of the first n values at n - 1.

    The seed window starts at each column's first finite value; a NaN after the seed
    makes the rest of that column NaN (inputs here are complete panels)."""
    return _ema_talib(np.ascontiguousarray(x, dtype=np.float64), n)


@nb.njit(cache=True, parallel=True)
def _true_range(h: F64, lo: F64, c: F64, first_hl: bool) -> F64:
    n_t, n_a = h.shape
    out = np.full((n_t, n_a), np.nan)
    if first_hl and n_t:
        for a in range(n_a):
            out[0, a] = h[0, a] - lo[0, a]
    for t in nb.prange(1, n_t):
        for a in range(n_a):
            pc = c[t - 1, a]
            out[t, a] = max(h[t, a] - lo[t, a], abs(h[t, a] - pc), abs(lo[t, a] - pc))
    return out


def true_range(h: F64, lo: F64, c: F64, first_hl: bool) -> F64:
    """TR_t = max(H - L, |H - C_{t-1}|, |L - C_{t-1}|); row 0 is H - L if ``first_hl``
    else NaN (TA-Lib)."""
    h, lo, c = _c64(h, lo, c)
    return _true_range(h, lo, c, first_hl)


@nb.njit(cache=True, parallel=True)
def _atr_wilder(h: F64, lo: F64, c: F64, n: int) -> F64:
    n_t, n_a = h.shape
    out = np.full((n_t, n_a), np.nan)
    if n_t <= n:
        return out
    for b in nb.prange(_n_blocks(n_a)):
        a0 = b * BLOCK
        w = min(n_a, a0 + BLOCK) - a0
        atr = np.zeros(w)
        for t in range(1, n_t):
            for j in range(w):
                a = a0 + j
                pc = c[t - 1, a]
                tr = max(h[t, a] - lo[t, a], abs(h[t, a] - pc), abs(lo[t, a] - pc))
                if t < n:
                    atr[j] += tr
                    continue
                if t == n:
                    atr[j] = (atr[j] + tr) / n
                else:
                    atr[j] = ((n - 1) * atr[j] + tr) / n
                out[t, a] = atr[j]
    return out


def atr_wilder(h: F64, lo: F64, c: F64, n: int) -> F64:
    """Wilder ATR (TA-Lib): mean(TR_1..TR_n) at t = n, then ((n-1) ATR + TR) / n."""
    h, lo, c = _c64(h, lo, c)
    return _atr_wilder(h, lo, c, n)


@nb.njit(cache=True, parallel=True)
def _ewm(x: F64, alpha: float, min_periods: int, want_std: bool) -> tuple[F64, F64]:
    n_t, n_a = x.shape
    mean = np.full((n_t, n_a), np.nan)
    std = np.full((n_t, n_a) if want_std else (0, 0), np.nan)
    beta = 1.0 - alpha
    start = _first_finite(x)
    for b in nb.prange(_n_blocks(n_a)):
        a0 = b * BLOCK
        w = min(n_a, a0 + BLOCK) - a0
        m = np.zeros(w)
        v = np.zeros(w)  # biased EW variance
        q = np.ones(w)  # sum of squared weights
        for t in range(n_t):
            for j in range(w):
                a = a0 + j
                s = start[a]
                if t < s:
                    continue
                if t == s:
                    m[j] = x[t, a]
                elif want_std:
                    d = x[t, a] - m[j]
                    m[j] = m[j] + alpha * d
                    v[j] = beta * (v[j] + alpha * d * d)
                    q[j] = beta * beta * q[j] + alpha * alpha
                else:
                    m[j] = beta * m[j] + alpha * x[t, a]
                if t - s + 1 >= min_periods:
                    mean[t, a] = m[j]
                    if want_std:
                        std[t, a] = np.sqrt(v[j] / (1.0 - q[j])) if q[j] < 1.0 else np.nan
    return mean, std


def ewm_mean_std(x: F64, alpha: float, min_periods: int) -> tuple[F64, F64]:
    """Recursive EWMA (``adjust=False``) from each column's first finite value, and the
    bias-corrected EW standard deviation s_t^2 = sum w_i (x_i - m_t)^2 / (1 - sum w_i^2)
    with weights w_0 = (1-alpha)^t, w_i = alpha (1-alpha)^(t-i). Rows before the
    ``min_periods``-th value are NaN. Inputs must have no NaN after the first value."""
    return _ewm(np.ascontiguousarray(x, dtype=np.float64), alpha, min_periods, True)


def ewm_mean(x: F64, alpha: float, min_periods: int) -> F64:
    """Recursive EWMA (``adjust=False``) seeded at each column's first finite value."""
    return _ewm(np.ascontiguousarray(x, dtype=np.float64), alpha, min_periods, False)[0]


@nb.njit(cache=True)
def _rsi_column(
    c: F64, a: int, alpha: float, min_periods: int, out: F64, deg: NDArray[np.bool_]
) -> None:
    n_t = c.shape[0]
    beta = 1.0 - alpha
    start = -1
    g = lo = 0.0
    for t in range(1, n_t):
        d = c[t, a] - c[t - 1, a]
        if start < 0:
            if not np.isfinite(d):
                continue
            start = t
            g = max(d, 0.0)
            lo = max(-d, 0.0)
        elif np.isfinite(d):
            g = beta * g + alpha * max(d, 0.0)
            lo = beta * lo + alpha * max(-d, 0.0)
        else:
            g = lo = np.nan
        if t - start + 1 < min_periods:
            continue
        if lo > 0:
            out[t, a] = 100.0 - 100.0 / (1.0 + g / lo)
        elif g > 0:
            out[t, a] = 100.0
        deg[t, a] = g == 0 and lo == 0


@nb.njit(cache=True, parallel=True)
def _rsi_ewm(c: F64, alpha: float, min_periods: int) -> tuple[F64, NDArray[np.bool_]]:
    n_t, n_a = c.shape
    out = np.full((n_t, n_a), np.nan)
    deg = np.zeros((n_t, n_a), dtype=np.bool_)
    for b in nb.prange(_n_blocks(n_a)):
        for a in range(b * BLOCK, min(n_a, (b + 1) * BLOCK)):
            _rsi_column(c, a, alpha, min_periods, out, deg)
    return out, deg


def rsi_ewm(c: F64, alpha: float, min_periods: int) -> tuple[F64, NDArray[np.bool_]]:
    """RSI = 100 - 100 / (1 + G/L), G and L the recursive EWMAs (``adjust=False``,
    ``alpha``) of the gains max(dC, 0) and losses max(-dC, 0), seeded at each column's
    first finite change, NaN before its ``min_periods``-th change; 100 where L = 0 < G;
    NaN with ``degenerate`` True where G = L = 0. One pass (the two :func:`ewm_mean` calls
    and the ratio fused); a NaN change makes the rest of the column NaN."""
    return _rsi_ewm(np.ascontiguousarray(c, dtype=np.float64), alpha, min_periods)


@nb.njit(cache=True, parallel=True)
def _cs_rank(x: F64) -> F64:
    out = np.full(x.shape, np.nan)
    for t in nb.prange(x.shape[0]):
        row = x[t]
        idx = np.flatnonzero(np.isfinite(row))
        n = idx.size
        if n == 0:
            continue
        vals = row[idx]
        order = np.argsort(vals)  # ties get their block average below: any order
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


def cs_rank(x: F64) -> F64:
    """Per row: (average ascending rank - 0.5) / N_eff over the finite entries; NaN
    elsewhere."""
    return _cs_rank(np.ascontiguousarray(x, dtype=np.float64))


@nb.njit(cache=True, parallel=True)
def _mad_across(x: F64) -> F64:
    out = np.full(x.shape[0], np.nan)
    for t in nb.prange(x.shape[0]):
        row = x[t]
        v = row[np.isfinite(row)]
        if v.size:
            med = np.median(v)
            out[t] = 1.4826 * np.median(np.abs(v - med))
    return out


def mad_across(x: F64) -> F64:
    """Per row: 1.4826 * median |x - median x| over the finite entries (NaN if none)."""
    return _mad_across(np.ascontiguousarray(x, dtype=np.float64))


@nb.njit(cache=True, parallel=True)
def _interleave(values: F64, status: NDArray[np.int8]) -> tuple[F64, NDArray[np.int8]]:
    n_f, n_t, n_a = values.shape
    out_v = np.empty((n_t, n_a, n_f))
    out_s = np.empty((n_t, n_a, n_f), dtype=np.int8)
    for t in nb.prange(n_t):
        for a in range(n_a):
            for f in range(n_f):
                st = status[f, t, a]
                out_s[t, a, f] = st
                out_v[t, a, f] = values[f, t, a] if st == 0 else np.nan
    return out_v, out_s


def interleave(values: list[F64], status: list[NDArray[np.int8]]) -> tuple[F64, NDArray[np.int8]]:
    """Per-feature (T, A) values and statuses -> (T, A, F) values (NaN where the status is
    not ok) and statuses, C-ordered."""
    v = np.stack([np.asarray(a, dtype=np.float64) for a in values])
    st = np.stack([np.asarray(a, dtype=np.int8) for a in status])
    return _interleave(v, st)


def _c64(h: F64, lo: F64, c: F64) -> tuple[F64, F64, F64]:
    return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (h, lo, c))  # type: ignore[return-value]


__all__ = [
    "BLOCK",
    "atr_wilder",
    "cs_rank",
    "ema_talib",
    "ewm_mean",
    "ewm_mean_std",
    "interleave",
    "mad_across",
    "rolling_extreme",
    "rolling_mean",
    "rolling_median",
    "rolling_std",
    "rsi_ewm",
    "true_range",
]
