"""CLI: feature-engineering and data-processing on the bundled lake."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from algotrader.cli import app
from algotrader.features.store import read_group

runner = CliRunner()


def _error_text(res) -> str:
    """The located message: printed by the CLI's central guard (exit 2) or carried by the
    typed exception when the app is invoked without ``main``."""
    return res.output + ("" if res.exception is None else str(res.exception))


def test_feature_engineering_writes_groups_and_summary(bundled_lake, tmp_path):
    lake_root = bundled_lake.parent
    args = [
        "feature-engineering",
        "--lake",
        str(lake_root),
        "--store",
        str(tmp_path),
        "--group",
        "breakout",
        "--group",
        "seasonal",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "brk_up_26w" in res.output and "degenerate" in res.output
    g = read_group(tmp_path / bundled_lake.name / "breakout")
    assert g.values.shape == (1722, 20, 4)
    assert sorted(p.name for p in (tmp_path / bundled_lake.name).iterdir()) == [
        "breakout",
        "seasonal",
    ]
    before = (tmp_path / bundled_lake.name / "breakout" / "metadata.json").read_bytes()
    res = runner.invoke(app, ["-q", "feature_engineering", *args[1:]])
    assert res.exit_code == 0
    assert (tmp_path / bundled_lake.name / "breakout" / "metadata.json").read_bytes() == before


def test_feature_engineering_bad_inputs(bundled_lake, tmp_path):
    res = runner.invoke(
        app,
        [
            "feature-engineering",
            "--lake",
            str(bundled_lake.parent),
            "--store",
            str(tmp_path),
            "--group",
            "nonsense",
        ],
    )
    assert res.exit_code != 0 and "unknown feature group 'nonsense'" in _error_text(res)
    assert "key=groups.nonsense" in _error_text(res)
    res = runner.invoke(
        app, ["feature-engineering", "--lake", str(tmp_path / "none"), "--store", str(tmp_path)]
    )
    assert res.exit_code != 0 and "no data lake folder" in _error_text(res)
    assert not any(tmp_path.rglob("*.parquet"))


def test_data_processing_pca(bundled_lake, tmp_path):
    res = runner.invoke(
        app,
        [
            "-q",
            "data-processing",
            "--preprocessor",
            "pca",
            "--preprocessor-arg",
            "k=3",
            "--preprocessor-arg",
            "pipeline=demo",
            "--lake",
            str(bundled_lake.parent),
            "--store",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    dest = tmp_path / "pca" / "demo" / bundled_lake.name
    meta = json.loads((dest / "metadata.json").read_text())
    assert meta["k"] == 3 and meta["exploratory"] is True
    assert pl.read_parquet(dest / "factors.parquet").columns == ["timestamp", "pc1", "pc2", "pc3"]
    ev = pl.read_parquet(dest / "eigenvalues.parquet")
    assert ev["cumulative"][-1] == 1.0 or abs(ev["cumulative"][-1] - 1.0) < 1e-12


def test_help_has_example_and_quiet():
    for cmd in ("feature-engineering", "data-processing"):
        res = runner.invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
        assert (
            res.exit_code == 0
            and f"Example: algotrader {cmd}" in res.output
            and "--quiet" in res.output
        )
