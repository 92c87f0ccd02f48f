"""tickers.yml parsing: sections, forex forms, defaults, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrader.data.providers import load_tickers, parse_bar_size
from algotrader.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_examples_load() -> None:
    ib = load_tickers(ROOT / "config" / "tickers.yml")
    assets = [i.asset for i in ib.instruments()]
    assert assets == ["AAPL", "MSFT", "EUR.USD", "GBP.USD", "USD.JPY", "SPX", "XAU.USD"]
    fx = {i.asset: i for i in ib.instruments()}["USD.JPY"]
    assert (fx.symbol, fx.currency, fx.sec_type, fx.exchange, fx.what_to_show) == (
        "USD",
        "JPY",
        "CASH",
        "IDEALPRO",
        "MIDPOINT",
    )
    al = load_tickers(ROOT / "config" / "tickers_alpaca.yml")
    assert [i.asset for i in al.instruments()] == ["AAPL", "MSFT", "BTC.USD", "ETH.USD"]
    assert al.provider == "alpaca" and al.size.alpaca == "1Hour"


@pytest.mark.parametrize(
    ("text", "ib", "alpaca"),
    [
        ("1 hour", "1 hour", "1Hour"),
        ("5 mins", "5 mins", "5Min"),
        ("1 day", "1 day", "1Day"),
        ("30 secs", "30 secs", "30Sec"),
    ],
)
def test_bar_sizes(text: str, ib: str, alpaca: str) -> None:
    size = parse_bar_size(text)
    assert (size.ib, size.alpaca) == (ib, alpaca)


@pytest.mark.parametrize(
    ("body", "match", "key"),
    [
        ("stocks: {tickers: ['../x']}", "outside", "stocks.tickers[0]"),
        ("stocks: {tickers: [AAPL, AAPL]}", "listed twice", "stocks.tickers"),
        ("forex: {tickers: [EURO]}", "no quote currency", "forex.tickers[0]"),
        ("stocks: {tickerz: [AAPL]}", "Extra inputs", "stocks.tickerz"),
        ("bar_size: 1 fortnight", "invalid bar size", "bar_size"),
        ("provider: yahoo", "Input should be", "provider"),
        ("use_rth: maybe", "valid boolean", "use_rth"),
        ("stocks: {tickers: ['']}", "is empty", "stocks.tickers[0]"),
        ("stocks: {tickers: [{symbol: A, venue: X}]}", "Extra inputs", "stocks.tickers.0.venue"),
        (
            "stocks: {contract_defaults: {currency: [1]}}",
            "valid string",
            "stocks.contract_defaults.currency",
        ),
        ("bogus: 1", r"Extra inputs are not permitted \(bogus\)", "bogus"),
    ],
)
def test_bad_tickers_config_names_file_and_key(
    tmp_path: Path, body: str, match: str, key: str
) -> None:
    p = tmp_path / "tickers.yml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=match) as info:
        load_tickers(p)
    assert info.value.file == str(p)
    assert info.value.key == key


def test_not_yaml(tmp_path: Path) -> None:
    p = tmp_path / "t.yml"
    p.write_text("stocks: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_tickers(p)
