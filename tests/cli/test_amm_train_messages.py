"""Issue 16 items 11/13: `amm train` without a test period says so; trained params feed `amm run`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from algotrader.cli import app

from ._amm_inputs import amm_prices_and_config


@pytest.mark.slow
def test_train_without_test_period_names_it_and_params_run(tmp_path: Path) -> None:
    prices, cfg = amm_prices_and_config(tmp_path)
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
