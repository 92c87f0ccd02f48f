"""One run-id hash (issue 10 item 2): every id in the package is algotrader.artifacts.run_id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from algotrader.amm.config import RunConfig
from algotrader.artifacts import file_hash, run_id
from algotrader.data.lake import clean_bars, write_lake
from algotrader.portfolio import OptimiserConfig
from algotrader.training.runs import run_id as training_run_id


def test_optimiser_fingerprint_is_the_artifacts_hash() -> None:
    cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.8, aum=1.0)
    assert cfg.fingerprint() == run_id(cfg, length=16)
    other = OptimiserConfig(vola=5, corr=11, clip=3.0, shrink=0.8, aum=1.0)
    assert cfg.fingerprint() != other.fingerprint()


def test_amm_run_id_is_the_artifacts_hash_of_the_resolved_config() -> None:
    cfg = RunConfig(tokens=["B", "A"], rule="momentum")
    assert cfg.run_id == run_id(cfg, length=16)
    assert cfg.run_id == run_id(cfg.model_dump(mode="json"), length=16)


def test_training_run_id_is_the_artifacts_hash() -> None:
    config = {"optimisation_settings": {"n_iterations": 3}, "problem": {"kind": "x"}}
    assert training_run_id(config) == run_id(config, length=16)


def test_lake_version_id_is_the_artifacts_hash_of_identity_and_files(tmp_path: Path) -> None:
    start = datetime(2018, 1, 1, 16, tzinfo=UTC)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 30)))
    bars = pl.concat(
        pl.DataFrame(
            {
                "timestamp": [start + timedelta(days=i) for i in range(30)],
                "asset": a,
                "open": close * k,
                "high": close * k * 1.01,
                "low": close * k * 0.99,
                "close": close * k,
                "volume": 1.0,
            },
            schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
        )
        for a, k in (("AAA", 1.0), ("BBB", 2.0))
    )
    folder = write_lake(clean_bars(bars, source={"test": 1}), tmp_path / "lake")
    manifest = json.loads((folder / "manifest.json").read_text())
    identity = {k: manifest[k] for k in ("lake_version", "return_type", "source", "assets")}
    assert manifest["version_id"] == run_id(identity, manifest["files"], length=16)
    assert manifest["files"]["returns.parquet"] == file_hash(folder / "returns.parquet")
