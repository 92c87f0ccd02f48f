"""Registry of the real datasets bundled with the package (``algotrader/data/bundled``).

Each entry names the file, its layout, where it comes from and under which licence
(the licence texts ship in ``bundled/LICENSES``; see ``bundled/SOURCES.md``).

Example:
    >>> info = get_dataset("sp500_20_stocks")
    >>> info.rows, info.start, info.end, len(info.assets)
    (8313, '1990-01-02', '2022-12-28', 20)
    >>> load_daily_close("sp500_index_close").columns
    ['date', 'SP500']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from algotrader.data.frames import to_bars
from algotrader.data.readers import parse_dates, read_wide
from algotrader.errors import ConfigError

Layout = Literal["wide_close", "ohlcv"]

#: Folder of the bundled files (and their LICENSES/ and SOURCES.md).
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset.

    Attributes:
        name: registry key.
        file: file name inside ``algotrader/data/bundled``.
        description: one line.
        layout: ``wide_close`` (date + one close column per asset) or ``ohlcv`` (one asset).
        frequency: ``daily`` or ``hourly``.
        assets: asset names (columns of a wide file, or the single asset).
        rows: data rows in the file.
        start, end: first and last date (ISO).
        source: the PyPI package (and version) it was taken from.
        licence: licence of the source package.
        date_format: strptime format of the date column (``None``: ISO date).
        tz: zone of the file's naive times.
    """

    name: str
    file: str
    description: str
    layout: Layout
    frequency: str
    assets: tuple[str, ...]
    rows: int
    start: str
    end: str
    source: str
    licence: str
    date_format: str | None = None
    tz: str = "UTC"

    @property
    def path(self) -> Path:
        """Absolute path of the bundled file."""
        return BUNDLED_DIR / self.file


_STOCKS = [
    "AAPL",
    "AMD",
    "BAC",
    "BBY",
    "CVX",
    "GE",
    "HD",
    "JNJ",
    "JPM",
    "KO",
    "LLY",
    "MRK",
    "MSFT",
    "PEP",
    "PFE",
    "PG",
    "RRC",
    "UNH",
    "WMT",
    "XOM",
]

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "sp500_20_stocks",
            "sp500_20_stocks_daily_close.csv.gz",
            "20 large US stocks, adjusted daily close (the default pipeline's data)",
            "wide_close",
            "daily",
            tuple(_STOCKS),
            8313,
            "1990-01-02",
            "2022-12-28",
            "skfolio 1.12.2",
            "BSD-3-Clause",
        ),
        DatasetInfo(
            "sp500_index_close",
            "sp500_index_daily_close.csv.gz",
            "S&P 500 index daily close, same dates as sp500_20_stocks",
            "wide_close",
            "daily",
            ("SP500",),
            8313,
            "1990-01-02",
            "2022-12-28",
            "skfolio 1.12.2",
            "BSD-3-Clause",
        ),
        DatasetInfo(
            "sp500_index_ohlcv",
            "sp500_index_daily_ohlcv.csv.gz",
            "S&P 500 index daily open/high/low/close/volume",
            "ohlcv",
            "daily",
            ("SP500",),
            5031,
            "1999-01-04",
            "2018-12-31",
            "arch 8.0.0",
            "NCSA",
            date_format="%m/%d/%Y",
        ),
        DatasetInfo(
            "nasdaq_index_ohlcv",
            "nasdaq_index_daily_ohlcv.csv.gz",
            "NASDAQ composite daily open/high/low/close/volume",
            "ohlcv",
            "daily",
            ("NASDAQ",),
            5031,
            "1999-01-04",
            "2018-12-31",
            "arch 8.0.0",
            "NCSA",
            date_format="%m/%d/%Y",
        ),
        DatasetInfo(
            "googl_daily",
            "googl_daily_ohlcv.csv.gz",
            "GOOGL daily open/high/low/close/volume",
            "ohlcv",
            "daily",
            ("GOOGL",),
            2335,
            "2009-05-22",
            "2018-08-29",
            "gym-anytrading 2.0.0",
            "MIT",
        ),
        DatasetInfo(
            "eurusd_hourly",
            "eurusd_hourly_ohlcv.csv.gz",
            "EUR/USD hourly ask bars (with weekend gaps)",
            "ohlcv",
            "hourly",
            ("EURUSD",),
            6225,
            "2017-01-01",
            "2017-12-29",
            "gym-anytrading 2.0.0",
            "MIT",
            date_format="%d.%m.%Y %H:%M:%S%.3f",
        ),
    )
}


def list_datasets() -> list[DatasetInfo]:
    """All bundled datasets, in registry order."""
    return list(DATASETS.values())


def get_dataset(name: str) -> DatasetInfo:
    """The dataset called ``name``; unknown names raise :class:`ConfigError`."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}",
            key="dataset",
            hint=f"choose one of {', '.join(DATASETS)} (see `algotrader datasets`)",
        ) from None


def _load_ohlcv(info: DatasetInfo) -> pl.DataFrame:
    file = str(info.path)
    raw = pl.read_csv(info.path, infer_schema=False)
    date_col = "Time" if "Time" in raw.columns else "Date"
    if info.frequency == "hourly":
        assert info.date_format is not None
        parsed = raw[date_col].str.strptime(pl.Datetime("us"), info.date_format, strict=True)
        stamps = parse_dates(parsed, file=file, tz=info.tz)
    else:
        stamps = parse_dates(raw[date_col], file=file, date_format=info.date_format, tz=info.tz)
    frame = raw.select(
        stamps.alias("timestamp"),
        pl.col("Open").alias("open"),
        pl.col("High").alias("high"),
        pl.col("Low").alias("low"),
        pl.col("Close").alias("close"),
        pl.col("Volume").alias("volume"),
    )
    return to_bars(frame, asset=info.assets[0], file=file, tz=info.tz)


def load_dataset(name: str) -> pl.DataFrame:
    """Load a bundled dataset as a validated long bar table sorted by ``(asset, timestamp)``.

    Close-only (wide) datasets give bars with ``open = high = low = close`` and null volume.
    """
    info = get_dataset(name)
    if info.layout == "wide_close":
        return read_wide(info.path, date_format=info.date_format, tz=info.tz)
    return _load_ohlcv(info)


def load_daily_close(name: str = "sp500_20_stocks") -> pl.DataFrame:
    """Daily closes, wide: ``date`` (``pl.Date``) + one Float64 column per asset, shape (T, 1 + A).

    Works for daily datasets; dates are the files' dates, rows in date order.
    """
    info = get_dataset(name)
    if info.frequency != "daily":
        raise ConfigError(
            f"dataset {name!r} is {info.frequency}, not daily",
            key="dataset",
            hint="clean it with `algotrader data-cleaning --dataset` to get daily bars",
        )
    return close_wide(load_dataset(name), info.assets)


def close_wide(bars: pl.DataFrame, assets: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Daily bars' closes, wide: ``date`` (``pl.Date``) + one Float64 column per asset.

    Args:
        bars: long bar table of daily bars (at most one bar per asset and UTC date).
        assets: column order; default sorted asset names.
    """
    names = list(assets) if assets is not None else sorted(bars["asset"].unique().to_list())
    wide = bars.pivot(on="asset", index="timestamp", values="close", aggregate_function=None)
    return wide.sort("timestamp").select(
        pl.col("timestamp").dt.date().alias("date"), *[pl.col(a).cast(pl.Float64) for a in names]
    )


__all__ = [
    "BUNDLED_DIR",
    "DATASETS",
    "DatasetInfo",
    "close_wide",
    "get_dataset",
    "list_datasets",
    "load_daily_close",
    "load_dataset",
]
