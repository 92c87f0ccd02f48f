"""The Alpaca adapter: the real ``alpaca-py`` client against a local server on 127.0.0.1.

The server speaks the documented bars endpoints, paginates with ``next_page_token``, checks
the API-key headers and answers 429 once and 500 once before serving.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from algotrader.data.lake import clean_bars
from algotrader.data.providers import (
    FakeClock,
    ProviderAuthError,
    RetryPolicy,
    TickersConfig,
    UnknownSymbolError,
    alpaca_pacer,
    download_history,
)
from algotrader.data.providers.alpaca import AlpacaProvider
from algotrader.data.raw import read_raw_layout

from .fakes import AlpacaState, alpaca_server

NOW = dt.datetime(2024, 4, 10, tzinfo=dt.UTC)
CFG = TickersConfig.model_validate(
    {
        "provider": "alpaca",
        "stocks": {"tickers": ["AAPL", "NOPE"]},
        "crypto": {"tickers": ["BTC/USD"]},
    }
)
INSTR = CFG.instruments()


def make(url: str, clock: FakeClock, key: str = "test-key") -> AlpacaProvider:
    env = {"ALPACA_DATA_URL": url, "ALPACA_API_KEY_ID": key, "ALPACA_API_SECRET_KEY": "test-secret"}
    return AlpacaProvider({i.asset: i for i in INSTR}, env=env, pacer=alpaca_pacer(1, clock))


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("hist_data_*.csv"))
    }


def test_pages_429_500_and_bars_reach_the_lake(tmp_path: Path) -> None:
    state = AlpacaState()
    clock = FakeClock()
    with alpaca_server(state) as url:
        report = download_history(
            make(url, clock),
            [INSTR[0], INSTR[2]],
            start="2024-01",
            end="2024-03",
            root=tmp_path,
            bar_size=CFG.size,
            clock=clock,
            now=NOW,
            retry=RetryPolicy(5, 1.0),
        )
    assert report.count("downloaded") == 6, report.results
    assert len(clock.sleeps) == 2  # one backoff for the 429, one for the 500
    pages = [p for p in state.log if "page_token=" in p]
    assert pages, "pagination was not followed"
    assert any("feed=iex" in p for p in state.log if p.startswith("/v2/"))
    bars = read_raw_layout(tmp_path, start="2024-01", end="2024-03")
    assert sorted(bars["asset"].unique().to_list()) == ["AAPL", "BTC.USD"]
    jan = bars.filter(bars["asset"] == "AAPL")
    assert jan.height == (23 + 21 + 21) * 7  # weekdays in Jan, Feb, Mar 2024 x 7 bars
    lake = clean_bars(bars)
    assert lake.weekly.height > 10


def test_auth_and_unknown_symbol_are_typed(tmp_path: Path) -> None:
    state = AlpacaState(fail_once=[])
    clock = FakeClock()
    with alpaca_server(state) as url:
        with pytest.raises(ProviderAuthError, match="HTTP 401"):
            download_history(
                make(url, clock, key="wrong"),
                INSTR[:1],
                start="2024-01",
                end="2024-01",
                root=tmp_path,
                bar_size=CFG.size,
                clock=clock,
                now=NOW,
            )
        report = download_history(
            make(url, clock),
            [INSTR[1]],
            start="2024-01",
            end="2024-01",
            root=tmp_path,
            bar_size=CFG.size,
            clock=clock,
            now=NOW,
        )
    assert report.failed[0].asset == "NOPE" and "HTTP 422" in (report.failed[0].error or "")
    assert not (tmp_path / "NOPE").exists()


def test_missing_credentials_name_the_variable() -> None:
    prov = AlpacaProvider({i.asset: i for i in INSTR}, env={})
    from algotrader.data.providers import BarRequest, parse_bar_size

    req = BarRequest(
        "AAPL",
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        parse_bar_size("1 hour"),
    )
    with pytest.raises(ProviderAuthError, match="need credentials") as info:
        prov.fetch_bars(req)
    assert info.value.key == "ALPACA_API_KEY_ID"
    with pytest.raises(UnknownSymbolError):
        prov.fetch_bars(BarRequest("ZZZ", req.start, req.end, req.bar_size))


def test_rerun_after_interruption_is_byte_identical(tmp_path: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    clock = FakeClock()
    with alpaca_server(AlpacaState(fail_once=[])) as url:
        kwargs = dict(start="2024-01", end="2024-03", bar_size=CFG.size, clock=clock, now=NOW)
        download_history(make(url, clock), [INSTR[0], INSTR[2]], root=full, **kwargs)  # type: ignore[arg-type]
        seen: list[str] = []

        def stop_after_two(result: object) -> None:
            seen.append(str(result))
            if len(seen) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            download_history(
                make(url, clock),
                [INSTR[0], INSTR[2]],
                root=part,  # type: ignore[arg-type]
                on_month=stop_after_two,
                **kwargs,
            )
        assert len(digest(part)) == 2
        report = download_history(make(url, clock), [INSTR[0], INSTR[2]], root=part, **kwargs)  # type: ignore[arg-type]
    assert report.count("skipped") == 2 and report.count("downloaded") == 4
    assert digest(part) == digest(full)
