"""Small real runs for the report tests: the shared evaluation path and a nested-CV simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from algotrader.artifacts import RunManifest
from algotrader.backtest import CostModel
from algotrader.backtest.evaluate import evaluate_weights, write_evaluation
from algotrader.data.panel import Panel

ASSETS = ["AAA", "<script>alert(1)</script>", "CCC"]


def prices_panel(n: int = 320, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    days = np.array(
        [
            d
            for d in np.arange("2021-01-04", "2023-01-01", dtype="datetime64[D]")
            if d.astype(object).weekday() < 5
        ][:n]
    )
    close = 100 * np.exp(np.cumsum(rng.normal(3e-4, 0.012, (days.size, len(ASSETS))), axis=0))
    return Panel.from_arrays(days, ASSETS, close, name="close")


def write_family(folder: Path, *, seed: int = 0, kind: str = "optimise") -> Path:
    """A weights run through the one evaluation path (returns, metrics, manifest)."""
    prices = prices_panel(seed=seed)
    w = np.random.default_rng(seed + 1).dirichlet(np.ones(len(ASSETS)), prices.n_dates)
    ev = evaluate_weights(prices, w, CostModel(proportional_bps=5), name=kind)
    man = RunManifest.create(
        kind, {"asset": ASSETS[1], "vola": 16}, {"prices": prices.content_hash()}
    )
    write_evaluation(folder, ev, man)
    return folder


def small_simulation(root: Path) -> Path:
    from algotrader.simulation.config import SimulationConfig
    from algotrader.simulation.runner import run_simulation

    cfg = SimulationConfig.model_validate(
        {
            "family": "optimiser",
            "data": {
                "start": "2000-01-01",
                "end": "2004-12-31",
                "output_root": str(root),
                "simulation_output_path": "sim",
            },
            "cv": {
                "warmup_len": 26,
                "group_len": 26,
                "q": 2,
                "embargo_len": 1,
                "max_inner_combos": 6,
            },
            "outer": {"last_n": 2},
            "model": {"params": {"lookback": 12, "vola": 10, "corr": 20}},
            "tuning": {
                "num_samples": 4,
                "space": [{"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]}],
            },
            "cost": {"proportional_bps": 5.0},
            "diagnostics": {"pbo_blocks": 4},
        }
    )
    return Path(run_simulation(cfg).run_dir)


@pytest.fixture
def family_run(tmp_path: Path) -> Path:
    return write_family(tmp_path / "opt")


@pytest.fixture(scope="session")
def simulation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_simulation(tmp_path_factory.mktemp("sim"))


def write_pipeline(root: Path) -> Path:
    write_family(root / "optimiser", seed=1, kind="pipeline.optimiser")
    write_family(root / "amm", seed=2, kind="pipeline.amm")
    (root / "summary.json").write_text(
        json.dumps(
            {
                "steps": {
                    "compare": {
                        "families": {
                            "optimiser": {"sharpe": 0.5, "start": "2021-01-04T00:00:00.000000"},
                            "amm": {"sharpe": 0.7, "start": "2021-01-04T00:00:00.000000"},
                        }
                    }
                }
            }
        )
    )
    return root
