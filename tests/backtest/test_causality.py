"""No look-ahead: corrupting the future never moves the past."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.backtest import CostModel, backtest_weights


def _data(seed: int, t: int = 40, a: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 50 * np.cumprod(1 + rng.normal(0, 0.02, size=(t, a)), axis=0)
    w = rng.dirichlet(np.ones(a), size=t)
    return p, w


MODEL = CostModel(proportional_bps=5, fixed_per_trade=1e-4, holding_cost_per_period=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 38), st.integers(0, 3))
def test_future_weights_do_not_move_value_up_to_t_plus_lag(seed: int, t: int, lag: int) -> None:
    p, w = _data(seed)
    base = backtest_weights(p, w, lag=lag, costs=MODEL)
    w2 = w.copy()
    w2[t + 1 :] = np.random.default_rng(seed + 1).dirichlet(np.ones(3), size=len(w) - t - 1)
    alt = backtest_weights(p, w2, lag=lag, costs=MODEL)
    stop = min(len(p), t + lag + 1)
    np.testing.assert_array_equal(base.values[:stop], alt.values[:stop])
    np.testing.assert_array_equal(base.holdings[:stop], alt.holdings[:stop])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 38), st.integers(0, 3))
def test_future_prices_do_not_move_value_up_to_t(seed: int, t: int, lag: int) -> None:
    p, w = _data(seed)
    base = backtest_weights(p, w, lag=lag, costs=MODEL)
    p2 = p.copy()
    p2[t + 1 :] *= np.random.default_rng(seed + 2).uniform(0.2, 5.0, size=p2[t + 1 :].shape)
    alt = backtest_weights(p2, w, lag=lag, costs=MODEL)
    np.testing.assert_array_equal(base.values[: t + 1], alt.values[: t + 1])
    np.testing.assert_array_equal(base.turnover[: t + 1], alt.turnover[: t + 1])
