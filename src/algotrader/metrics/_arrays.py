"""Shared input handling for the metric functions.

Every metric accepts an array of shape ``(T,)`` (one series) or ``(T, K)`` (K series
side by side, time along axis 0) and returns a float or an array of shape ``(K,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.errors import DataError, ShapeError

FloatArray = NDArray[np.float64]


def as_2d(x: ArrayLike, name: str) -> tuple[FloatArray, bool]:
    """Return ``x`` as a float64 ``(T, K)`` array and whether it was 1-D.

    Raises:
        ShapeError: if ``x`` is not 1-D or 2-D.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim == 2:
        return arr, False
    raise ShapeError(
        f"{name} must have shape (T,) or (T, K), got {arr.shape}",
        key=name,
        hint="put time on axis 0 and one series per column",
    )


def as_values(x: ArrayLike, name: str = "values") -> tuple[FloatArray, bool]:
    """Like :func:`as_2d` for value (wealth) paths, which must be strictly positive.

    NaN is allowed (it propagates); zero, negative or infinite values raise.

    Raises:
        DataError: if a value is <= 0 or infinite.
    """
    arr, was_1d = as_2d(x, name)
    _refuse_invalid(
        arr,
        (arr > 0) & np.isfinite(arr),
        name,
        "must be finite and strictly positive",
        "pass a wealth path (e.g. cumulative product of 1 + returns), not returns or PnL",
    )
    return arr, was_1d


def as_returns(x: ArrayLike, name: str = "returns") -> tuple[FloatArray, bool]:
    """Like :func:`as_2d` for simple returns, which must be finite (or NaN) and > -1.

    Raises:
        DataError: if a return is infinite or <= -1.
    """
    arr, was_1d = as_2d(x, name)
    _refuse_invalid(
        arr,
        np.isfinite(arr) & (arr > -1.0),
        name,
        "must be finite simple returns greater than -1",
        "pass simple returns r_t = V_t / V_(t-1) - 1 (a total loss cannot be annualised)",
    )
    return arr, was_1d


def _refuse_invalid(arr: FloatArray, ok: np.ndarray, name: str, rule: str, hint: str) -> None:
    """Raise :class:`DataError` at the first non-NaN cell of ``arr`` where ``ok`` is False."""
    if bool(ok.all()):
        return
    bad = ~np.isnan(arr) & ~ok
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name} {rule}, got {float(arr[row, col])!r}",
            row=row,
            column=str(col),
            key=name,
            hint=hint,
        )


def check_periods(periods_per_year: float) -> float:
    """Validate ``periods_per_year`` (must be a positive finite number)."""
    ppy = float(periods_per_year)
    if not np.isfinite(ppy) or ppy <= 0:
        raise DataError(
            f"periods_per_year must be a positive number, got {periods_per_year!r}",
            key="periods_per_year",
            hint="e.g. 252 for trading days, 365 for calendar days, 52 for weeks",
        )
    return ppy


def out(result: FloatArray, was_1d: bool) -> Any:
    """Return a Python float for 1-D input, else the ``(K,)`` array."""
    if was_1d:
        return float(result[0])
    return result


def nan_columns(arr: FloatArray) -> NDArray[np.bool_]:
    """Boolean ``(K,)`` mask of columns holding at least one NaN."""
    return np.asarray(np.isnan(arr).any(axis=0), dtype=bool)
