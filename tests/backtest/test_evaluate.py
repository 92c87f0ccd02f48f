"""The one evaluation path: periods-per-year rule, gross/net returns, files written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from algotrader import metrics
from algotrader.artifacts import RunManifest
from algotrader.backtest import (
    CostModel,
    evaluate_value_series,
    evaluate_weights,
    periods_per_year,
    run_backtest,
    write_evaluation,
)
from algotrader.backtest.evaluate import metrics_document
from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, DataError, ShapeError


def _days(n: int, start: str = "2024-01-01", step: int = 1) -> np.ndarray:
    return np.datetime64(start) + np.arange(n) * np.timedelta64(step, "D")


def _prices(t: int = 60, a: int = 3, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    p = np.cumprod(1 + rng.normal(0.0005, 0.01, (t, a)), axis=0) * 100
    return Panel.from_arrays(_days(t), [f"A{i}" for i in range(a)], p, name="close")


# ---------------------------------------------------------------- periods per year
def test_periods_per_year_closed_forms() -> None:
    assert periods_per_year(_days(10)) == pytest.approx(365.25)
    assert periods_per_year(_days(53, "2020-01-06", 7)) == pytest.approx(365.25 / 7)
    # 3 observations over exactly one Julian year -> 2 periods per year
    d = np.array(["2021-01-01T00:00", "2021-07-02T03:00", "2022-01-01T06:00"], "datetime64[m]")
    assert periods_per_year(d) == pytest.approx(2.0)
    minutes = np.datetime64("2024-01-01T00:00") + np.arange(100) * np.timedelta64(1, "m")
    assert periods_per_year(minutes) == pytest.approx(365.25 * 1440)


def test_periods_per_year_trading_calendar() -> None:
    # weekdays only: 5 observations per 7 days -> 365.25 * 5 / 7 ~ 260.9 (not 365)
    d = _days(700)
    wd = d[(d.astype("datetime64[D]").view("int64") - 4) % 7 < 5]
    got = periods_per_year(wd)
    assert got == pytest.approx((wd.size - 1) / ((wd[-1] - wd[0]).astype(int) / 365.25))
    assert 258 < got < 263


def test_periods_per_year_polars_series() -> None:
    s = pl.Series(_days(5).astype("datetime64[D]"))
    assert s.dtype == pl.Date
    assert periods_per_year(s) == pytest.approx(365.25)
    with pytest.raises(DataError, match="temporal"):
        periods_per_year(pl.Series([1, 2, 3]))


@pytest.mark.parametrize(
    ("dates", "match"),
    [
        (_days(1), "at least 2"),
        (np.array(["2024-01-02", "2024-01-01"], "datetime64[D]"), "strictly increasing"),
        (np.array(["2024-01-01", "2024-01-01"], "datetime64[D]"), "strictly increasing"),
        (np.array([1.0, 2.0]), "datetimes"),
    ],
)
def test_periods_per_year_bad(dates: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        periods_per_year(dates)


# ------------------------------------------------------------------ evaluate_weights
def test_evaluate_weights_matches_backtest_and_metrics() -> None:
    prices = _prices()
    w = np.full((60, 3), 1 / 3)
    cm = CostModel(proportional_bps=5)
    ev = evaluate_weights(prices, w, cm, name="ew")
    ref = run_backtest(np.asarray(prices.values), w, costs=cm)
    np.testing.assert_array_equal(ev.values, ref.values)
    np.testing.assert_array_equal(ev.net_returns, ref.values[1:] / ref.values[:-1] - 1)
    ppy = 365.25
    assert ev.periods_per_year == pytest.approx(ppy)
    assert ev.metrics["sharpe"] == pytest.approx(
        metrics.sharpe(ref.simple_returns, periods_per_year=ppy), rel=1e-12
    )
    assert ev.metrics["max_drawdown"] == pytest.approx(metrics.max_drawdown(ref.values))
    # benchmarks: equal-weight rebalanced with the same costs equals this very strategy
    np.testing.assert_allclose(ev.benchmarks["equal_weight_rebalanced"], ev.values, rtol=1e-14)
    assert set(ev.benchmark_metrics) == {"hodl", "uniform_hodl", "equal_weight_rebalanced"}


def test_gross_minus_net_is_cost_over_previous_value() -> None:
    prices = _prices(seed=3)
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(3), 60)
    ev = evaluate_weights(prices, w, CostModel(proportional_bps=25, fixed_per_trade=1e-4))
    np.testing.assert_allclose(
        ev.gross_returns - ev.net_returns, ev.costs[1:] / ev.values[:-1], atol=1e-15
    )
    assert (ev.gross_returns >= ev.net_returns).all()
    free = evaluate_weights(prices, w, None)
    np.testing.assert_array_equal(free.gross_returns, free.net_returns)


def test_evaluate_weights_two_bar_closed_form() -> None:
    # buy 1.0 at bar 1 at 10 bps (cash -0.001); at bar 2 the asset doubles: V_pre = 1.999,
    # rebalancing to weight 1 sells 0.001 of value at 10 bps (1e-6)
    prices = Panel.from_arrays(_days(3), ["X"], [[1.0], [1.0], [2.0]])
    ev = evaluate_weights(prices, np.ones((3, 1)), CostModel(proportional_bps=10))
    np.testing.assert_allclose(ev.values, [1.0, 0.999, 1.998999], rtol=1e-14)
    np.testing.assert_allclose(ev.costs, [0.0, 1e-3, 1e-6], rtol=1e-12)
    np.testing.assert_allclose(ev.net_returns, [-0.001, 1.998999 / 0.999 - 1], rtol=1e-12)
    np.testing.assert_allclose(ev.gross_returns, [0.0, 1.999 / 0.999 - 1], atol=1e-14)
    assert ev.metrics["total_return"] == pytest.approx(0.998999, rel=1e-12)


def test_evaluate_weights_accepts_aligned_panel_and_rejects_misaligned() -> None:
    prices = _prices(t=10)
    wp = Panel.from_arrays(prices.dates, prices.assets, np.full((10, 3), 0.2))
    a = evaluate_weights(prices, wp)
    b = evaluate_weights(prices, np.full((10, 3), 0.2))
    np.testing.assert_array_equal(a.values, b.values)
    other = Panel.from_arrays(prices.dates, ("A2", "A1", "A0"), np.full((10, 3), 0.2))
    with pytest.raises(ShapeError, match="not aligned"):
        evaluate_weights(prices, other)


def test_evaluate_weights_bad_input() -> None:
    p = np.ones((4, 2))
    p[2, 1] = np.nan
    gappy = Panel.from_arrays(_days(4), ["A", "B"], p)
    with pytest.raises(DataError, match="unobserved") as info:
        evaluate_weights(gappy, np.full((4, 2), 0.5))
    assert info.value.column == "B" and info.value.row == 2
    with pytest.raises(ShapeError, match="2-d Panel"):
        evaluate_weights(np.ones((4, 2)), np.full((4, 2), 0.5))  # type: ignore[arg-type]
    with pytest.raises(ShapeError):
        evaluate_weights(_prices(t=4), np.full((3, 3), 0.5))


def test_cost_model_unknown_key_is_config_error() -> None:
    with pytest.raises(ConfigError, match="bogus") as info:
        CostModel(bogus=1)  # type: ignore[call-arg]
    assert info.value.key == "bogus"
    with pytest.raises(ConfigError, match="proportional_bps"):
        CostModel(proportional_bps=-1)


def test_no_look_ahead() -> None:
    """Corrupting prices/weights after row k leaves every return up to row k unchanged."""
    prices = _prices(t=40, seed=5)
    rng = np.random.default_rng(2)
    w = rng.dirichlet(np.ones(3), 40)
    base = evaluate_weights(prices, w, CostModel(proportional_bps=10))
    k = 25
    pv = np.asarray(prices.values).copy()
    pv[k + 1 :] *= rng.uniform(0.5, 2.0, pv[k + 1 :].shape)
    w2 = w.copy()
    w2[k:] = rng.dirichlet(np.ones(3), 40 - k)  # decided at k, executed at k+1
    bumped = evaluate_weights(
        Panel.from_arrays(prices.dates, prices.assets, pv), w2, CostModel(proportional_bps=10)
    )
    np.testing.assert_array_equal(bumped.net_returns[:k], base.net_returns[:k])


# ------------------------------------------------------------- evaluate_value_series
def test_value_series_closed_form() -> None:
    d = _days(4)
    v = [100.0, 110.0, 99.0, 121.0]
    ev = evaluate_value_series(d, v, {"hodl": [100.0, 100.0, 100.0, 110.0]}, name="pool")
    assert ev.metrics["total_return"] == pytest.approx(0.21)
    assert ev.metrics["returns_over_hodl"] == pytest.approx(1.21 / 1.1 - 1)
    assert ev.metrics["max_drawdown"] == pytest.approx(0.1)
    np.testing.assert_allclose(ev.net_returns, [0.1, -0.1, 121 / 99 - 1])
    np.testing.assert_array_equal(ev.gross_returns, ev.net_returns)
    assert ev.benchmark_metrics["hodl"]["total_return"] == pytest.approx(0.1)


def test_value_series_bad_input() -> None:
    with pytest.raises(DataError, match="positive") as info:
        evaluate_value_series(_days(3), [1.0, 0.0, 1.0])
    assert info.value.row == 1
    with pytest.raises(ShapeError, match="rows"):
        evaluate_value_series(_days(3), [1.0, 1.0])
    with pytest.raises(ShapeError, match="benchmark hodl"):
        evaluate_value_series(_days(3), [1.0, 1.0, 1.0], {"hodl": [1.0]})


@settings(max_examples=30, deadline=None)
@given(
    # returns on a 1e-6 grid: rounding-level moves (1e-12) make drawdown ratios ill-posed
    st.lists(st.floats(-0.05, 0.05).map(lambda x: round(x, 6)), min_size=3, max_size=40),
    st.floats(0.01, 1e6),
)
def test_value_series_scale_invariant(rets: list[float], scale: float) -> None:
    assume(np.ptp(rets) > 1e-3)  # away from zero volatility, where ratios are 0/0
    v = np.cumprod(np.r_[1.0, 1 + np.asarray(rets)])
    a = evaluate_value_series(_days(v.size), v)
    b = evaluate_value_series(_days(v.size), v * scale)
    for k, x in a.metrics.items():
        y = b.metrics[k]
        assert (math.isnan(x) and math.isnan(y)) or y == pytest.approx(x, rel=1e-6, abs=1e-12)


# -------------------------------------------------------------------------- writing
def test_write_evaluation_files(tmp_path: pytest.TempPathFactory) -> None:
    ev = evaluate_weights(_prices(), np.full((60, 3), 1 / 3), CostModel(proportional_bps=5))
    man = RunManifest.create("evaluate", {"family": "ew"}, {"prices": "abc"})
    out = tmp_path / "run"  # type: ignore[operator]
    paths = write_evaluation(out, ev, man)
    assert [p.name for p in paths] == ["returns.parquet", "metrics.json", "run_manifest.json"]
    frame = pl.read_parquet(out / "returns.parquet")
    assert frame.columns[:3] == ["date", "gross_return", "net_return"]
    assert frame.columns[3:5] == ["turnover", "costs"]
    assert all(c.startswith("benchmark_") for c in frame.columns[5:])
    hodl = ev.benchmarks["hodl"]
    np.testing.assert_allclose(frame["benchmark_hodl"].to_numpy(), hodl[1:] / hodl[:-1] - 1.0)
    assert frame.height == 59 and frame["date"].dtype == pl.Datetime("us", "UTC")
    np.testing.assert_array_equal(frame["net_return"].to_numpy(), ev.net_returns)
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["periods_per_year"] == pytest.approx(365.25)
    assert doc["metrics"]["sharpe"]["definition"].startswith("sqrt(P)")
    assert set(doc["benchmarks"]) == {"hodl", "uniform_hodl", "equal_weight_rebalanced"}
    first = (out / "returns.parquet").read_bytes(), (out / "metrics.json").read_bytes()
    write_evaluation(out, ev)
    assert ((out / "returns.parquet").read_bytes(), (out / "metrics.json").read_bytes()) == first


def test_metrics_json_nan_is_null(tmp_path: pytest.TempPathFactory) -> None:
    ev = evaluate_value_series(_days(3), [1.0, 1.0, 1.0])  # zero volatility -> NaN Sharpe
    assert math.isnan(ev.metrics["sharpe"]) or ev.metrics["sharpe"] == 0.0
    doc = metrics_document(ev)
    text = json.dumps(doc, allow_nan=False)  # no NaN token anywhere
    for entry in json.loads(text)["metrics"].values():
        assert entry["value"] is None or math.isfinite(entry["value"])


def test_adapters_are_thin_panel_views(tmp_path: Path) -> None:
    from algotrader.backtest.tables import read_wide_table
    from algotrader.data.tensor import ReturnTensor

    f = tmp_path / "p.csv"
    f.write_text("date,A,B\n2024-01-01,1.0,2.0\n2024-01-02,1.5,\n")
    wt = read_wide_table(f, "prices")
    p = wt.to_panel("close")
    assert p.assets == ("A", "B") and p.name == "close"
    assert p.mask.tolist() == [[True, True], [True, False]]
    np.testing.assert_array_equal(p.values[p.mask], wt.values[~np.isnan(wt.values)])
    t = ReturnTensor(
        np.array([[0.1, np.nan]]),
        np.array(["2024-01-01"], "datetime64[us]"),
        np.array(["A", "B"]),
        np.array([[False, True]]),
        "log",
    )
    tp = t.to_panel()
    assert tp.name == "returns_log" and tp.mask.tolist() == [[True, False]]
