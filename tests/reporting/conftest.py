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


def simulation_config(root: Path) -> dict[str, object]:
    """A small optimiser nested-CV config on the bundled weekly closes (2000-2004)."""
    return {
        "family": "optimiser",
        "data": {
            "start": "2000-01-01",
            "end": "2004-12-31",
            "output_root": str(root),
            "simulation_output_path": "sim",
        },
        "cv": {"warmup_len": 26, "group_len": 26, "q": 2, "embargo_len": 1, "max_inner_combos": 6},
        "outer": {"last_n": 2},
        "model": {"params": {"lookback": 12, "vola": 10, "corr": 20}},
        "tuning": {
            "num_samples": 4,
            "space": [{"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]}],
        },
        "cost": {"proportional_bps": 5.0},
        "diagnostics": {"pbo_blocks": 4},
    }


def small_simulation(root: Path) -> Path:
    from algotrader.simulation.config import SimulationConfig
    from algotrader.simulation.runner import run_simulation

    cfg = SimulationConfig.model_validate(simulation_config(root))
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


@pytest.fixture(scope="session")
def amm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``algotrader amm run`` over six days of synthetic minutes (zero fees)."""
    from typer.testing import CliRunner

    import algotrader.amm as amm
    from algotrader.cli import app

    root = tmp_path_factory.mktemp("amm")
    n = 7 * 1440
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, (n, 2)), axis=0))
    unix = 1_640_995_200_000 + np.arange(n, dtype=np.int64) * 60_000
    import polars as pl

    pl.DataFrame({"unix": unix, "close_ETH": close[:, 1], "close_BTC": close[:, 0]}).write_parquet(
        root / "prices.parquet"
    )
    (root / "run.yaml").write_text(
        "tokens: [ETH, BTC]\nrule: momentum\nstartDateString: '2022-01-02 00:00:00'\n"
        "endDateString: '2022-01-07 00:00:00'\nmax_memory_days: 1\nchunk_period: 60\n"
        "weight_interpolation_period: 60\nfees: 0.0\n"
    )
    params = {
        k: v[0].tolist()
        for k, v in amm.init_params("momentum", 2, chunk_period=60, memory_days=0.2).items()
    }
    (root / "params.json").write_text(json.dumps(params))
    out = root / "out"
    args = [
        "--quiet",
        "amm",
        "run",
        "--config",
        str(root / "run.yaml"),
        "--prices",
        str(root / "prices.parquet"),
        "--params",
        str(root / "params.json"),
        "--out",
        str(out),
    ]
    import logging

    logger = logging.getLogger("algotrader")  # a session fixture: undo the CLI's logging setup
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        res = CliRunner().invoke(app, args)
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
    assert res.exit_code == 0, res.output
    return out
