"""Helpers for the data-layer tests: build bars and write them in each input layout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from algotrader.data.schema import LONG_COLUMNS

Bar = tuple[str, str, float, float, float, float, float | None]


def make_bars(rows: Sequence[Bar]) -> pl.DataFrame:
    """Rows ``(asset, "YYYY-MM-DDTHH:MM", open, high, low, close, volume)`` -> long bar table."""
    frame = pl.DataFrame(
        {
            "timestamp": [datetime.fromisoformat(r[1]).replace(tzinfo=UTC) for r in rows],
            "asset": [r[0] for r in rows],
            "open": [float(r[2]) for r in rows],
            "high": [float(r[3]) for r in rows],
            "low": [float(r[4]) for r in rows],
            "close": [float(r[5]) for r in rows],
            "volume": [None if r[6] is None else float(r[6]) for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "volume": pl.Float64},
    )
    return frame.select(LONG_COLUMNS).sort("asset", "timestamp")


def flat(asset: str, when: str, price: float) -> Bar:
    """A bar with open = high = low = close = ``price`` and volume 1."""
    return (asset, when, price, price, price, price, 1.0)


def _iso(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_raw(bars: pl.DataFrame, root: Path) -> Path:
    """Write ``bars`` in the raw layout ``root/<asset>/<YYYY>/hist_data_YYYY-MM.csv``."""
    keyed = bars.with_columns(
        _y=pl.col("timestamp").dt.strftime("%Y"), _m=pl.col("timestamp").dt.strftime("%Y-%m")
    )
    for (asset, year, month), part in keyed.group_by("asset", "_y", "_m"):
        path = root / str(asset) / str(year) / f"hist_data_{month}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        _iso(part.sort("timestamp").drop("asset", "_y", "_m")).write_csv(path)
    return root


def write_long_csv(bars: pl.DataFrame, path: Path) -> Path:
    """One long CSV, rows interleaved by time (assets mixed)."""
    _iso(bars.sort("timestamp", "asset")).write_csv(path)
    return path


def write_long_parquet(bars: pl.DataFrame, path: Path) -> Path:
    """One long Parquet file with typed UTC timestamps."""
    bars.sort("timestamp", "asset").write_parquet(path)
    return path


@pytest.fixture
def raw_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write one raw monthly file with the given text; returns its path."""

    def _write(text: str, month: str = "2024-01", asset: str = "AAA") -> Path:
        path = tmp_path / "raw" / asset / month[:4] / f"hist_data_{month}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write  # type: ignore[return-value]


@pytest.fixture(scope="session")
def dl() -> object:
    """The helpers above as one namespace (tests cannot import conftest under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        make_bars=make_bars,
        flat=flat,
        write_raw=write_raw,
        write_long_csv=write_long_csv,
        write_long_parquet=write_long_parquet,
    )
