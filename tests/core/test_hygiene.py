"""Issue 16 items 13-14: secrets redacted, NaN as JSON null, numba cache outside the package,
stale history temps cleaned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from algotrader.training.runs import RunPaths, read_history, run_id, write_config, write_history

URL = "postgresql://alice:s3cr3t-pw@127.0.0.1:5432/optuna"


def test_storage_password_not_in_config_json_nor_run_id(tmp_path: Path) -> None:
    cfg = {"optimisation_settings": {"method": "optuna", "optuna_settings": {"storage": URL}}}
    other = {"optimisation_settings": {"method": "optuna", "optuna_settings": {
        "storage": URL.replace("s3cr3t-pw", "another")}}}  # fmt: skip
    redacted = {"optimisation_settings": {"method": "optuna", "optuna_settings": {
        "storage": "postgresql://alice:***@127.0.0.1:5432/optuna"}}}  # fmt: skip
    assert run_id(cfg) == run_id(other) == run_id(redacted)
    paths = RunPaths(tmp_path)
    write_config(paths, cfg)
    text = paths.config.read_text()
    assert "s3cr3t-pw" not in text
    assert "postgresql://alice:***@127.0.0.1:5432/optuna" in text


def test_nan_is_json_null(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    write_config(paths, {"wfe": float("nan"), "worst": float("-inf"), "ok": 1.5})
    data = json.loads(paths.config.read_text())
    assert data["wfe"] is None and data["worst"] is None and data["ok"] == 1.5
    assert "NaN" not in paths.config.read_text() and '"nan"' not in paths.config.read_text()


def test_stale_history_temps_removed(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    (tmp_path / ".history.parquet.abc123.tmp").write_bytes(b"half written")
    write_history(paths, pl.DataFrame({"iteration": [0, 1]}))
    assert not list(tmp_path.glob("*.tmp"))
    assert read_history(paths)["iteration"].to_list() == [0, 1]


def test_numba_cache_dir_under_algotrader_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["ALGOTRADER_HOME"] = str(tmp_path / "home")
    code = "import algotrader, numba.core.config as c; print(c.CACHE_DIR)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(tmp_path / "home" / "cache" / "numba")
    env.pop("ALGOTRADER_HOME")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(tmp_path / "xdg" / "algotrader" / "numba")
