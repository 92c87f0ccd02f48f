"""The default pipeline writes the same three files per family and one comparison table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader import metrics
from algotrader.backtest import periods_per_year
from algotrader.pipeline import PipelineContext, run_pipeline
from algotrader.settings import Settings


@pytest.mark.slow
def test_default_pipeline_writes_shared_evaluation(tmp_path: Path) -> None:
    settings = Settings.from_env({"ALGOTRADER_HOME": str(tmp_path / "home")}, dotenv=None)
    ctx = PipelineContext(settings=settings, out_dir=tmp_path / "out", quiet=True)
    reports = run_pipeline(ctx, ("data_step", "optimiser_step", "amm_step", "compare_step"))
    for family in ("optimiser", "equal_weight", "amm"):
        folder = tmp_path / "out" / family
        frame = pl.read_parquet(folder / "returns.parquet")
        assert frame.columns[:3] == ["date", "gross_return", "net_return"]
        doc = json.loads((folder / "metrics.json").read_text())
        manifest = json.loads((folder / "run_manifest.json").read_text())
        assert manifest["kind"] == f"pipeline.{family}"
        # one rule: P from the file's own dates (plus the start date), ~252 on NYSE days
        assert 250 < doc["periods_per_year"] < 254
        net = frame["net_return"].to_numpy()
        assert doc["metrics"]["sharpe"]["value"] == pytest.approx(
            float(metrics.sharpe(net, periods_per_year=doc["periods_per_year"])), rel=1e-12
        )
        assert (frame["gross_return"].to_numpy() >= net - 1e-15).all()
    amm_dates = pl.read_parquet(tmp_path / "out" / "amm" / "returns.parquet")["date"]
    assert periods_per_year(amm_dates) == pytest.approx(
        json.loads((tmp_path / "out" / "amm" / "metrics.json").read_text())["periods_per_year"],
        rel=0.01,
    )
    compare = reports[-1]
    assert compare.name == "compare"
    ((title, header, rows),) = compare.tables
    assert "P/yr" in title
    assert header[:3] == ["run", "dates", "P/yr"]
    labels = [r[0] for r in rows]
    for name in ("optimiser", "equal_weight", "amm", "  uniform HODL", "  optimiser: HODL"):
        assert name in labels
    # each distinct series once: the equal_weight family is the equal-weight benchmark on
    # its dates, HODL of an equal start is uniform HODL
    assert "  equal_weight: HODL" not in labels
    assert len({tuple(r[1:]) for r in rows}) == len(rows)
    assert np.isfinite(compare.summary["families"]["amm"]["sharpe"])
