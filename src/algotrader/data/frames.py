"""Turn raw string/typed frames into validated long bar tables (shared by every reader).

Example:
    >>> import polars as pl
    >>> raw = pl.DataFrame({"timestamp": ["2024-01-02T09:00:00Z"], "open": ["1"], "high": ["2"],
    ...                     "low": ["1"], "close": ["2"], "volume": [""]})
    >>> to_bars(raw, asset="X", file="x.csv").row(0)[1:]
    ('X', 1.0, 2.0, 1.0, 2.0, None)
"""

from __future__ import annotations

import polars as pl

from algotrader.data.schema import (
    BAR_COLUMNS,
    FILE_COL,
    LONG_COLUMNS,
    PRICE_COLUMNS,
    ROW_COL,
    require_columns,
    validate_bars,
)
from algotrader.data.timestamps import parse_timestamps
from algotrader.errors import DataError, SchemaError

NUMERIC_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")


def with_provenance(frame: pl.DataFrame, file: str | None) -> pl.DataFrame:
    """Add ``_row`` (1-based data row per file) and ``_file`` if absent."""
    if ROW_COL not in frame.columns:
        if FILE_COL in frame.columns:
            rows = pl.int_range(1, pl.len() + 1).over(FILE_COL)
        else:
            rows = pl.int_range(1, pl.len() + 1)
        frame = frame.with_columns(rows.alias(ROW_COL))
    if FILE_COL not in frame.columns:
        frame = frame.with_columns(pl.lit(file, dtype=pl.String).alias(FILE_COL))
    return frame


def to_float(frame: pl.DataFrame, columns: tuple[str, ...], file: str | None) -> pl.DataFrame:
    """Cast ``columns`` to Float64; a value that is present but not a number raises.

    Empty strings become null (they are *missing*, which validation then reports for
    prices and accepts for volume).
    """
    exprs = []
    for col in columns:
        dtype = frame.schema[col]
        if dtype == pl.String:
            text = pl.col(col).str.strip_chars()
            text = pl.when(text == "").then(None).otherwise(text)
            exprs.append(text.cast(pl.Float64, strict=False).alias(col))
            bad = frame.filter(
                text.is_not_null().fill_null(False) & text.cast(pl.Float64, strict=False).is_null()
            ).head(1)
            if not bad.is_empty():
                row = bad.row(0, named=True)
                raise DataError(
                    f"{col} value {row[col]!r} is not a number",
                    file=str(row.get(FILE_COL) or file) if (row.get(FILE_COL) or file) else None,
                    row=int(row[ROW_COL]),
                    column=col,
                    hint="write plain decimal numbers (dot as decimal separator)",
                )
        elif dtype.is_numeric() or dtype == pl.Null:
            exprs.append(pl.col(col).cast(pl.Float64).alias(col))
        else:
            raise SchemaError(
                f"column {col!r} has type {dtype}, expected numbers",
                file=file,
                column=col,
                hint="store prices and volume as numbers",
            )
    return frame.with_columns(exprs)


def to_bars(
    frame: pl.DataFrame,
    *,
    asset: str | None = None,
    file: str | None = None,
    tz: str | None = None,
) -> pl.DataFrame:
    """Parse and validate a raw frame into a long bar table.

    Args:
        frame: raw table of shape (n, >=6) with the columns of :data:`BAR_COLUMNS` (plus
            ``asset`` unless ``asset`` is given); values may be strings or typed.
        asset: the asset name when the frame holds one asset and has no ``asset`` column.
        file: file name for error messages.
        tz: zone of naive timestamps (``None`` refuses them).

    Returns:
        Long bar table (:data:`~algotrader.data.schema.LONG_COLUMNS`), rows in input order.
    """
    needed = BAR_COLUMNS if asset is not None else LONG_COLUMNS
    require_columns(frame.columns, needed, file=file)
    frame = with_provenance(frame, file)
    if asset is not None:
        frame = frame.with_columns(pl.lit(asset, dtype=pl.String).alias("asset"))
    else:
        frame = frame.with_columns(pl.col("asset").cast(pl.String).str.strip_chars())
        empty = frame.filter(pl.col("asset").is_null() | (pl.col("asset") == "")).head(1)
        if not empty.is_empty():
            raise DataError(
                "empty asset name",
                file=file,
                row=int(empty[ROW_COL][0]),
                column="asset",
                hint="every row needs an asset name",
            )
    frame = to_float(frame, NUMERIC_COLUMNS, file)
    ts = parse_timestamps(
        frame["timestamp"],
        tz=tz,
        file=file,
        files=frame[FILE_COL] if frame[FILE_COL].null_count() == 0 else None,
        rows=frame[ROW_COL],
    )
    frame = frame.with_columns(ts.alias("timestamp"))
    checked = validate_bars(frame.select(*LONG_COLUMNS, FILE_COL, ROW_COL), file=file)
    return checked.select(LONG_COLUMNS)


__all__ = ["NUMERIC_COLUMNS", "to_bars", "to_float", "with_provenance"]
