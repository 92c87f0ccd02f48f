"""kill -9 + --resume == uninterrupted (subprocess), the CLI, and Optuna on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from algotrader.cli import app
from algotrader.simulation.config import SimulationConfig, config_from_mapping
from algotrader.simulation.examples import EXAMPLES
from algotrader.simulation.runner import run_simulation

from ._configs import small_config

ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", "from algotrader.cli import main; main()", "--quiet", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _resume_config(tmp_path: Path, label: str) -> Path:
    raw = small_config(tmp_path, label)
    raw["cv"]["max_inner_combos"] = None  # C(n, 2) splits per fold: long enough to kill
    raw["outer"]["last_n"] = 3
    raw["tuning"]["num_samples"] = 16  # enough work to be killed mid-run with the compiled backtest
    path = tmp_path / f"{label}.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _artifacts(run: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in sorted(run.rglob("*")):
        rel = p.relative_to(run).as_posix()
        if not p.is_file() or rel.startswith(("store/", "run_manifest", "run_state")):
            continue
        if rel.endswith(".parquet"):
            frame = pl.read_parquet(p)
            out[rel] = frame.drop("seconds") if "seconds" in frame.columns else frame
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.mark.slow
def test_kill_9_then_resume_is_bit_identical(tmp_path: Path) -> None:
    ref_cfg = _resume_config(tmp_path, "ref")
    ref = _cli(["simulate", "--config", str(ref_cfg)])
    assert ref.wait(timeout=600) == 0, ref.stderr.read() if ref.stderr else ""
    cfg = _resume_config(tmp_path, "killed")
    proc = _cli(["simulate", "--config", str(cfg)])
    store = tmp_path / "killed" / "store" / "scores"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(store.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    n_parts = len(list(store.glob("part-*.parquet")))
    assert n_parts >= 2 and not (tmp_path / "killed" / "outer" / "metrics.json").exists()
    again = _cli(["simulate", "--config", str(cfg), "--resume"])
    assert again.wait(timeout=600) == 0, again.stderr.read() if again.stderr else ""
    a, b = _artifacts(tmp_path / "ref"), _artifacts(tmp_path / "killed")
    assert a.keys() == b.keys() and "outer/metrics.json" in a
    for key in a:
        if isinstance(a[key], pl.DataFrame):
            assert a[key].equals(b[key]), key
        elif key != "cv/summary.json":
            assert a[key] == b[key], key
    # the resumed run evaluated only what the store lacked
    rows = pl.read_parquet(tmp_path / "killed" / "store" / "scores")
    assert rows.height == rows.unique(["fold", "candidate", "split"]).height


def test_cli_example_configs_are_valid_and_run(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("optimiser", "amm", "forecast"):
        res = runner.invoke(app, ["simulate", "--example", name])
        assert res.exit_code == 0, res.output
        cfg = SimulationConfig.model_validate(yaml.safe_load(res.output))
        assert cfg.family == name and cfg.cv.group_len == 52
    res = runner.invoke(app, ["simulate", "--example", "nope"])
    assert res.exit_code != 0
    assert "unknown example" in res.output + str(res.exception) or isinstance(
        res.exception, SystemExit
    )
    raw = small_config(tmp_path, "cli")
    path = tmp_path / "cli.yml"
    path.write_text(yaml.safe_dump(raw))
    res = runner.invoke(app, ["--quiet", "simulate", "--config", str(path)])
    assert res.exit_code == 0, res.output
    assert "Overfitting statistics" in res.output and "PBO" in res.output
    assert json.loads((tmp_path / "cli" / "outer" / "metrics.json").read_text())["pbo"]


def test_optuna_postgres_two_workers(tmp_path: Path) -> None:
    url = os.environ.get("ALGOTRADER_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("ALGOTRADER_TEST_PG_URL must be set in CI")
        pytest.skip("no PostgreSQL URL (set ALGOTRADER_TEST_PG_URL)")
    seq_raw = small_config(tmp_path, "seq", stop_after="inner")
    seq = run_simulation(config_from_mapping(seq_raw))
    raw = small_config(tmp_path, "pg", stop_after="inner")
    study = f"t{os.getpid()}_{int(time.time())}"
    raw["tuning"].update(
        {"engine": "optuna", "workers": 2, "optuna": {"storage": url, "study_name": study}}
    )
    res = run_simulation(config_from_mapping(raw))
    assert res.scores.drop("seconds").equals(seq.scores.drop("seconds"))
    assert res.chosen == seq.chosen


def test_examples_dict_matches_cli() -> None:
    assert set(EXAMPLES) == {"optimiser", "amm", "forecast"}


def test_config_files_match_the_examples() -> None:
    for name, text in EXAMPLES.items():
        assert (ROOT / "config" / f"simulation_{name}.yml").read_text() == text
