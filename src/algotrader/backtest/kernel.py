"""The compiled per-bar recursion of :func:`algotrader.backtest.run_backtest` (numba).

One pass over the bars: holding/borrow cost of the carried book, pre-trade value, the
trade to the target (weights x pre-trade value, or cash positions), proportional / fixed /
impact costs, cash and units. The rules are the module docstring of
:mod:`algotrader.backtest.engine`; this kernel only executes them.

It reproduces the former per-row numpy loop **bit for bit** (tested against a copy of it):
sums over assets use numpy's own pairwise summation (:func:`_np_sum`, the algorithm of
numpy's ``add.reduce`` on a contiguous vector: 8 accumulators for up to 128 elements, halving
above), the proportional cost is the BLAS dot ``|x| . bps`` (numba's ``np.dot`` calls the
same BLAS ``ddot``), and numba's default (non-fastmath) code neither reassociates nor fuses
multiply-adds. Compiled once and cached on disk (``cache=True``, under
``$NUMBA_CACHE_DIR``, see :mod:`algotrader`).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import NDArray

__all__ = ["backtest_loop"]

FloatArray = NDArray[np.float64]

#: numpy's pairwise-summation block size (``PW_BLOCKSIZE`` in numpy's loops)
_PW_BLOCK = 128


@nb.njit(cache=True)
def _block_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's sum of ``a[lo:lo + n]`` for ``n <= 128``: sequential below 8, else 8 lanes."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@nb.njit(cache=True)
def _np_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``a[lo:lo + n].sum()`` exactly as numpy computes it.

    numpy halves a vector longer than 128 (the left half a multiple of 8) and adds the two
    halves' sums, recursively; done here with an explicit stack (numba's on-disk cache does
    not handle recursive functions).
    """
    if n <= _PW_BLOCK:
        return _block_sum(a, lo, n)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    left = np.empty(64)
    state = np.zeros(64, np.int64)  # 0: new, 1: left half pending, 2: right half pending
    top = 0
    los[0], ns[0] = lo, n
    while True:
        m = ns[top]
        if m <= _PW_BLOCK:
            v = _block_sum(a, los[top], m)
            while True:  # hand v up to the waiting parents
                top -= 1
                if top < 0:
                    return v
                if state[top] == 1:
                    left[top] = v
                    state[top] = 2
                    half = ns[top] // 2
                    half -= half % 8
                    los[top + 1], ns[top + 1], state[top + 1] = los[top] + half, ns[top] - half, 0
                    top += 1
                    break
                v = left[top] + v
        else:
            half = m // 2
            half -= half % 8
            state[top] = 1
            los[top + 1], ns[top + 1], state[top + 1] = los[top], half, 0
            top += 1


@nb.njit(cache=True)
def backtest_loop(
    p: FloatArray,
    d: FloatArray,
    execute: NDArray[np.bool_],
    lag: int,
    weights_kind: bool,
    bps: FloatArray,
    fee: float,
    coef: float,
    hold: float,
    borrow: float,
    sig: FloatArray,
    vol: FloatArray,
    initial_value: float,
    cash_out: FloatArray,
    holdings: FloatArray,
    trade_values: FloatArray,
    turnover: FloatArray,
    parts: FloatArray,
) -> int:  # pragma: no cover - compiled
    """Run the bars; fill the output arrays in place.

    Args:
        p: ``(T, A)`` prices; d: ``(T, A)`` decisions; execute: ``(T,)`` bars that trade
            (decision row ``t - lag``); bps: ``(A,)`` proportional rates as fractions;
            sig, vol: ``(T, A)`` volatility / traded value (read only when ``coef > 0``).
        cash_out, turnover: ``(T,)``; holdings, trade_values: ``(T, A)`` (zeros);
            parts: ``(4, T)`` zeros, rows proportional, fixed, impact, holding.

    Returns:
        -1, or the first bar whose trade has an asset with a missing / non-positive volume
        or a missing / negative volatility while ``coef > 0`` (its ``trade_values`` row is
        filled; the caller raises the error there).
    """
    t_len, a = p.shape
    cash = initial_value
    h = np.zeros(a)
    pos_val = np.empty(a)
    scratch = np.empty(a)
    x = np.empty(a)
    ax = np.empty(a)
    for t in range(t_len):
        for i in range(a):
            pos_val[i] = h[i] * p[t, i]
        if t > 0 and (hold > 0 or borrow > 0):
            k = 0
            for i in range(a):
                if pos_val[i] > 0:
                    scratch[k] = pos_val[i]
                    k += 1
            longs = _np_sum(scratch, 0, k)
            k = 0
            for i in range(a):
                if pos_val[i] < 0:
                    scratch[k] = pos_val[i]
                    k += 1
            shorts = _np_sum(scratch, 0, k)
            hc = hold * longs - borrow * shorts
            parts[3, t] = hc
            cash -= hc
        v_pre = cash + _np_sum(pos_val, 0, a)
        if execute[t]:
            row = t - lag
            nonzero = 0
            for i in range(a):
                target = d[row, i] * v_pre if weights_kind else d[row, i]
                x[i] = target - pos_val[i]
                ax[i] = abs(x[i])
                if x[i] != 0.0:
                    nonzero += 1
            c_prop = np.dot(ax, bps)
            c_fixed = fee * float(nonzero) if fee > 0 else 0.0
            c_imp = 0.0
            if coef > 0:
                for i in range(a):
                    if ax[i] > 0:
                        s, v = sig[t, i], vol[t, i]
                        if not (v > 0 and np.isfinite(v) and np.isfinite(s) and s >= 0):
                            for j in range(a):
                                trade_values[t, j] = x[j]
                            return t
                for i in range(a):
                    scratch[i] = (
                        coef * sig[t, i] * ax[i] ** 1.5 / np.sqrt(vol[t, i]) if ax[i] > 0 else 0.0
                    )
                c_imp = _np_sum(scratch, 0, a)
            parts[0, t] = c_prop
            parts[1, t] = c_fixed
            parts[2, t] = c_imp
            cash -= _np_sum(x, 0, a) + c_prop + c_fixed + c_imp
            for i in range(a):
                h[i] = h[i] + x[i] / p[t, i]
                trade_values[t, i] = x[i]
            turnover[t] = _np_sum(ax, 0, a) / v_pre if v_pre > 0 else np.nan
        for i in range(a):
            holdings[t, i] = h[i]
        cash_out[t] = cash
    return -1
