"""Metadata of the daily and weekly tables: coverage and missing periods per asset.

Timestamps are written as ISO-8601 UTC strings (``2024-01-05T21:00:00Z``); a missing
period is recorded at the period's label (the latest bar time across all assets), and
``missing_by_month`` counts missing periods per ``YYYY-MM`` of that label (months without
a missing period are omitted).

Example:
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> from algotrader.data.cleaning import daily_ohlc
    >>> t = [datetime(2024, 1, d, 15, tzinfo=timezone.utc) for d in (1, 2)]
    >>> bars = pl.DataFrame({"timestamp": t + t[:1], "asset": ["A", "A", "B"],
    ...     "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    >>> daily_meta(bars, daily_ohlc(bars))["per_asset"]["B"]["missing_days"]
    ['2024-01-02T15:00:00Z']
"""

from __future__ import annotations

from typing import Any

import polars as pl

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def iso(expr: pl.Expr) -> pl.Expr:
    """Format a UTC datetime expression as ISO-8601 with a ``Z`` suffix."""
    return expr.dt.strftime(ISO_FORMAT)


def _missing(table: pl.DataFrame, count_col: str) -> dict[str, dict[str, Any]]:
    """Per asset: labels of periods with no data and their counts per month."""
    gaps = table.filter(pl.col(count_col) == 0).select(
        "asset",
        iso(pl.col("timestamp")).alias("label"),
        pl.col("timestamp").dt.strftime("%Y-%m").alias("month"),
    )
    out: dict[str, dict[str, Any]] = {}
    for asset in sorted(table["asset"].unique().to_list()):
        mine = gaps.filter(pl.col("asset") == asset)
        by_month = mine.group_by("month").len().sort("month")
        out[asset] = {
            "labels": mine["label"].to_list(),
            "by_month": dict(
                zip(by_month["month"].to_list(), by_month["len"].to_list(), strict=True)
            ),
        }
    return out


def _span(table: pl.DataFrame) -> dict[str, Any]:
    stamps = table["timestamp"]
    return {
        "start": stamps.min().strftime("%Y-%m-%dT%H:%M:%SZ") if table.height else None,  # type: ignore[union-attr]
        "end": stamps.max().strftime("%Y-%m-%dT%H:%M:%SZ") if table.height else None,  # type: ignore[union-attr]
    }


def _empty_weekdays(dates: pl.Series, every: str) -> list[str]:
    """Weekdays (or Mondays, ``every="1w"``) between first and last with no data at all."""
    if dates.is_empty():
        return []
    lo, hi = dates.min(), dates.max()
    full: pl.Series = pl.date_range(lo, hi, every, eager=True)  # type: ignore[arg-type,assignment]
    if every == "1d":
        full = full.filter(full.dt.weekday() <= 5)
    have = set(dates.to_list())
    return [d.isoformat() for d in full.to_list() if d not in have]


def daily_meta(bars: pl.DataFrame, daily: pl.DataFrame) -> dict[str, Any]:
    """Metadata of :func:`~algotrader.data.cleaning.daily_ohlc`'s table."""
    # bars per asset from run lengths (bars are grouped by asset): no per-bar hashing;
    # weekend bars = all bars - bars used by the (weekday) daily table
    runs = bars.select(pl.col("asset").rle()).unnest("asset")
    totals = runs.group_by("value").agg(pl.col("len").sum())
    used = daily.group_by("asset").agg(pl.col("n_bars").sum())
    counts_by: dict[str, dict[str, int]] = {
        r["value"]: {"bars": int(r["len"]), "weekend": int(r["len"])}
        for r in totals.iter_rows(named=True)
    }
    for r in used.iter_rows(named=True):
        counts_by[r["asset"]]["weekend"] -= int(r["n_bars"])
    present = (
        daily.filter(pl.col("n_bars") > 0)
        .group_by("asset")
        .agg(
            pl.len().alias("days"),
            pl.col("date").min().alias("first"),
            pl.col("date").max().alias("last"),
        )
    )
    present_by = {r["asset"]: r for r in present.iter_rows(named=True)}
    missing = _missing(daily, "n_bars")
    per_asset: dict[str, Any] = {}
    for asset, gaps in missing.items():
        p = present_by.get(asset, {"days": 0, "first": None, "last": None})
        per_asset[asset] = {
            "bars": int(counts_by[asset]["bars"]),
            "weekend_bars_excluded": int(counts_by[asset]["weekend"]),
            "days_present": int(p["days"]),
            "first_day": p["first"].isoformat() if p["first"] else None,
            "last_day": p["last"].isoformat() if p["last"] else None,
            "missing_days_count": len(gaps["labels"]),
            "missing_days": gaps["labels"],
            "missing_by_month": gaps["by_month"],
        }
    dates = daily["date"].unique().sort()
    return {
        "table": "daily_ohlc",
        "calendar": "UTC weekdays (Mon-Fri) on which at least one asset has a bar",
        "label": "latest bar time of the day across all assets",
        "layout": "long, complete grid (day x asset); missing rows have null prices, n_bars = 0",
        "days": dates.len(),
        "assets": sorted(missing),
        **_span(daily),
        "weekdays_without_any_data": _empty_weekdays(dates, "1d"),
        "per_asset": per_asset,
    }


def weekly_meta(weekly: pl.DataFrame) -> dict[str, Any]:
    """Metadata of :func:`~algotrader.data.cleaning.weekly_ohlc`'s table."""
    missing = _missing(weekly, "n_days")
    have = weekly.filter(pl.col("n_days") > 0).with_columns(
        label=iso(pl.col("timestamp")),
        no_mon=pl.col("open_day").dt.weekday() != 1,
        no_fri=pl.col("close_day").dt.weekday() != 5,
    )
    per_asset: dict[str, Any] = {}
    for asset, gaps in missing.items():
        mine = have.filter(pl.col("asset") == asset)
        per_asset[asset] = {
            "weeks_present": mine.height,
            "missing_weeks_count": len(gaps["labels"]),
            "missing_weeks": gaps["labels"],
            "missing_by_month": gaps["by_month"],
            "weeks_open_not_monday": mine.filter("no_mon")["label"].to_list(),
            "weeks_close_not_friday": mine.filter("no_fri")["label"].to_list(),
        }
    weeks = weekly["week_start"].unique().sort()
    return {
        "table": "weekly_ohlc",
        "week": "Monday..Friday (UTC), labelled by the latest bar time in the week across all assets",
        "open": "first available day's open (Monday when present)",
        "close": "last available day's close (Friday when present)",
        "layout": "long, complete grid (week x asset); missing rows have null prices, n_days = 0",
        "weeks": weeks.len(),
        "assets": sorted(missing),
        **_span(weekly),
        "weeks_without_any_data": _empty_weekdays(weeks, "1w"),
        "per_asset": per_asset,
    }


__all__ = ["ISO_FORMAT", "daily_meta", "iso", "weekly_meta"]
