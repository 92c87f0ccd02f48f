"""Data layer: bar schema and validation, readers, bundled datasets, cleaning, the data lake.

Public API:

* readers -> validated long bar tables: :func:`read_raw_layout`, :func:`read_long`,
  :func:`read_wide`, :func:`read_bars`, :func:`load_dataset` (bundled);
* :func:`validate_bars` and the schema constants;
* cleaning: :func:`daily_ohlc`, :func:`weekly_ohlc`, :func:`weekly_returns`, :func:`clean_bars`;
* the lake: :func:`write_lake`, :func:`latest_lake`, :func:`read_lake_table`,
  :func:`load_return_tensor`; the one-call :func:`run_cleaning`.
"""

from __future__ import annotations

from algotrader.data.cleaning import (
    DAILY_COLUMNS,
    WEEKLY_COLUMNS,
    ReturnType,
    daily_ohlc,
    weekly_ohlc,
    weekly_returns,
    wide_close,
)
from algotrader.data.lake import CleanResult, clean_bars, latest_lake, read_lake_table, write_lake
from algotrader.data.raw import list_raw_assets, n_workers, read_raw_layout
from algotrader.data.readers import read_bars, read_long, read_wide
from algotrader.data.registry import (
    DATASETS,
    DatasetInfo,
    get_dataset,
    list_datasets,
    load_daily_close,
    load_dataset,
)
from algotrader.data.schema import BAR_COLUMNS, BAR_SCHEMA, LONG_COLUMNS, validate_bars
from algotrader.data.service import CleaningOptions, run_cleaning
from algotrader.data.tensor import ReturnTensor, load_return_tensor, save_return_tensor
from algotrader.data.timestamps import parse_timestamps

__all__ = [
    "BAR_COLUMNS",
    "BAR_SCHEMA",
    "DAILY_COLUMNS",
    "DATASETS",
    "LONG_COLUMNS",
    "WEEKLY_COLUMNS",
    "CleanResult",
    "CleaningOptions",
    "DatasetInfo",
    "ReturnTensor",
    "ReturnType",
    "clean_bars",
    "daily_ohlc",
    "get_dataset",
    "latest_lake",
    "list_datasets",
    "list_raw_assets",
    "load_daily_close",
    "load_dataset",
    "load_return_tensor",
    "n_workers",
    "parse_timestamps",
    "read_bars",
    "read_lake_table",
    "read_long",
    "read_raw_layout",
    "read_wide",
    "run_cleaning",
    "save_return_tensor",
    "validate_bars",
    "weekly_ohlc",
    "weekly_returns",
    "wide_close",
    "write_lake",
]
