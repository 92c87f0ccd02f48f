"""Readers: raw monthly bar files, one long CSV/Parquet file, one wide close-only file.

All readers return a validated long bar table (see :mod:`algotrader.data.schema`) sorted by
``(asset, timestamp)``; they refuse bad input with a typed error instead of repairing it.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "w.csv").write_text("date,B,A\\n2024-01-02,2.0,1.0\\n2024-01-03,2.5,\\n")
    >>> read_wide(d / "w.csv").select("asset", "close").rows()
    [('A', 1.0), ('B', 2.0), ('B', 2.5)]
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import polars as pl

from algotrader.data.frames import to_bars, to_float, with_provenance
from algotrader.data.names import check_names
from algotrader.data.schema import FILE_COL, LONG_COLUMNS, ROW_COL, require_columns
from algotrader.data.timestamps import parse_timestamps
from algotrader.errors import DataError, SchemaError

logger = logging.getLogger(__name__)

#: Accepted names of the date column of a wide file (first match wins).
DATE_COLUMNS: tuple[str, ...] = ("date", "Date", "timestamp", "Timestamp", "time", "Time")


def _read_table(path: Path, *, as_text: bool) -> pl.DataFrame:
    """Read a CSV (optionally all columns as text) or Parquet file."""
    if not path.is_file():
        raise DataError("file not found", file=str(path), hint="check the path")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        if suffixes.endswith((".csv", ".csv.gz")):
            if as_text:
                return pl.read_csv(path, infer_schema=False)
            return pl.read_csv(path, infer_schema_length=10000)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read the file: {exc}", file=str(path)) from exc
    raise DataError(
        f"unsupported file type {path.suffix!r}",
        file=str(path),
        hint="use .csv, .csv.gz or .parquet",
    )


def read_long(path: str | os.PathLike[str], *, tz: str | None = None) -> pl.DataFrame:
    """Read one long file (``timestamp, asset, open, high, low, close, volume``).

    Args:
        path: ``.csv``, ``.csv.gz`` or ``.parquet`` file.
        tz: zone of naive timestamps (``None`` refuses them).

    Returns:
        Long bar table sorted by ``(asset, timestamp)``; each asset's rows must already be
        in increasing time order in the file (assets may interleave).
    """
    path = Path(path)
    frame = None
    if path.name.lower().endswith((".csv", ".csv.gz")) and path.is_file():
        typed: dict[str, pl.DataType] = {"timestamp": pl.String(), "asset": pl.String()}
        typed |= dict.fromkeys(("open", "high", "low", "close", "volume"), pl.Float64())
        try:  # fast path: typed parse; any oddity falls back to text for a precise error
            frame = pl.read_csv(path, schema_overrides=typed)
        except pl.exceptions.PolarsError:
            frame = None
    if frame is None:
        frame = _read_table(path, as_text=True)
    bars = to_bars(frame, file=str(path), tz=tz)
    return bars.sort("asset", "timestamp", maintain_order=True)


def _date_column(columns: list[str], file: str, date_column: str | None) -> str:
    if date_column is not None:
        require_columns(columns, [date_column], file=file)
        return date_column
    for name in DATE_COLUMNS:
        if name in columns:
            return name
    raise SchemaError(
        f"missing date column (found: {', '.join(columns)})",
        file=file,
        column="date",
        hint=f"name the first column one of {', '.join(DATE_COLUMNS)}",
    )


def parse_dates(
    values: pl.Series, *, file: str | None, date_format: str | None = None, tz: str | None = None
) -> pl.Series:
    """Parse a date column: plain dates (ISO or ``date_format``) become 00:00 UTC of that day;
    date-times go through :func:`~algotrader.data.timestamps.parse_timestamps`.

    Returns:
        Series of shape (n,), ``Datetime("us", "UTC")``.

    Raises:
        DataError: an empty, unparseable or naive value, naming ``file``, its 1-based data
            row and the column (the series' name).
    """
    if values.dtype == pl.String:
        text = values.str.strip_chars()
        empty = text.is_null() | (text == "")
        if empty.any():
            raise DataError(
                "missing date",
                file=file,
                row=int(empty.arg_true()[0]) + 1,
                column=values.name,
                hint="give every row a date",
            )
        fmt = date_format or "%Y-%m-%d"
        as_date = text.str.strptime(pl.Date, fmt, strict=False)
        if as_date.null_count() == 0:
            values = as_date
        elif date_format is not None or as_date.null_count() < len(as_date):
            # a fixed format, or plain dates mixed with something else: name the odd one
            i = int(as_date.is_null().arg_true()[0])
            raise DataError(
                f"unparseable date {values[i]!r} (expected format {fmt})",
                file=file,
                row=i + 1,
                column=values.name,
                hint="correct the date (one format in the whole column)",
            )
    return parse_timestamps(values, tz=tz, file=file)


def check_dates(dates: pl.Series, *, file: str | None, column: str) -> None:
    """Refuse duplicate or decreasing dates of a wide file, naming the 1-based data row.

    The rule and the located error are the shared
    :func:`algotrader.data.panel.check_dates` (the one date validator of every table
    adapter); dates at 00:00 (plain dates read as UTC midnight) are shown as ``YYYY-MM-DD``
    when every date of the column is one.

    >>> from datetime import date
    >>> check_dates(pl.Series("date", [date(2024, 1, 2), date(2024, 1, 2)]), file="w.csv",
    ...             column="date")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: duplicate date 2024-01-02 at row 2 (also at row 1): dates must be strictly increasing [file=w.csv, row=2, column=date] -- fix: sort by date and keep one row per date
    """
    from algotrader.data.panel import check_dates as shared_check_dates

    shared_check_dates(_instants(dates), file=file, column=column)


def _instants(dates: pl.Series) -> pl.Series | np.ndarray:
    """A temporal series as ``datetime64[us]`` instants (UTC), other dtypes unchanged.

    Instants order as the series does (one zone per column) and let the shared validator
    label whole days as ``YYYY-MM-DD``.
    """
    if isinstance(dtype := dates.dtype, pl.Datetime) and dtype.time_zone is not None:
        dates = dates.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if dates.dtype.is_temporal():
        return np.asarray(dates.cast(pl.Datetime("us")).to_numpy(), dtype="datetime64[us]")
    return dates


def check_wide_values(frame: pl.DataFrame, assets: list[str], *, file: str | None) -> None:
    """Refuse a non-finite or non-positive price of a wide file, naming the asset column.

    Missing cells (null) are allowed: they mean *no observation* on that date.
    """
    bad_any = frame.select(
        [(~pl.col(a).is_finite() | (pl.col(a) <= 0)).fill_null(False).any() for a in assets]
    ).row(0)
    for asset, bad in zip(assets, bad_any, strict=True):
        if not bad:
            continue
        hit = frame.filter((~pl.col(asset).is_finite() | (pl.col(asset) <= 0)).fill_null(False))
        row = hit.row(0, named=True)
        value = row[asset]
        what = "is not finite" if value != value or abs(value) == float("inf") else "is not > 0"
        raise DataError(
            f"price {value} of {asset} {what}",
            file=str(row.get(FILE_COL) or file) if (row.get(FILE_COL) or file) else None,
            row=int(row[ROW_COL]),
            column=asset,
            hint="correct the price, or leave the cell empty (no observation that day)",
        )


def read_wide(
    path: str | os.PathLike[str],
    *,
    date_column: str | None = None,
    date_format: str | None = None,
    tz: str | None = None,
) -> pl.DataFrame:
    """Read a wide close-only file: a date column then one close column per asset.

    A missing cell means *no observation* for that asset on that date: no bar is made for
    it (nothing is filled). Each bar has ``open = high = low = close`` and null volume.

    Args:
        path: ``.csv``, ``.csv.gz`` or ``.parquet`` file.
        date_column: name of the date column (default: the first of :data:`DATE_COLUMNS`).
        date_format: strptime format of plain dates (default ISO ``%Y-%m-%d``).
        tz: zone of naive date-times (plain dates are 00:00 UTC of that day).

    Returns:
        Long bar table sorted by ``(asset, timestamp)``.

    Raises:
        DataError: an unsafe asset header, an empty/unparseable/duplicate/decreasing date,
            or a price that is not a number, not finite or not > 0: the file, the 1-based
            data row and the column as written (the asset's column, or the date column).
    """
    path = Path(path)
    file = str(path)
    frame = _read_table(path, as_text=True)
    dcol = _date_column(frame.columns, file, date_column)
    assets = [c for c in frame.columns if c != dcol]
    if not assets:
        raise SchemaError("no asset columns", file=file, hint="add one close column per asset")
    check_names(assets, file=file)
    frame = with_provenance(frame, file)
    ts = parse_dates(frame[dcol], file=file, date_format=date_format, tz=tz)
    check_dates(ts, file=file, column=dcol)
    frame = to_float(frame.with_columns(ts.alias("timestamp")), tuple(assets), file)
    check_wide_values(frame, assets, file=file)
    long = frame.unpivot(
        index=["timestamp", FILE_COL, ROW_COL], on=assets, variable_name="asset", value_name="close"
    ).filter(pl.col("close").is_not_null())
    long = long.with_columns(
        open=pl.col("close"),
        high=pl.col("close"),
        low=pl.col("close"),
        volume=pl.lit(None, pl.Float64),
    )
    from algotrader.data.schema import validate_bars

    checked = validate_bars(long.select(*LONG_COLUMNS, FILE_COL, ROW_COL), file=file)
    return checked.select(LONG_COLUMNS).sort("asset", "timestamp", maintain_order=True)


def read_bars(
    path: str | os.PathLike[str], *, tz: str | None = None, date_format: str | None = None
) -> pl.DataFrame:
    """Read one file, long (has an ``asset`` column) or wide close-only (otherwise)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        columns = pl.read_parquet_schema(path).keys() if path.is_file() else []
    else:
        columns = _read_table(path, as_text=True).columns
    if "asset" in columns:
        return read_long(path, tz=tz)
    return read_wide(path, tz=tz, date_format=date_format)


__all__ = [
    "DATE_COLUMNS",
    "check_dates",
    "check_wide_values",
    "parse_dates",
    "read_bars",
    "read_long",
    "read_wide",
]
