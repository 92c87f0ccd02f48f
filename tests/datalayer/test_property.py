"""Property: the same bars in any input layout give the same lake, byte for byte."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.data import load_return_tensor, read_lake_table
from algotrader.data.schema import LONG_COLUMNS
from algotrader.data.service import CleaningOptions, run_cleaning

LAKE_FILES = (
    "daily_ohlc.csv",
    "daily_ohlc.parquet",
    "daily_ohlc_meta.json",
    "weekly_ohlc.csv",
    "weekly_ohlc.parquet",
    "weekly_ohlc_meta.json",
    "returns.csv",
    "returns.parquet",
    "return_tensor.npz",
)
START = datetime(2024, 1, 22, tzinfo=UTC)  # spans the Jan/Feb month boundary


@st.composite
def bar_tables(draw: st.DrawFn) -> pl.DataFrame:
    n_assets = draw(st.integers(1, 3))
    rows: list[dict[str, Any]] = []
    for a in range(n_assets):
        hours = draw(st.sets(st.integers(0, 24 * 24), min_size=1, max_size=40))
        for h in sorted(hours):
            o = draw(st.floats(0.5, 200.0))
            c = draw(st.floats(0.5, 200.0))
            up = draw(st.floats(0.0, 0.2))
            down = draw(st.floats(0.0, 0.2))
            vol = draw(st.one_of(st.none(), st.floats(0.0, 1e6)))
            rows.append(
                {
                    "timestamp": START + timedelta(hours=h),
                    "asset": f"A{a}",
                    "open": o,
                    "high": max(o, c) * (1.0 + up),
                    "low": min(o, c) * (1.0 - down),
                    "close": c,
                    "volume": vol,
                }
            )
    frame = pl.DataFrame(rows, schema_overrides={"volume": pl.Float64})
    return frame.with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC"))).select(
        LONG_COLUMNS
    )


def _lake_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in LAKE_FILES}


@settings(max_examples=25, deadline=None)
@given(bars=bar_tables(), return_type=st.sampled_from(["simple", "log"]))
def test_layouts_give_identical_lakes(bars: pl.DataFrame, return_type: str, dl: Any) -> None:
    opts = CleaningOptions(return_type=return_type)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = dl.write_raw(bars, root / "raw")
        long_csv = dl.write_long_csv(bars, root / "bars.csv")
        long_pq = dl.write_long_parquet(bars, root / "bars.parquet")
        if bars.filter(pl.col("timestamp").dt.weekday() <= 5).is_empty():
            return  # weekend-only input: refused alike, covered by the bad-input tests
        lakes = [
            run_cleaning(opts, lake_root=root / "lake_raw", data_source=raw)[0],
            run_cleaning(opts, lake_root=root / "lake_csv", input_file=long_csv)[0],
            run_cleaning(opts, lake_root=root / "lake_pq", input_file=long_pq)[0],
        ]
        assert len({p.name for p in lakes}) == 1
        first = _lake_bytes(lakes[0])
        for other in lakes[1:]:
            assert _lake_bytes(other) == first
        # and the lake agrees with the input: closes of each asset's last weekday bar per week
        weekly = read_lake_table(lakes[0], "weekly_ohlc").drop_nulls("close")
        wk = bars.filter(pl.col("timestamp").dt.weekday() <= 5).with_columns(
            week_start=pl.col("timestamp").dt.date().dt.truncate("1w")
        )
        last = (
            wk.group_by("asset", "week_start")
            .agg(pl.col("close").last())
            .sort("week_start", "asset")
        )
        assert (
            weekly.select("asset", "week_start", "close")
            .sort("week_start", "asset")
            .equals(last.select("asset", "week_start", "close"))
        )
        tensor = load_return_tensor(lakes[0] / "return_tensor.npz")
        assert tensor.values.dtype == np.float64
        assert np.array_equal(tensor.missing, np.isnan(tensor.values))


@settings(max_examples=30, deadline=None)
@given(bars=bar_tables(), cut_hours=st.integers(0, 24 * 24), factor=st.floats(0.1, 10.0))
def test_no_look_ahead(bars: pl.DataFrame, cut_hours: int, factor: float) -> None:
    """Corrupting every bar from a week on leaves all earlier days, weeks and returns unchanged."""
    from algotrader.data import clean_bars

    weekdays = bars.filter(pl.col("timestamp").dt.weekday() <= 5)
    if weekdays.is_empty():
        return
    cut = START + timedelta(hours=cut_hours)
    week0 = (cut - timedelta(days=cut.weekday())).date()  # Monday of the cut's week
    later = pl.col("timestamp").dt.date() >= week0
    prices = ("open", "high", "low", "close")
    corrupted = bars.with_columns(
        [pl.when(later).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c) for c in prices]
    )
    before, after = clean_bars(bars), clean_bars(corrupted)
    early_d = pl.col("date") < week0
    assert before.daily.filter(early_d).equals(after.daily.filter(early_d))
    early_w = pl.col("week_start") < week0
    assert before.weekly.filter(early_w).equals(after.weekly.filter(early_w))
    labels = before.weekly.filter(early_w)["timestamp"].unique()
    early_r = pl.col("timestamp").is_in(labels.implode())
    assert before.returns.filter(early_r).equals(after.returns.filter(early_r))
