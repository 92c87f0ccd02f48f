"""CLI: data-cleaning (and its data_cleaning alias) and datasets, via typer's CliRunner."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from algotrader.cli import app, main
from algotrader.data import load_return_tensor
from algotrader.errors import ConfigError, DataError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Any:
    """The CLI attaches console handlers to the ``algotrader`` logger; undo that afterwards
    so later tests (doctests included) do not print log lines."""
    import logging

    logger = logging.getLogger("algotrader")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dl: Any) -> Path:
    """A tmp DATA_SOURCE with two assets over Feb-Mar 2024, lake under tmp."""
    f = dl.flat
    rows = []
    for day in range(5, 29):  # Feb 2024
        when = f"2024-02-{day:02d}T12:00"
        if np.is_busday(np.datetime64(when[:10])):
            rows += [f("AAA", when, 10.0 + day), f("BBB", when, 50.0 - day)]
    rows += [f("AAA", "2024-03-01T12:00", 40.0), f("BBB", "2024-03-01T12:00", 20.0)]
    dl.write_raw(dl.make_bars(rows), tmp_path / "raw")
    monkeypatch.chdir(tmp_path)
    for key in ("ALGOTRADER_HOME", "DATA_LAKE_SOURCE", "LOG_DEST", "LOG_FILE_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATA_SOURCE", str(tmp_path / "raw"))
    monkeypatch.setenv("DATA_LAKE_SOURCE", str(tmp_path / "lake"))
    return tmp_path


def test_data_cleaning_writes_lake(env: Path) -> None:
    result = runner.invoke(app, ["--quiet", "data-cleaning", "--start", "2024-02"])
    assert result.exit_code == 0, result.output
    folder = env / "lake" / "2024-09"
    assert (folder / "returns.csv").is_file()
    assert "lake folder" in result.output
    tensor = load_return_tensor(folder / "return_tensor.npz")
    assert tensor.assets.tolist() == ["AAA", "BBB"]
    # week of 26 Feb closes Fri 1 Mar: AAA 40 after 33 on Fri 23 Feb (10 + day)
    assert tensor.values[-1, 0] == pytest.approx(40 / 33 - 1, rel=1e-15)


def test_alias_log_returns_assets_and_end(env: Path) -> None:
    result = runner.invoke(
        app,
        ["-q", "data_cleaning", "--start", "2024-02", "--end", "2024-02", "--return-type", "log", "--assets", "BBB"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tensor = load_return_tensor(env / "lake" / "2024-09" / "return_tensor.npz")
    assert tensor.assets.tolist() == ["BBB"]
    assert tensor.return_type == "log"
    assert tensor.values[-1, 0] == pytest.approx(
        np.log(22 / 27), rel=1e-14
    )  # Wed 28 vs Fri 23 Feb (50 - day)


def test_data_cleaning_from_dataset_and_file(env: Path) -> None:
    result = runner.invoke(
        app, ["-q", "data-cleaning", "--dataset", "sp500_index_close", "--start", "2022-06"]
    )
    assert result.exit_code == 0, result.output
    assert (env / "lake" / "2022-52" / "weekly_ohlc.parquet").is_file()
    wide = env / "wide.csv"
    wide.write_text("date,X\n2024-01-05,1\n2024-01-12,2\n")
    result = runner.invoke(
        app,
        [
            "-q",
            "data-cleaning",
            "--input",
            str(wide),
            "--start",
            "2024-01",
            "--lake",
            str(env / "l2"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_return_tensor(env / "l2" / "2024-02" / "return_tensor.npz").values.tolist() == [
        [1.0]
    ]


def test_progress_shown_unless_quiet(env: Path) -> None:
    loud = runner.invoke(app, ["data-cleaning", "--start", "2024-02"])
    assert loud.exit_code == 0, loud.output
    assert "loading assets" in loud.output
    quiet = runner.invoke(app, ["--quiet", "data-cleaning", "--start", "2024-02"])
    assert "loading assets" not in quiet.output


def test_typed_errors_reach_the_caller(env: Path) -> None:
    result = runner.invoke(app, ["-q", "data-cleaning", "--start", "2024-02", "--assets", "ZZZ"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown asset(s) ZZZ" in str(result.exception)
    result = runner.invoke(app, ["-q", "data-cleaning", "--start", "2024-13"])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app, ["-q", "data-cleaning"])
    assert result.exit_code == 2  # typer: missing --start
    assert "--start" in result.output


def test_main_exit_code_2_with_message(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = env / "raw" / "AAA" / "2024" / "hist_data_2024-02.csv"
    bad.write_text(
        bad.read_text().replace("2024-02-06T12:00:00Z,16.0", "2024-02-06T12:00:00Z,-16.0")
    )
    monkeypatch.setattr(sys, "argv", ["algotrader", "-q", "data-cleaning", "--start", "2024-02"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "non-positive open price -16.0" in err
    assert isinstance(info.value.__cause__, DataError)
    assert info.value.__cause__.row == 2
    assert info.value.__cause__.file == str(bad)


def test_datasets_listing(env: Path) -> None:
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    for name in ("sp500_20_stocks", "eurusd_hourly", "googl_daily", "nasdaq_index_ohlcv"):
        assert name in result.output
    assert "skfolio 1.12.2" in result.output
    assert "BSD-3-Clause" in result.output
    assert "SOURCES.md" in result.output


def test_help_lists_stages() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "data-cleaning" in result.output
    assert "datasets" in result.output
    assert "data_cleaning" not in result.output  # the alias is hidden


def test_tz_option_for_naive_input(env: Path) -> None:
    naive = env / "naive.csv"
    naive.write_text(
        "timestamp,asset,open,high,low,close,volume\n"
        "2024-01-05 16:00:00,X,1,1,1,1,1\n"
        "2024-01-12 16:00:00,X,2,2,2,2,1\n"
    )
    args = ["-q", "data-cleaning", "--input", str(naive), "--start", "2024-01"]
    refused = runner.invoke(app, args)
    assert isinstance(refused.exception, DataError)
    assert "naive timestamp" in str(refused.exception)
    ok = runner.invoke(app, [*args, "--tz", "America/New_York"])
    assert ok.exit_code == 0, ok.output
    weekly = pl.read_csv(env / "lake" / "2024-02" / "weekly_ohlc.csv")
    assert weekly["timestamp"].to_list() == ["2024-01-05T21:00:00Z", "2024-01-12T21:00:00Z"]
