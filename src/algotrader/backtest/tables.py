"""Reading wide date x asset tables (CSV or Parquet) for the backtester, strictly.

A table has a ``date`` column (ISO dates or datetimes) and one numeric column per asset.
Nothing is filled or dropped: unsorted or duplicated dates, non-numeric cells, unsafe
asset names, and mismatched dates or assets between the prices and the decisions raise
typed errors that name the file, the 1-based data row (row 1 = the first data row below
the header) and the column as written (the asset's column). :func:`check_prices` and
:func:`check_decisions` apply the backtester's value rules with the same locations.

Example:
    >>> import polars as pl, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pl.DataFrame({"date": ["2024-01-02", "2024-01-03"], "A": [1.0, 2.0]}).write_csv(d / "p.csv")
    >>> t = read_wide_table(d / "p.csv", "prices")
    >>> t.assets, t.values.tolist()
    (['A'], [[1.0], [2.0]])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from algotrader.data.panel import Panel, check_cells, check_dates, dates_from_series
from algotrader.errors import DataError, SchemaError


@dataclass(frozen=True)
class WideTable:
    """A validated wide table: the shared :class:`~algotrader.data.panel.Panel` and its file.

    ``values``, ``assets`` are the panel's (read-only ``(T, A)`` float64 values, NaN where a
    cell is empty; an infinite cell is refused when the table is read, so nothing is lost);
    ``dates`` is the date column as read (its own dtype, for the output tables), the same
    instants as ``panel.dates`` (UTC).
    """

    panel: Panel
    dates: pl.Series
    file: str

    @property
    def assets(self) -> list[str]:
        """The asset columns, in the file's order."""
        return list(self.panel.assets)

    @property
    def values(self) -> NDArray[np.float64]:
        """The panel's values, ``(T, A)`` float64, NaN where a cell is empty (read-only)."""
        return self.panel.values

    def to_panel(self, name: str = "values") -> Panel:
        """The table's panel under another ``name`` (the arrays are shared, not copied)."""
        return self.panel if name == self.panel.name else replace(self.panel, name=name)


def _read(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise DataError("file not found", file=str(path), hint="check the path")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"cannot read table: {exc}", file=str(path)) from exc


def read_wide_table(path: str | Path, name: str) -> WideTable:
    """Read and validate a wide table; ``name`` ("prices", "weights" ...) is used in errors."""
    p = Path(path)
    frame = _read(p)
    if "date" not in frame.columns:
        raise SchemaError(
            f"{name} table has no 'date' column",
            file=str(p),
            column="date",
            hint="first column 'date', then one column per asset",
        )
    dates = frame["date"]
    if dates.dtype == pl.String:
        try:
            dates = dates.str.to_datetime(strict=True)
        except pl.exceptions.PolarsError as exc:
            raise SchemaError("unparseable date", file=str(p), column="date") from exc
    check_dates(dates, file=str(p), what=name)
    assets = [c for c in frame.columns if c != "date"]
    if not assets:
        raise SchemaError(f"{name} table has no asset columns", file=str(p))
    for col in assets:
        if not frame[col].dtype.is_numeric():
            raise SchemaError(
                f"column is {frame[col].dtype}, expected numbers",
                file=str(p),
                column=col,
                hint="remove text cells; use an empty cell only where NaN is meant",
            )
    from algotrader.data.names import check_names

    check_names(assets, file=str(p))
    values = frame.select(pl.col(assets).cast(pl.Float64)).to_numpy()
    if np.isinf(values).any():
        # the panel masks an infinite cell, so the table's own check runs here, on the
        # cells as read (the first bad cell is named, as check_prices/check_decisions do)
        if name == "prices":
            _check_price_cells(values, assets, str(p))
        else:
            _check_decision_cells(values, assets, str(p), name)
    panel = Panel.from_arrays(dates_from_series(dates, file=str(p)), assets, values)
    return WideTable(panel, dates, str(p))


_PRICE_HINT = "clean or trim the price table (the backtester never fills gaps)"
_DECISION_HINT = "give every asset a value (0 for none), or leave the whole row empty to hold"


def _check_price_cells(values: NDArray[np.float64], assets: list[str], file: str) -> None:
    bad = "price of {column} must be finite and > 0, got {value} at row {row}"
    check_cells(
        values,
        assets,
        refuse=[["missing", "infinite", "not_positive"]],
        messages={
            "missing": "price of {column} is missing at row {row}",
            "infinite": bad,
            "not_positive": bad,
        },
        file=file,
        hint=_PRICE_HINT,
    )


def _check_decision_cells(
    values: NDArray[np.float64], assets: list[str], file: str, name: str
) -> None:
    nan: NDArray[np.bool_] = np.isnan(values)
    some = np.asarray(nan.any(axis=1) & ~nan.all(axis=1), dtype=np.bool_)
    partial = nan & some[:, None]
    cells = np.where(partial, np.nan, np.where(np.isinf(values), values, 0.0))
    check_cells(
        cells,
        assets,
        refuse=[["missing", "infinite"]],
        messages={
            "missing": f"{name} of {{column}} is empty while the row has other values at row {{row}}",
            "infinite": f"{name} of {{column}} is infinite at row {{row}}",
        },
        file=file,
        hint=_DECISION_HINT,
    )


def check_prices(table: WideTable) -> None:
    """Every price present and > 0 (the backtester never fills gaps); else a located error.

    >>> import polars as pl, datetime as dt
    >>> from algotrader.data.panel import Panel
    >>> days = pl.Series("date", [dt.date(2024, 1, 1), dt.date(2024, 1, 2)])
    >>> t = WideTable(Panel.from_arrays(days.to_numpy(), ["A"], [[1.0], [np.nan]]), days, "p.csv")
    >>> check_prices(t)
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: price of A is missing at row 2 [file=p.csv, row=2, column=A] -- fix: clean or trim the price table (the backtester never fills gaps)
    """
    _check_price_cells(table.values, table.assets, table.file)


def check_decisions(table: WideTable, name: str) -> None:
    """Each row either complete or wholly empty (hold); else a located error.

    ``name`` ("weights" or "positions") is used in the message. (An infinite cell is
    refused by :func:`read_wide_table`, which reports the first bad cell the same way.)
    """
    _check_decision_cells(table.values, table.assets, table.file, name)


def align_decisions(prices: WideTable, decisions: WideTable) -> NDArray[np.float64]:
    """Decisions reordered to the prices' asset order; dates must be identical.

    Raises:
        SchemaError: different asset sets or dates (the first difference is named).
    """
    missing = [a for a in prices.assets if a not in decisions.assets]
    extra = [a for a in decisions.assets if a not in prices.assets]
    if missing or extra:
        raise SchemaError(
            "assets differ between prices and decisions"
            + (f"; missing in decisions: {missing}" if missing else "")
            + (f"; unknown to prices: {extra}" if extra else ""),
            file=decisions.file,
            column=(missing or extra)[0],
            hint="use the same asset columns in both tables",
        )
    a, b = prices.panel.dates, decisions.panel.dates  # (UTC instants)
    if a.shape != b.shape or not np.array_equal(a, b):
        n = min(a.size, b.size)
        eq = a[:n] == b[:n]
        row = int(np.flatnonzero(~eq)[0]) + 1 if (~eq).any() else n + 1
        raise SchemaError(
            "dates differ between prices and decisions",
            file=decisions.file,
            row=row,
            column="date",
            hint="give one decision row per price row (NaN rows mean hold)",
        )
    order = [decisions.assets.index(a) for a in prices.assets]
    return decisions.values[:, order]
