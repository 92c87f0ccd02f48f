"""Invariants of the metrics over random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from algotrader import metrics as m

returns = arrays(
    np.float64,
    st.integers(5, 120),
    elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
)


def _values(r: np.ndarray) -> np.ndarray:
    return np.concatenate([[1.0], np.cumprod(1 + r)])


@settings(max_examples=80, deadline=None)
@given(returns, st.floats(0.01, 100.0))
def test_sharpe_scale_and_sign(r: np.ndarray, c: float) -> None:
    s = m.sharpe(r, periods_per_year=252)
    if np.isnan(s):
        return
    if (r * c).min() > -1.0:  # scaled returns must stay valid simple returns
        np.testing.assert_allclose(m.sharpe(r * c, periods_per_year=252), s, rtol=1e-7)
    np.testing.assert_allclose(m.sharpe(-r, periods_per_year=252), -s, rtol=1e-9, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(returns)
def test_drawdown_orderings(r: np.ndarray) -> None:
    v = _values(r)
    mdd = m.max_drawdown(v)
    assert 0.0 <= mdd < 1.0
    assert m.greatest_drawdown(v) <= mdd + 1e-15
    assert m.ulcer_index(v) <= mdd + 1e-15
    dd = m.drawdown_series(v)
    assert dd[0] == 0.0 and np.all(dd >= 0)


@settings(max_examples=80, deadline=None)
@given(returns)
def test_tail_and_hit_rate_bounds(r: np.ndarray) -> None:
    var, cvar = m.value_at_risk(r), m.conditional_value_at_risk(r)
    assert cvar >= var - 1e-15
    assert cvar <= -r.min() + 1e-15
    assert 0.0 <= m.hit_rate(r) <= 1.0


@settings(max_examples=60, deadline=None)
@given(returns)
def test_cagr_matches_total_return_over_its_own_length(r: np.ndarray) -> None:
    v = _values(r)
    np.testing.assert_allclose(
        m.annualised_return(v, periods_per_year=len(r)), m.total_return(v), rtol=1e-9, atol=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(returns, st.floats(-0.3, 0.3))
def test_psr_is_a_probability_decreasing_in_the_benchmark(r: np.ndarray, b: float) -> None:
    low = m.probabilistic_sharpe_ratio(r, benchmark_sharpe_per_period=b)
    high = m.probabilistic_sharpe_ratio(r, benchmark_sharpe_per_period=b + 0.1)
    if np.isnan(low) or np.isnan(high):
        return
    assert 0.0 <= high <= low <= 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.sampled_from([2, 4, 6, 8]))
def test_pbo_is_a_probability(seed: int, n: int, s: int) -> None:
    perf = np.random.default_rng(seed).normal(size=(s * 6, n))
    res = m.probability_of_backtest_overfitting(perf, n_blocks=s)
    assert 0.0 <= res.pbo <= 1.0
    assert np.isfinite(res.logits).all()
    assert res.logits.shape == (res.n_combinations,)
