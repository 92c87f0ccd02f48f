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
    """Two-pass std (``ddof``) of ``w``; exactly 0 on equal values."""
    n = w.size
    w0 = w[0]
    s = 0.0
    same = True
    for v in w:
        s += v
        if v != w0:
            same = False
    if same:
        return 0.0
    m = s / n
    ss = 0.0
    for v in w:
        ss += (v - m) * (v - m)
    return np.sqrt(ss / (n - ddof))


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
def _asset_stats(cv: F64, hv: F64, lv: F64, ends: I64, out: F64, work: F64) -> None:
    """Statistics of one asset (valid rows ``cv``/``hv``/``lv``, week ends ``ends`` (W,))
    into ``out`` (W, len(STATS)); ``work`` is scratch of shape (2, >= rows)."""
    last = -1
    for t in range(ends.size):
        last = max(last, ends[t])
    if last < 0:
        return
    rr = work[0]
    tr = work[1]
    rr[0] = np.nan
    tr[0] = hv[0] - lv[0]
    prev = np.log(cv[0])
    for i in range(1, last + 1):
        cur = np.log(cv[i])
        rr[i] = cur - prev
        prev = cur
        pc = cv[i - 1]
        tr[i] = max(hv[i] - lv[i], abs(hv[i] - pc), abs(lv[i] - pc))
    for t in range(ends.size):
        k = ends[t]
        if k < 0:
            continue
        if k >= 19:
            s = 0.0
            for i in range(k - 19, k + 1):
                s += tr[i]
            out[t, 4] = (s / 20.0) / (cv[k] + 1e-8)
        if k < 5:
            continue
        out[t, 0] = _std(rr[k - 4 : k + 1], 1)
        if k >= 20:
            _stats20(rr[k - 19 : k + 1], out[t])
        if k >= 60:
            _stats60(rr[k - 59 : k + 1], out[t])
        if k >= 130:
            out[t, 3] = _std(rr[k - 129 : k + 1], 1)


@nb.njit(cache=True)
def _stats20(w: F64, out: F64) -> None:
    """sigma20, down20, up20 of the last 20 returns in two fused passes (the same sums,
    in the same order, as :func:`_std` and the one-statistic loops they replace)."""
    n = w.size
    w0 = w[0]
    s = 0.0
    same = True
    sn = 0.0
    kn = 0
    sp = 0.0
    kp = 0
    for v in w:
        s += v
        if v != w0:
            same = False
        if v < 0.0:
            sn += v * v
            kn += 1
        elif v > 0.0:
            sp += v * v
            kp += 1
    s20 = 0.0
    if not same:
        m = s / n
        ss = 0.0
        for v in w:
            ss += (v - m) * (v - m)
        s20 = np.sqrt(ss / (n - 1))
    out[1] = s20
    out[6] = np.sqrt(sn / kn) if kn >= 3 else s20
    out[7] = np.sqrt(sp / kp) if kp >= 3 else s20


@nb.njit(cache=True)
def _stats60(w: F64, out: F64) -> None:
    """sigma60, absr_std60, jump_count20, skew60, q05_60 of the last 60 returns in two
    fused passes (same sums, same order as the single-statistic helpers)."""
    n = w.size
    w0 = w[0]
    a0 = abs(w0)
    s = 0.0
    sa = 0.0
    same = True
    same_abs = True
    for v in w:
        s += v
        av = abs(v)
        sa += av
        if v != w0:
            same = False
        if av != a0:
            same_abs = False
    m = s / n
    ma = sa / n
    s2 = 0.0
    s3 = 0.0
    sa2 = 0.0
    for v in w:
        d = v - m
        s2 += d * d
        s3 += d * d * d
        da = abs(v) - ma
        sa2 += da * da
    s60 = 0.0 if same else np.sqrt(s2 / (n - 1))
    out[2] = s60
    out[5] = 0.0 if same_abs else np.sqrt(sa2 / n)
    cnt = 0.0
    for i in range(n - 20, n):
        if abs(w[i]) > 2.0 * s60:
            cnt += 1.0
    out[8] = cnt
    sk = np.sqrt(s2 / (n - 1) + 1e-12)
    out[9] = min(max((s3 / n) / (sk * sk * sk + 1e-12), -5.0), 5.0)
    out[10] = _q05_of_60(w)


@nb.njit(cache=True, parallel=True)
def window_stats(cv: F64, hv: F64, lv: F64, ends: I64) -> F64:
    """Daily window statistics at each week's last valid row, shape (W, A, len(STATS)),
    from the compacted valid rows of :func:`compact_valid`.

    r_k = ln C_k - ln C_{k-1} over valid rows (k >= 1); TR_k as Wilder with TR_0 = H - L.
    A statistic needing more rows than exist is NaN (warm-up)."""
    n_weeks, n_assets = ends.shape
    out = np.full((n_weeks, n_assets, len(STATS)), np.nan)
    for a in nb.prange(n_assets):
        work = np.empty((2, max(cv.shape[0], 1)))
        _asset_stats(cv[:, a], hv[:, a], lv[:, a], ends[:, a], out[:, a, :], work)
    return out


@nb.njit(cache=True, parallel=True)
def daily_window_stats(
    valid: NDArray[np.bool_], h: F64, lo: F64, c: F64, day_week: I64, n_weeks: int
) -> tuple[F64, I64, I64]:
    """:func:`compact_valid` and :func:`window_stats` fused, one asset per task (parallel):
    returns (stats (W, A, len(STATS)), valid-row counts (A,), ends (W, A))."""
    d_rows, n_assets = c.shape
    out = np.full((n_weeks, n_assets, len(STATS)), np.nan)
    counts = np.zeros(n_assets, dtype=np.int64)
    ends = np.full((n_weeks, n_assets), -1, dtype=np.int64)
    for a in nb.prange(n_assets):
        cv = np.empty(d_rows)
        hv = np.empty(d_rows)
        lv = np.empty(d_rows)
        ea = np.full(n_weeks, -1, dtype=np.int64)
        k = 0
        for d in range(d_rows):
            if valid[d, a]:
                cv[k] = c[d, a]
                hv[k] = h[d, a]
                lv[k] = lo[d, a]
                ea[day_week[d]] = k
                k += 1
        counts[a] = k
        ends[:, a] = ea
        work = np.empty((2, max(k, 1)))
        _asset_stats(cv, hv, lv, ea, out[:, a, :], work)
    return out, counts, ends


@nb.njit(cache=True, parallel=True)
def weekday_means(close: F64, day_week: I64, weekday: I64, n_weeks: int, n: int) -> F64:
    """Seasonal weekday means A_(t,k), shape (T, 5, A).

    r_d = ln C_d - ln C_(d-1) over all daily rows (NaN if either close is missing);
    R_(t,k) = r of the row of week t and weekday k (NaN if none); A_(t,k) = mean of the
    finite R_(s,k), s in [t-n+1, t], defined for t >= n - 1 (NaN if none is finite)."""
    d_rows, n_assets = close.shape
    rw = np.full((n_weeks, 5, n_assets), np.nan)
    for d in nb.prange(1, d_rows):
        t = day_week[d]
        k = weekday[d]
        for a in range(n_assets):
            rw[t, k, a] = np.log(close[d, a]) - np.log(close[d - 1, a])
    out = np.full((n_weeks, 5, n_assets), np.nan)
    for t in nb.prange(n - 1, n_weeks):
        s = np.zeros(n_assets)
        cnt = np.zeros(n_assets, dtype=np.int64)
        for k in range(5):
            s[:] = 0.0
            cnt[:] = 0
            for i in range(t - n + 1, t + 1):
                for a in range(n_assets):
                    v = rw[i, k, a]
                    if np.isfinite(v):
                        s[a] += v
                        cnt[a] += 1
            for a in range(n_assets):
                if cnt[a]:
                    out[t, k, a] = s[a] / cnt[a]
    return out


@nb.njit(cache=True, parallel=True)
def window_gram(r: F64, ends: I64, n: int) -> tuple[F64, F64, F64, NDArray[np.int8]]:
    """The 60-row windows of the regime group, one per week (parallel over weeks).

    ``r`` (D', A): daily returns (NaN = missing); ``ends`` (T,): the last row of each
    week's window (-1 if none). A window is rows ``e - n + 1 .. e``; an asset enters it
    only if all its ``n`` returns are finite. Returns ``gram`` (T, n, n), the centred
    Gram matrix X_c X_c' / (n - 1) of the included assets (same non-zero eigenvalues as
    their sample covariance), ``trace`` (T,) = sum of their sample variances, ``corr``
    (T,) the mean pairwise correlation over the included assets with a positive
    variance, and ``kind`` (T,): 0 fewer than 2 assets, 1 warm-up, 2 computed.

    The raw Gram H_ij = r_i . r_j of a window is read from the banded products of each
    daily row with its ``n - 1`` predecessors, computed once (O(D n A) instead of
    O(T n^2 A)); the assets left out of a window have their products subtracted; then
    X_c X_c' = J H J with the centring matrix J."""
    d_rows, n_assets = r.shape
    n_t = ends.size
    r0 = np.where(np.isfinite(r), r, 0.0)
    lastbad = np.empty((d_rows, n_assets), dtype=np.int64)
    lb = np.full(n_assets, -1, dtype=np.int64)
    for d in range(d_rows):
        for a in range(n_assets):
            if not np.isfinite(r[d, a]):
                lb[a] = d
            lastbad[d, a] = lb[a]
    band = np.zeros((d_rows, n))
    for d in nb.prange(d_rows):
        for lag in range(min(n, d + 1)):
            s = 0.0
            for a in range(n_assets):
                s += r0[d, a] * r0[d - lag, a]
            band[d, lag] = s
    gram = np.zeros((n_t, n, n))
    trace = np.full(n_t, np.nan)
    corr = np.full(n_t, np.nan)
    kind = np.zeros(n_t, dtype=np.int8)
    for t in nb.prange(n_t):
        e = ends[t]
        if e < n - 1:
            kind[t] = 1
            continue
        lo = e - n + 1
        inc = lastbad[e] < lo
        if inc.sum() < 2:
            continue
        kind[t] = 2
        h = np.empty((n, n))
        for i in range(n):
            for j in range(i + 1):
                h[i, j] = band[lo + i, i - j]
                h[j, i] = h[i, j]
        for a in range(n_assets):
            if not inc[a]:
                for i in range(n):
                    u = r0[lo + i, a]
                    if u != 0.0:
                        for j in range(n):
                            h[i, j] -= u * r0[lo + j, a]
        mean = np.zeros(n_assets)
        sd = np.zeros(n_assets)
        for i in range(lo, e + 1):
            for a in range(n_assets):
                mean[a] += r0[i, a]
        mean /= n
        for i in range(lo, e + 1):
            for a in range(n_assets):
                d = r0[i, a] - mean[a]
                sd[a] += d * d
        tr = 0.0
        for a in range(n_assets):
            if inc[a]:
                var = sd[a] / (n - 1)
                sd[a] = np.sqrt(var)
                tr += var
            else:
                sd[a] = 0.0
        trace[t] = tr
        rowm = np.zeros(n)
        for i in range(n):
            rowm[i] = h[i].sum() / n
        allm = rowm.sum() / n
        g = gram[t]
        for i in range(n):
            for j in range(n):
                g[i, j] = (h[i, j] - rowm[i] - rowm[j] + allm) / (n - 1)
        m_nz = 0
        for a in range(n_assets):
            if sd[a] > 0:
                m_nz += 1
        if m_nz >= 2:
            ssum = 0.0
            inv = np.zeros(n_assets)
            for a in range(n_assets):
                if sd[a] > 0:
                    inv[a] = 1.0 / sd[a]
            for i in range(n):
                z = 0.0
                for a in range(n_assets):
                    z += (r0[lo + i, a] - mean[a]) * inv[a]
                ssum += z * z
            corr[t] = (ssum / (n - 1) - m_nz) / (m_nz * (m_nz - 1))
    return gram, trace, corr, kind


@nb.njit(cache=True)
def valid_row_returns(valid: NDArray[np.bool_], close: F64) -> tuple[F64, NDArray[np.bool_]]:
    """r (D, A): ln C_d - ln C_p at each valid row d, p the asset's previous valid row
    (NaN elsewhere and at its first valid row); and the rows with any finite r."""
    d_rows, n_assets = close.shape
    r = np.full((d_rows, n_assets), np.nan)
    keep = np.zeros(d_rows, dtype=np.bool_)
    prev = np.full(n_assets, np.nan)
    for d in range(d_rows):
        for a in range(n_assets):
            if valid[d, a]:
                cur = np.log(close[d, a])
                r[d, a] = cur - prev[a]
                prev[a] = cur
                if np.isfinite(r[d, a]):
                    keep[d] = True
    return r, keep


__all__ = [
    "STATS",
    "compact_valid",
    "daily_window_stats",
    "valid_row_returns",
    "weekday_means",
    "window_gram",
    "window_stats",
]
