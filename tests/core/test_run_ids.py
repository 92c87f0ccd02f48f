"""One run-id hash (issue 10 item 2): every id in the package is algotrader.artifacts.run_id."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_lake_version_id_is_the_artifacts_hash_of_identity_and_files(
    tmp_path: Path, two_asset_bars: pl.DataFrame
) -> None:
    bars = two_asset_bars
    folder = write_lake(clean_bars(bars, source={"test": 1}), tmp_path / "lake")
    manifest = json.loads((folder / "manifest.json").read_text())
    identity = {k: manifest[k] for k in ("lake_version", "return_type", "source", "assets")}
    assert manifest["version_id"] == run_id(identity, manifest["files"], length=16)
    assert manifest["files"]["returns.parquet"] == file_hash(folder / "returns.parquet")
