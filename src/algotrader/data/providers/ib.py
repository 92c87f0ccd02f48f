"""Interactive Brokers historical bars through ``ib_async`` (optional extra ``algotrader[ib]``).

The adapter talks to an object with ``ib_async.IB``'s interface (``connect``,
``qualifyContracts``, ``reqHistoricalData``, ``errorEvent``); tests pass a fake one. Requests
ask for UTC bar times (``formatDate=2``); daily bars (IB sends dates) are stamped at 00:00 UTC
of their date. IB's ``volume`` of -1 ("not available", e.g. forex MIDPOINT) is written empty.

``ib_async`` returns an empty list both on a time-out and on an error such as pacing
violation 162 unless ``RaiseRequestErrors`` is set. We listen to ``errorEvent`` during each
request and turn every empty or errored answer into a typed error:

| IB answer | error | retried |
|---|---|---|
| 162 pacing violation, 366, 1100, 2105, 502/504, empty list without error (time-out) | TransientProviderError | yes |
| 162 "HMDS query returned no data" | NoDataError | no |
| 354 no market-data permission, 10089/10090/10197 | ProviderPermissionError | no |
| 200 no security definition, qualify failure | UnknownSymbolError | no |
| 502 "couldn't connect", 326 client id in use | ProviderAuthError | no |

Pacing (IB's rules): at most 60 historical requests in 10 minutes, none identical within 15 s,
at most ``MAX_PARALLEL_REQUESTS`` in flight — enforced by :func:`~.pacing.ib_pacer`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from typing import Any

import polars as pl

from algotrader.data.providers.base import (
    BarRequest,
    NoDataError,
    ProviderAuthError,
    ProviderPermissionError,
    TransientProviderError,
    UnknownSymbolError,
    bars_frame,
)
from algotrader.data.providers.pacing import Pacer, ib_pacer
from algotrader.data.providers.tickers import Instrument
from algotrader.errors import ConfigError, ProviderError

__all__ = ["IBProvider", "classify_ib_error", "connect_ib", "ib_settings"]

logger = logging.getLogger(__name__)

_TRANSIENT = {162, 366, 1100, 2105, 504}
_PERMISSION = {354, 10089, 10090, 10197}
_UNKNOWN = {200}
_AUTH = {326}


def ib_settings(env: Mapping[str, str] | None = None) -> tuple[str, int, int]:
    """``(IB_HOST, IB_PORT, IB_CLIENT_ID)`` from the environment (defaults 127.0.0.1, 7497, 1)."""
    env = os.environ if env is None else env
    host = env.get("IB_HOST", "127.0.0.1")
    try:
        port = int(env.get("IB_PORT", "7497"))
        client_id = int(env.get("IB_CLIENT_ID", "1"))
    except ValueError as exc:
        raise ConfigError(
            f"IB_PORT / IB_CLIENT_ID must be integers ({exc})", key="IB_PORT"
        ) from exc
    return host, port, client_id


def connect_ib(host: str, port: int, client_id: int, timeout: float = 10.0) -> Any:
    """A connected ``ib_async.IB`` (needs ``pip install algotrader[ib]`` and a running TWS/Gateway)."""
    try:
        from ib_async import IB
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ConfigError(
            "the IB provider needs ib_async", hint="pip install 'algotrader[ib]'"
        ) from exc
    ib = IB()
    try:
        ib.connect(host, port, clientId=client_id, timeout=timeout)
    except (ConnectionError, OSError, TimeoutError) as exc:
        raise ProviderAuthError(
            f"cannot connect to TWS/IB Gateway at {host}:{port} ({exc})",
            hint="start TWS or IB Gateway with the API enabled, or set IB_HOST / IB_PORT",
        ) from exc
    return ib


def classify_ib_error(code: int, message: str, symbol: str) -> ProviderError:
    """The typed error for IB error ``code``."""
    text = f"IB error {code} for {symbol}: {message}"
    if code == 162 and "no data" in message.lower():
        return NoDataError(text, column=symbol)
    if code in _TRANSIENT or (code == 502 and "connect" not in message.lower()):
        return TransientProviderError(text, column=symbol)
    if code in _PERMISSION:
        return ProviderPermissionError(
            text, column=symbol, hint="subscribe to the market data or drop the symbol"
        )
    if code in _UNKNOWN:
        return UnknownSymbolError(text, column=symbol, hint="check symbol, exchange and currency")
    if code in _AUTH or code == 502:
        return ProviderAuthError(text, column=symbol, hint="check TWS/Gateway and IB_CLIENT_ID")
    return ProviderError(text, column=symbol)


def _duration(request: BarRequest) -> str:
    seconds = (request.end - request.start).total_seconds()
    days = int(-(-seconds // 86400))
    return f"{days} D" if days <= 365 else f"{int(-(-days // 365))} Y"


def _bar_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ProviderError(
                f"IB bar time {value} has no timezone", hint="request bars with formatDate=2 (UTC)"
            )
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise ProviderError(f"unexpected IB bar time {value!r}")


class IBProvider:
    """Historical bars from IB.

    Args:
        ib: a connected ``ib_async.IB`` (or an object with its interface).
        instruments: asset name -> :class:`Instrument` (from ``tickers.yml``).
        use_rth: regular trading hours only.
        pacer: request pacing (default: IB's rules with ``MAX_PARALLEL_REQUESTS`` = 1).
        timeout: seconds ``reqHistoricalData`` waits before returning an empty list.
    """

    name = "ib"

    def __init__(
        self,
        ib: Any,
        instruments: Mapping[str, Instrument],
        *,
        use_rth: bool = False,
        pacer: Pacer | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.ib = ib
        self.instruments = dict(instruments)
        self.use_rth = use_rth
        self.pacer = pacer or ib_pacer(1)
        self.timeout = timeout
        self._contracts: dict[str, Any] = {}

    def _contract(self, asset: str) -> Any:
        if asset in self._contracts:
            return self._contracts[asset]
        inst = self.instruments.get(asset)
        if inst is None:
            raise UnknownSymbolError(f"{asset!r} is not in tickers.yml", column=asset)
        from ib_async import Contract

        contract = Contract(
            secType=inst.sec_type,
            symbol=inst.symbol,
            exchange=inst.exchange,
            currency=inst.currency,
        )
        errors = self._listen()
        try:
            qualified = [c for c in self.ib.qualifyContracts(contract) if c is not None]
        finally:
            self.ib.errorEvent -= errors.handler
        if not qualified:
            code, msg = errors.first() or (200, "contract could not be qualified")
            raise classify_ib_error(code, msg, asset)
        self._contracts[asset] = qualified[0]
        return qualified[0]

    def _listen(self) -> _ErrorLog:
        log = _ErrorLog()
        self.ib.errorEvent += log.handler
        return log

    def fetch_bars(self, request: BarRequest) -> pl.DataFrame:
        """One ``reqHistoricalData`` for ``request`` (a month chunk), bars inside [start, end)."""
        contract = self._contract(request.symbol)
        what = request.what_to_show or self.instruments[request.symbol].what_to_show
        with self.pacer.slot(request.fingerprint):
            errors = self._listen()
            try:
                bars = self.ib.reqHistoricalData(
                    contract,
                    endDateTime=request.end.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S"),
                    durationStr=_duration(request),
                    barSizeSetting=request.bar_size.ib,
                    whatToShow=what,
                    useRTH=self.use_rth,
                    formatDate=2,
                    timeout=self.timeout,
                )
            finally:
                self.ib.errorEvent -= errors.handler
        first = errors.first()
        if first is not None and not bars:
            raise classify_ib_error(first[0], first[1], request.symbol)
        if not bars:
            raise TransientProviderError(
                f"IB returned no bars for {request.symbol} "
                f"{request.start:%Y-%m-%d}..{request.end:%Y-%m-%d} (time-out or unreported error)",
                column=request.symbol,
            )
        rows = [
            {
                "timestamp": _bar_time(b.date),
                "open": float(b.open),
                "high": float(b.high),
                "low": float(b.low),
                "close": float(b.close),
                "volume": None if b.volume is None or float(b.volume) < 0 else float(b.volume),
            }
            for b in bars
        ]
        frame = bars_frame(rows)
        return frame.filter(
            (pl.col("timestamp") >= request.start) & (pl.col("timestamp") < request.end)
        )


class _ErrorLog:
    """Collects ``errorEvent`` calls during one request (informational codes ignored)."""

    _INFO: frozenset[int] = frozenset({2104, 2106, 2107, 2108, 2158, 2119})

    def __init__(self) -> None:
        self.errors: list[tuple[int, str]] = []

    def handler(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        if code not in self._INFO:
            self.errors.append((int(code), str(message)))

    def first(self) -> tuple[int, str] | None:
        return self.errors[0] if self.errors else None
