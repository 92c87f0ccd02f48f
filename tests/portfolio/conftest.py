"""Shared helpers for the portfolio tests: the basanos golden files (tests/data/basanos)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from algotrader.portfolio import OptimiserConfig

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "basanos"
CONFIG_NAMES = ("ewma_shrink", "ewma_shrink_turnover", "sliding_window")


def meta() -> dict[str, Any]:
    return json.loads((GOLDEN / "configs.json").read_text())  # type: ignore[no-any-return]


def config(name: str) -> OptimiserConfig:
    return OptimiserConfig(**meta()["configs"][name])


def frame(name: str) -> pl.DataFrame:
    return pl.read_csv(GOLDEN / f"{name}.csv.gz", null_values=["NaN"], try_parse_dates=True)


def values(name: str) -> np.ndarray:
    f = frame(name)
    return f.drop("date").to_numpy().astype(np.float64)


def inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    return frame("prices"), frame("mu")


def comparable_rows(prices: pl.DataFrame, first: int) -> np.ndarray:
    """Rows ``t >= first`` whose prices are complete at ``t`` and ``t - 1``."""
    p = prices.drop("date").to_numpy()
    complete = np.isfinite(p).all(axis=1)
    ok = complete.copy()
    ok[1:] &= complete[:-1]
    ok[0] = False
    ok[:first] = False
    return ok


def max_rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row max of |a-b|/|b| where both finite; inf where the NaN patterns differ."""
    both = np.isfinite(a) & np.isfinite(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(both, np.abs(a - b) / np.maximum(np.abs(b), 1e-300), 0.0)
    out = rel.max(axis=1)
    out[(np.isfinite(a) != np.isfinite(b)).any(axis=1)] = np.inf
    return out


class _Golden:
    """Namespace handed to tests by the ``golden`` fixture."""

    GOLDEN = GOLDEN
    CONFIG_NAMES = CONFIG_NAMES
    meta = staticmethod(meta)
    config = staticmethod(config)
    frame = staticmethod(frame)
    values = staticmethod(values)
    inputs = staticmethod(inputs)
    comparable_rows = staticmethod(comparable_rows)
    max_rel = staticmethod(max_rel)


@pytest.fixture(scope="session")
def golden() -> type[_Golden]:
    return _Golden
