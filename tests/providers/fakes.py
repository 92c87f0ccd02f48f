"""Test doubles for the providers: a fake ``ib_async.IB`` and a local Alpaca-like HTTP server.

Both are driven by deterministic, recorded-style bar lists; nothing touches the network.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np


def hourly_bars(symbol: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Deterministic hourly bars on weekdays 14:00-20:00 UTC in [start, end)."""
    seed = sum(ord(c) for c in symbol)
    out: list[dict[str, Any]] = []
    t = start.replace(minute=0, second=0, microsecond=0)
    while t < end:
        if t.weekday() < 5 and 14 <= t.hour <= 20:
            k = int(t.timestamp() // 3600)
            rng = np.random.default_rng(seed * 1_000_003 + k)
            base = 100.0 + 10 * np.sin(k / 500.0) + (seed % 17)
            o, c = base * (1 + rng.normal(0, 0.002, 2))
            h = max(o, c) * (1 + abs(rng.normal(0, 0.001)))
            low = min(o, c) * (1 - abs(rng.normal(0, 0.001)))
            out.append(
                {
                    "t": t,
                    "o": round(o, 4),
                    "h": round(h, 4),
                    "l": round(low, 4),
                    "c": round(c, 4),
                    "v": float(rng.integers(100, 10_000)),
                }
            )
        t += dt.timedelta(hours=1)
    return out


# ------------------------------------------------------------------------------------ IB
@dataclass
class FakeBar:
    date: Any
    open: float
    high: float
    low: float
    close: float
    volume: float


class FakeEvent:
    """The part of eventkit's Event the adapter uses (``+=``, ``-=``, emit)."""

    def __init__(self) -> None:
        self.handlers: list[Callable[..., None]] = []

    def __iadd__(self, h: Callable[..., None]) -> FakeEvent:
        self.handlers.append(h)
        return self

    def __isub__(self, h: Callable[..., None]) -> FakeEvent:
        self.handlers.remove(h)
        return self

    def emit(self, *args: Any) -> None:
        for h in list(self.handlers):
            h(*args)


@dataclass
class FakeIB:
    """Implements connect / qualifyContracts / reqHistoricalData / errorEvent.

    ``script`` maps a symbol to a list of responses consumed one per request: ``"bars"``
    (serve the recorded bars), ``("error", code, msg)`` (emit an error and return []),
    ``"empty"`` (a time-out: [] and no error). When a symbol's script is exhausted, bars.
    """

    unknown: set[str] = field(default_factory=set)
    script: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    errorEvent: FakeEvent = field(default_factory=FakeEvent)
    kill_after: int | None = None

    def connect(self, host: str, port: int, clientId: int, timeout: float = 4) -> None:
        return None

    def qualifyContracts(self, *contracts: Any) -> list[Any]:
        out = []
        for c in contracts:
            if c.symbol in self.unknown:
                self.errorEvent.emit(-1, 200, "No security definition has been found", c)
            else:
                c.conId = 1000 + len(c.symbol)
                out.append(c)
        return out

    def reqHistoricalData(
        self,
        contract: Any,
        endDateTime: str,
        durationStr: str,
        barSizeSetting: str,
        whatToShow: str,
        useRTH: bool,
        formatDate: int = 1,
        timeout: float = 60,
    ) -> list[FakeBar]:
        self.requests.append(
            dict(
                symbol=contract.symbol,
                end=endDateTime,
                duration=durationStr,
                bar=barSizeSetting,
                what=whatToShow,
                fmt=formatDate,
            )
        )
        if self.kill_after is not None and len(self.requests) > self.kill_after:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        steps = self.script.get(contract.symbol, [])
        step = steps.pop(0) if steps else "bars"
        if step == "empty":
            return []
        if isinstance(step, tuple) and step[0] == "error":
            self.errorEvent.emit(7, step[1], step[2], contract)
            return []
        end = dt.datetime.strptime(endDateTime, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
        days = int(durationStr.split()[0])
        start = end - dt.timedelta(days=days)
        key = contract.symbol + contract.currency
        return [
            FakeBar(b["t"], b["o"], b["h"], b["l"], b["c"], b["v"])
            for b in hourly_bars(key, start, end)
        ]


# -------------------------------------------------------------------------------- Alpaca
@dataclass
class AlpacaState:
    page_size: int = 40
    fail_once: list[int] = field(default_factory=lambda: [429, 500])
    key: str = "test-key"
    secret: str = "test-secret"
    unknown: set[str] = field(default_factory=lambda: {"NOPE"})
    log: list[str] = field(default_factory=list)


def _handler(state: AlpacaState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            state.log.append(self.path)
            if url.path not in ("/v2/stocks/bars", "/v1beta3/crypto/us/bars"):
                self._send(404, {"message": "not found"})
                return
            if url.path.startswith("/v2/") and (
                self.headers.get("APCA-API-KEY-ID") != state.key
                or self.headers.get("APCA-API-SECRET-KEY") != state.secret
            ):
                self._send(401, {"message": "unauthorized"})
                return
            if state.fail_once:
                self._send(state.fail_once.pop(0), {"message": "try again"})
                return
            symbol = q["symbols"]
            if symbol in state.unknown:
                self._send(422, {"message": f"invalid symbol: {symbol}"})
                return
            start = dt.datetime.fromisoformat(q["start"].replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(q["end"].replace("Z", "+00:00"))
            bars = hourly_bars(symbol.replace("/", ""), start, end)
            offset = int(q.get("page_token") or 0)
            page = bars[offset : offset + state.page_size]
            nxt = offset + state.page_size
            body = {
                "bars": {
                    symbol: [
                        {
                            "t": b["t"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "o": b["o"],
                            "h": b["h"],
                            "l": b["l"],
                            "c": b["c"],
                            "v": b["v"],
                            "n": 1,
                            "vw": b["c"],
                        }
                        for b in page
                    ]
                },
                "next_page_token": str(nxt) if nxt < len(bars) else None,
            }
            self._send(200, body)

    return Handler


@contextmanager
def alpaca_server(state: AlpacaState) -> Iterator[str]:
    """A local server on 127.0.0.1 (random port) speaking Alpaca's bars endpoints."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
