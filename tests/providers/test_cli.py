"""``algotrader historical`` end to end against the local Alpaca server, then data-cleaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from algotrader.cli import app, main

from .fakes import AlpacaState, alpaca_server

CONFIG = """
provider: alpaca
bar_size: 1 hour
stocks: {tickers: [AAPL]}
crypto: {tickers: [BTC/USD]}
"""


def test_historical_then_cleaning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "tickers.yml"
    cfg.write_text(CONFIG)
    home = tmp_path / "home"
    with alpaca_server(AlpacaState(fail_once=[])) as url:
        env = {
            "ALGOTRADER_HOME": str(home),
            "ALPACA_DATA_URL": url,
            "ALPACA_API_KEY_ID": "test-key",
            "ALPACA_API_SECRET_KEY": "test-secret",
            "COLUMNS": "200",
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        result = CliRunner().invoke(
            app,
            ["-q", "historical", "--config", str(cfg), "--start", "2024-01", "--end", "2024-02"],
        )
        assert result.exit_code == 0, result.output
        assert "downloaded" in result.output
        files = sorted(
            p.relative_to(home / "raw").as_posix() for p in (home / "raw").rglob("*.csv")
        )
        assert files == [
            "AAPL/2024/hist_data_2024-01.csv",
            "AAPL/2024/hist_data_2024-02.csv",
            "BTC.USD/2024/hist_data_2024-01.csv",
            "BTC.USD/2024/hist_data_2024-02.csv",
        ]
        again = CliRunner().invoke(
            app,
            ["-q", "historical", "--config", str(cfg), "--start", "2024-01", "--end", "2024-02"],
        )
        assert again.exit_code == 0 and "skipped" in again.output
    cleaned = CliRunner().invoke(
        app, ["-q", "data-cleaning", "--start", "2024-01", "--end", "2024-02"]
    )
    assert cleaned.exit_code == 0, cleaned.output


def test_unknown_symbol_option_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "tickers.yml"
    cfg.write_text(CONFIG)
    monkeypatch.setenv("ALGOTRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(
        "sys.argv",
        [
            "algotrader",
            "-q",
            "historical",
            "--config",
            str(cfg),
            "--start",
            "2024-01",
            "--symbols",
            "TSLA",
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "TSLA" in err and "key=symbols" in err and str(cfg) in err
