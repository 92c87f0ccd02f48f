"""Historical data download: one provider protocol, Interactive Brokers and Alpaca adapters.

``download_history`` fills ``DATA_SOURCE/<asset>/<YYYY>/hist_data_YYYY-MM.csv`` (the raw layout
``data-cleaning`` reads) month by month, resumably, with pacing, retries and a manifest.
See ``docs/providers.md``.
"""

from __future__ import annotations

from algotrader.data.providers.base import (
    BarRequest,
    BarSize,
    NoDataError,
    Provider,
    ProviderAuthError,
    ProviderPermissionError,
    TransientProviderError,
    UnknownSymbolError,
    bars_frame,
    parse_bar_size,
)
from algotrader.data.providers.download import DownloadReport, MonthResult, download_history
from algotrader.data.providers.pacing import FakeClock, Pacer, SystemClock, alpaca_pacer, ib_pacer
from algotrader.data.providers.retry import RetryPolicy, with_retries
from algotrader.data.providers.tickers import Instrument, TickersConfig, load_tickers

__all__ = [
    "BarRequest",
    "BarSize",
    "DownloadReport",
    "FakeClock",
    "Instrument",
    "MonthResult",
    "NoDataError",
    "Pacer",
    "Provider",
    "ProviderAuthError",
    "ProviderPermissionError",
    "RetryPolicy",
    "SystemClock",
    "TickersConfig",
    "TransientProviderError",
    "UnknownSymbolError",
    "alpaca_pacer",
    "bars_frame",
    "download_history",
    "ib_pacer",
    "load_tickers",
    "parse_bar_size",
    "with_retries",
]
