"""Issue 16 items 6-8: optimiser -> backtest hand-off in currency, sane example, NAV status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from algotrader.cli import app

from .conftest import RunMain

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "optimiser.yml"


def _inputs(tmp: Path, n: int = 400) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 3)) + 0.0003, axis=0))
    d = pl.date_range(
        pl.date(2020, 1, 1), pl.date(2020, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "A": px[:, 0], "B": px[:, 1], "C": px[:, 2]})
    mom = {a: (pl.col(a) / pl.col(a).shift(20) - 1).fill_null(0.0) for a in "ABC"}
    mu = prices.with_columns(**mom)
    prices.write_csv(tmp / "prices.csv")
    mu.write_csv(tmp / "mu.csv")
    return tmp / "prices.csv", tmp / "mu.csv"


def _optimise(tmp: Path, cfg: Path, prices: Path, mu: Path, out: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(
        app,
        [
            "-q",
            "optimise",
            "--prices",
            str(prices),
            "--signal",
            str(mu),
            "--config",
            str(cfg),
            "--out",
            str(tmp / out),
        ],
        env={"COLUMNS": "300"},
    )
    assert res.exit_code == 0, res.output
    return json.loads((tmp / out / "summary.json").read_text())  # type: ignore[no-any-return]


def test_position_currency_feeds_backtest(tmp_path: Path) -> None:
    prices, mu = _inputs(tmp_path)
    summary = _optimise(tmp_path, EXAMPLE, prices, mu, "opt")
    assert summary["nav_status"] == {"status": "ok"}
    cash = pl.read_csv(tmp_path / "opt" / "cash_position.csv")
    cur = pl.read_csv(tmp_path / "opt" / "position_currency.csv")
    scale = summary["position_scale"]
    np.testing.assert_allclose(
        cur.drop("date").to_numpy(), cash.drop("date").to_numpy() * scale, rtol=1e-15
    )
    res = CliRunner().invoke(
        app,
        [
            "-q",
            "backtest",
            "--weights",
            str(tmp_path / "opt" / "position_currency.csv"),
            "--positions",
            "--initial-value",
            str(summary["config"]["aum"]),
            "--lag",
            "1",
            "--prices",
            str(prices),
            "--out",
            str(tmp_path / "bt"),
        ],
    )
    assert res.exit_code == 0, res.output
    # closed form: a position decided at row t is held from the close of t+1 to t+2
    p = pl.read_csv(prices).drop("date").to_numpy()
    pos = np.nan_to_num(cur.drop("date").to_numpy())
    rets = p[1:] / p[:-1] - 1
    pnl = np.sum(pos[:-2] * rets[1:], axis=1)
    expected = pnl.sum() / summary["config"]["aum"]
    assert abs(expected) > 1e-3  # not the 0.0000 of the unscaled hand-off
    metrics = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    got = metrics["metrics"]["strategy"]["total_return"]["value"]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_nav_crossing_zero_is_a_named_status(tmp_path: Path) -> None:
    prices, mu = _inputs(tmp_path)
    bad = tmp_path / "bad.yml"
    bad.write_text(EXAMPLE.read_text().replace("position_scale: 1000", "position_scale: 1000000"))
    summary = _optimise(tmp_path, bad, prices, mu, "opt_bad")
    nav = summary["nav_status"]
    assert nav["status"] == "nav_crossed_zero"
    assert 1 <= nav["row"] <= 400 and "position_scale" in nav["hint"]
    res = CliRunner().invoke(
        app,
        [
            "optimise",
            "--prices",
            str(prices),
            "--signal",
            str(mu),
            "--config",
            str(bad),
            "--out",
            str(tmp_path / "o2"),
            "--report",
        ],
        env={"COLUMNS": "300"},
    )
    assert "nav_crossed_zero" in res.output and "np.float64" not in res.output
    # the report of a bust book renders: returns end before the crossing, the status is named
    assert res.exit_code == 0, res.output
    html = (tmp_path / "o2" / "report.html").read_text()
    assert "NAV status nav_crossed_zero" in html and 'id="performance"' in html
    returns = pl.read_parquet(tmp_path / "o2" / "returns.parquet")
    # one return per row after the first, up to the last row whose value is still > 0
    assert returns.height == nav["row"] - 2
    dates = pl.read_csv(prices, try_parse_dates=True)["date"]
    assert returns["date"][-1].date() == dates[nav["row"] - 2]
    assert str(dates[nav["row"] - 1]) == nav["date"]


def test_warmup_longer_than_data_is_refused(tmp_path: Path, run_main: RunMain) -> None:
    prices, mu = _inputs(tmp_path, n=150)
    cfg = tmp_path / "c.yml"
    cfg.write_text(EXAMPLE.read_text().replace("corr: 32", "corr: 5000"))
    code, text = run_main(
        [
            "-q",
            "optimise",
            "--prices",
            str(prices),
            "--signal",
            str(mu),
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "key=corr" in text and "150 rows" in text and str(cfg) in text


def test_optimise_writes_png(tmp_path: Path) -> None:
    """Item 13: optimise.png (NAV vs benchmark, drawdown %, weights) is a real PNG."""
    prices, mu = _inputs(tmp_path)
    _optimise(tmp_path, EXAMPLE, prices, mu, "opt")
    png = tmp_path / "opt" / "optimise.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
