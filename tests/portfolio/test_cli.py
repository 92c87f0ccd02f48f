"""CLI ``algotrader optimise``, the file layer and the default-pipeline step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from algotrader.cli import app
from algotrader.errors import ConfigError, DataError, ShapeError
from algotrader.pipeline import PipelineContext
from algotrader.portfolio import run_batch
from algotrader.portfolio.io import optimise_files, read_frame
from algotrader.settings import Settings

runner = CliRunner()

CONFIG_YAML = """\
vola: 16
corr: 32
clip: 3.5
shrink: 0.5
aum: 1.0e6
position_scale: 1.0
cost_per_unit: 0.001
"""


@pytest.fixture(scope="module")
def files(golden: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    prices, mu = golden.inputs()
    prices.write_csv(tmp / "prices.csv")
    mu.write_parquet(tmp / "mu.parquet")
    (tmp / "cfg.yaml").write_text(CONFIG_YAML)
    return {"prices": tmp / "prices.csv", "mu": tmp / "mu.parquet", "cfg": tmp / "cfg.yaml"}


def _invoke(files: dict[str, Path], out: Path, *extra: str) -> Any:
    args = ["optimise", "--prices", str(files["prices"]), "--signal", str(files["mu"])]
    args += ["--config", str(files["cfg"]), "--out", str(out), *extra]
    return runner.invoke(app, ["--quiet", *args])


def test_cli_batch_writes_tables_and_summary(files: dict[str, Path], tmp_path: Path) -> None:
    res = _invoke(files, tmp_path / "batch")
    assert res.exit_code == 0, res.output
    assert "Optimiser" in res.output
    out = tmp_path / "batch"
    for name in ("cash_position", "risk_position", "vola", "status"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    cash = pl.read_parquet(out / "cash_position.parquet")
    assert cash.columns[0] == "date" and cash.width == 9
    status = pl.read_csv(out / "status.csv")
    assert status.columns == ["date", "status", "missing_price"]  # NaN policy (issue 16 item 11)
    direct = run_batch(read_frame(files["prices"]), read_frame(files["mu"]), _cfg(files))
    np.testing.assert_array_equal(
        cash.drop("date").to_numpy().astype(float), direct.cash, strict=False
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status_counts"] == {"valid": 566, "warmup": 32, "zero_signal": 2}
    assert summary["config_fingerprint"] == _cfg(files).fingerprint()
    assert summary["performance"]["total_costs"] > 0


def _cfg(files: dict[str, Path]) -> Any:
    from algotrader.portfolio import load_config

    return load_config(files["cfg"])


def test_cli_stream_mode_equals_batch(files: dict[str, Path], tmp_path: Path) -> None:
    assert _invoke(files, tmp_path / "b").exit_code == 0
    res = _invoke(files, tmp_path / "s", "--mode", "stream", "--warmup-rows", "450")
    assert res.exit_code == 0, res.output
    for name in ("cash_position", "vola", "status"):
        a = (tmp_path / "b" / f"{name}.csv").read_text()
        b = (tmp_path / "s" / f"{name}.csv").read_text()
        assert a == b
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["mode"] == "stream"


def test_cli_errors_are_typed(files: dict[str, Path], tmp_path: Path) -> None:
    res = _invoke({**files, "prices": tmp_path / "missing.csv"}, tmp_path / "x")
    assert isinstance(res.exception, DataError) and "file not found" in str(res.exception)
    res = _invoke(files, tmp_path / "x", "--mode", "stream", "--warmup-rows", "0")
    assert isinstance(res.exception, ShapeError)
    assert "warmup_rows must be in [1, 600]" in str(res.exception)
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG_YAML + "typo_key: 1\n")
    res = _invoke({**files, "cfg": bad}, tmp_path / "x")
    assert isinstance(res.exception, ConfigError) and "key=typo_key" in str(res.exception)


def test_read_frame_errors(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        read_frame(tmp_path / "a.txt")
    (tmp_path / "b.csv").write_text("day,A\n2020-01-01,1.0\n")
    with pytest.raises(DataError, match="no 'date' column"):
        read_frame(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("date,A\n2020-01-01,1.0\n2020-01-02,1.1\n")
    (tmp_path / "cfg.yaml").write_text(CONFIG_YAML)
    with pytest.raises(ShapeError, match="unknown mode 'fast'"):
        optimise_files(
            tmp_path / "c.csv", tmp_path / "c.csv", tmp_path / "cfg.yaml", tmp_path, mode="fast"
        )


def test_default_pipeline_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrader.pipeline import data_step, optimiser_step

    monkeypatch.setenv("ALGOTRADER_HOME", str(tmp_path / "home"))
    ctx = PipelineContext(settings=Settings.from_env(dotenv=None), out_dir=tmp_path / "out")
    data_step.run(ctx)
    report = optimiser_step.run(ctx)
    png = tmp_path / "out" / "optimiser_nav_drawdown.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.summary["rows"] == optimiser_step.HISTORY_ROWS
    assert report.summary["status_counts"]["valid"] > 2000
    assert np.isfinite(report.summary["performance"]["sharpe"])
    assert report.tables and report.tables[0][1] == ["item", "value"]
    mu = optimiser_step.momentum_signal(ctx.results["daily_close"].tail(100))
    close = ctx.results["daily_close"].tail(100)
    a = close.columns[1]
    assert mu[a][70] == pytest.approx(close[a][70] / close[a][7] - 1.0)
