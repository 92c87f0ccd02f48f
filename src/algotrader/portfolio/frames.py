"""Input contract of the optimiser: wide polars frames -> validated float64 arrays.

Both frames have a ``date`` column (strictly increasing, no nulls) and one numeric
column per asset; the signal frame must have the same dates and the same set of
asset columns (its column order may differ: it is aligned to the price frame).

Locations: every error names the file (``prices_file`` / ``signal_file`` when given, as
the CLI does), the 1-based data row (row 1 = the first data row below the header) and the
column as written (the asset's column, or ``date``).

NaN policy: a missing price (null or NaN: an empty cell, ``NaN``, ``NA``, ``null``) is a
legitimate gap: that asset gets no position (an empty cell) on that row and on the next
one, which has no return across the gap (a gap inside the warm-up delays the asset's first
position); the other assets are solved as usual. The gaps are reported, never hidden:
:func:`missing_price_rows` lists the assets without a price per row (the ``missing_price``
column of the optimiser's status table) and the run summary counts them. An asset with more
than ``max_nan_fraction`` of its prices missing is refused. A missing signal means "no view"
(0 in the solve). Infinite values and non-positive prices are refused.

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
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from algotrader.errors import DataError, SchemaError, ShapeError, data_row

if TYPE_CHECKING:
    from algotrader.data.panel import Panel

DATE = "date"


@dataclass(frozen=True, eq=False)
class OptimiserInputs:
    """Validated inputs on the shared panel: ``dates`` (T,), ``assets`` (N,), ``prices`` and
    ``mu`` (T, N) float64.

    A thin use of :class:`~algotrader.data.panel.Panel`: construction builds :attr:`panel`
    (the prices, mask = a price is present) and :attr:`mu_panel` (the signal on the same
    UTC dates and assets, mask = a view is given), and ``prices`` / ``mu`` *are* those
    panels' value buffers (no copy): the panels see them read-only, the engine reads the
    same memory as the writable C-ordered arrays its compiled kernels are specialised on
    (nothing in the optimiser writes into them). ``dates`` is the frame's own date column
    (the output tables carry it as given). The panels need a ``Date``/``Datetime`` date
    column; with other dates (the engine accepts any increasing integers) the inputs are
    built without them and reading :attr:`panel` raises the panel's located error.
    """

    dates: pl.Series
    assets: tuple[str, ...]
    prices: np.ndarray
    mu: np.ndarray

    def __post_init__(self) -> None:
        panels: tuple[Panel, Panel] | None = None
        if self.dates.dtype.is_temporal():
            panels = _panels(self.dates, self.assets, self.prices, self.mu)
        object.__setattr__(self, "_panels", panels)

    def _panel_pair(self) -> tuple[Panel, Panel]:
        panels: tuple[Panel, Panel] | None = self.__dict__["_panels"]
        if panels is None:  # not temporal: the panel's own located error
            from algotrader.data.panel import dates_from_series

            dates_from_series(self.dates)
            raise AssertionError("unreachable")  # pragma: no cover
        return panels

    @property
    def panel(self) -> Panel:
        """The prices as a 2-d panel named ``"prices"`` (mask: a price is present)."""
        return self._panel_pair()[0]

    @property
    def mu_panel(self) -> Panel:
        """The signal as a 2-d panel named ``"mu"`` on the same dates (mask: a view given)."""
        return self._panel_pair()[1]


def _panels(
    dates: pl.Series, assets: tuple[str, ...], prices: np.ndarray, mu: np.ndarray
) -> tuple[Panel, Panel]:
    """The price and signal panels over ``prices`` / ``mu`` (read-only views, same memory)."""
    from algotrader.data.panel import Panel, dates_from_series  # (heavy: imported lazily)

    utc = dates_from_series(dates)
    price_panel = Panel(utc, assets, prices.view(), np.isfinite(prices), name="prices")
    signal = Panel(price_panel.dates, assets, mu.view(), np.isfinite(mu), name="mu")
    return price_panel, signal


def _numeric_problem(frame: pl.DataFrame, col: str) -> tuple[int | None, str] | None:
    """Why ``col`` is not numeric: (1-based row of the first non-number or None, detail).

    A column with no value at all (an empty column of a CSV file reads as text) counts as
    numeric: every price is missing, which ``max_nan_fraction`` then judges.
    """
    dtype = frame[col].dtype  # (frame.schema rebuilds the whole schema: O(N) per call)
    if dtype.is_numeric() or dtype == pl.Null:
        return None
    values = frame[col]
    if values.null_count() == values.len():
        return None
    if dtype != pl.String:
        return None, "cast the column to Float64"
    text = values.str.strip_chars()
    bad = text.is_not_null() & (text != "") & text.cast(pl.Float64, strict=False).is_null()
    if not bad.any():
        return None, "numbers stored as text: cast the column to Float64"
    i = int(bad.arg_true()[0])
    return data_row(i), f"{values[i]!r} at row {data_row(i)} is not a number"


def _asset_columns(frame: pl.DataFrame, name: str, file: str | None) -> list[str]:
    if DATE not in frame.columns:
        raise SchemaError(
            f"{name} frame has no '{DATE}' column",
            file=file,
            column=DATE,
            hint="add a date column",
        )
    cols = [c for c in frame.columns if c != DATE]
    if not cols:
        raise SchemaError(
            f"{name} frame has no asset columns", file=file, hint="add one column per asset"
        )
    from algotrader.data.names import check_names  # (algotrader.data is heavy to import)

    check_names(cols, file=file)
    for c in cols:
        problem = _numeric_problem(frame, c)
        if problem is not None:
            row, detail = problem
            raise SchemaError(
                f"{name} column has non-numeric dtype {frame[c].dtype}: {detail}",
                file=file,
                row=row,
                column=c,
                hint="write plain numbers; leave the cell empty where the value is missing",
            )
    return cols


def _check_dates(dates: pl.Series, name: str, file: str | None) -> None:
    from algotrader.data.panel import check_dates  # (heavy: imported lazily)

    check_dates(dates, file=file, column=DATE, what=name)


def _check_aligned(
    dates: pl.Series, mu_dates: pl.Series, prices_file: str | None, signal_file: str | None
) -> None:
    """Same dates in the same order; the first difference is named (row, date, file)."""
    n = min(dates.len(), mu_dates.len())
    same = (dates.head(n) == mu_dates.head(n)).fill_null(False).to_numpy()
    if same.all() and dates.len() == mu_dates.len():
        return
    hint = "give the signal exactly one row per price date, in the same order"
    if not same.all():
        i = int(np.argmin(same))
        raise DataError(
            f"mu dates differ from price dates: signal date {mu_dates[i]} at row "
            f"{data_row(i)} where the prices have {dates[i]}",
            file=signal_file,
            row=data_row(i),
            column=DATE,
            hint=hint,
        )
    if dates.len() > n:
        raise ShapeError(
            f"prices have {dates.len()} rows but mu has {mu_dates.len()}: the signal has no "
            f"row for date {dates[n]} (price row {data_row(n)})",
            file=signal_file,
            row=data_row(n),
            column=DATE,
            hint=hint,
        )
    raise ShapeError(
        f"prices have {dates.len()} rows but mu has {mu_dates.len()}: the signal's date "
        f"{mu_dates[n]} (row {data_row(n)}) is after the last price date",
        file=signal_file,
        row=data_row(n),
        column=DATE,
        hint=hint,
    )


def _to_array(frame: pl.DataFrame, cols: list[str]) -> np.ndarray:
    # Row-major: the recursion reads one row at a time, and reductions over a row must see
    # the same memory layout in batch and stream (strided BLAS dots round differently).
    arr = frame.select(pl.col(cols).cast(pl.Float64)).to_numpy()
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _check_prices(
    p: np.ndarray, cols: list[str], max_nan_fraction: float, file: str | None
) -> None:
    from algotrader.data.panel import check_cells

    check_cells(
        p,
        cols,
        refuse=[["infinite"], ["not_positive"]],
        messages={
            "infinite": "price is infinite",
            "not_positive": "price must be positive, got {value}",
        },
        file=file,
        hint={
            "infinite": "correct the price, or leave the cell empty (missing)",
            "not_positive": "correct the price or leave the cell empty (missing)",
        },
    )
    frac = np.isnan(p).mean(axis=0)
    too_many = np.flatnonzero(frac > max_nan_fraction)
    if too_many.size:
        c = int(too_many[0])
        raise DataError(
            f"{frac[c]:.1%} of the prices are missing (max_nan_fraction={max_nan_fraction})",
            file=file,
            column=cols[c],
            hint="drop the asset or raise max_nan_fraction",
        )


def missing_price_rows(inputs: OptimiserInputs) -> list[str | None]:
    """Per row, the assets without a price (``";"``-joined; ``None`` when none).

    >>> import polars as pl
    >>> px = pl.DataFrame({"date": [1, 2], "A": [1.0, None], "B": [2.0, None]})
    >>> missing_price_rows(prepare_inputs(px, px, max_nan_fraction=0.9))
    [None, 'A;B']
    """
    nan = np.isnan(inputs.prices)
    return [
        ";".join(a for a, m in zip(inputs.assets, row, strict=True) if m) or None for row in nan
    ]


def missing_summary(inputs: OptimiserInputs, file: str | None = None) -> dict[str, object]:
    """Counts of missing prices and signals, and where the first missing price is."""
    nan = np.isnan(inputs.prices)
    out: dict[str, object] = {
        "policy": "a missing price is a gap: no position for that asset on that row and the "
        "next one; a missing signal is no view (0)",
        "price_cells": int(nan.sum()),
        "price_rows": int(nan.any(axis=1).sum()),
        "price_by_asset": {
            a: int(k) for a, k in zip(inputs.assets, nan.sum(axis=0), strict=True) if k
        },
        "signal_cells": int(np.isnan(inputs.mu).sum()),
        "first_price": None,
    }
    if nan.any():
        r, c = (int(x) for x in np.argwhere(nan)[0])
        out["first_price"] = {
            "file": file,
            "row": data_row(r),
            "date": str(inputs.dates[r]),
            "column": inputs.assets[c],
        }
    return out


def prepare_inputs(
    prices: pl.DataFrame,
    mu: pl.DataFrame,
    *,
    max_nan_fraction: float,
    prices_file: str | None = None,
    signal_file: str | None = None,
) -> OptimiserInputs:
    """Validate and align the price and signal frames (see the module docstring).

    Args:
        prices, mu: wide frames (``date`` + one column per asset).
        max_nan_fraction: the largest fraction of missing prices an asset may have.
        prices_file, signal_file: where the frames were read from, named in errors.

    Raises:
        SchemaError: no ``date`` column, no asset column, an unsafe asset name, a cell that
            is not a number, or different asset sets.
        DataError / ShapeError: a null, duplicate or decreasing date, dates that differ
            between the frames, an infinite or non-positive price, too many missing prices.
    """
    cols = _asset_columns(prices, "prices", prices_file)
    mu_cols = _asset_columns(mu, "mu", signal_file)
    if set(cols) != set(mu_cols):
        missing = sorted(set(cols) - set(mu_cols))
        extra = sorted(set(mu_cols) - set(cols))
        raise SchemaError(
            f"signal columns differ from price columns: missing {missing}, extra {extra}",
            file=signal_file,
            column=(missing or extra)[0],
            hint="give the signal exactly one column per price column",
        )
    if prices.height == 0:
        raise ShapeError("prices have no rows", file=prices_file, hint="pass at least one row")
    dates = prices[DATE]
    _check_dates(dates, "prices", prices_file)
    _check_dates(mu[DATE], "mu", signal_file)
    _check_aligned(dates, mu[DATE], prices_file, signal_file)
    p = _to_array(prices, cols)
    m = _to_array(mu, cols)
    _check_prices(p, cols, max_nan_fraction, prices_file)
    from algotrader.data.panel import check_cells

    check_cells(
        m,
        cols,
        refuse=[["infinite"]],
        messages={"infinite": "signal is infinite"},
        file=signal_file,
        hint="correct the value, or leave the cell empty (no view)",
    )
    return OptimiserInputs(dates, tuple(cols), p, m)


__all__ = [
    "DATE",
    "OptimiserInputs",
    "missing_price_rows",
    "missing_summary",
    "prepare_inputs",
]
