"""Raw layout -> lake -> tensor round trip, determinism, bundled datasets, the pipeline step."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from algotrader.data import (
    clean_bars,
    latest_lake,
    list_datasets,
    load_daily_close,
    load_dataset,
    load_return_tensor,
    read_lake_table,
)
from algotrader.data.service import CleaningOptions, run_cleaning
from algotrader.errors import DataError, StateError


@pytest.fixture
def raw_root(tmp_path: Path, dl: Any) -> Path:
    """Two assets, hourly bars over Dec 2023 - Jan 2024 (year boundary), 8h a weekday."""
    rng = np.random.default_rng(7)
    rows = []
    day = np.datetime64("2023-12-04")
    while day < np.datetime64("2024-01-20"):
        if np.is_busday(day):
            for asset, base in (("EURUSD", 1.1), ("GOLD", 2000.0)):
                for hour in range(8, 16):
                    o, c = base * (1 + rng.normal(0, 0.01, 2))
                    rows.append(
                        (
                            asset,
                            f"{day}T{hour:02d}:00",
                            o,
                            max(o, c) * 1.001,
                            min(o, c) * 0.999,
                            c,
                            10.0,
                        )
                    )
        day += 1
    return dl.write_raw(dl.make_bars(rows), tmp_path / "raw")  # type: ignore[no-any-return]


def test_raw_to_lake_to_tensor(raw_root: Path, tmp_path: Path) -> None:
    folder, _result = run_cleaning(
        CleaningOptions(start="2023-12"), lake_root=tmp_path / "lake", data_source=raw_root
    )
    assert folder == tmp_path / "lake" / "2024-03"
    expected = {
        "daily_ohlc.csv", "daily_ohlc.parquet", "daily_ohlc_meta.json", "weekly_ohlc.csv",
        "weekly_ohlc.parquet", "weekly_ohlc_meta.json", "returns.csv", "returns.parquet",
        "return_tensor.npz", "manifest.json",
    }  # fmt: skip
    assert {p.name for p in folder.iterdir()} == expected
    assert latest_lake(tmp_path / "lake") == folder
    tensor = load_return_tensor(folder / "return_tensor.npz")
    returns = read_lake_table(folder, "returns")
    weekly = read_lake_table(folder, "weekly_ohlc")
    closes = weekly.pivot(on="asset", index="timestamp", values="close").sort("timestamp")
    by_hand = closes.select(pl.col("EURUSD", "GOLD") / pl.col("EURUSD", "GOLD").shift(1) - 1).slice(
        1
    )
    assert tensor.values.shape == (6, 2)
    assert tensor.assets.tolist() == ["EURUSD", "GOLD"]
    assert tensor.return_type == "simple"
    np.testing.assert_array_equal(tensor.values, by_hand.to_numpy())
    np.testing.assert_array_equal(tensor.values, returns.select("EURUSD", "GOLD").to_numpy())
    stamps = returns["timestamp"].dt.replace_time_zone(None).to_numpy()
    np.testing.assert_array_equal(tensor.timestamps, stamps)
    assert not tensor.missing.any()
    # CSV twin holds the same numbers and ISO UTC timestamps
    csv = pl.read_csv(folder / "returns.csv")
    assert csv["timestamp"][0] == "2023-12-15T15:00:00Z"
    np.testing.assert_array_equal(csv.select("EURUSD", "GOLD").to_numpy(), tensor.values)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source"]["months"] == ["2023-12", "2024-01"]


def test_start_end_and_assets_selection(raw_root: Path, tmp_path: Path) -> None:
    opts = CleaningOptions(start="2024-01", end="2024-01", assets=("GOLD",), return_type="log")
    _folder, result = run_cleaning(opts, lake_root=tmp_path / "lake", data_source=raw_root)
    assert result.returns.columns == ["timestamp", "GOLD"]
    assert result.daily["date"].min().isoformat() == "2024-01-01"  # type: ignore[union-attr]
    closes = result.weekly["close"].to_numpy()
    np.testing.assert_allclose(
        result.tensor.values[:, 0], np.diff(np.log(closes)), rtol=0, atol=1e-15
    )


def test_rerun_gives_identical_bytes(raw_root: Path, tmp_path: Path) -> None:
    opts = CleaningOptions(start="2023-12")
    first, _ = run_cleaning(opts, lake_root=tmp_path / "lake", data_source=raw_root)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    second, _ = run_cleaning(opts, lake_root=tmp_path / "lake", data_source=raw_root)
    assert second == first
    assert {p.name: p.read_bytes() for p in second.iterdir()} == before
    other, _ = run_cleaning(opts, lake_root=tmp_path / "lake2", data_source=raw_root)
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before


def test_tensor_refuses_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "t.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(StateError, match="cannot read return tensor"):
        load_return_tensor(bad)
    np.savez(tmp_path / "partial.npz", values=np.zeros((1, 1)))
    with pytest.raises(StateError, match=r"return tensor lacks timestamps"):
        load_return_tensor(tmp_path / "partial.npz")


def test_latest_lake_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no data lake folder"):
        latest_lake(tmp_path)


@pytest.mark.parametrize("info", list_datasets(), ids=lambda d: d.name)
def test_every_bundled_dataset_loads_and_matches_registry(info: Any) -> None:
    bars = load_dataset(info.name)
    assert bars.height == info.rows * len(info.assets)
    assert sorted(bars["asset"].unique().to_list()) == sorted(info.assets)
    assert bars["timestamp"].min().date().isoformat() == info.start  # type: ignore[union-attr]
    assert bars["timestamp"].max().date().isoformat() == info.end  # type: ignore[union-attr]
    assert info.path.is_file()
    assert bars.schema["timestamp"] == pl.Datetime("us", "UTC")


def test_eurusd_hourly_cleans_with_weekend_bars_reported() -> None:
    result = clean_bars(load_dataset("eurusd_hourly"))
    meta = result.daily_meta["per_asset"]["EURUSD"]
    assert meta["weekend_bars_excluded"] > 0  # Sunday-evening bars
    assert meta["bars"] == 6225
    assert result.week_label == "2017-52"
    # the daily close is the close of the day's last hourly bar
    raw = load_dataset("eurusd_hourly").filter(
        pl.col("timestamp").dt.date() == pl.date(2017, 6, 14)
    )
    day = result.daily.filter(pl.col("date") == pl.date(2017, 6, 14))
    assert day["close"][0] == raw["close"][-1]
    assert day["high"][0] == raw["high"].max()


def test_daily_close_frame_for_pipeline() -> None:
    frame = load_daily_close()
    assert frame.shape == (8313, 21)
    assert frame.schema["date"] == pl.Date
    assert all(frame.schema[c] == pl.Float64 for c in frame.columns[1:])
    assert frame["date"].is_sorted()
    assert frame.null_count().sum_horizontal()[0] == 0


def test_data_step(tmp_path: Path) -> None:
    from algotrader.pipeline import PipelineContext
    from algotrader.pipeline.data_step import run
    from algotrader.settings import Settings

    settings = Settings.from_env({"ALGOTRADER_HOME": str(tmp_path)})
    ctx = PipelineContext(settings=settings, out_dir=tmp_path / "out")
    report = run(ctx)
    lake_dir = ctx.results["lake_dir"]
    assert lake_dir == tmp_path / "lake" / "bundled" / "sp500_20_stocks" / "2022-52"
    assert (lake_dir / "return_tensor.npz").is_file()
    assert ctx.results["daily_close"].shape == (8313, 21)
    s = report.summary
    assert (s["assets"], s["start"], s["end"], s["missing_daily_cells"]) == (
        20,
        "1990-01-02",
        "2022-12-28",
        0,
    )
    aapl = ctx.results["daily_close"]["AAPL"]
    dates = ctx.results["daily_close"]["date"]
    years = (dates[-1] - dates[0]).days / 365.25
    assert s["per_asset"]["AAPL"]["ann_return"] == pytest.approx(
        (aapl[-1] / aapl[0]) ** (1 / years) - 1, abs=1e-6
    )
    vol = aapl.pct_change().drop_nulls().std() * math.sqrt(252)  # type: ignore[operator]
    assert s["per_asset"]["AAPL"]["ann_vol"] == pytest.approx(vol, abs=1e-6)
    assert [t[0] for t in report.tables][1].startswith("Per-asset")
    assert len(report.tables[1][2]) == 20


def test_wide_parquet_equals_wide_csv(tmp_path: Path) -> None:
    from algotrader.data import read_bars

    frame = pl.DataFrame({"date": ["2024-01-02", "2024-01-03"], "B": [1.5, None], "A": [2.0, 2.5]})
    frame.write_csv(tmp_path / "w.csv")
    frame.with_columns(pl.col("date").str.to_date()).write_parquet(tmp_path / "w.parquet")
    from_csv = read_bars(tmp_path / "w.csv")
    assert from_csv.equals(read_bars(tmp_path / "w.parquet"))
    assert from_csv.select("asset", "close").rows() == [("A", 2.0), ("A", 2.5), ("B", 1.5)]
