"""The bar schema and its validation.

A *bar table* is a polars DataFrame in long form, one row per (asset, bar):

| column | dtype | rule |
|---|---|---|
| ``timestamp`` | ``Datetime("us", "UTC")`` | strictly increasing within an asset (no duplicates) |
| ``asset`` | ``String`` | non-empty |
| ``open``, ``high``, ``low``, ``close`` | ``Float64`` | finite, > 0, ``low <= min(open, close)``, ``high >= max(open, close)`` |
| ``volume`` | ``Float64`` | >= 0, may be null (unknown, e.g. close-only data) |

Validation never drops, fills or reorders rows: the first violation raises a
:class:`~algotrader.errors.DataError` (or :class:`~algotrader.errors.SchemaError` for missing
columns) naming the file, the 1-based data row (header excluded) and the column.

Example:
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = [datetime(2024, 1, 2, h, tzinfo=timezone.utc) for h in (9, 10)]
    >>> bars = pl.DataFrame({"timestamp": t, "asset": "A", "open": [1.0, 1.1],
    ...     "high": [1.2, 1.2], "low": [0.9, 1.0], "close": [1.1, 1.0], "volume": [5.0, 7.0]})
    >>> validate_bars(bars, file="demo.csv").height
    2
    >>> validate_bars(bars.with_columns(low=pl.lit(1.15)), file="demo.csv")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: low 1.15 is above min(open, close) = 1.0 [file=demo.csv, row=1, column=low] -- fix: correct the bar: low must be <= open and close
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from algotrader.data.names import SAFE_NAME, check_name, is_safe_name
from algotrader.data.timestamps import UTC_US
from algotrader.errors import DataError, SchemaError

#: Columns of one asset's raw bar file, in order.
BAR_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
#: Price columns.
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
#: Columns of a long bar table, in order.
LONG_COLUMNS: tuple[str, ...] = ("timestamp", "asset", "open", "high", "low", "close", "volume")
#: Polars schema of a long bar table.
BAR_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": UTC_US,
    "asset": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}

#: Internal helper columns carrying provenance (file name, 1-based data row) through readers.
FILE_COL = "_file"
ROW_COL = "_row"


def require_columns(columns: Sequence[str], needed: Sequence[str], *, file: str | None) -> None:
    """Raise :class:`SchemaError` naming the first column of ``needed`` absent from ``columns``."""
    for name in needed:
        if name not in columns:
            raise SchemaError(
                f"missing column {name!r} (found: {', '.join(columns) or 'none'})",
                file=file,
                column=name,
                hint=f"the file needs the columns {', '.join(needed)}",
            )


def _first(frame: pl.DataFrame, mask: pl.Expr) -> dict[str, object] | None:
    hit = frame.filter(mask).head(1)
    return None if hit.is_empty() else hit.row(0, named=True)


def _raise(row: dict[str, object], message: str, column: str, hint: str, file: str | None) -> None:
    raise DataError(
        message,
        file=str(row.get(FILE_COL) or file) if (row.get(FILE_COL) or file) else None,
        row=int(row[ROW_COL]),  # type: ignore[call-overload]
        column=column,
        hint=hint,
    )


def _value_checks() -> list[tuple[pl.Expr, str, str, str]]:
    """(violation mask, column, message template, hint) in reporting order."""
    checks: list[tuple[pl.Expr, str, str, str]] = []
    for col in PRICE_COLUMNS:
        checks.append(
            (
                pl.col(col).is_null(),
                col,
                f"missing {col} price",
                "fill in the price or remove the bar",
            )
        )
        checks.append(
            (
                ~pl.col(col).is_finite(),
                col,
                f"{col} price {{{col}}} is not finite",
                "correct the price",
            )
        )
        checks.append(
            (
                pl.col(col) <= 0,
                col,
                f"non-positive {col} price {{{col}}}",
                "prices must be > 0; correct or remove the bar",
            )
        )
    checks += [
        (
            pl.col("low") > pl.min_horizontal("open", "close"),
            "low",
            "low {low} is above min(open, close) = {_lo}",
            "correct the bar: low must be <= open and close",
        ),
        (
            pl.col("high") < pl.max_horizontal("open", "close"),
            "high",
            "high {high} is below max(open, close) = {_hi}",
            "correct the bar: high must be >= open and close",
        ),
        (
            pl.col("volume").is_not_null() & ~pl.col("volume").is_finite(),
            "volume",
            "volume {volume} is not finite",
            "correct the volume or leave it empty",
        ),
        (
            pl.col("volume") < 0,
            "volume",
            "negative volume {volume}",
            "volume must be >= 0 (leave empty if unknown)",
        ),
    ]
    return checks


def _order_checks(by_asset: bool) -> list[tuple[pl.Expr, str, str, str]]:
    diff = pl.col("timestamp").diff()
    if by_asset:
        diff = diff.over("asset")
    return [
        (
            diff < pl.duration(microseconds=0),
            "timestamp",
            "unsorted rows: {timestamp} is earlier than the row before it",
            "sort the bars by timestamp (nothing is reordered silently)",
        ),
        (
            diff == pl.duration(microseconds=0),
            "timestamp",
            "duplicate timestamp {timestamp}",
            "keep exactly one bar per timestamp",
        ),
    ]


def validate_bars(frame: pl.DataFrame, *, file: str | None = None) -> pl.DataFrame:
    """Check a bar table against the schema; return it unchanged (helper columns dropped).

    Args:
        frame: bar table of shape (n, 7) in long form (``asset`` optional for one asset);
            ``timestamp`` already parsed to UTC. Optional ``_file``/``_row`` columns give
            the provenance used in messages (default: ``file`` and position + 1).
        file: file name for error messages.

    Returns:
        The same rows, same order, without the helper columns.

    Raises:
        SchemaError: a required column is missing.
        DataError: the first invalid value, in the order: prices (null, non-finite,
            non-positive), low/high consistency, volume, order (unsorted, duplicate).
    """
    require_columns(frame.columns, BAR_COLUMNS, file=file)
    if ROW_COL not in frame.columns:
        frame = frame.with_row_index(ROW_COL, offset=1)
    by_asset = "asset" in frame.columns
    if by_asset:
        for name in frame["asset"].unique(maintain_order=True).drop_nulls().to_list():
            if not is_safe_name(name):
                first = frame.filter(pl.col("asset") == name).row(0, named=True)
                check_name(name, file=str(first.get(FILE_COL) or file), column="asset",
                           row=int(first[ROW_COL]))  # fmt: skip
    checks = _value_checks() + _order_checks(by_asset)
    flags = frame.select(
        [mask.fill_null(False).any().alias(str(i)) for i, (mask, *_) in enumerate(checks)]
    )
    for i, (mask, column, message, hint) in enumerate(checks):
        if not flags[str(i)][0]:
            continue
        row = _first(
            frame.with_columns(
                _lo=pl.min_horizontal("open", "close"), _hi=pl.max_horizontal("open", "close")
            ),
            mask.fill_null(False),
        )
        assert row is not None
        _raise(row, message.format(**row), column, hint, file)
    return frame.drop([c for c in (FILE_COL, ROW_COL) if c in frame.columns])


def empty_bars() -> pl.DataFrame:
    """An empty long bar table with the schema columns and dtypes."""
    return pl.DataFrame(schema=BAR_SCHEMA)


__all__ = [
    "BAR_COLUMNS",
    "BAR_SCHEMA",
    "FILE_COL",
    "LONG_COLUMNS",
    "PRICE_COLUMNS",
    "ROW_COL",
    "SAFE_NAME",
    "check_name",
    "empty_bars",
    "require_columns",
    "validate_bars",
]
