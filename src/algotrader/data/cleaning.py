"""Bars -> daily and weekly OHLC tables and weekly returns (pure polars, no I/O).

Conventions (all in UTC):

* **Daily** (Mon-Fri): a day is a UTC calendar date. Per asset: open = open of the first
  bar of the day, high/low = max/min over the day's bars, close = close of the last
  available bar, volume = sum (null if any bar's volume is unknown). The row's
  ``timestamp`` is the latest bar time on that day *across all assets*; the table's days
  are the weekdays on which at least one asset has a bar. Bars on Saturday/Sunday are not
  part of any day; their count per asset is in the metadata (``weekend_bars_excluded``).
* **Weekly** (weeks start Monday): aggregated from the daily rows of Monday..Friday:
  open = the first available day's open (Monday when present), close = the last available
  day's close (Friday when present), high/low = max/min, volume = sum. ``open_day`` and
  ``close_day`` say which day gave them. The label ``timestamp`` is the latest bar time in
  that week across all assets; ``week_start`` is the Monday.
* Both tables are **long** and **complete**: one row per (period, asset) over every
  period and asset; a period without data for an asset has null prices and
  ``n_bars``/``n_days`` = 0 (never filled).
* **Returns** (wide: ``timestamp`` + one column per asset): ``P_t / P_{t-1} - 1`` (simple)
  or ``log P_t - log P_{t-1}`` (log) of weekly closes of consecutive weeks of the table;
  null when either close is missing (a missing week gives two missing returns). The
  first week has no return and is not a row.

Example:
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = [datetime(2024, 1, d, 15, tzinfo=timezone.utc) for d in (1, 2, 5, 8, 12)]
    >>> bars = pl.DataFrame({"timestamp": t, "asset": "A", "open": [1.0, 2, 3, 4, 5],
    ...     "high": [1.0, 2, 3, 4, 5], "low": [1.0, 2, 3, 4, 5], "close": [1.0, 2, 3, 4, 5],
    ...     "volume": [1.0] * 5})
    >>> weekly = weekly_ohlc(daily_ohlc(bars))
    >>> weekly.select("week_start", "open", "close").rows()
    [(datetime.date(2024, 1, 1), 1.0, 3.0), (datetime.date(2024, 1, 8), 4.0, 5.0)]
    >>> weekly_returns(weekly)["A"].to_list()
    [0.6666666666666667]
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from algotrader.errors import ConfigError, DataError

ReturnType = Literal["simple", "log"]

DAILY_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "date",
    "asset",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "n_bars",
)
WEEKLY_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "week_start",
    "asset",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "n_days",
    "open_day",
    "close_day",
)


def _volume_sum() -> pl.Expr:
    """Sum of volume, null when any part is unknown (null)."""
    return (
        pl.when(pl.col("volume").null_count() == 0)
        .then(pl.col("volume").sum())
        .otherwise(None)
        .alias("volume")
    )


def _complete(
    per: pl.LazyFrame, labels: pl.LazyFrame, assets: list[str], key: str, sort_by: str
) -> pl.LazyFrame:
    """Cross (period x asset) grid left-joined with the per-asset aggregates."""
    grid = labels.join(pl.LazyFrame({"asset": assets}), how="cross")
    return grid.join(per, on=[key, "asset"], how="left").sort(sort_by, "asset")


US_PER_DAY = 86_400_000_000


def _day_runs(bars: pl.DataFrame) -> pl.LazyFrame:
    """Weekday bars with a UTC day number and a run id per (asset, day).

    ``bars`` is sorted by ``(asset, timestamp)``, so each (asset, day) is one contiguous
    run: grouping on an integer run id avoids hashing asset names for every bar.
    Day 0 is 1970-01-01, a Thursday, so ``(day + 3) % 7`` is 0 on Mondays.
    """
    day = pl.col("timestamp").dt.epoch("us").floordiv(US_PER_DAY).alias("_day")
    same_asset = (pl.col("asset") == pl.col("asset").shift(1)).fill_null(False)
    new_run = (pl.col("_day") != pl.col("_day").shift(1)).fill_null(True) | ~same_asset
    return (
        bars.lazy()
        .with_columns(day)
        .filter((pl.col("_day") + 3) % 7 < 5)
        .with_columns(
            # a cumulative sum of booleans never decreases: flag it sorted for the fast group-by
            new_run.cum_sum().set_sorted().alias("_run"),
            (same_asset & (pl.col("timestamp") <= pl.col("timestamp").shift(1))).alias("_back"),
        )
    )


def daily_ohlc(bars: pl.DataFrame) -> pl.DataFrame:
    """Daily OHLC (Mon-Fri) from a validated long bar table.

    Args:
        bars: long bar table (``timestamp, asset, open, high, low, close, volume``) sorted by
            ``(asset, timestamp)`` (every reader returns it so), n rows.

    Returns:
        Long table with the columns of :data:`DAILY_COLUMNS`, (days x assets) rows, sorted
        by ``(date, asset)``.

    Raises:
        DataError: ``bars`` is not sorted by ``(asset, timestamp)``.
    """
    runs = _day_runs(bars).collect()  # eager: keeps the sorted flag of the run id
    if runs["_back"].any():
        raise DataError(
            "bars are not sorted by (asset, timestamp)",
            hint="pass a reader's output, or sort the table by asset then timestamp",
        )
    per = (
        runs.group_by("_run", maintain_order=True)
        .agg(
            pl.col("asset").first(),
            pl.col("_day").first(),
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("volume").null_count().alias("_vnull"),
            pl.len().cast(pl.Int64).alias("n_bars"),
            pl.col("timestamp").last().alias("_last"),
        )
        .with_columns(
            pl.col("_day").cast(pl.Int32).cast(pl.Date).alias("date"),
            # one unknown (null) volume makes the day's volume unknown
            pl.when(pl.col("_vnull") == 0).then(pl.col("volume")).alias("volume"),
        )
        .drop("_run", "_day", "_vnull")
    )
    # every asset of the input, also one with weekend bars only (its rows stay empty)
    assets = sorted(bars["asset"].rle().struct.field("value").unique().to_list())
    if per.select(pl.struct("asset", "date").is_duplicated().any()).item():
        raise DataError(
            "bars are not sorted by (asset, timestamp)",
            hint="pass a reader's output, or sort the table by asset then timestamp",
        )
    labels = per.lazy().group_by("date").agg(pl.col("_last").max().alias("timestamp"))
    out = _complete(per.lazy().drop("_last"), labels, assets, "date", "date")
    return (
        out.with_columns(pl.col("n_bars").fill_null(0))  # a count: 0 bars, not a filled price
        .select(DAILY_COLUMNS)
        .collect()
    )


def weekly_ohlc(daily: pl.DataFrame) -> pl.DataFrame:
    """Weekly OHLC (weeks start Monday) from :func:`daily_ohlc`'s table.

    Args:
        daily: the daily table (``DAILY_COLUMNS``), (days x assets) rows.

    Returns:
        Long table with the columns of :data:`WEEKLY_COLUMNS`, (weeks x assets) rows,
        sorted by ``(week_start, asset)``.
    """
    assets = sorted(daily["asset"].unique().to_list())
    present = (
        daily.lazy()
        .filter(pl.col("n_bars") > 0)
        .with_columns(week_start=pl.col("date").dt.truncate("1w"))
        .sort("asset", "date")
    )
    per = present.group_by("asset", "week_start").agg(
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        _volume_sum(),
        pl.len().cast(pl.Int64).alias("n_days"),
        pl.col("date").first().alias("open_day"),
        pl.col("date").last().alias("close_day"),
    )
    labels = (
        daily.lazy()
        .with_columns(week_start=pl.col("date").dt.truncate("1w"))
        .group_by("week_start")
        .agg(pl.col("timestamp").max())
    )
    out = _complete(per, labels, assets, "week_start", "week_start")
    return out.with_columns(pl.col("n_days").fill_null(0)).select(WEEKLY_COLUMNS).collect()


def wide_close(table: pl.DataFrame) -> pl.DataFrame:
    """Pivot a long (daily or weekly) table's ``close`` to wide: ``timestamp`` + one column
    per asset (sorted names), shape (T, 1 + A)."""
    assets = sorted(table["asset"].unique().to_list())
    wide = table.pivot(on="asset", index="timestamp", values="close", aggregate_function=None)
    return wide.select("timestamp", *assets).sort("timestamp")


def weekly_returns(weekly: pl.DataFrame, return_type: ReturnType = "simple") -> pl.DataFrame:
    """Weekly returns, wide: ``timestamp`` + one Float64 column per asset, shape (W-1, 1 + A).

    ``simple``: ``P_t / P_{t-1} - 1``; ``log``: ``log P_t - log P_{t-1}``. Null when either
    close is missing.
    """
    if return_type not in ("simple", "log"):
        raise ConfigError(
            f"unknown return type {return_type!r}", key="return_type", hint="use simple or log"
        )
    closes = wide_close(weekly)
    assets = closes.columns[1:]
    if return_type == "simple":
        exprs = [(pl.col(a) / pl.col(a).shift(1) - 1.0).alias(a) for a in assets]
    else:
        exprs = [(pl.col(a).log() - pl.col(a).shift(1).log()).alias(a) for a in assets]
    return closes.select("timestamp", *exprs).slice(1)


__all__ = [
    "DAILY_COLUMNS",
    "WEEKLY_COLUMNS",
    "ReturnType",
    "daily_ohlc",
    "weekly_ohlc",
    "weekly_returns",
    "wide_close",
]
