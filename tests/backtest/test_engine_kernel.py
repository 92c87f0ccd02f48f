"""The compiled backtest kernel against the former per-row numpy loop: bit for bit.

``_engine_reference.run_backtest_reference`` is the loop ``run_backtest`` ran before the
kernel (verbatim). Every field of the result, and every error, must be identical, except
with market impact: numpy's ``x ** 1.5`` is its own SIMD ``pow`` on this CPU (SVML on
AVX-512), the kernel's is libm's, so they may differ in the last bit; those cases are held
to a relative 1e-14 (scaled by the book's size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.backtest import BacktestResult, CostModel, run_backtest
from algotrader.backtest.kernel import _np_sum
from algotrader.errors import ConfigError, DataError

from ._engine_reference import run_backtest_reference

FIELDS = ("values", "cash", "holdings", "trades", "trade_values", "weights", "turnover", "costs")


def same(x: np.ndarray, y: np.ndarray, rtol: float, name: str) -> None:
    assert x.shape == y.shape, name
    if rtol == 0.0:
        assert np.array_equal(x, y, equal_nan=True), (name, np.nanmax(np.abs(x - y)))
    else:
        scale = max(float(np.nanmax(np.abs(y), initial=0.0)), 1.0)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=name)


def assert_identical(a: BacktestResult, b: BacktestResult, rtol: float = 0.0) -> None:
    for name in FIELDS:
        same(getattr(a, name), getattr(b, name), rtol, name)
    assert a.cost_breakdown.keys() == b.cost_breakdown.keys()
    for k in a.cost_breakdown:
        same(a.cost_breakdown[k], b.cost_breakdown[k], rtol, k)
    assert a.lag == b.lag and a.first_execution == b.first_execution
    for name in ("pnl", "simple_returns", "log_returns"):
        same(getattr(a, name), getattr(b, name), rtol, name)


def both(*args: Any, **kw: Any) -> tuple[Any, Any]:
    """(kernel result or exception, reference result or exception)."""
    out = []
    for fn in (run_backtest, run_backtest_reference):
        try:
            out.append(fn(*args, **kw))
        except (DataError, ConfigError) as exc:
            out.append(exc)
    return out[0], out[1]


def check(*args: Any, **kw: Any) -> None:
    got, ref = both(*args, **kw)
    if isinstance(ref, Exception):
        assert type(got) is type(ref) and str(got) == str(ref), (got, ref)
        assert getattr(got, "key", None) == getattr(ref, "key", None)
    else:
        assert isinstance(got, BacktestResult), got
        impact = kw.get("costs") is not None and kw["costs"].impact_coef > 0
        assert_identical(got, ref, rtol=1e-14 if impact else 0.0)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    t_len = draw(st.integers(1, 40))
    a = draw(st.sampled_from([1, 2, 3, 7, 8, 9, 20, 33]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["weights", "positions"]))
    prices = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.05, (t_len, a)), axis=0))
    if kind == "weights":
        dec = rng.normal(0.0, 1.0 / a, (t_len, a))
    else:
        dec = rng.normal(0.0, 30.0, (t_len, a))
    dec[rng.random((t_len, a)) < 0.2] = 0.0  # some no-trade assets (fixed fee counts)
    dec[rng.random(t_len) < draw(st.sampled_from([0.0, 0.3]))] = np.nan  # hold rows
    cost: dict[str, Any] = {}
    if draw(st.booleans()):
        cost["proportional_bps"] = draw(st.sampled_from([0.0, 1.0, 12.5]))
    if draw(st.booleans()):
        cost["fixed_per_trade"] = draw(st.sampled_from([0.0, 1e-4, 0.01]))
    if draw(st.booleans()):
        cost["holding_cost_per_period"] = 1e-4
    if draw(st.booleans()):
        cost["borrow_cost_per_period"] = 3e-4
    names = [f"s{i}" for i in range(a)]
    if draw(st.booleans()):
        cost["proportional_bps_by_asset"] = {names[0]: 30.0}
    kw: dict[str, Any] = {
        "kind": kind,
        "lag": draw(st.integers(0, 3)),
        "asset_names": names,
        "initial_value": 100.0 if kind == "positions" else 1.0,
    }
    if draw(st.booleans()):
        cost["impact_coef"] = draw(st.sampled_from([0.1, 1.0]))
        kw["volatility"] = rng.uniform(0.005, 0.05, (t_len, a))
        kw["volume"] = rng.uniform(1e3, 1e5, (t_len, a))
    if draw(st.booleans()):  # non-contiguous inputs take the same path
        prices = np.asfortranarray(prices)
        dec = np.asfortranarray(dec)
    return {"prices": prices, "decisions": dec, "costs": CostModel(**cost), **kw}


@settings(max_examples=200)
@given(cases())
def test_kernel_equals_reference_loop_bit_for_bit(case: dict[str, Any]) -> None:
    check(**case)


def test_kernel_equals_reference_on_a_long_leveraged_book() -> None:
    rng = np.random.default_rng(7)
    t_len, a = 500, 150  # > 128 assets: numpy's pairwise sum splits the vector
    prices = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (t_len, a)), axis=0))
    w = rng.normal(0.0, 2.0 / a, (t_len, a))
    cost = CostModel(
        proportional_bps=4.0,
        fixed_per_trade=1e-6,
        impact_coef=0.5,
        holding_cost_per_period=1e-5,
        borrow_cost_per_period=2e-5,
    )
    kw = {"volatility": np.full(a, 0.01), "volume": 1e6}  # broadcast rows
    check(prices, w, costs=cost, lag=1, **kw)
    res = run_backtest(prices, w, costs=cost, lag=1, **kw)
    assert res.costs[1:].min() > 0  # every term was exercised
    assert all(res.cost_breakdown[k][2:].max() > 0 for k in res.cost_breakdown)


def test_errors_match_reference() -> None:
    p = np.array([[10.0, 10.0], [10.0, 5.0], [10.0, 1.0]])
    # value falls below zero (short the asset that rallies)
    check(1.0 / p[::-1], np.array([[0.0, -5.0]] * 3), lag=0)
    # impact: a traded asset with no volume, at row 1 (row 0 trades nothing)
    w = np.array([[0.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    vol = np.array([[1e4, 1e4], [1e4, 0.0], [1e4, 1e4]])
    got, ref = both(p, w, lag=0, costs=CostModel(impact_coef=1.0), volatility=0.01, volume=vol)
    assert isinstance(got, ConfigError) and str(got) == str(ref)
    assert "(1,)" in str(got)  # the asset
    # a NaN volatility for an asset that is not traded is no error
    sig = np.array([[0.01, np.nan]] * 3)
    check(
        p,
        np.array([[1.0, 0.0]] * 3),
        lag=0,
        costs=CostModel(impact_coef=1.0),
        volatility=sig,
        volume=1e4,
    )


def test_closed_form_costs_through_the_kernel() -> None:
    """Buy a 2-asset book from cash at bar 0 (lag 0), hold it: costs by hand."""
    p = np.array([[10.0, 20.0], [11.0, 20.0]])
    w = np.array([[0.5, 0.5], [np.nan, np.nan]])
    cost = CostModel(proportional_bps=10.0, fixed_per_trade=0.001, holding_cost_per_period=0.01)
    res = run_backtest(p, w, lag=0, costs=cost)
    assert res.cost_breakdown["proportional"][0] == pytest.approx(1.0 * 10 / 1e4)
    assert res.cost_breakdown["fixed"][0] == pytest.approx(0.002)
    assert res.turnover[0] == pytest.approx(1.0)
    # bar 1: holding cost on the long value 0.05 * 11 + 0.025 * 20
    assert res.cost_breakdown["holding"][1] == pytest.approx(0.01 * (0.05 * 11 + 0.025 * 20))
    cash0 = 1.0 - 1.0 - 0.001 - 0.002
    assert res.cash[0] == pytest.approx(cash0)
    assert res.values[1] == pytest.approx(cash0 - 0.01 * 1.05 + 1.05)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 16, 127, 128, 129, 300, 1000])
def test_np_sum_is_numpys_sum(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
    assert _np_sum(x, 0, n) == x.sum()
    if n > 3:
        assert _np_sum(x, 2, n - 3) == x[2 : n - 1].sum()
