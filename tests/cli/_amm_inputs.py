"""Synthetic minute prices and a tiny two-iteration training config shared by CLI tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DAY = 1440
T0 = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)


def amm_prices_and_config(tmp: Path) -> tuple[Path, dict[str, Any]]:
    """40 days of two-token minute closes in ``tmp/px.parquet`` and a training config for them."""
    rng = np.random.default_rng(5)
    n = 40 * DAY
    px = np.exp(np.cumsum(0.0005 * rng.standard_normal((n, 2)) + 1e-6, axis=0)) * [10.0, 20.0]
    unix = T0 + np.arange(n, dtype=np.int64) * 60_000
    prices = tmp / "px.parquet"
    pl.DataFrame({"unix": unix, "close_AAA": px[:, 0], "close_BBB": px[:, 1]}).write_parquet(prices)
    config = {
        "tokens": ["BBB", "AAA"],
        "rule": "momentum",
        "startDateString": "2023-01-06 00:00:00",
        "endDateString": "2023-02-04 23:59:00",
        "bout_offset": DAY,
        "return_val": "returns",
        "initial_k_per_day": 1.0,
        "optimisation_settings": {
            "n_iterations": 2,
            "iterations_per_print": 1,
            "n_parameter_sets": 1,
            "batch_size": 1,
            "early_stopping": False,
            "early_stopping_metric": "returns",
        },
    }
    return prices, config
