"""Shared fixtures: a bundled-data lake (20 S&P 500 stocks, 1990-2022) and input builders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algotrader.data.lake import clean_bars, write_lake
from algotrader.data.registry import load_dataset
from algotrader.features.inputs import LakeInputs, inputs_from_arrays, load_lake_inputs


def weekly_inputs(
    close: np.ndarray,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    open_: np.ndarray | None = None,
) -> LakeInputs:
    """Inputs with the given weekly bars (T, A); daily bars repeat them on 5 weekdays."""
    close = np.asarray(close, dtype=float)
    if close.ndim == 1:
        close = close[:, None]
    high = close if high is None else np.asarray(high, float).reshape(close.shape)
    low = close if low is None else np.asarray(low, float).reshape(close.shape)
    open_ = close if open_ is None else np.asarray(open_, float).reshape(close.shape)
    base = inputs_from_arrays(*(np.repeat(a, 5, axis=0) for a in (open_, high, low, close)))
    return LakeInputs(
        timestamps=base.timestamps,
        week_start=base.week_start,
        assets=base.assets,
        weekly_open=open_,
        weekly_high=high,
        weekly_low=low,
        weekly_close=close,
        days=base.days,
        day_week=base.day_week,
        daily_open=base.daily_open,
        daily_high=base.daily_high,
        daily_low=base.daily_low,
        daily_close=base.daily_close,
    )


def daily_inputs(
    close: np.ndarray, high: np.ndarray | None = None, low: np.ndarray | None = None
) -> LakeInputs:
    """Inputs from daily closes (D, A) (open = close; high/low default close)."""
    close = np.asarray(close, dtype=float)
    if close.ndim == 1:
        close = close[:, None]
    high = close if high is None else high
    low = close if low is None else low
    return inputs_from_arrays(close, high, low, close)


@pytest.fixture(scope="session")
def bundled_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    return write_lake(clean_bars(load_dataset("sp500_20_stocks")), root)


@pytest.fixture(scope="session")
def bundled_inputs(bundled_lake: Path) -> LakeInputs:
    return load_lake_inputs(bundled_lake)
