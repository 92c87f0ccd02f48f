"""The data lake: cleaned tables of one run in ``DATA_LAKE_SOURCE/YYYY-WW/``.

``YYYY-WW`` is the ISO year and week of the last data point. Files (all written atomically;
the same inputs give byte-identical files):

| file | content |
|---|---|
| ``daily_ohlc.csv`` / ``.parquet`` | long daily OHLC (see :mod:`algotrader.data.cleaning`) |
| ``daily_ohlc_meta.json`` | coverage and missing days per asset |
| ``weekly_ohlc.csv`` / ``.parquet`` | long weekly OHLC |
| ``weekly_ohlc_meta.json`` | coverage, missing weeks, weeks without Monday/Friday |
| ``returns.csv`` / ``.parquet`` | wide weekly returns: ``timestamp`` + one column per asset |
| ``return_tensor.npz`` | values (T, A), timestamps, assets, missing mask, return type |
| ``manifest.json`` | options, source description, row counts |

CSV timestamps are ISO-8601 UTC (``2024-01-05T21:00:00Z``), empty cells are missing values.

Example:
    >>> import polars as pl, tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> t = [datetime(2024, 1, d, 15, tzinfo=timezone.utc) for d in (1, 8, 15)]
    >>> bars = pl.DataFrame({"timestamp": t, "asset": "A", "open": [1.0, 2, 4],
    ...     "high": [1.0, 2, 4], "low": [1.0, 2, 4], "close": [1.0, 2, 4], "volume": 1.0})
    >>> result = clean_bars(bars)
    >>> folder = write_lake(result, pathlib.Path(tempfile.mkdtemp()))
    >>> folder.name, result.returns["A"].to_list()
    ('2024-03', [1.0, 1.0])
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from algotrader.data.cleaning import ReturnType, daily_ohlc, weekly_ohlc, weekly_returns
from algotrader.data.meta import ISO_FORMAT, daily_meta, weekly_meta
from algotrader.data.tensor import ReturnTensor, save_return_tensor, tensor_from_returns
from algotrader.errors import DataError
from algotrader.io import write_csv_atomic, write_json_atomic, write_parquet_atomic

logger = logging.getLogger(__name__)

LAKE_VERSION = 1
_WEEK_DIR = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class CleanResult:
    """Everything one cleaning run produces (in memory)."""

    daily: pl.DataFrame
    daily_meta: dict[str, Any]
    weekly: pl.DataFrame
    weekly_meta: dict[str, Any]
    returns: pl.DataFrame
    tensor: ReturnTensor
    return_type: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def week_label(self) -> str:
        """ISO ``YYYY-WW`` of the last data point."""
        last = self.weekly["timestamp"].max()
        year, week, _ = last.isocalendar()  # type: ignore[union-attr]
        return f"{year:04d}-{week:02d}"


def clean_bars(
    bars: pl.DataFrame, *, return_type: ReturnType = "simple", source: dict[str, Any] | None = None
) -> CleanResult:
    """Clean a validated long bar table into daily/weekly OHLC, returns and the tensor.

    Args:
        bars: long bar table sorted by ``(asset, timestamp)`` (a reader's output), n rows.
        return_type: ``"simple"`` or ``"log"``.
        source: JSON-able description of where the bars came from (for the manifest).
    """
    if bars.is_empty():
        raise DataError(
            "no bars to clean", hint="check the input selection (--start/--end/--assets)"
        )
    daily = daily_ohlc(bars)
    if daily.is_empty():
        raise DataError("no weekday bars to clean", hint="the input holds only weekend bars")
    weekly = weekly_ohlc(daily)
    returns = weekly_returns(weekly, return_type)
    tensor = tensor_from_returns(returns, return_type)
    manifest = {
        "lake_version": LAKE_VERSION,
        "return_type": return_type,
        "source": source or {},
        "assets": sorted(bars["asset"].unique().to_list()),
        "rows": {
            "bars": bars.height,
            "daily_ohlc": daily.height,
            "weekly_ohlc": weekly.height,
            "returns": returns.height,
        },
    }
    return CleanResult(
        daily=daily,
        daily_meta=daily_meta(bars, daily),
        weekly=weekly,
        weekly_meta=weekly_meta(weekly),
        returns=returns,
        tensor=tensor,
        return_type=return_type,
        manifest=manifest,
    )


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as ISO-8601 UTC strings, dates as ISO dates."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(ISO_FORMAT), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


def write_table(folder: Path, name: str, frame: pl.DataFrame) -> list[Path]:
    """Write ``name.csv`` and ``name.parquet`` atomically."""
    return [
        write_csv_atomic(folder / f"{name}.csv", _csv_ready(frame)),
        write_parquet_atomic(folder / f"{name}.parquet", frame),
    ]


def write_lake(result: CleanResult, root: str | os.PathLike[str]) -> Path:
    """Write ``result`` into ``root/YYYY-WW/`` and return that folder."""
    folder = Path(root) / result.week_label
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_table(folder, "daily_ohlc", result.daily)
    paths += write_table(folder, "weekly_ohlc", result.weekly)
    paths += write_table(folder, "returns", result.returns)
    paths.append(write_json_atomic(folder / "daily_ohlc_meta.json", result.daily_meta))
    paths.append(write_json_atomic(folder / "weekly_ohlc_meta.json", result.weekly_meta))
    paths.append(save_return_tensor(folder / "return_tensor.npz", result.tensor))
    paths.append(write_json_atomic(folder / "manifest.json", result.manifest))
    logger.info("wrote %d lake files to %s", len(paths), folder)
    return folder


def latest_lake(root: str | os.PathLike[str]) -> Path:
    """The ``YYYY-WW`` folder under ``root`` with the latest label."""
    root = Path(root)
    folders = sorted(p for p in root.glob("*") if p.is_dir() and _WEEK_DIR.match(p.name))
    if not folders:
        raise DataError(
            "no data lake folder (YYYY-WW)",
            file=str(root),
            hint="run `algotrader data-cleaning --start YYYY-MM` first",
        )
    return folders[-1]


def read_lake_table(folder: str | os.PathLike[str], name: str) -> pl.DataFrame:
    """Read ``name`` (``daily_ohlc``, ``weekly_ohlc`` or ``returns``) from its Parquet twin."""
    path = Path(folder) / f"{name}.parquet"
    if not path.is_file():
        raise DataError(f"lake table {name} not found", file=str(path), hint="re-run data-cleaning")
    return pl.read_parquet(path)


__all__ = [
    "LAKE_VERSION",
    "CleanResult",
    "clean_bars",
    "latest_lake",
    "read_lake_table",
    "write_lake",
    "write_table",
]
