"""Metrics computed from value (wealth) paths: returns, drawdowns, Calmar, Sterling, Ulcer.

Conventions (all functions):

* input: a strictly positive value path ``V`` of shape ``(T,)`` or ``(T, K)`` (time on
  axis 0), e.g. a NAV series, including the starting value; output: a float or ``(K,)``;
* drawdowns are **positive fractions**: ``dd_t = 1 - V_t / max_{s<=t} V_s`` (0 = at a peak);
* annualisation uses the number of return periods ``T - 1`` and ``periods_per_year``;
* **NaN policy: propagate** -- a column holding any NaN gives NaN; a zero denominator
  (no drawdown) gives NaN, as documented per function.

Example:
    >>> import numpy as np
    >>> v = np.array([100.0, 110.0, 99.0, 121.0])
    >>> round(max_drawdown(v), 4)
    0.1
    >>> round(total_return(v), 4)
    0.21
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import DataError
from algotrader.metrics._arrays import FloatArray, as_values, check_periods, nan_columns, out


def _nan_if(mask: np.ndarray, res: FloatArray) -> FloatArray:
    return np.where(mask, np.nan, res)


def drawdown_series(values: ArrayLike) -> Any:
    """Drawdown from the running peak at every time, ``1 - V_t / max_{s<=t} V_s``.

    Returns an array of the input's shape (positive fractions). NaN policy: a NaN value
    makes that point and every later point of its column NaN.

    Example:
        >>> drawdown_series([1.0, 2.0, 1.5, 3.0]).tolist()
        [0.0, 0.0, 0.25, 0.0]
    """
    arr, was_1d = as_values(values)
    peak = np.maximum.accumulate(arr, axis=0)
    dd = 1.0 - arr / peak
    return dd[:, 0] if was_1d else dd


def _dd2d(arr: FloatArray) -> FloatArray:
    return 1.0 - arr / np.maximum.accumulate(arr, axis=0)  # type: ignore[no-any-return]


def _require_rows(arr: FloatArray, n: int, name: str) -> None:
    if arr.shape[0] < n:
        raise DataError(
            f"{name} needs at least {n} value(s), got {arr.shape[0]}",
            key="values",
            hint="pass a longer value path (the first row is the starting value)",
        )


def max_drawdown(values: ArrayLike) -> Any:
    """Maximum drawdown from the running peak, a positive fraction in ``[0, 1)``.

    NaN policy: a column with any NaN gives NaN. Equals ``-empyrical.max_drawdown(r)`` for
    the returns ``r`` of ``V`` (empyrical reports it as a negative number).

    Example:
        >>> max_drawdown([1.0, 2.0, 1.0, 1.5])
        0.5
    """
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "max_drawdown")
    res = _dd2d(arr).max(axis=0)
    return out(_nan_if(nan_columns(arr), res), was_1d)


def greatest_drawdown(values: ArrayLike) -> Any:
    """Greatest loss measured from the **starting** value: ``max(0, max_t (1 - V_t / V_0))``.

    Unlike :func:`max_drawdown` the reference is ``V_0``, not the running peak (the AMM
    family's ``greatest_draw_down`` is the negative of this). NaN policy: propagate.

    Example:
        >>> greatest_drawdown([1.0, 2.0, 0.9, 1.5])
        0.09999999999999998
    """
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "greatest_drawdown")
    res = np.maximum((1.0 - arr / arr[:1]).max(axis=0), 0.0)
    return out(_nan_if(nan_columns(arr), res), was_1d)


def ulcer_index(values: ArrayLike) -> Any:
    """Ulcer index ``sqrt(mean_t dd_t^2)`` with drawdowns as fractions (not percent).

    NaN policy: propagate.

    Example:
        >>> round(ulcer_index([1.0, 0.5, 1.0, 1.0]), 4)
        0.25
    """
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "ulcer_index")
    res = np.sqrt((_dd2d(arr) ** 2).mean(axis=0))
    return out(_nan_if(nan_columns(arr), res), was_1d)


def total_return(values: ArrayLike) -> Any:
    """Total simple return ``V_(T-1) / V_0 - 1``. NaN policy: propagate.

    Example:
        >>> total_return([2.0, 3.0])
        0.5
    """
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "total_return")
    res = arr[-1] / arr[0] - 1.0
    return out(_nan_if(nan_columns(arr), res), was_1d)


def _cagr(arr: FloatArray, ppy: float) -> FloatArray:
    n = arr.shape[0] - 1
    if n < 1:
        return np.full(arr.shape[1], np.nan)
    res = (arr[-1] / arr[0]) ** (ppy / n) - 1.0
    return _nan_if(nan_columns(arr), res)


def annualised_return(values: ArrayLike, *, periods_per_year: float) -> Any:
    """Compound annual growth rate ``(V_(T-1) / V_0) ** (P / (T - 1)) - 1``.

    ``T - 1`` is the number of return periods (the path includes the starting value).
    Equals empyrical's ``annual_return`` of the path's returns. NaN policy: propagate;
    a single value gives NaN.

    Example:
        >>> round(annualised_return([1.0, 1.1, 1.21], periods_per_year=2), 6)  # one year
        0.21
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_values(values)
    return out(_cagr(arr, ppy), was_1d)


def calmar(values: ArrayLike, *, periods_per_year: float) -> Any:
    """Calmar ratio: :func:`annualised_return` / :func:`max_drawdown` over the whole path.

    NaN policy: propagate; no drawdown (denominator 0) gives NaN, as in empyrical
    (the AMM family's ``calmar`` gives +inf there, see :mod:`algotrader.metrics.amm_family`).

    Example:
        >>> round(calmar([1.0, 1.2, 0.9, 1.21], periods_per_year=1.5), 4)
        0.4
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "calmar")
    mdd = _dd2d(arr).max(axis=0)
    cagr = _cagr(arr, ppy)
    res = np.where(mdd > 0, cagr / np.where(mdd > 0, mdd, 1.0), np.nan)
    return out(_nan_if(nan_columns(arr), res), was_1d)


def chunk_max_drawdowns(values: ArrayLike, chunk_len: int) -> Any:
    """Maximum drawdown inside each non-overlapping chunk of ``chunk_len`` values.

    Chunks start at row 0 and the running peak restarts at each chunk; an incomplete
    trailing chunk is dropped (if the path is shorter than one chunk, the whole path is
    the only chunk). Returns ``(n_chunks,)`` or ``(n_chunks, K)``.
    """
    arr, was_1d = as_values(values)
    if int(chunk_len) < 2:
        raise DataError(
            f"chunk_len must be at least 2, got {chunk_len!r}",
            key="chunk_len",
            hint="use the number of values per chunk, e.g. 252 for yearly chunks of daily data",
        )
    L = int(chunk_len)
    t, k = arr.shape
    n = t // L
    chunks = arr[None] if n == 0 else arr[: n * L].reshape(n, L, k)
    peak = np.maximum.accumulate(chunks, axis=1)
    res = (1.0 - chunks / peak).max(axis=1)
    return res[:, 0] if was_1d else res


def sterling(values: ArrayLike, *, periods_per_year: float, chunk_len: int | None = None) -> Any:
    """Sterling ratio: :func:`annualised_return` / mean of chunk maximum drawdowns.

    Args:
        values: value path, ``(T,)`` or ``(T, K)``.
        periods_per_year: P.
        chunk_len: values per chunk; default ``round(P)`` (yearly chunks, the classic
            "average annual maximum drawdown", without the historical 10% offset).

    Chunks as :func:`chunk_max_drawdowns`. NaN policy: propagate; a zero mean drawdown
    gives NaN.

    Example:
        >>> v = [1.0, 0.5, 1.0, 0.5, 1.0, 1.0]
        >>> round(sterling(v, periods_per_year=2, chunk_len=2), 6)
        0.0
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_values(values)
    _require_rows(arr, 1, "sterling")
    L = round(ppy) if chunk_len is None else chunk_len
    mean_dd = np.asarray(chunk_max_drawdowns(arr, L)).mean(axis=0)
    cagr = _cagr(arr, ppy)
    res = np.where(mean_dd > 0, cagr / np.where(mean_dd > 0, mean_dd, 1.0), np.nan)
    return out(_nan_if(nan_columns(arr), res), was_1d)


def returns_from_values(values: ArrayLike) -> Any:
    """Simple returns ``V_t / V_(t-1) - 1`` of shape ``(T-1,)`` or ``(T-1, K)``."""
    arr, was_1d = as_values(values)
    r = arr[1:] / arr[:-1] - 1.0
    return r[:, 0] if was_1d else r
