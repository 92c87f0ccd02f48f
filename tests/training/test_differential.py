"""The chunk-level zero-fee objective equals the minute simulation (values and gradients)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algotrader.amm import SimConfig, forward_pass, metric_value
from algotrader.amm.chunk_objective import (
    FAST_METRICS,
    ChunkSums,
    supports,
    window_metric,
)
from algotrader.training.amm_problem import default_base_params

DAY = 1440


def _prices(days: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.8 / np.sqrt(365 * DAY), (days * DAY, n)) + rng.normal(0, 1.0, n) / (
        365 * DAY
    )
    return 100.0 * np.exp(np.cumsum(steps, axis=0))


CASES = [
    ("momentum", 2, {}, 10 * DAY + 1),
    ("momentum", 3, {"weight_interpolation_period": 600}, 9 * DAY + 777),
    ("bounded__momentum", 2, {"maximum_change": 1e-3}, 8 * DAY + 5),
    ("mean_reversion_channel", 3, {}, 9 * DAY),
    ("min_variance", 2, {}, 8 * DAY + 100),
    ("power_channel", 2, {"minimum_weight": 0.02}, 8 * DAY + 3),
    # maximum_change / minimum_weight = 1: the block series would not converge -> product path
    ("momentum", 2, {"minimum_weight": 1e-3, "maximum_change": 1e-3}, 8 * DAY + 9),
]


def _params(rule: str, n: int, seed: int) -> dict[str, Any]:
    base = default_base_params(rule, n, DAY, memory_days=3.0, k_per_day=30.0)
    rng = np.random.default_rng(seed)
    out = {
        k: jnp.asarray(v + (0.0 if k == "initial_weights_logits" else rng.normal(0, 0.3, v.shape)))
        for k, v in base.items()
    }
    out["initial_weights_logits"] = jnp.asarray(rng.normal(0, 0.3, n))
    return out


def _case(
    rule: str, n: int, extra: dict[str, Any], bout: int, params_seed: int
) -> tuple[np.ndarray, SimConfig, dict[str, Any], ChunkSums]:
    """16 days of prices, the config, perturbed parameters and the fast objective's data."""
    prices = _prices(16, n, seed=n)
    cfg = SimConfig(rule=rule, n_assets=n, bout_length=bout, scan_unroll=1, **extra)
    data = ChunkSums.from_prices(prices)
    return prices, cfg, _params(rule, n, seed=params_seed), data


@pytest.mark.parametrize("rule,n,extra,bout", CASES)
def test_fast_objective_matches_forward_pass(
    rule: str, n: int, extra: dict[str, Any], bout: int
) -> None:
    prices, cfg, params, data = _case(rule, n, extra, bout, params_seed=1)
    p_all = jnp.asarray(prices)

    @jax.jit
    def slow(start: Any) -> dict[str, Any]:
        out = forward_pass(params, start, p_all, cfg)
        return {m: metric_value(out, m) for m in FAST_METRICS}

    @jax.jit
    def fast(start: Any) -> dict[str, Any]:
        return {m: window_metric(params, start, data, cfg, m) for m in FAST_METRICS}

    for metric in FAST_METRICS:
        assert supports(replace(cfg, return_val=metric), metric)
    for start in (3 * DAY, 3 * DAY + 517):
        want, got = slow(jnp.asarray(start)), fast(jnp.asarray(start))
        for metric in FAST_METRICS:
            assert float(got[metric]) == pytest.approx(float(want[metric]), rel=1e-9, abs=1e-11), (
                metric,
                start,
            )


# one gradient compile each (~5 s CPU): the first case in the fast suite, all three in `make test`
GRADIENT_CASES = [
    CASES[0],
    *(pytest.param(*c, marks=pytest.mark.slow) for c in CASES[1:3]),
]


@pytest.mark.parametrize("rule,n,extra,bout", GRADIENT_CASES)
def test_fast_gradient_matches_forward_pass(
    rule: str, n: int, extra: dict[str, Any], bout: int
) -> None:
    prices, cfg, params, data = _case(rule, n, extra, bout, params_seed=2)
    start = 3 * DAY + 11

    def slow(p: dict[str, Any]) -> Any:
        return metric_value(forward_pass(p, start, jnp.asarray(prices), cfg), "daily_log_sharpe")

    def fast(p: dict[str, Any]) -> Any:
        return window_metric(p, jnp.asarray(start), data, cfg, "daily_log_sharpe")

    gs, gf = jax.grad(slow)(params), jax.jit(jax.grad(fast))(params)
    for k in gs:
        np.testing.assert_allclose(
            np.asarray(gf[k]), np.asarray(gs[k]), rtol=1e-6, atol=1e-9, err_msg=k
        )


def test_series_order_choice() -> None:
    from algotrader.amm.chunk_objective import series_order

    assert series_order(3e-4 / 0.05) == 12  # (7.5 * 0.006)^14 * 16 / 14 < 1e-17
    assert series_order(1.0) is None
    assert (series_order(3e-4 / 0.025) or 0) > 12


def test_unsupported_settings_fall_back() -> None:
    cfg = SimConfig(rule="momentum", n_assets=2, bout_length=5 * DAY)
    assert supports(cfg, "daily_log_sharpe")
    assert not supports(cfg, "sharpe")  # minute-level metric
    assert not supports(replace(cfg, fees=0.003), "daily_log_sharpe")
    assert not supports(replace(cfg, chunk_period=60, weight_interpolation_period=60), "returns")
    assert not supports(replace(cfg, weight_interpolation_method="approx_optimal"), "returns")
    assert not supports(SimConfig(rule="balancer", n_assets=2, bout_length=5 * DAY), "returns")
    assert not supports(SimConfig(rule="lvr__momentum", n_assets=2, bout_length=5 * DAY), "returns")


@pytest.mark.parametrize("rule,n", [("momentum", 2), ("bounded__momentum", 3), ("min_variance", 2)])
def test_fast_evaluation_matches_minute_evaluation(rule: str, n: int) -> None:
    from algotrader.training.amm_problem import DEFAULT_METRICS, SpanLayout, amm_problem

    prices = _prices(20, n, seed=7)
    cfg = SimConfig(rule=rule, n_assets=n, bout_length=10, scan_unroll=1)
    layout = SpanLayout(
        start=3 * DAY + 300,
        bout_length=12 * DAY + 77,
        test_length=4 * DAY + 5,
        bout_offset=DAY,
        val_fraction=0.25,
    )
    params = _params(rule, n, seed=3)
    fast = amm_problem(
        prices, cfg, layout, base_params={k: np.asarray(v) for k, v in params.items()}
    )
    slow = amm_problem(
        prices, cfg, layout, base_params={k: np.asarray(v) for k, v in params.items()}, fast=False
    )
    assert fast.description["fast_evaluate"] and not slow.description["fast_evaluate"]
    ef = jax.jit(fast.evaluate)(params, fast.data)
    es = jax.jit(slow.evaluate)(params, slow.data)
    for seg in ("train", "val", "test"):
        for m in DEFAULT_METRICS:
            assert float(ef.metrics[seg][m]) == pytest.approx(
                float(es.metrics[seg][m]), rel=1e-9, abs=1e-11
            ), (seg, m)
    for k in ("final_weights", "final_reserves", "daily_excess_returns"):
        np.testing.assert_allclose(
            np.asarray(ef.aux[k]), np.asarray(es.aux[k]), rtol=1e-9, atol=1e-12, err_msg=k
        )
    # and the window objectives agree too
    start = jnp.asarray(layout.start + 123)
    assert float(jax.jit(fast.objective)(params, start, fast.data)) == pytest.approx(
        float(jax.jit(slow.objective)(params, start, slow.data)), rel=1e-9
    )


@pytest.mark.slow
def test_chunk_sums_is_a_pytree_argument() -> None:
    """``ChunkSums`` passes through ``jit`` as an argument (three array leaves), same value."""
    rule, n, extra, bout = CASES[0]
    _, cfg, params, data = _case(rule, n, extra, bout, params_seed=3)
    assert len(jax.tree_util.tree_leaves(data)) == 3
    start = jnp.asarray(2 * DAY + 5)

    @jax.jit
    def as_arg(d: ChunkSums) -> Any:
        return window_metric(params, start, d, cfg, "daily_log_sharpe")

    direct = window_metric(params, start, data, cfg, "daily_log_sharpe")
    np.testing.assert_allclose(np.asarray(as_arg(data)), np.asarray(direct), rtol=1e-12)
    assert data.P0.shape == data.train_prices.shape == data.P1.shape
