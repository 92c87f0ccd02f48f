"""The file-level backtest (tables, metrics.json, PNG) and the ``algotrader backtest`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.backtest.report import backtest_files
from algotrader.errors import ConfigError, DataError, SchemaError


def _write_inputs(d: Path, *, n: int = 60) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    dates = pl.date_range(
        pl.date(2024, 1, 1), pl.date(2024, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    px = 100 * np.cumprod(1 + rng.normal(0, 0.01, size=(n, 3)), axis=0)
    w = rng.dirichlet(np.ones(3), size=n)
    prices = pl.DataFrame({"date": dates, "A": px[:, 0], "B": px[:, 1], "C": px[:, 2]})
    weights = pl.DataFrame({"date": dates, "C": w[:, 2], "A": w[:, 0], "B": w[:, 1]})
    prices.write_parquet(d / "prices.parquet")
    weights.write_csv(d / "weights.csv")
    return d / "weights.csv", d / "prices.parquet"


def test_backtest_files_writes_every_artifact(tmp_path: Path) -> None:
    w, p = _write_inputs(tmp_path)
    (tmp_path / "costs.yaml").write_text("proportional_bps: 10\n")
    rep = backtest_files(
        weights=w, prices=p, out_dir=tmp_path / "out", costs=tmp_path / "costs.yaml"
    )
    names = {q.name for q in rep.artifacts}
    for stem in ("values", "returns", "turnover"):
        assert {f"{stem}.csv", f"{stem}.parquet"} <= names
    assert {"metrics.json", "backtest.png"} <= names
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    strat = doc["metrics"]["strategy"]
    assert strat["sharpe"]["definition"].startswith("sqrt(P) mean(r)")
    assert "returns_over_uniform_hodl" in strat and "annualised_turnover" in strat
    lo, hi = strat["sharpe_bootstrap_ci_95"]["value"]
    assert lo < strat["sharpe"]["value"] < hi
    assert set(doc["metrics"]) == {"strategy", "hodl", "uniform_hodl", "equal_weight_rebalanced"}
    assert doc["inputs"]["lag"] == 1 and doc["inputs"]["costs"]["proportional_bps"] == 10
    values = pl.read_parquet(tmp_path / "out" / "values.parquet")
    np.testing.assert_allclose(values["value"].to_numpy(), rep.result.values)
    returns = pl.read_csv(tmp_path / "out" / "returns.csv")
    assert returns.columns == ["date", "simple_return", "log_return"]
    # the weights file lists assets in another order: they are aligned by name
    assert rep.result.holdings.shape == (60, 3)


def test_misaligned_inputs_are_errors(tmp_path: Path) -> None:
    w, p = _write_inputs(tmp_path)
    frame = pl.read_csv(w)
    frame.drop("B").write_csv(tmp_path / "w2.csv")
    with pytest.raises(SchemaError, match=r"missing in decisions: \['B'\]"):
        backtest_files(weights=tmp_path / "w2.csv", prices=p, out_dir=tmp_path / "o")
    frame.head(50).write_csv(tmp_path / "w3.csv")
    with pytest.raises(SchemaError, match=r"dates differ.*row=51"):
        backtest_files(weights=tmp_path / "w3.csv", prices=p, out_dir=tmp_path / "o")
    pl.concat([frame.head(2), frame.head(2)]).write_csv(tmp_path / "w4.csv")
    with pytest.raises(DataError, match=r"strictly increasing.*row=3"):
        backtest_files(weights=tmp_path / "w4.csv", prices=p, out_dir=tmp_path / "o")
    with pytest.raises(DataError, match="file not found"):
        backtest_files(weights=tmp_path / "nope.csv", prices=p, out_dir=tmp_path / "o")
    (tmp_path / "bad.yaml").write_text("proportional_bp: 3\n")
    with pytest.raises(ConfigError, match=r"invalid CostModel.*bad.yaml.*key=proportional_bp"):
        backtest_files(weights=w, prices=p, out_dir=tmp_path / "o", costs=tmp_path / "bad.yaml")
    frame.rename({"date": "day"}).write_csv(tmp_path / "w5.csv")
    with pytest.raises(SchemaError, match="no 'date' column"):
        backtest_files(weights=tmp_path / "w5.csv", prices=p, out_dir=tmp_path / "o")


def test_cli_backtest(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from algotrader.cli import app

    w, p = _write_inputs(tmp_path)
    out = tmp_path / "cli_out"
    res = CliRunner().invoke(
        app,
        [
            "-q",
            "backtest",
            "--weights",
            str(w),
            "--prices",
            str(p),
            "--out",
            str(out),
            "--lag",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "sharpe" in res.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["inputs"]["lag"] == 2
    bad = CliRunner().invoke(
        app,
        ["backtest", "--weights", str(tmp_path / "x.csv"), "--prices", str(p), "--out", str(out)],
    )
    # typed errors are reported centrally by the CLI (exit 2, the file named)
    assert bad.exit_code == 2, bad.output
    assert "x.csv" in bad.output
