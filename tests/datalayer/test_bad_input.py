"""Every documented input error is raised, typed, with file/row/column and its message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from algotrader.data import (
    get_dataset,
    read_long,
    read_raw_layout,
    read_wide,
    validate_bars,
    weekly_returns,
)
from algotrader.data.service import CleaningOptions
from algotrader.errors import ConfigError, DataError, SchemaError

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = "2024-01-02T09:00:00Z,10,11,9,10.5,100\n"
GOOD2 = "2024-01-02T10:00:00Z,10.5,12,10,11,50\n"

RawCsv = Callable[..., Path]


def _read(path: Path, **kw: object) -> pl.DataFrame:
    root = path.parents[2]
    return read_raw_layout(root, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "match", "row", "column"),
    [
        ("not-a-time,10,11,9,10.5,100\n", r"unparseable timestamp 'not-a-time'", 2, "timestamp"),
        (GOOD.replace("T09", "T10"), r"duplicate timestamp 2024-01-02 10:00", 2, "timestamp"),
        (GOOD.replace("T09", "T08"), r"unsorted rows: 2024-01-02 08:00:00\+00:00 is earlier", 2, "timestamp"),
        ("2024-01-02T11:00:00Z,0,11,9,10.5,100\n", r"non-positive open price 0\.0", 2, "open"),
        ("2024-01-02T11:00:00Z,10,11,-1,10.5,100\n", r"non-positive low price -1\.0", 2, "low"),
        ("2024-01-02T11:00:00Z,10,11,10.2,10.5,100\n", r"low 10\.2 is above min\(open, close\) = 10\.0", 2, "low"),
        ("2024-01-02T11:00:00Z,10,10.4,9,10.5,100\n", r"high 10\.4 is below max\(open, close\) = 10\.5", 2, "high"),
        ("2024-01-02T11:00:00Z,10,11,9,10.5,-3\n", r"negative volume -3\.0", 2, "volume"),
        ("2024-01-02T11:00:00Z,10,11,9,abc,1\n", r"close value 'abc' is not a number", 2, "close"),
        ("2024-01-02T11:00:00Z,10,11,9,,1\n", r"missing close price", 2, "close"),
        ("2024-01-02T11:00:00Z,10,11,9,nan,1\n", r"close price nan is not finite", 2, "close"),
        ("2024-01-02 11:00:00,10,11,9,10.5,1\n", r"naive timestamp '2024-01-02 11:00:00' \(no time zone\)", 2, "timestamp"),
        ("2024-02-01T11:00:00Z,10,11,9,10.5,1\n", r"outside the month the file is named after", 2, "timestamp"),
    ],
)  # fmt: skip
def test_raw_file_errors(raw_csv: RawCsv, body: str, match: str, row: int, column: str) -> None:
    path = raw_csv(HEADER + GOOD2 + body)
    with pytest.raises(DataError, match=match) as info:
        _read(path)
    assert info.value.file == str(path)
    assert info.value.row == row
    assert info.value.column == column
    assert info.value.hint


def test_error_in_second_month_names_that_file(raw_csv: RawCsv) -> None:
    raw_csv(HEADER + GOOD, month="2024-01")
    bad = raw_csv(
        HEADER + "2024-02-01T09:00:00Z,1,1,1,1,1\n2024-02-01T10:00:00Z,1,1,1,1,-1\n",
        month="2024-02",
    )
    with pytest.raises(DataError, match="negative volume") as info:
        _read(bad)
    assert (info.value.file, info.value.row) == (str(bad), 2)


def test_missing_column(raw_csv: RawCsv) -> None:
    path = raw_csv("timestamp,open,high,low,close\n2024-01-02T09:00:00Z,1,1,1,1\n")
    with pytest.raises(SchemaError, match=r"missing column 'volume'") as info:
        _read(path)
    assert info.value.file == str(path)
    assert info.value.column == "volume"


def test_naive_timestamps_accepted_with_zone(raw_csv: RawCsv) -> None:
    path = raw_csv(HEADER + "2024-01-02 09:00:00,1,1,1,1,1\n")
    bars = _read(path, tz="Europe/Paris")
    assert str(bars["timestamp"][0]) == "2024-01-02 08:00:00+00:00"


def test_nonexistent_local_time_is_refused(raw_csv: RawCsv) -> None:
    path = raw_csv(HEADER + "2024-03-31 02:30:00,1,1,1,1,1\n", month="2024-03")
    with pytest.raises(DataError, match=r"does not exist or is ambiguous in zone Europe/Paris"):
        _read(path, tz="Europe/Paris")


def test_unknown_zone(raw_csv: RawCsv) -> None:
    path = raw_csv(HEADER + GOOD)
    with pytest.raises(ConfigError, match=r"unknown time zone 'Mars/Olympus'"):
        _read(path, tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="unknown time zone"):
        CleaningOptions(tz="Mars/Olympus")


def test_bad_file_name_and_misplaced_year(tmp_path: Path) -> None:
    bad = tmp_path / "raw" / "AAA" / "2024" / "hist_data_2024-13.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(HEADER + GOOD)
    with pytest.raises(DataError, match=r"not hist_data_YYYY-MM\.csv") as info:
        read_raw_layout(tmp_path / "raw")
    assert info.value.file == str(bad)
    bad.rename(bad.with_name("hist_data_2023-12.csv"))
    with pytest.raises(DataError, match=r"bar file for 2023 is in the folder of year 2024"):
        read_raw_layout(tmp_path / "raw")


def test_selection_errors(raw_csv: RawCsv, tmp_path: Path) -> None:
    raw_csv(HEADER + GOOD)
    root = tmp_path / "raw"
    with pytest.raises(ConfigError, match=r"unknown asset\(s\) ZZZ") as info:
        read_raw_layout(root, assets=["ZZZ"])
    assert info.value.key == "assets"
    assert "available: AAA" in str(info.value)
    with pytest.raises(ConfigError, match=r"start 2024-03 is after end 2024-01"):
        read_raw_layout(root, start="2024-03", end="2024-01")
    with pytest.raises(ConfigError, match=r"invalid month '2024-1x'"):
        read_raw_layout(root, start="2024-1x")
    with pytest.raises(DataError, match=r"no bar files between 2025-01 and 2025-02"):
        read_raw_layout(root, start="2025-01", end="2025-02")
    with pytest.raises(DataError, match=r"data source folder not found"):
        read_raw_layout(tmp_path / "nowhere")


def test_long_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "timestamp,asset,open,high,low,close,volume\n"
        "2024-01-02T09:00:00Z,A,1,1,1,1,1\n"
        "2024-01-02T09:00:00Z,B,1,1,1,1,1\n"
        "2024-01-02T08:00:00Z,A,1,1,1,1,1\n"
    )
    with pytest.raises(DataError, match=r"unsorted rows") as info:
        read_long(path)
    assert (info.value.row, info.value.column) == (3, "timestamp")
    path.write_text("timestamp,asset,open,high,low,close,volume\n2024-01-02T09:00:00Z,,1,1,1,1,1\n")
    with pytest.raises(DataError, match=r"empty asset name"):
        read_long(path)
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-02T09:00:00Z,1,1,1,1,1\n")
    with pytest.raises(SchemaError, match=r"missing column 'asset'"):
        read_long(path)
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        read_long(path.rename(tmp_path / "long.txt"))
    with pytest.raises(DataError, match=r"file not found"):
        read_long(tmp_path / "absent.csv")


def test_parquet_naive_timestamps_refused(tmp_path: Path) -> None:
    from datetime import datetime

    frame = pl.DataFrame(
        {"timestamp": [datetime(2024, 1, 2, 9)], "asset": ["A"], "open": [1.0], "high": [1.0],
         "low": [1.0], "close": [1.0], "volume": [1.0]}
    )  # fmt: skip
    path = tmp_path / "naive.parquet"
    frame.write_parquet(path)
    with pytest.raises(DataError, match=r"naive timestamp"):
        read_long(path)
    assert str(read_long(path, tz="UTC")["timestamp"][0]) == "2024-01-02 09:00:00+00:00"


def test_wide_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("day,A\n2024-01-02,1\n")
    with pytest.raises(SchemaError, match=r"missing date column"):
        read_wide(path)
    path.write_text("date,A,B\n2024-01-03,1,2\n2024-01-02,1,2\n")
    with pytest.raises(DataError, match=r"2024-01-02 at row 2 is earlier than") as info:
        read_wide(path)
    assert (info.value.row, info.value.column) == (2, "date")
    path.write_text("date,A,B\n2024-01-02,1,2\n2024-01-03,1,-2\n")
    with pytest.raises(DataError, match=r"price -2\.0 of B is not > 0") as info:
        read_wide(path)
    assert (info.value.row, info.value.column) == (2, "B")
    path.write_text("date,A\n2024-01-02,1\n2024-01-02,1\n")
    with pytest.raises(DataError, match=r"duplicate date 2024-01-02 at row 2 \(also at row 1\)"):
        read_wide(path)
    path.write_text("date,A\n01/02/2024,1\n")
    with pytest.raises(
        DataError, match=r"unparseable date '01/02/2024' \(expected format %Y\.%m\.%d\)"
    ):
        read_wide(path, date_format="%Y.%m.%d")


def test_validate_bars_requires_columns() -> None:
    with pytest.raises(SchemaError, match=r"missing column 'timestamp'"):
        validate_bars(pl.DataFrame({"open": [1.0]}))


def test_unknown_dataset_and_return_type() -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'nope'"):
        get_dataset("nope")
    frame = pl.DataFrame({"timestamp": [], "asset": [], "close": []})
    with pytest.raises(ConfigError, match=r"unknown return type 'cubic'"):
        weekly_returns(frame, "cubic")  # type: ignore[arg-type]


def test_cleaning_refuses_unsorted_tables(dl: Any) -> None:
    from algotrader.data import daily_ohlc

    f = dl.flat
    bars = dl.make_bars([f("A", "2024-01-02T10:00", 1.0), f("A", "2024-01-02T11:00", 2.0)])
    with pytest.raises(DataError, match=r"bars are not sorted by \(asset, timestamp\)"):
        daily_ohlc(bars.reverse())
    split = pl.concat([bars.head(1), dl.make_bars([f("B", "2024-01-02T10:00", 1.0)]), bars.tail(1)])
    with pytest.raises(DataError, match=r"bars are not sorted by \(asset, timestamp\)"):
        daily_ohlc(split)


def test_cleaning_options_typed_errors_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"invalid CleaningOptions: Input should be 'simple' or 'log'"
    ) as info:
        CleaningOptions.create(return_type="cubic")
    assert info.value.key == "return_type"
    with pytest.raises(ConfigError, match=r"Extra inputs are not permitted") as info:
        CleaningOptions.create(stat="2024-01")
    assert info.value.key == "stat"
    with pytest.raises(ConfigError, match=r"Extra inputs are not permitted") as info:
        CleaningOptions(stat="2024-01")  # type: ignore[call-arg]  # direct: same error
    assert info.value.key == "stat"
    with pytest.raises(ConfigError, match=r"invalid month '2024-13'") as info:
        CleaningOptions(end="2024-13")
    assert info.value.key == "end"
    good = tmp_path / "opts.yml"
    good.write_text("start: 2024-01\nreturn_type: log\nassets: [A, B]\n")
    opts = CleaningOptions.from_yaml(good)
    assert (opts.start, opts.return_type, opts.assets) == ("2024-01", "log", ("A", "B"))
    bad = tmp_path / "bad.yml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=r"CleaningOptions must be a mapping, got list") as info:
        CleaningOptions.from_yaml(bad)
    assert info.value.file == str(bad)
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("start: 2024-01\ntz: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"unknown time zone") as info:
        CleaningOptions.from_yaml(wrong)
    assert (info.value.key, info.value.file) == ("tz", str(wrong))
