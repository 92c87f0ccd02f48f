"""Daily/weekly aggregation on hand-made bars with answers worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from algotrader.data import clean_bars, daily_ohlc, read_long, weekly_ohlc, weekly_returns
from algotrader.data.meta import daily_meta


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


@pytest.fixture
def two_assets(dl: Any) -> pl.DataFrame:
    """A: Tue-Fri of a holiday week (Mon 1 Jan), Mon+Fri of week 2, Tue+Thu of week 3.
    B: Tue+Thu of week 1 (no Friday), nothing in week 2, Mon+Fri of week 3.
    Nobody trades on 9, 10, 11 and 17 January."""
    f = dl.flat
    return dl.make_bars(
        [
            f("A", "2024-01-02T15:00", 2.0),
            f("A", "2024-01-03T15:00", 3.0),
            f("A", "2024-01-04T15:00", 4.0),
            f("A", "2024-01-05T20:00", 5.0),
            f("A", "2024-01-08T15:00", 8.0),
            f("A", "2024-01-12T15:00", 12.0),
            f("A", "2024-01-16T15:00", 16.0),
            f("A", "2024-01-18T15:00", 18.0),
            f("B", "2024-01-02T15:00", 20.0),
            f("B", "2024-01-04T21:00", 40.0),
            f("B", "2024-01-15T15:00", 150.0),
            f("B", "2024-01-19T22:00", 190.0),
        ]
    )


def test_daily_ohlc_from_intraday_bars(dl: Any) -> None:
    bars = dl.make_bars(
        [
            ("A", "2024-01-02T09:00", 10, 11, 9, 10.5, 1),
            ("A", "2024-01-02T10:00", 10.5, 12, 10, 11, 2),
            ("A", "2024-01-02T15:00", 11, 11.5, 8, 9, 3),
            ("A", "2024-01-06T10:00", 9, 9, 9, 9, 5),  # Saturday: not a day
            ("B", "2024-01-02T09:00", 5, 5, 5, 5, None),
            ("B", "2024-01-02T16:00", 5, 6, 4, 6, 1),
        ]
    )
    daily = daily_ohlc(bars)
    assert daily.columns == [
        "timestamp", "date", "asset", "open", "high", "low", "close", "volume", "n_bars",
    ]  # fmt: skip
    assert daily.rows() == [
        (ts("2024-01-02T16:00"), date(2024, 1, 2), "A", 10.0, 12.0, 8.0, 9.0, 6.0, 3),
        # one unknown volume makes the day's volume unknown (never a partial sum)
        (ts("2024-01-02T16:00"), date(2024, 1, 2), "B", 5.0, 6.0, 4.0, 6.0, None, 2),
    ]
    meta = daily_meta(bars, daily)
    assert meta["per_asset"]["A"]["weekend_bars_excluded"] == 1
    assert meta["per_asset"]["A"]["bars"] == 4
    assert meta["per_asset"]["B"]["weekend_bars_excluded"] == 0


def test_weekly_ohlc_holiday_week_missing_monday_friday_and_missing_week(
    two_assets: pl.DataFrame,
) -> None:
    weekly = weekly_ohlc(daily_ohlc(two_assets))
    got = weekly.select(
        "timestamp", "week_start", "asset", "open", "high", "low", "close", "n_days",
        "open_day", "close_day",
    ).rows()  # fmt: skip
    d = date
    assert got == [
        # week 1: Monday is a holiday -> open from Tuesday; label = A's Friday 20:00 bar
        (ts("2024-01-05T20:00"), d(2024, 1, 1), "A", 2.0, 5.0, 2.0, 5.0, 4, d(2024, 1, 2), d(2024, 1, 5)),
        # B has no Friday -> close from Thursday
        (ts("2024-01-05T20:00"), d(2024, 1, 1), "B", 20.0, 40.0, 20.0, 40.0, 2, d(2024, 1, 2), d(2024, 1, 4)),
        (ts("2024-01-12T15:00"), d(2024, 1, 8), "A", 8.0, 12.0, 8.0, 12.0, 2, d(2024, 1, 8), d(2024, 1, 12)),
        # B misses the whole week: a row with nulls, n_days = 0 (not filled)
        (ts("2024-01-12T15:00"), d(2024, 1, 8), "B", None, None, None, None, 0, None, None),
        # week 3: A has neither Monday nor Friday; label = B's Friday 22:00 bar
        (ts("2024-01-19T22:00"), d(2024, 1, 15), "A", 16.0, 18.0, 16.0, 18.0, 2, d(2024, 1, 16), d(2024, 1, 18)),
        (ts("2024-01-19T22:00"), d(2024, 1, 15), "B", 150.0, 190.0, 150.0, 190.0, 2, d(2024, 1, 15), d(2024, 1, 19)),
    ]  # fmt: skip


def test_weekly_returns_simple_and_log(two_assets: pl.DataFrame) -> None:
    weekly = weekly_ohlc(daily_ohlc(two_assets))
    simple = weekly_returns(weekly, "simple")
    assert simple.columns == ["timestamp", "A", "B"]
    assert simple["timestamp"].to_list() == [ts("2024-01-12T15:00"), ts("2024-01-19T22:00")]
    assert simple["A"].to_list() == pytest.approx([12 / 5 - 1, 18 / 12 - 1], rel=1e-15)
    # B is missing in week 2: both the return into and out of that week are missing
    assert simple["B"].to_list() == [None, None]
    log = weekly_returns(weekly, "log")
    assert log["A"].to_list() == pytest.approx([math.log(12 / 5), math.log(18 / 12)], rel=1e-15)


def test_weekly_meta_and_daily_meta_record_gaps(two_assets: pl.DataFrame) -> None:
    result = clean_bars(two_assets)
    w = result.weekly_meta["per_asset"]
    assert w["B"]["missing_weeks"] == ["2024-01-12T15:00:00Z"]
    assert w["B"]["missing_by_month"] == {"2024-01": 1}
    assert w["A"]["weeks_open_not_monday"] == ["2024-01-05T20:00:00Z", "2024-01-19T22:00:00Z"]
    assert w["A"]["weeks_close_not_friday"] == ["2024-01-19T22:00:00Z"]
    assert w["B"]["weeks_close_not_friday"] == ["2024-01-05T20:00:00Z"]
    d = result.daily_meta
    assert d["days"] == 10
    assert d["weekdays_without_any_data"] == [
        "2024-01-09",
        "2024-01-10",
        "2024-01-11",
        "2024-01-17",
    ]
    assert d["per_asset"]["A"]["missing_days"] == ["2024-01-15T15:00:00Z", "2024-01-19T22:00:00Z"]
    assert d["per_asset"]["B"]["missing_days_count"] == 6
    assert d["per_asset"]["B"]["missing_by_month"] == {"2024-01": 6}
    assert result.week_label == "2024-03"
    np_missing = result.tensor.missing
    assert np_missing.tolist() == [[False, True], [False, True]]


def test_year_boundary_week_and_lake_label(dl: Any) -> None:
    f = dl.flat
    bars = dl.make_bars(
        [
            f("A", "2024-12-27T15:00", 0.5),
            f("A", "2024-12-30T15:00", 1.0),
            f("A", "2024-12-31T15:00", 2.0),
            f("A", "2025-01-02T15:00", 3.0),
            f("A", "2025-01-03T15:00", 4.0),
        ]
    )
    result = clean_bars(bars)
    rows = result.weekly.select("week_start", "open", "close", "n_days").rows()
    assert rows == [(date(2024, 12, 23), 0.5, 0.5, 1), (date(2024, 12, 30), 1.0, 4.0, 4)]
    assert result.week_label == "2025-01"  # ISO week of 2025-01-03
    assert result.returns["A"].to_list() == [7.0]
    assert result.daily_meta["weekdays_without_any_data"] == ["2025-01-01"]


def test_dst_local_times_are_converted_to_utc(tmp_path: Any) -> None:
    """Naive New York times across the 2024-03-10 DST switch: the UTC offset moves from
    5 to 4 hours; 20:00 EST on Friday is already Saturday 01:00 UTC (a weekend bar)."""
    path = tmp_path / "ny.csv"
    path.write_text(
        "timestamp,asset,open,high,low,close,volume\n"
        "2024-03-08 16:00:00,X,1,1,1,1,1\n"
        "2024-03-08 20:00:00,X,2,2,2,2,1\n"
        "2024-03-11 16:00:00,X,3,3,3,3,1\n"
    )
    bars = read_long(path, tz="America/New_York")
    assert bars["timestamp"].to_list() == [
        ts("2024-03-08T21:00"),
        ts("2024-03-09T01:00"),
        ts("2024-03-11T20:00"),
    ]
    result = clean_bars(bars)
    assert result.daily["close"].to_list() == [1.0, 3.0]
    assert result.daily_meta["per_asset"]["X"]["weekend_bars_excluded"] == 1
    assert result.returns["X"].to_list() == [2.0]


def test_month_boundary_inside_a_week(dl: Any) -> None:
    f = dl.flat
    bars = dl.make_bars(
        [
            f("A", "2024-01-29T10:00", 10.0),
            f("A", "2024-02-02T10:00", 11.0),
            f("B", "2024-01-29T10:00", 1.0),
            f("B", "2024-01-31T10:00", 1.0),
        ]
    )
    result = clean_bars(bars)
    assert result.weekly["week_start"].unique().to_list() == [date(2024, 1, 29)]
    missing = result.daily_meta["per_asset"]["B"]["missing_by_month"]
    assert missing == {"2024-02": 1}
    assert result.daily_meta["per_asset"]["A"]["missing_by_month"] == {"2024-01": 1}


def test_asset_with_weekend_bars_only_is_kept_and_reported(dl: Any) -> None:
    f = dl.flat
    bars = dl.make_bars(
        [
            f("A", "2024-01-05T10:00", 1.0),
            f("A", "2024-01-12T10:00", 2.0),
            f("W", "2024-01-06T10:00", 5.0),
        ]
    )
    result = clean_bars(bars)
    assert result.daily["asset"].unique().sort().to_list() == ["A", "W"]
    assert result.daily.filter(pl.col("asset") == "W")["n_bars"].to_list() == [0, 0]
    meta = result.daily_meta["per_asset"]["W"]
    assert (meta["bars"], meta["weekend_bars_excluded"], meta["missing_days_count"]) == (1, 1, 2)
    assert result.returns.columns == ["timestamp", "A", "W"]
    assert result.returns["W"].to_list() == [None]
    assert result.tensor.missing.tolist() == [[False, True]]
