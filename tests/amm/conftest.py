"""Shared fixtures of the AMM tests: the reference (quantammsim) golden data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "quantammsim"


@pytest.fixture(scope="session")
def golden_prices() -> np.ndarray:
    """Full ``(129601, 3)`` price array; never-read burn-in rows are NaN."""
    with np.load(DATA / "prices.npz", allow_pickle=False) as z:
        full = np.full((int(z["n_rows"]), 3), np.nan)
        full[z["index"]] = z["prices"]
    return full


@pytest.fixture(scope="session")
def manifest() -> dict[str, Any]:
    return json.loads((DATA / "manifest.json").read_text())


def golden_minutes(scenario: str) -> pl.DataFrame:
    """The sampled per-minute reference table of a scenario."""
    return pl.read_csv(DATA / scenario / "minute_sampled.csv.gz")


def golden_json(scenario: str, name: str) -> dict[str, Any]:
    return json.loads((DATA / scenario / name).read_text())


def columns(frame: pl.DataFrame, prefix: str) -> np.ndarray:
    return frame.select([c for c in frame.columns if c.startswith(prefix)]).to_numpy()


def gbm_prices(n_rows: int, n_assets: int, seed: int = 0, sigma: float = 0.003) -> np.ndarray:
    """Seeded log-random-walk minute prices ``(n_rows, n_assets)`` around distinct levels."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((n_rows, n_assets)) * sigma
    steps[0] = 0.0
    levels = np.geomspace(1.0, 1000.0, n_assets)
    return levels * np.exp(np.cumsum(steps, axis=0))


SMALL = {"chunk_period": 60, "weight_interpolation_period": 60, "max_memory_days": 1.0}
SMALL_START = 600
SMALL_BOUT = 1201
SMALL_ROWS = 1900


def small_params(rule: str, n_assets: int, n_sets: int = 1, seed: int = 0) -> dict[str, Any]:
    """Raw parameters for the small test setup (memory ~0.3 days at 60-minute chunks)."""
    from algotrader.amm import init_params

    batch = init_params(
        rule,
        n_assets,
        n_sets,
        chunk_period=60,
        seed=seed,
        noise_scale=0.3,
        memory_days=0.3,
        memory_days_delta=0.2,
        k_per_day=50.0,
        initial_weights=np.linspace(1.0, 2.0, n_assets),
        width=0.05,
        amplitude=0.5,
        exponents=1.5,
        pre_exp_scaling=0.5,
        min_weights=0.05,
        max_weights=0.8,
    )
    return batch if n_sets > 1 else {k: v[0] for k, v in batch.items()}
