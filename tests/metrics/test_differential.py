"""Differential tests against empyrical-reloaded where the definitions coincide.

Documented differences (tested here too):
* empyrical reports max drawdown and VaR/CVaR as negative numbers; we report positive losses.
* empyrical's sortino/calmar give +inf/NaN on degenerate inputs; ours give NaN (see docstrings).
* empyrical drops NaN returns (nanmean); we propagate NaN.
"""

from __future__ import annotations

import empyrical  # a test dependency: missing it is an error, never a silent skip
import numpy as np
import pytest

from algotrader import metrics as m


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    rng = np.random.default_rng(42)
    return rng.standard_t(4, size=(750, 5)) * 0.01 + 0.0003


def _values(r: np.ndarray) -> np.ndarray:
    return np.vstack([np.ones((1, r.shape[1])), np.cumprod(1 + r, axis=0)])


def test_sharpe_matches(returns: np.ndarray) -> None:
    for k in range(returns.shape[1]):
        ref = empyrical.sharpe_ratio(returns[:, k], annualization=252)
        assert m.sharpe(returns[:, k], periods_per_year=252) == pytest.approx(ref, rel=1e-12)


def test_sortino_matches(returns: np.ndarray) -> None:
    ref = [empyrical.sortino_ratio(returns[:, k], annualization=52) for k in range(5)]
    np.testing.assert_allclose(m.sortino(returns, periods_per_year=52), ref, rtol=1e-12)


def test_volatility_matches(returns: np.ndarray) -> None:
    ref = [empyrical.annual_volatility(returns[:, k], annualization=252) for k in range(5)]
    # empyrical uses ddof=1 as we do
    np.testing.assert_allclose(
        m.annualised_volatility(returns, periods_per_year=252), ref, rtol=1e-12
    )


def test_drawdown_and_cagr_match(returns: np.ndarray) -> None:
    v = _values(returns)
    ref_mdd = [empyrical.max_drawdown(returns[:, k]) for k in range(5)]
    np.testing.assert_allclose(m.max_drawdown(v), -np.asarray(ref_mdd), rtol=1e-12)
    ref_cagr = [empyrical.annual_return(returns[:, k], annualization=252) for k in range(5)]
    np.testing.assert_allclose(m.annualised_return(v, periods_per_year=252), ref_cagr, rtol=1e-10)
    ref_calmar = [empyrical.calmar_ratio(returns[:, k], annualization=252) for k in range(5)]
    np.testing.assert_allclose(m.calmar(v, periods_per_year=252), ref_calmar, rtol=1e-10)


def test_var_cvar_match_with_sign_flip(returns: np.ndarray) -> None:
    for k in range(5):
        ref_var = empyrical.value_at_risk(returns[:, k], cutoff=0.05)
        ref_cvar = empyrical.conditional_value_at_risk(returns[:, k], cutoff=0.05)
        assert m.value_at_risk(returns[:, k], level=0.95) == pytest.approx(-ref_var, rel=1e-12)
        assert m.conditional_value_at_risk(returns[:, k], level=0.95) == pytest.approx(
            -ref_cvar, rel=1e-12
        )


def test_documented_difference_nan_handling() -> None:
    r = np.array([0.01, np.nan, 0.02, -0.01])
    assert np.isfinite(empyrical.sharpe_ratio(r, annualization=252))  # empyrical drops NaN
    assert np.isnan(m.sharpe(r, periods_per_year=252))  # we propagate


def test_documented_difference_no_downside() -> None:
    r = np.array([0.01, 0.02, 0.03])
    assert np.isinf(empyrical.sortino_ratio(r, annualization=252))
    assert np.isnan(m.sortino(r, periods_per_year=252))
