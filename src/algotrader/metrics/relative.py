"""Returns relative to buy-and-hold benchmarks (HODL and uniform HODL).

* **HODL**: the initial holdings (units of each asset, plus cash) held forever;
  its value path is ``B_t = cash + sum_i h_i p_(t,i)``.
* **uniform HODL**: the starting value split equally across the A assets at the first
  prices and never rebalanced: ``h_i = V_0 / (A p_(0,i))``.

The "returns over" a benchmark compare the growth of the strategy with the growth of the
benchmark over the same window: ``(V_(T-1)/V_0) / (B_(T-1)/B_0) - 1``; when the benchmark
starts from the strategy's value (the usual case) this is ``V_(T-1) / B_(T-1) - 1``.

NaN policy: propagate (a NaN value or price gives NaN); prices must be positive.

Example:
    >>> import numpy as np
    >>> prices = np.array([[1.0, 1.0], [2.0, 1.0]])
    >>> uniform_hodl_values(prices, initial_value=10.0).tolist()
    [10.0, 15.0]
    >>> round(returns_over_uniform_hodl([10.0, 18.0], prices), 6)
    0.2
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import DataError, ShapeError
from algotrader.metrics._arrays import FloatArray, as_values, check_periods, nan_columns, out


def _prices(prices: ArrayLike) -> FloatArray:
    arr = np.asarray(prices, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(f"prices must have shape (T, A), got {arr.shape}", key="prices")
    bad = ~np.isnan(arr) & ~((arr > 0) & np.isfinite(arr))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            "prices must be finite and strictly positive",
            row=row,
            column=str(col),
            key="prices",
            hint="clean the price table before evaluating",
        )
    return arr


def hodl_values(prices: ArrayLike, holdings: ArrayLike, *, cash: float = 0.0) -> FloatArray:
    """Value path ``cash + prices @ holdings`` of fixed holdings, shape ``(T,)``.

    Args:
        prices: ``(T, A)`` prices.
        holdings: ``(A,)`` units held (may be negative for shorts).
        cash: cash held alongside (constant, earns nothing).
    """
    p = _prices(prices)
    h = np.asarray(holdings, dtype=np.float64).reshape(-1)
    if h.shape[0] != p.shape[1]:
        raise ShapeError(
            f"holdings has {h.shape[0]} entries but prices has {p.shape[1]} assets",
            key="holdings",
        )
    return p @ h + float(cash)  # type: ignore[no-any-return]


def uniform_hodl_values(prices: ArrayLike, *, initial_value: float = 1.0) -> FloatArray:
    """Value path of ``initial_value`` split equally across assets at ``prices[0]``, shape ``(T,)``."""
    p = _prices(prices)
    if p.shape[0] == 0:
        raise ShapeError("prices is empty", key="prices")
    h = float(initial_value) / (p.shape[1] * p[0])
    return p @ h  # type: ignore[no-any-return]


def _relative(values: ArrayLike, bench: FloatArray) -> Any:
    arr, was_1d = as_values(values)
    if bench.shape[0] != arr.shape[0]:
        raise ShapeError(
            f"values has {arr.shape[0]} rows but the benchmark has {bench.shape[0]}",
            key="prices",
            hint="pass prices covering exactly the dates of the value path",
        )
    growth = arr[-1] / arr[0]
    b_growth = bench[-1] / bench[0]
    res = growth / b_growth - 1.0
    res = np.where(nan_columns(arr) | np.isnan(b_growth), np.nan, res)
    return out(res, was_1d)


def returns_over_benchmark(values: ArrayLike, benchmark_values: ArrayLike) -> Any:
    """Growth of ``values`` over the growth of a benchmark value path, minus one.

    ``benchmark_values`` has shape ``(T,)`` (shared by all columns of ``values``).
    """
    b = np.asarray(benchmark_values, dtype=np.float64).reshape(-1)
    return _relative(values, b)


def returns_over_hodl(values: ArrayLike, prices: ArrayLike, initial_holdings: ArrayLike) -> Any:
    """Return over holding ``initial_holdings`` (units) unchanged; see the module docstring."""
    return _relative(values, hodl_values(prices, initial_holdings))


def returns_over_uniform_hodl(values: ArrayLike, prices: ArrayLike) -> Any:
    """Return over the uniform HODL benchmark (equal value per asset at the start)."""
    return _relative(values, uniform_hodl_values(prices))


def annualised_returns_over_benchmark(
    values: ArrayLike, benchmark_values: ArrayLike, *, periods_per_year: float
) -> Any:
    """Relative growth annualised: ``(1 + returns_over_benchmark) ** (P / (T - 1)) - 1``."""
    ppy = check_periods(periods_per_year)
    rel = np.asarray(returns_over_benchmark(values, benchmark_values), dtype=np.float64)
    n = np.asarray(values).shape[0] - 1
    res = (1.0 + rel) ** (ppy / n) - 1.0 if n >= 1 else np.full_like(rel, np.nan)
    return float(res) if res.ndim == 0 else res
