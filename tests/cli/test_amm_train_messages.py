"""Issue 16 items 11/13: `amm train` without a test period says so; trained params feed `amm run`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from typer.testing import CliRunner

from algotrader.cli import app

DAY = 1440
T0 = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)


def test_train_without_test_period_names_it_and_params_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 40 * DAY
    px = np.exp(np.cumsum(0.0005 * rng.standard_normal((n, 2)) + 1e-6, axis=0)) * [10.0, 20.0]
    unix = T0 + np.arange(n, dtype=np.int64) * 60_000
    prices = tmp_path / "px.parquet"
    pl.DataFrame({"unix": unix, "close_AAA": px[:, 0], "close_BBB": px[:, 1]}).write_parquet(prices)
    cfg = {
        "tokens": ["BBB", "AAA"],
        "rule": "momentum",
        "startDateString": "2023-01-06 00:00:00",
        "endDateString": "2023-02-04 23:59:00",
        "bout_offset": DAY,
        "return_val": "returns",
        "initial_k_per_day": 1.0,
        "optimisation_settings": {
            "n_iterations": 2,
            "iterations_per_print": 1,
            "n_parameter_sets": 1,
            "batch_size": 1,
            "early_stopping": False,
            "early_stopping_metric": "returns",
        },
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(
        app,
        ["-q", "amm", "train", "--config", str(path), "--prices", str(prices), "--out",
         str(tmp_path / "runs")],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "test metrics: not computed" in res.output and "endTestDateString" in res.output
    assert "nan" not in res.output.lower()  # no nan test column
    (run_dir,) = list((tmp_path / "runs").iterdir())
    res = CliRunner().invoke(
        app,
        ["-q", "amm", "run", "--config", str(path), "--prices", str(prices), "--params",
         str(run_dir / "params_best.npz"), "--out", str(tmp_path / "sim")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "sim" / "amm_run.png").is_file()
