"""``amm train`` / ``amm walk-forward`` commands and the price-file loader."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
import yaml
from typer.testing import CliRunner

from algotrader.cli.amm_training import register
from algotrader.errors import ConfigError
from algotrader.training.runs import RunPaths, read_history

from .conftest import trending_prices

DAY = 1440
T0 = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)


def _write_prices(path: Path, days: int = 40) -> Path:
    px = trending_prices(days)
    unix = T0 + np.arange(px.shape[0], dtype=np.int64) * 60_000
    pl.DataFrame({"unix": unix, "close_AAA": px[:, 0], "close_BBB": px[:, 1]}).write_parquet(path)
    return path


def _write_config(path: Path, **opt: object) -> Path:
    cfg = {
        "tokens": ["BBB", "AAA"],
        "rule": "momentum",
        "startDateString": "2023-01-06 00:00:00",
        "endDateString": "2023-02-04 23:59:00",
        "endTestDateString": "2023-02-09 23:59:00",
        "bout_offset": DAY,
        "return_val": "returns",
        "initial_k_per_day": 1.0,
        "optimisation_settings": {
            "n_iterations": 4,
            "iterations_per_print": 2,
            "n_parameter_sets": 1,
            "batch_size": 1,
            "early_stopping": False,
            "early_stopping_metric": "returns",
            **opt,
        },
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """amm"""

    register(app)
    return app


def test_train_command_bad_settings_exit_cleanly(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "run.yaml", n_iteratons=3)
    px = _write_prices(tmp_path / "px.parquet", days=2)
    res = CliRunner().invoke(
        _app(), ["train", "--config", str(cfg), "--prices", str(px), "--out", str(tmp_path)]
    )
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError) and "n_iteratons" in str(res.exception)


@pytest.mark.slow
def test_train_and_walk_forward_commands(tmp_path: Path) -> None:
    px = _write_prices(tmp_path / "px.parquet")
    cfg = _write_config(tmp_path / "run.yaml")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        _app(), ["train", "--config", str(cfg), "--prices", str(px), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "selected set 0" in res.output
    (run_dir,) = list(out.iterdir())
    result = json.loads((run_dir / "result.json").read_text())
    assert result["iterations_run"] == 4 and result["compile_count"] == 1
    assert (run_dir / "params_best.npz").is_file()
    hist = read_history(RunPaths(run_dir))
    assert hist["iteration"].n_unique() == 4 and (run_dir / "history").is_dir()
    wf_out = tmp_path / "wf"
    res = CliRunner().invoke(
        _app(),
        [
            "walk-forward",
            "--config",
            str(cfg),
            "--prices",
            str(px),
            "--out",
            str(wf_out),
            "--cycles",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "verdict:" in res.output and "mean_oos_daily_sharpe" in res.output
    report = json.loads((wf_out / "walk_forward.json").read_text())
    assert len(report["cycles"]) == 2
