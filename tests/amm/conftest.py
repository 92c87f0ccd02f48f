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
