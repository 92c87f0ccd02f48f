"""Alpaca historical bars (stocks and crypto) through ``alpaca-py`` (extra ``algotrader[alpaca]``).

Each page of ``/v2/stocks/bars`` or ``/v1beta3/crypto/us/bars`` is one request through the
real ``alpaca-py`` REST client (``client.get``), so our :class:`~.pacing.Pacer` counts every page
against the plan's limit (200 requests/minute on the free plan) and pagination follows
``next_page_token``. The client's own retry (429/504 only, three times, a fixed 3 s wait) is
switched off: 429 and 5xx answers become :class:`TransientProviderError` and are retried by our
backoff with jitter, so bursts never exceed the limit.

Settings: ``ALPACA_API_KEY_ID`` / ``ALPACA_API_SECRET_KEY`` (stocks need them; crypto does not),
``ALPACA_DATA_URL`` (override the data host, e.g. a local server for tests), ``feed`` (iex | sip)
and ``adjustment`` (raw | split | dividend | all) from ``tickers.yml``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import polars as pl

from algotrader.data.providers.base import (
    BarRequest,
    ProviderAuthError,
    ProviderPermissionError,
    TransientProviderError,
    UnknownSymbolError,
    bars_frame,
)
from algotrader.data.providers.pacing import Pacer, alpaca_pacer
from algotrader.data.providers.tickers import Instrument
from algotrader.errors import ConfigError, ProviderError

__all__ = ["AlpacaProvider", "classify_http_error"]

_PAGE_LIMIT = 10_000


def classify_http_error(status: int | None, body: str, symbol: str) -> ProviderError:
    """The typed error for an HTTP ``status`` from Alpaca."""
    text = f"Alpaca HTTP {status} for {symbol}: {body[:200]}"
    if status in (401,):
        return ProviderAuthError(
            text, column=symbol, hint="set ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY"
        )
    if status == 403:
        return ProviderPermissionError(
            text, column=symbol, hint="your plan may not include this feed (try feed: iex)"
        )
    if status in (400, 404, 422):
        return UnknownSymbolError(text, column=symbol, hint="check the symbol and its section")
    if status is None or status == 429 or status >= 500:
        return TransientProviderError(text, column=symbol)
    return ProviderError(text, column=symbol)


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


class AlpacaProvider:
    """Historical bars from Alpaca.

    Args:
        instruments: asset name -> :class:`Instrument` (``stocks`` or ``crypto`` sections).
        feed: stock feed, ``iex`` (free) or ``sip``.
        adjustment: corporate-action adjustment for stocks.
        env: where credentials and ``ALPACA_DATA_URL`` are read (default ``os.environ``).
        pacer: request pacing (default 200 requests/minute, one in flight).
    """

    name = "alpaca"

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        *,
        feed: str = "iex",
        adjustment: str = "raw",
        env: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.instruments = dict(instruments)
        self.feed = feed
        self.adjustment = adjustment
        self.env = dict(os.environ if env is None else env)
        self.pacer = pacer or alpaca_pacer(1)
        self._clients: dict[str, Any] = {}

    def _client(self, kind: str) -> Any:
        if kind in self._clients:
            return self._clients[kind]
        try:
            from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
        except ImportError as exc:  # pragma: no cover - the extra is installed in CI
            raise ConfigError(
                "the Alpaca provider needs alpaca-py", hint="pip install 'algotrader[alpaca]'"
            ) from exc
        url = self.env.get("ALPACA_DATA_URL") or None
        key = self.env.get("ALPACA_API_KEY_ID") or None
        secret = self.env.get("ALPACA_API_SECRET_KEY") or None
        if kind == "stocks":
            if not (key and secret):
                raise ProviderAuthError(
                    "Alpaca stock bars need credentials",
                    key="ALPACA_API_KEY_ID",
                    hint="export ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY",
                )
            client: Any = StockHistoricalDataClient(key, secret, url_override=url)
        else:
            client = CryptoHistoricalDataClient(key, secret, url_override=url)
        # Our pacer and backoff own retries: the client's fixed 3 s retry is switched off.
        client._retry_codes = []
        self._clients[kind] = client
        return client

    def _inst(self, asset: str) -> Instrument:
        inst = self.instruments.get(asset)
        if inst is None:
            raise UnknownSymbolError(f"{asset!r} is not in tickers.yml", column=asset)
        if inst.section not in ("stocks", "crypto"):
            raise ConfigError(
                f"Alpaca serves stocks and crypto, not {inst.section}",
                key=f"{inst.section}.tickers",
            )
        return inst

    def _page(self, client: Any, path: str, params: dict[str, Any], asset: str) -> dict[str, Any]:
        from alpaca.common.exceptions import APIError
        from requests import RequestException

        with self.pacer.slot((path, tuple(sorted(params.items())))):
            try:
                response = client.get(path, params)
            except APIError as exc:
                raise classify_http_error(exc.status_code, str(exc), asset) from exc
            except RequestException as exc:
                raise TransientProviderError(f"Alpaca request failed: {exc}", column=asset) from exc
        if not isinstance(response, dict):
            raise ProviderError("Alpaca answered with an empty body", column=asset)
        return response

    def fetch_bars(self, request: BarRequest) -> pl.DataFrame:
        """All pages of bars for ``request`` (bars inside [start, end))."""
        inst = self._inst(request.symbol)
        kind = inst.section
        client = self._client(kind)
        symbol = inst.symbol if kind == "stocks" else f"{inst.symbol}/{inst.currency}"
        path = "/stocks/bars" if kind == "stocks" else "/crypto/us/bars"
        params: dict[str, Any] = {
            "symbols": symbol,
            "timeframe": request.bar_size.alpaca,
            "start": _rfc3339(request.start),
            "end": _rfc3339(request.end),
            "limit": _PAGE_LIMIT,
            "sort": "asc",
        }
        if kind == "stocks":
            params.update(feed=self.feed, adjustment=self.adjustment)
        rows: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_params = dict(params, page_token=token) if token else dict(params)
            page = self._page(client, path, page_params, request.symbol)
            bars = (page.get("bars") or {}).get(symbol, [])
            rows.extend(
                {
                    "timestamp": _parse_time(b["t"]),
                    "open": float(b["o"]),
                    "high": float(b["h"]),
                    "low": float(b["l"]),
                    "close": float(b["c"]),
                    "volume": float(b["v"]) if b.get("v") is not None else None,
                }
                for b in bars
            )
            token = page.get("next_page_token")
            if not token:
                break
        frame = bars_frame(rows)
        return frame.filter(
            (pl.col("timestamp") >= request.start) & (pl.col("timestamp") < request.end)
        )
