"""Closed-form checks of the core metrics: inputs whose answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algotrader import metrics as m


def test_sharpe_two_points() -> None:
    # mean 0.02, sample std sqrt(2)*0.01 -> 0.02/0.014142 * sqrt(4)
    assert m.sharpe([0.01, 0.03], periods_per_year=4) == pytest.approx(
        2 * 0.02 / (0.01 * math.sqrt(2))
    )


def test_sharpe_ddof0_and_risk_free() -> None:
    r = np.array([0.01, 0.03, 0.02])
    expected = (r - 0.01).mean() / (r - 0.01).std(ddof=0) * math.sqrt(12)
    assert m.sharpe(r, periods_per_year=12, ddof=0, risk_free=0.01) == pytest.approx(expected)


def test_sharpe_columns_match_single_series() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0.001, 0.01, size=(200, 3))
    cols = m.sharpe(r, periods_per_year=252)
    assert cols.shape == (3,)
    for k in range(3):
        assert cols[k] == pytest.approx(m.sharpe(r[:, k], periods_per_year=252))


def test_sharpe_constant_returns_is_nan() -> None:
    assert math.isnan(m.sharpe([0.1] * 10, periods_per_year=252))
    assert math.isnan(m.sharpe([0.01], periods_per_year=252))


def test_log_sharpe_uses_log_returns() -> None:
    r = np.array([0.05, -0.02, 0.01])
    lr = np.log1p(r)
    expected = lr.mean() / lr.std(ddof=1) * math.sqrt(52)
    assert m.log_sharpe(r, periods_per_year=52) == pytest.approx(expected)


def test_sortino_symmetric_is_zero_and_known_value() -> None:
    assert m.sortino([0.02, -0.02], periods_per_year=1) == pytest.approx(0.0)
    # mean 0.01, downside sqrt((0 + 0.01^2)/2) = 0.0070711 -> 1.41421 * sqrt(4)
    r = [0.03, -0.01]
    assert m.sortino(r, periods_per_year=4) == pytest.approx(0.01 / math.sqrt(0.0001 / 2) * 2)


def test_sortino_no_downside_is_nan() -> None:
    assert math.isnan(m.sortino([0.01, 0.02], periods_per_year=252))


def test_volatility() -> None:
    assert m.annualised_volatility([0.01, 0.03], periods_per_year=4) == pytest.approx(
        0.01 * math.sqrt(2) * 2
    )


def test_var_cvar_uniform_grid() -> None:
    r = np.linspace(-0.1, 0.09, 20)  # steps of 0.01
    # 5% quantile with linear interpolation: position 0.95 between -0.10 and -0.09
    assert m.value_at_risk(r, level=0.95) == pytest.approx(0.1 - 0.0095)
    assert m.conditional_value_at_risk(r, level=0.95) == pytest.approx(0.1)
    assert m.conditional_value_at_risk(r, level=0.9) == pytest.approx(0.095)


def test_hit_rate_zero_is_not_a_hit() -> None:
    assert m.hit_rate([0.0, 0.01, -0.01, 0.02]) == 0.5


def test_annualised_turnover() -> None:
    assert m.annualised_turnover([0.5, 0.5], periods_per_year=12) == pytest.approx(6.0)


def test_drawdowns_on_known_path() -> None:
    v = np.array([100.0, 120.0, 90.0, 110.0, 60.0, 130.0])
    assert m.max_drawdown(v) == pytest.approx(0.5)  # 120 -> 60
    assert m.greatest_drawdown(v) == pytest.approx(0.4)  # 100 -> 60
    dd = np.array([0, 0, 0.25, 1 - 110 / 120, 0.5, 0])
    np.testing.assert_allclose(m.drawdown_series(v), dd, atol=1e-15)
    assert m.ulcer_index(v) == pytest.approx(math.sqrt((dd**2).mean()))


def test_greatest_drawdown_never_below_start_is_zero() -> None:
    assert m.greatest_drawdown([1.0, 1.5, 1.2, 2.0]) == 0.0


def test_monotone_path_has_no_drawdown_and_nan_calmar() -> None:
    v = [1.0, 1.1, 1.2]
    assert m.max_drawdown(v) == 0.0
    assert math.isnan(m.calmar(v, periods_per_year=252))
    assert math.isnan(m.sterling(v, periods_per_year=252))


def test_returns_and_cagr() -> None:
    v = np.array([1.0, 1.1, 1.21, 1.331])
    assert m.total_return(v) == pytest.approx(0.331)
    assert m.annualised_return(v, periods_per_year=3) == pytest.approx(0.331)
    assert m.annualised_return(v, periods_per_year=1) == pytest.approx(0.1)
    assert math.isnan(m.annualised_return([1.0], periods_per_year=1))


def test_calmar_known() -> None:
    v = [1.0, 1.2, 0.9, 1.21]  # 3 periods at P=1.5 -> 2 years, CAGR 10%; MDD 25%
    assert m.calmar(v, periods_per_year=1.5) == pytest.approx(0.4)


def test_sterling_chunks() -> None:
    # two chunks of 3 values: drawdowns 0.5 and 0.2; CAGR over 5 periods at P=5 is 0.2
    v = [1.0, 0.5, 1.0, 1.0, 0.8, 1.2]
    assert m.chunk_max_drawdowns(v, 3).tolist() == pytest.approx([0.5, 0.2])
    assert m.sterling(v, periods_per_year=5, chunk_len=3) == pytest.approx(0.2 / 0.35)


def test_sterling_short_path_uses_whole_path() -> None:
    v = [1.0, 0.8, 1.1]
    assert m.sterling(v, periods_per_year=2, chunk_len=10) == pytest.approx(0.1 / 0.2)


def test_returns_over_hodl_and_uniform() -> None:
    prices = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 1.0]])
    values = np.array([4.0, 5.0, 6.0])
    # HODL of 2 units of asset 0: 2 -> 6 (growth 3); strategy growth 1.5
    assert m.returns_over_hodl(values, prices, [2.0, 0.0]) == pytest.approx(0.5 - 1)
    # uniform: V0=1 split -> h = [0.5, 0.25]; end 1.5 + 0.25 = 1.75
    np.testing.assert_allclose(m.uniform_hodl_values(prices), [1.0, 1.5, 1.75])
    assert m.returns_over_uniform_hodl(values, prices) == pytest.approx(1.5 / 1.75 - 1)
    both = m.returns_over_uniform_hodl(np.column_stack([values, values * 2]), prices)
    np.testing.assert_allclose(both, [1.5 / 1.75 - 1] * 2)


def test_annualised_returns_over_benchmark() -> None:
    v = [1.0, 1.21]
    b = [1.0, 1.1]
    assert m.annualised_returns_over_benchmark(v, b, periods_per_year=0.5) == pytest.approx(
        (1.1) ** 0.5 - 1
    )


def test_nan_policy_propagates_per_column() -> None:
    r = np.array([[0.01, 0.02], [np.nan, 0.01], [0.03, -0.01]])
    s = m.sharpe(r, periods_per_year=252)
    assert math.isnan(s[0]) and not math.isnan(s[1])
    v = 1 + np.abs(r)
    assert math.isnan(m.max_drawdown(v)[0]) and not math.isnan(m.max_drawdown(v)[1])
    assert math.isnan(m.conditional_value_at_risk(r)[0])
