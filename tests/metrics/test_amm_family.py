"""The AMM family's definitions against hand computations and the general metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algotrader import metrics as m
from algotrader.metrics import amm_family as amm


@pytest.fixture(scope="module")
def v() -> np.ndarray:
    rng = np.random.default_rng(8)
    r = rng.normal(0.00002, 0.0008, size=(35 * 1440, 2))
    return np.vstack([np.ones((1, 2)), np.cumprod(1 + r, axis=0)])


def test_sharpe_variants_map_to_general(v: np.ndarray) -> None:
    r = v[1:] / v[:-1] - 1
    np.testing.assert_allclose(
        amm.minute_sharpe(v), m.sharpe(r, periods_per_year=525_600, ddof=0), rtol=1e-12
    )
    vd = v[::1440]
    rd = vd[1:] / vd[:-1] - 1
    np.testing.assert_allclose(amm.daily_sharpe(v), m.sharpe(rd, periods_per_year=365, ddof=0))
    np.testing.assert_allclose(amm.eval_sharpe(v), amm.daily_sharpe(v))
    lr = np.diff(np.log(vd + 1e-12), axis=0)
    expected = math.sqrt(365) * lr.mean(axis=0) / (lr.std(axis=0) + 1e-8)
    np.testing.assert_allclose(amm.daily_log_sharpe(v), expected)


def test_eval_sharpe_zero_for_flat_series() -> None:
    assert amm.eval_sharpe(np.ones(3 * 1440)) == 0.0


def test_returns_and_annualisation(v: np.ndarray) -> None:
    np.testing.assert_allclose(amm.total_return(v), m.total_return(v))
    np.testing.assert_allclose(
        amm.annualised_return(v), m.annualised_return(v, periods_per_year=525_600)
    )


def test_drawdowns_are_negative_mirrors(v: np.ndarray) -> None:
    np.testing.assert_allclose(amm.greatest_draw_down(v), -m.greatest_drawdown(v), atol=1e-15)
    weekly = np.asarray(m.chunk_max_drawdowns(v, amm.WEEK)).max(axis=0)
    np.testing.assert_allclose(amm.weekly_max_drawdown(v), -weekly)
    # ulcer: 30-day chunks, drawdown from the chunk's running peak
    c = v[: amm.MONTH, 0]
    dd = (c - np.maximum.accumulate(c)) / np.maximum.accumulate(c)
    assert amm.chunked_ulcer(v[:, 0]) == pytest.approx(-math.sqrt((dd**2).mean()))


def test_calmar_and_sterling_annualise_by_days(v: np.ndarray) -> None:
    x = v[:, 0]
    days = len(x) / 1440
    cagr = (x[-1] / x[0]) ** (365 / days) - 1
    assert amm.calmar(x) == pytest.approx(cagr / m.max_drawdown(x))
    chunk_dd = np.asarray(m.chunk_max_drawdowns(x, amm.MONTH))
    assert amm.chunked_sterling(x) == pytest.approx(cagr / chunk_dd.mean())
    assert amm.calmar(np.linspace(1, 2, 3000)) == math.inf


def test_var_variants(v: np.ndarray) -> None:
    x = v[:, 0]
    days = len(x) // 1440  # complete days of values; returns inside each day only
    per_day = []
    for d in range(days):
        c = x[d * 1440 : (d + 1) * 1440]
        per_day.append(np.percentile(c[1:] / c[:-1] - 1, 5))
    assert amm.chunked_var(x, chunk_minutes=1440) == pytest.approx(np.mean(per_day))
    ends = x[1439::1440]
    assert amm.chunked_var_trad(x, chunk_minutes=1440) == pytest.approx(
        np.percentile(ends[1:] / ends[:-1] - 1, 5)
    )


def test_over_hodl_definitions() -> None:
    prices = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 4.0]])
    values = np.array([4.0, 5.0, 9.0])
    # uniform: h = 4 / (2 * [1, 2]) = [2, 1]; end = 6 + 4 = 10
    assert amm.returns_over_uniform_hodl(values, prices) == pytest.approx(9 / 10 - 1)
    assert amm.returns_over_hodl(values, prices, [0.0, 2.0]) == pytest.approx(9 / 8 - 1)
    assert m.returns_over_uniform_hodl(values, prices) == pytest.approx(9 / 10 - 1)
    ann = amm.annualised_returns_over_uniform_hodl(values, prices)
    assert ann == pytest.approx((0.9) ** (525_600 / 2) - 1)
