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

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from algotrader.data.panel import Panel, dates_from_series
from algotrader.errors import DataError, SchemaError


@dataclass(frozen=True)
class WideTable:
    """A validated wide table: dates ``(T,)``, asset names, values ``(T, A)`` float64.

    :attr:`panel` is the same table as the shared :class:`~algotrader.data.panel.Panel`
    (UTC dates, NaN cells masked), built once on first use; ``values`` keeps the cells as
    read (an infinite cell stays infinite here so :func:`check_decisions` can name it).
    """

    dates: pl.Series
    assets: list[str]
    values: NDArray[np.float64]
    file: str

    @cached_property
    def panel(self) -> Panel:
        """The table as a 2-d :class:`~algotrader.data.panel.Panel` named ``"values"``."""
        return self.to_panel()

    def to_panel(self, name: str = "values") -> Panel:
        """The table as a :class:`~algotrader.data.panel.Panel` (NaN cells masked)."""
        return Panel.from_arrays(
            dates_from_series(self.dates, file=self.file), self.assets, self.values, name=name
        )


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
    if dates.null_count():
        row = int(np.flatnonzero(dates.is_null().to_numpy())[0]) + 1
        raise SchemaError("missing date", file=str(p), row=row, column="date")
    order = dates.to_physical().to_numpy()
    if len(order) > 1 and not (np.diff(order) > 0).all():
        row = int(np.flatnonzero(np.diff(order) <= 0)[0]) + 2
        raise DataError(
            "dates must be strictly increasing (no duplicates)",
            file=str(p),
            row=row,
            column="date",
            hint="sort the table and remove duplicated dates",
        )
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
    return WideTable(dates, assets, np.ascontiguousarray(values, dtype=np.float64), str(p))


def _first_cell(bad: NDArray[np.bool_]) -> tuple[int, int]:
    r, c = np.argwhere(bad)[0]
    return int(r), int(c)


def check_prices(table: WideTable) -> None:
    """Every price finite and > 0 (the backtester never fills gaps); else a located error.

    >>> import polars as pl
    >>> t = WideTable(pl.Series("date", [1, 2]), ["A"], np.array([[1.0], [np.nan]]), "p.csv")
    >>> check_prices(t)
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: price of A is missing at row 2 [file=p.csv, row=2, column=A] -- fix: clean or trim the price table (the backtester never fills gaps)
    """
    v = table.values
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(v) & (v > 0))
    if not bad.any():
        return
    r, c = _first_cell(bad)
    value = v[r, c]
    what = "is missing" if np.isnan(value) else f"must be finite and > 0, got {float(value)}"
    raise DataError(
        f"price of {table.assets[c]} {what} at row {r + 1}",
        file=table.file,
        row=r + 1,
        column=table.assets[c],
        hint="clean or trim the price table (the backtester never fills gaps)",
    )


def check_decisions(table: WideTable, name: str) -> None:
    """No infinite cell, and each row either complete or wholly empty (hold); else located.

    ``name`` ("weights" or "positions") is used in the message.
    """
    v = table.values
    nan = np.isnan(v)
    rows = np.asarray(nan.any(axis=1) & ~nan.all(axis=1), dtype=bool)
    partial = nan & rows[:, None]
    bad = partial | np.isinf(v)
    if not bad.any():
        return
    r, c = _first_cell(bad)
    what = "is infinite" if np.isinf(v[r, c]) else "is empty while the row has other values"
    raise DataError(
        f"{name} of {table.assets[c]} {what} at row {r + 1}",
        file=table.file,
        row=r + 1,
        column=table.assets[c],
        hint="give every asset a value (0 for none), or leave the whole row empty to hold",
    )


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
    if (
        len(prices.dates) != len(decisions.dates)
        or not (
            prices.dates.cast(pl.Datetime("us")) == decisions.dates.cast(pl.Datetime("us"))
        ).all()
    ):
        n = min(len(prices.dates), len(decisions.dates))
        eq = (
            prices.dates[:n].cast(pl.Datetime("us")) == decisions.dates[:n].cast(pl.Datetime("us"))
        ).to_numpy()
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
