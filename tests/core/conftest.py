"""Shared inputs of the core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest


@pytest.fixture
def two_asset_bars() -> pl.DataFrame:
    """30 daily UTC bars of two assets (BBB = 2 x AAA), a seeded random walk."""
    start = datetime(2018, 1, 1, 16, tzinfo=UTC)
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 30)))
    return pl.concat(
        pl.DataFrame(
            {
                "timestamp": [start + timedelta(days=i) for i in range(30)],
                "asset": a,
                "open": close * k,
                "high": close * k * 1.01,
                "low": close * k * 0.99,
                "close": close * k,
                "volume": 1.0,
            },
            schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
        )
        for a, k in (("AAA", 1.0), ("BBB", 2.0))
    )
