"""Closed-form and hand-computed cases."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import algotrader.amm as amm
from algotrader.amm import SimConfig
from algotrader.amm.arbitrage import PassCosts, arbitrage_pass
from algotrader.amm.estimators import gradient_from_state, gradient_state_step
from algotrader.amm.reserves import rebalancing_reserves, zero_fee_reserves
from algotrader.amm.rules import momentum_form
from algotrader.amm.weights import apply_guardrails, max_change_delta

from .conftest import gbm_prices

WORKED = [
    (0.5, 0.002584, -5.956),
    (5, 0.445056, -0.2207),
    (10, 0.680361, 0.7554),
    (30, 0.883748, 2.0284),
    (365, 0.990076, 4.6028),
]


@pytest.mark.parametrize(("days", "lamb", "logit"), WORKED)
def test_worked_lambda_values(days: float, lamb: float, logit: float) -> None:
    assert float(amm.lamb_from_memory_days(days, 1440)) == pytest.approx(lamb, abs=5e-7)
    assert float(amm.logit_lamb_from_memory_days(days, 1440)) == pytest.approx(logit, abs=5e-4)


def test_memory_days_round_trip_and_cap() -> None:
    days = np.array([0.01, 0.3, 1.0, 7.5, 42.0, 364.0])
    for cp in (60, 1440):
        back = np.asarray(amm.memory_days(amm.lamb_from_memory_days(days, cp), cp))
        np.testing.assert_allclose(back, days, rtol=1e-9)
    assert float(amm.lamb_from_memory_days(0.0, 1440)) == 0.0
    capped = amm.capped_memory_days(jnp.asarray(8.0), 1440, 30.0)
    assert float(capped) == pytest.approx(30.0, rel=1e-9)


def test_squareplus_inverse() -> None:
    y = np.array([0.01, 0.5, 1.0, 20.0])
    np.testing.assert_allclose(np.asarray(amm.squareplus(amm.inverse_squareplus(y))), y, rtol=1e-12)
    assert float(amm.squareplus(0.0)) == 1.0


def test_momentum_parity_vector() -> None:
    """kappa 1, lambda 0.7, a_prev [1, 2], ewma_prev [0.9, 1.2], p [3, 4], w [0.5, 0.5].

    The parity vector [0.49775, 0.50225] is the on-chain convention (gradient divided by
    the current price); the simulator (and the reference simulator) divides by the EWMA.
    """
    lamb = 0.7
    price = jnp.array([3.0, 4.0])
    ewma, a = gradient_state_step(jnp.array([0.9, 1.2]), jnp.array([1.0, 2.0]), price, lamb)
    np.testing.assert_allclose(np.asarray(ewma), [1.53, 2.04], rtol=1e-12)
    k = jnp.ones(2)
    onchain = 0.5 + momentum_form(k, gradient_from_state(a, price, lamb))
    np.testing.assert_allclose(np.asarray(onchain), [0.49775, 0.50225], atol=1e-12)
    b = lamb / (1 - lamb) ** 3
    by_hand = np.array([5.6, 1.4 + 6.533333333333333]) / (b * np.array([1.53, 2.04]))
    sim = 0.5 + momentum_form(k, gradient_from_state(a, ewma, lamb))
    np.testing.assert_allclose(np.asarray(sim), 0.5 + by_hand - by_hand.mean(), rtol=1e-12)


def test_momentum_form_zero_k_and_anti() -> None:
    d = momentum_form(jnp.array([2.0, 0.0, 1.0]), jnp.array([0.3, 5.0, -0.3]))
    np.testing.assert_allclose(np.asarray(d), [0.4, 0.0, -0.4], atol=1e-15)


def test_guardrail_redistribution_and_max_change() -> None:
    w = apply_guardrails(jnp.array([0.9, 0.08, 0.02]), 0.05)
    np.testing.assert_allclose(
        np.asarray(w), [0.95 * 0.9 / 0.98, 0.95 * 0.08 / 0.98, 0.05], rtol=1e-12
    )
    cfg = SimConfig(
        rule="momentum",
        n_assets=3,
        bout_length=10,
        chunk_period=10,
        weight_interpolation_period=10,
        maximum_change=0.001,
    )
    d = max_change_delta(jnp.array([0.5, 0.3, 0.2]), jnp.array([0.2, 0.4, 0.4]), cfg)
    np.testing.assert_allclose(
        np.asarray(d), np.array([0.03, -0.01, -0.02]) * 0.001 / (0.03 + 1e-10)
    )


def test_zero_fee_two_asset_scan_equals_closed_form() -> None:
    """With 2 assets and no fee the pairwise optimal trade is the global optimum."""
    prices = jnp.asarray(gbm_prices(400, 2, seed=4))
    t = jnp.linspace(0.0, 1.0, 400)[:, None]
    weights = jnp.concatenate([0.3 + 0.2 * t, 0.7 - 0.2 * t], axis=1)
    closed = zero_fee_reserves(weights, prices, 1e6)
    cfg = SimConfig(rule="momentum", n_assets=2, bout_length=401)
    dyn = amm.DynamicInputs(fees=jnp.zeros(400))
    scanned, _, _ = amm.forward.compute_reserves(weights, prices, cfg, dyn)
    np.testing.assert_allclose(np.asarray(scanned), np.asarray(closed), rtol=1e-11)


def test_two_asset_arbitrage_pass_by_hand_and_band() -> None:
    r = jnp.array([1.0, 1.0])
    (new, log_new), vol = arbitrage_pass(
        r, jnp.log(r), jnp.array([1.21, 1.0]), jnp.array([0.5, 0.5]), PassCosts(1.0, 0.0, 0.0, True)
    )
    np.testing.assert_allclose(np.asarray(new), [1 / 1.1, 1.1], rtol=1e-14)
    np.testing.assert_allclose(np.asarray(log_new), np.log(np.asarray(new)), rtol=1e-14)
    assert float(vol) == pytest.approx(0.1, rel=1e-12)
    costs = PassCosts(0.997, 0.0, 0.0, True)
    (after, log_after), vol = arbitrage_pass(
        r, jnp.log(r), jnp.array([1.3, 1.0]), jnp.array([0.4, 0.6]), costs
    )
    assert float(vol) > 0
    (again, _), vol2 = arbitrage_pass(
        after, log_after, jnp.array([1.3, 1.0]), jnp.array([0.4, 0.6]), costs
    )
    assert float(vol2) == 0.0 and np.array_equal(np.asarray(again), np.asarray(after))
    # inside the fee band nothing trades
    (same, _), vol3 = arbitrage_pass(
        r, jnp.log(r), jnp.array([1.002, 1.0]), jnp.array([0.5, 0.5]), costs
    )
    assert float(vol3) == 0.0 and np.array_equal(np.asarray(same), np.asarray(r))


def test_rebalancing_benchmark_without_cost_is_constant_mix() -> None:
    prices = jnp.asarray(gbm_prices(50, 3, seed=5))
    w = jnp.full((50, 3), 1 / 3)
    res = rebalancing_reserves(w, prices, 1.0, 0.0, both_legs=False)
    value = np.asarray(jnp.sum(res * prices, axis=1))
    growth = np.asarray(jnp.mean(prices[1:] / prices[:-1], axis=1))
    np.testing.assert_allclose(value[1:] / value[:-1], growth, rtol=1e-12)


def test_hodl_never_trades_and_metrics_closed_form() -> None:
    prices = jnp.asarray(gbm_prices(3 * 1440 + 1, 2, seed=6))
    cfg = SimConfig(rule="hodl", n_assets=2, bout_length=3 * 1440 + 1)
    out = amm.forward_pass({"initial_weights_logits": jnp.zeros(2)}, 0, prices, cfg)
    assert np.all(np.asarray(out["reserves"]) == np.asarray(out["reserves"][0]))
    assert float(amm.metric_value(out, "returns_over_hodl")) == pytest.approx(0.0, abs=1e-12)
    v = jnp.array([100.0, 110.0, 99.0, 120.0])
    o = {"value": v}
    assert float(amm.metric_value(o, "greatest_draw_down")) == pytest.approx(-0.01)
    assert float(amm.metric_value(o, "returns")) == pytest.approx(0.2)


def test_describe_params_round_trip() -> None:
    batch = amm.init_params(
        "mean_reversion_channel",
        3,
        memory_days=[3.0, 7.0, 20.0],
        k_per_day=[1.0, 2.0, 4.0],
        width=0.1,
        amplitude=0.5,
        exponents=2.0,
        pre_exp_scaling=0.25,
        initial_weights=[0.2, 0.3, 0.5],
    )
    human = amm.describe_params({k: v[0] for k, v in batch.items()}, "mean_reversion_channel")
    np.testing.assert_allclose(human["memory_days"], [3.0, 7.0, 20.0], rtol=1e-9)
    np.testing.assert_allclose(human["k_per_day"], [1.0, 2.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(human["width"], 0.1, rtol=1e-12)
    np.testing.assert_allclose(human["exponents"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(human["initial_weights"], [0.2, 0.3, 0.5], rtol=1e-12)
