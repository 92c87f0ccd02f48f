"""Input contract of the optimiser: wide polars frames -> validated float64 arrays.

Both frames have a ``date`` column (strictly increasing, no nulls) and one numeric
column per asset; the signal frame must have the same dates and the same set of
asset columns (its column order may differ: it is aligned to the price frame).

NaN policy: a missing price (null or NaN) is a legitimate gap (the asset is left out
of that row and of the next one, which has no return); a missing signal means "no
view" (0 in the solve). Infinite values and non-positive prices are refused.

Example:
    >>> import polars as pl
    >>> px = pl.DataFrame({"date": [1, 2], "A": [1.0, None], "B": [2.0, 2.1]})
    >>> mu = pl.DataFrame({"date": [1, 2], "B": [0.1, 0.2], "A": [0.0, 0.3]})
    >>> inp = prepare_inputs(px, mu, max_nan_fraction=0.9)
    >>> inp.assets, inp.prices.shape, float(inp.mu[1, 0])
    (('A', 'B'), (2, 2), 0.3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from algotrader.errors import DataError, SchemaError, ShapeError

DATE = "date"


@dataclass(frozen=True)
class OptimiserInputs:
    """Validated inputs: ``dates`` (T,), ``assets`` (N,), ``prices`` and ``mu`` (T, N) float64."""

    dates: pl.Series
    assets: tuple[str, ...]
    prices: np.ndarray
    mu: np.ndarray


def _asset_columns(frame: pl.DataFrame, name: str) -> list[str]:
    if DATE not in frame.columns:
        raise SchemaError(
            f"{name} frame has no '{DATE}' column", column=DATE, hint="add a date column"
        )
    cols = [c for c in frame.columns if c != DATE]
    if not cols:
        raise SchemaError(f"{name} frame has no asset columns", hint="add one column per asset")
    schema = frame.schema
    for c in cols:
        if not schema[c].is_numeric():
            raise SchemaError(
                f"{name} column has non-numeric dtype {schema[c]}",
                column=c,
                hint="cast asset columns to Float64",
            )
    return cols


def _check_dates(dates: pl.Series, name: str) -> None:
    if dates.null_count():
        row = int(dates.is_null().arg_max() or 0)
        raise DataError(f"{name} frame has a null date", row=row, column=DATE)
    if dates.len() > 1:
        increasing = (dates.slice(1) > dates.slice(0, dates.len() - 1)).to_numpy()
        if not increasing.all():
            row = int(np.argmin(increasing)) + 1
            raise DataError(
                f"{name} dates are not strictly increasing",
                row=row,
                column=DATE,
                hint="sort by date and drop duplicate dates",
            )


def _to_array(frame: pl.DataFrame, cols: list[str]) -> np.ndarray:
    # Row-major: the recursion reads one row at a time, and reductions over a row must see
    # the same memory layout in batch and stream (strided BLAS dots round differently).
    arr = frame.select(pl.col(cols).cast(pl.Float64)).to_numpy()
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _check_prices(p: np.ndarray, cols: list[str], max_nan_fraction: float) -> None:
    bad_inf = np.isinf(p)
    if bad_inf.any():
        r, c = np.argwhere(bad_inf)[0]
        raise DataError("price is infinite", row=int(r), column=cols[c], hint="use null for gaps")
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(p) & (p <= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"price must be positive, got {p[r, c]}",
            row=int(r),
            column=cols[c],
            hint="correct the price or set it to null (missing)",
        )
    frac = np.isnan(p).mean(axis=0)
    too_many = np.flatnonzero(frac > max_nan_fraction)
    if too_many.size:
        c = int(too_many[0])
        raise DataError(
            f"{frac[c]:.1%} of the prices are missing (max_nan_fraction={max_nan_fraction})",
            column=cols[c],
            hint="drop the asset or raise max_nan_fraction",
        )


def prepare_inputs(
    prices: pl.DataFrame, mu: pl.DataFrame, *, max_nan_fraction: float
) -> OptimiserInputs:
    """Validate and align the price and signal frames (see the module docstring)."""
    cols = _asset_columns(prices, "prices")
    mu_cols = _asset_columns(mu, "mu")
    if set(cols) != set(mu_cols):
        missing = sorted(set(cols) - set(mu_cols))
        extra = sorted(set(mu_cols) - set(cols))
        raise SchemaError(
            f"signal columns differ from price columns: missing {missing}, extra {extra}",
            column=(missing or extra)[0],
            hint="give the signal exactly one column per price column",
        )
    if prices.height != mu.height:
        raise ShapeError(
            f"prices have {prices.height} rows but mu has {mu.height}",
            hint="align both frames on the same dates",
        )
    if prices.height == 0:
        raise ShapeError("prices have no rows", hint="pass at least one row")
    dates = prices[DATE]
    _check_dates(dates, "prices")
    if not (mu[DATE] == dates).all():
        row = int((mu[DATE] != dates).arg_max() or 0)
        raise DataError("mu dates differ from price dates", row=row, column=DATE)
    p = _to_array(prices, cols)
    m = _to_array(mu, cols)
    _check_prices(p, cols, max_nan_fraction)
    if np.isinf(m).any():
        r, c = np.argwhere(np.isinf(m))[0]
        raise DataError("signal is infinite", row=int(r), column=cols[c], hint="use null")
    return OptimiserInputs(dates, tuple(cols), p, m)


__all__ = ["DATE", "OptimiserInputs", "prepare_inputs"]
