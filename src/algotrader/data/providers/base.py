"""The provider protocol, bar requests, typed provider errors and the bar-frame normaliser.

A provider turns one :class:`BarRequest` (symbol, UTC interval [start, end), bar size,
``what_to_show``) into a polars frame in our bar schema: ``timestamp`` (UTC, microseconds),
``open, high, low, close, volume`` (float64), sorted, one row per timestamp. Every failure is a
:class:`~algotrader.errors.ProviderError` subclass naming the symbol; only
:class:`TransientProviderError` is retried.

Example:
    >>> import datetime as dt
    >>> rows = [{"timestamp": dt.datetime(2024, 1, 2, 15, tzinfo=dt.UTC), "open": 1.0,
    ...          "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10}]
    >>> bars_frame(rows).columns
    ['timestamp', 'open', 'high', 'low', 'close', 'volume']
    >>> parse_bar_size("1 hour").alpaca
    '1Hour'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import polars as pl

from algotrader.errors import ConfigError, ProviderError

__all__ = [
    "BarRequest",
    "BarSize",
    "NoDataError",
    "Provider",
    "ProviderAuthError",
    "ProviderPermissionError",
    "TransientProviderError",
    "UnknownSymbolError",
    "bars_frame",
    "parse_bar_size",
]


class TransientProviderError(ProviderError):
    """A failure worth retrying: rate limit, pacing violation, time-out, server error."""


class ProviderAuthError(ProviderError):
    """Credentials missing or refused."""


class UnknownSymbolError(ProviderError):
    """The provider does not know the symbol (or its contract is ambiguous)."""


class ProviderPermissionError(ProviderError):
    """The account has no permission (market-data subscription) for the symbol."""


class NoDataError(ProviderError):
    """The provider answered, explicitly, that it has no bars for the interval."""


_UNITS = {
    "sec": ("secs", "Sec", 1),
    "min": ("mins", "Min", 60),
    "hour": ("hours", "Hour", 3600),
    "day": ("day", "Day", 86400),
    "week": ("week", "Week", 7 * 86400),
}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(sec|secs|min|mins|hour|hours|day|days|week|weeks)\s*$", re.I)


@dataclass(frozen=True)
class BarSize:
    """A bar size understood by every provider (``"1 hour"``, ``"5 mins"``, ``"1 day"``)."""

    count: int
    unit: str

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return self.count * _UNITS[self.unit][2]

    @property
    def ib(self) -> str:
        """IB's ``barSizeSetting`` (``"1 hour"``, ``"5 mins"``, ``"1 day"``)."""
        word = _UNITS[self.unit][0]
        if self.count == 1:
            word = {"secs": "secs", "mins": "min", "hours": "hour"}.get(word, word)
        return f"{self.count} {word}"

    @property
    def alpaca(self) -> str:
        """Alpaca's ``timeframe`` (``"1Hour"``, ``"5Min"``, ``"1Day"``)."""
        return f"{self.count}{_UNITS[self.unit][1]}"


def parse_bar_size(text: str, *, key: str = "bar_size") -> BarSize:
    """Parse ``"<n> <unit>"``; unit sec|min|hour|day|week (plural accepted)."""
    m = _SIZE_RE.match(str(text))
    if m is None or int(m.group(1)) < 1:
        raise ConfigError(
            f"invalid bar size {text!r}", key=key, hint="use e.g. '1 hour', '5 mins', '1 day'"
        )
    unit = m.group(2).lower().rstrip("s") if m.group(2).lower() != "secs" else "sec"
    return BarSize(int(m.group(1)), unit)


@dataclass(frozen=True)
class BarRequest:
    """One historical-bars request: ``symbol`` over the UTC interval ``[start, end)``."""

    symbol: str
    start: dt.datetime
    end: dt.datetime
    bar_size: BarSize
    what_to_show: str = "TRADES"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ConfigError(f"{name} must be timezone-aware (UTC)", key=name)
        if not self.start < self.end:
            raise ConfigError(f"empty interval {self.start} .. {self.end}", key="start")

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What makes two requests identical (IB's 15-second rule)."""
        return (self.symbol, self.start, self.end, self.bar_size, self.what_to_show)


@runtime_checkable
class Provider(Protocol):
    """A historical-bars source."""

    name: str

    def fetch_bars(self, request: BarRequest) -> pl.DataFrame:
        """Bars of ``request`` in our schema (possibly empty only if the source says so)."""
        ...


_SCHEMA: dict[str, Any] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}


def bars_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Rows with UTC-aware ``timestamp`` + OHLCV -> a sorted frame in our bar schema.

    Raises ProviderError on a naive timestamp (its timezone would be a guess) and on two bars
    with the same timestamp.
    """
    rows = list(rows)
    for r in rows:
        ts = r["timestamp"]
        if not isinstance(ts, dt.datetime) or ts.tzinfo is None:
            raise ProviderError(f"bar time {ts!r} is not a timezone-aware datetime")
    frame = pl.DataFrame({k: [r[k] for r in rows] for k in _SCHEMA}, schema=_SCHEMA).sort(
        "timestamp"
    )
    dup = frame["timestamp"].is_duplicated()
    if dup.any():
        raise ProviderError(f"provider sent two bars at {frame.filter(dup)['timestamp'][0]}")
    return frame
