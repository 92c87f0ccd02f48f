"""Small run directories in the layouts the commands write (returns, weights, metrics, folds)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ASSETS = ["AAA", "<script>alert(1)</script>", "CCC"]


def trading_days(n: int, start: dt.date = dt.date(2021, 1, 4)) -> list[dt.date]:
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def write_family(folder: Path, n: int = 300, seed: int = 0, kind: str = "optimise") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    days = trading_days(n)
    net = rng.normal(4e-4, 0.01, n)
    pl.DataFrame(
        {
            "date": days,
            "gross": net + 1e-4,
            "net": net,
            "hodl": rng.normal(3e-4, 0.011, n),
            "equal_weight": rng.normal(3e-4, 0.009, n),
            "turnover": np.abs(rng.normal(0.1, 0.05, n)),
            "costs": np.full(n, 1e-5),
        }
    ).write_parquet(folder / "returns.parquet")
    w = rng.dirichlet(np.ones(len(ASSETS)), n)
    pl.DataFrame({"date": days, **{a: w[:, j] for j, a in enumerate(ASSETS)}}).write_parquet(
        folder / "weights.parquet"
    )
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "periods_per_year": 252,
                "metrics": {
                    "sharpe": {"value": 0.8, "definition": "sqrt(P) mean(r) / std(r)"},
                    "max_drawdown": {"value": 0.12, "definition": "max drawdown"},
                    "psr": {"value": 0.9},
                    "dsr": {"value": 0.6},
                    "n_trials": {"value": 16},
                    "pbo": {"value": 0.25},
                    "weird": {"value": None},
                },
                "pbo_logits": rng.normal(0.5, 1.0, 70).tolist(),
            }
        )
    )
    (folder / "run_manifest.json").write_text(
        json.dumps(
            {
                "kind": kind,
                "run_id": f"abc{seed}",
                "config": {"asset": ASSETS[1], "vola": 16},
                "inputs": {"prices": "f" * 64},
                "versions": {"numpy": "2"},
                "timings": {"total": 1.5},
            }
        )
    )
    return folder


def write_simulation(folder: Path) -> Path:
    write_family(folder / "outer", n=260, seed=3, kind="outer")
    (folder / "outer" / "run_manifest.json").unlink()
    (folder / "cv").mkdir(parents=True)
    (folder / "cv" / "cv_structure.json").write_text("{}")
    for k in range(3):
        d = folder / "outer" / f"outer_{k}"
        d.mkdir(parents=True)
        (d / "result.json").write_text(
            json.dumps(
                {
                    "candidate_id": k,
                    "params": {"vola": 10 + k, "name": ASSETS[1]},
                    "metrics": {"sharpe": 0.5 + k / 10, "inner_score": 0.7},
                }
            )
        )
        inner = folder / "inner" / f"outer_{k}"
        inner.mkdir(parents=True)
        pl.DataFrame(
            {
                "candidate": np.repeat(np.arange(4), 6),
                "split": np.tile(np.arange(6), 4),
                "score": np.random.default_rng(k).normal(0.3, 0.5, 24),
            }
        ).write_parquet(inner / "scores.parquet")
    (folder / "run_manifest.json").write_text(
        json.dumps({"kind": "simulate", "run_id": "sim1", "config": {"family": "optimiser"}})
    )
    return folder


@pytest.fixture
def family_run(tmp_path: Path) -> Path:
    return write_family(tmp_path / "opt")


@pytest.fixture
def simulation_run(tmp_path: Path) -> Path:
    return write_simulation(tmp_path / "sim")
