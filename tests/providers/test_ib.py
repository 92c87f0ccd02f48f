"""The IB adapter against a fake ``ib_async.IB`` driven by recorded-style bar lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from algotrader.data.providers import (
    BarRequest,
    FakeClock,
    NoDataError,
    ProviderPermissionError,
    RetryPolicy,
    TickersConfig,
    TransientProviderError,
    UnknownSymbolError,
    download_history,
    ib_pacer,
    parse_bar_size,
)
from algotrader.data.providers.ib import IBProvider, classify_ib_error, ib_settings
from algotrader.data.raw import read_raw_layout
from algotrader.errors import ConfigError, ProviderError

from .fakes import FakeIB

NOW = dt.datetime(2024, 5, 15, tzinfo=dt.UTC)
CFG = TickersConfig.model_validate(
    {"stocks": {"tickers": ["AAPL", "MSFT"]}, "forex": {"tickers": ["EUR.USD"]}}
)
INSTR = CFG.instruments()


def provider(ib: FakeIB, clock: FakeClock) -> IBProvider:
    return IBProvider(ib, {i.asset: i for i in INSTR}, pacer=ib_pacer(1, clock))


def month_request(asset: str, month: int = 1) -> BarRequest:
    start = dt.datetime(2024, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(2024, month + 1, 1, tzinfo=dt.UTC)
    return BarRequest(asset, start, end, parse_bar_size("1 hour"), "TRADES")


def test_month_request_asks_for_utc_bars_of_that_month() -> None:
    ib, clock = FakeIB(), FakeClock()
    frame = provider(ib, clock).fetch_bars(month_request("AAPL", 2))
    req = ib.requests[0]
    assert req == dict(
        symbol="AAPL", end="20240301-00:00:00", duration="29 D", bar="1 hour", what="TRADES", fmt=2
    )
    assert frame["timestamp"].dtype == pl.Datetime("us", "UTC")
    assert frame["timestamp"].min() >= dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    assert frame["timestamp"].max() < dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert frame.height == 21 * 7  # 21 weekdays in Feb 2024, 7 bars a day


@pytest.mark.parametrize(
    ("code", "msg", "error"),
    [
        (
            162,
            "Historical Market Data Service error message:API historical data query cancelled",
            TransientProviderError,
        ),
        (
            162,
            "Historical Market Data Service error message:HMDS query returned no data",
            NoDataError,
        ),
        (354, "Requested market data is not subscribed.", ProviderPermissionError),
        (200, "No security definition has been found", UnknownSymbolError),
        (366, "No historical data query found for ticker id", TransientProviderError),
    ],
)
def test_errors_behind_empty_lists_are_typed(code: int, msg: str, error: type) -> None:
    ib = FakeIB(script={"AAPL": [("error", code, msg)]})
    with pytest.raises(error, match=f"IB error {code} for AAPL") as info:
        provider(ib, FakeClock()).fetch_bars(month_request("AAPL"))
    assert info.value.column == "AAPL"


def test_empty_list_without_error_is_a_time_out_and_retried() -> None:
    ib, clock = (
        FakeIB(script={"AAPL": ["empty", ("error", 162, "pacing violation"), "bars"]}),
        FakeClock(),
    )
    prov = provider(ib, clock)
    with pytest.raises(TransientProviderError, match="time-out"):
        prov.fetch_bars(month_request("AAPL"))
    with pytest.raises(TransientProviderError, match="162"):
        prov.fetch_bars(month_request("AAPL", 2))
    assert prov.fetch_bars(month_request("AAPL", 3)).height > 0


def test_unknown_contract_is_refused_by_name() -> None:
    ib = FakeIB(unknown={"MSFT"})
    with pytest.raises(UnknownSymbolError, match="MSFT"):
        provider(ib, FakeClock()).fetch_bars(month_request("MSFT"))
    with pytest.raises(UnknownSymbolError, match=r"not in tickers\.yml"):
        provider(ib, FakeClock()).fetch_bars(month_request("TSLA"))


def test_daily_dates_and_missing_volume() -> None:
    from algotrader.data.providers.ib import _bar_time

    assert _bar_time(dt.date(2024, 1, 2)) == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(ProviderError, match="no timezone"):
        _bar_time(dt.datetime(2024, 1, 2, 10))


def test_classify_and_settings() -> None:
    assert isinstance(classify_ib_error(504, "Not connected", "X"), TransientProviderError)
    assert ib_settings({"IB_HOST": "h", "IB_PORT": "4002", "IB_CLIENT_ID": "7"}) == ("h", 4002, 7)
    with pytest.raises(ConfigError, match="integers"):
        ib_settings({"IB_PORT": "x"})


def test_download_retries_pacing_then_writes_months_that_clean(tmp_path: Path) -> None:
    ib = FakeIB(
        script={
            "AAPL": [("error", 162, "pacing violation"), "bars"],
            "MSFT": [("error", 354, "not subscribed")],
        }
    )
    clock = FakeClock()
    report = download_history(
        provider(ib, clock),
        INSTR,
        start="2024-01",
        end="2024-03",
        root=tmp_path,
        bar_size=CFG.size,
        clock=clock,
        now=NOW,
        retry=RetryPolicy(4, 2.0),
    )
    status = {(r.asset, r.month): r.status for r in report.results}
    assert status[("AAPL", "2024-01")] == "downloaded"
    assert status[("MSFT", "2024-01")] == "failed"
    assert status[("MSFT", "2024-02")] == "downloaded"
    assert report.count("downloaded") == 8 and report.count("failed") == 1
    assert (tmp_path / "EUR.USD" / "2024" / "hist_data_2024-02.csv").exists()
    assert len(clock.sleeps) >= 1  # the pacing violation was backed off
    bars = read_raw_layout(tmp_path, start="2024-01", end="2024-03", assets=["AAPL", "EUR.USD"])
    assert bars["asset"].unique().sort().to_list() == ["AAPL", "EUR.USD"]
    # rerun: completed months skipped, the failed one fetched again
    ib2 = FakeIB()
    report2 = download_history(
        provider(ib2, clock),
        INSTR,
        start="2024-01",
        end="2024-03",
        root=tmp_path,
        bar_size=CFG.size,
        clock=clock,
        now=NOW,
    )
    assert report2.count("skipped") == 8 and report2.count("downloaded") == 1
    assert [r["symbol"] for r in ib2.requests] == ["MSFT"]


def test_running_month_is_partial_and_refetched(tmp_path: Path) -> None:
    clock = FakeClock()
    args = dict(
        start="2024-05", end="2024-06", root=tmp_path, bar_size=CFG.size, clock=clock, now=NOW
    )
    r1 = download_history(provider(FakeIB(), clock), INSTR[:1], **args)  # type: ignore[arg-type]
    assert [r.status for r in r1.results] == ["partial", "no_data"]
    r2 = download_history(provider(FakeIB(), clock), INSTR[:1], **args)  # type: ignore[arg-type]
    assert r2.results[0].status == "partial"
    frame = pl.read_csv(tmp_path / "AAPL" / "2024" / "hist_data_2024-05.csv")
    assert frame["timestamp"].max() < "2024-05-15"
