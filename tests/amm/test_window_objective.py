"""The zero-fee objective's per-chunk closed form equals the minute simulation.

``amm.objective`` (``path="auto"``) uses :func:`algotrader.amm.chunk_objective.window_objective`
whenever :func:`~algotrader.amm.chunk_objective.supports` holds; ``path="minute"`` always
runs the full simulation.  These tests compare the two (values and gradients) on
configurations that exercise every branch: partial last chunk, window length an exact
multiple of the chunk, interpolation shorter than the chunk, off-grid start, 3 assets,
target rule, bounded hook, every supported metric; and the price-sum helper against a
direct per-minute sum, including a chunk where the blocked product would underflow.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algotrader.amm as amm
from algotrader.amm import SimConfig
from algotrader.amm.chunk_objective import FAST_METRICS, supports, window_price_sums
from algotrader.errors import ConfigError

DAY = 1440


def _prices(n: int, rows: int, seed: int = 7, vol: float = 0.002) -> jax.Array:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, n)) * vol
    z[0] = 0.0
    return jnp.asarray(np.geomspace(1.0, 3000.0, n) * np.exp(np.cumsum(z, axis=0)))


def _params(rule: str, n: int) -> dict[str, jax.Array]:
    batch = amm.init_params(rule, n, n_sets=2, memory_days=[3.0] * n, k_per_day=20.0)
    return {k: jnp.asarray(v[1]) for k, v in batch.items()}


def _both(
    params: dict[str, Any], start: int, prices: jax.Array, cfg: SimConfig, metric: str
) -> tuple[Any, Any]:
    def auto(p: Any, x: jax.Array) -> jax.Array:
        return amm.objective(p, start, x, cfg, metric=metric)

    def minute(p: Any, x: jax.Array) -> jax.Array:
        return amm.objective(p, start, x, cfg, metric=metric, path="minute")

    run = [jax.jit(jax.value_and_grad(f)) for f in (auto, minute)]
    return run[0](params, prices), run[1](params, prices)


CASES = [
    # rule, n, days, extra minutes, start, span
    ("momentum", 2, 12, 500, 5 * DAY, DAY),  # partial last chunk
    ("momentum", 2, 12, 1, 5 * DAY, DAY),  # T - 1 a multiple of the chunk
    ("momentum", 3, 10, 77, 5 * DAY + 333, DAY),  # off-grid start, 3 assets
    ("momentum", 2, 10, 900, 5 * DAY, 600),  # interpolation shorter than the chunk
    ("min_variance", 2, 10, 200, 5 * DAY, DAY),  # target rule
    ("bounded__momentum", 3, 10, 200, 5 * DAY, DAY),  # bounded hook
]


@pytest.mark.parametrize(("rule", "n", "days", "extra", "start", "span"), CASES)
def test_window_objective_equals_minute_simulation(
    rule: str, n: int, days: int, extra: int, start: int, span: int
) -> None:
    cfg = SimConfig(
        rule=rule,
        n_assets=n,
        bout_length=days * DAY + extra,
        weight_interpolation_period=span,
        max_memory_days=5.0,
        maximum_change=3e-3,
    )
    prices = _prices(n, start + cfg.bout_length + 10)
    params = _params(rule, n)
    assert supports(cfg, "daily_log_sharpe")
    (va, ga), (vm, gm) = _both(params, start, prices, cfg, "daily_log_sharpe")
    assert abs(float(va) - float(vm)) <= 1e-11 * max(1.0, abs(float(vm)))
    for k in gm:
        np.testing.assert_allclose(np.asarray(ga[k]), np.asarray(gm[k]), rtol=1e-8, atol=1e-11)
    # the gradient is not trivially zero (the test could fail)
    assert any(float(jnp.max(jnp.abs(gm[k]))) > 1e-6 for k in gm)


@pytest.mark.parametrize("metric", FAST_METRICS)
def test_every_supported_metric_agrees(metric: str) -> None:
    cfg = SimConfig(rule="momentum", n_assets=2, bout_length=9 * DAY + 300, max_memory_days=5.0)
    prices = _prices(2, 4 * DAY + cfg.bout_length)
    (va, ga), (vm, gm) = _both(_params("momentum", 2), 4 * DAY, prices, cfg, metric)
    assert abs(float(va) - float(vm)) <= 1e-11 * max(1.0, abs(float(vm)))
    for k in gm:
        np.testing.assert_allclose(np.asarray(ga[k]), np.asarray(gm[k]), rtol=1e-8, atol=1e-12)


def test_unsupported_settings_use_the_minute_path() -> None:
    fee = SimConfig(rule="momentum", n_assets=2, bout_length=4 * DAY, fees=0.003)
    hourly = SimConfig(
        rule="momentum",
        n_assets=2,
        bout_length=4 * DAY,
        chunk_period=60,
        weight_interpolation_period=60,
    )
    assert not supports(fee, "daily_log_sharpe")
    assert not supports(hourly, "daily_log_sharpe")
    base = SimConfig(rule="momentum", n_assets=2, bout_length=4 * DAY)
    assert not supports(base, "sharpe")  # minute-level metric
    with pytest.raises(ConfigError, match="path"):
        amm.objective(_params("momentum", 2), 0, _prices(2, 5 * DAY), base, path="fast")


def _direct_sums(window: np.ndarray, jn: np.ndarray, span: int, cp: int) -> tuple[Any, Any]:
    logp = np.log(window)
    s0, s1 = [], []
    for c, j_end in enumerate(jn):
        a = c * cp
        r = np.diff(logp[a : a + j_end + 1], axis=0)
        coef = np.minimum(np.arange(j_end), span)[:, None]
        s0.append(r.sum(axis=0))
        s1.append((coef * r).sum(axis=0))
    return np.array(s0), np.array(s1)


@pytest.mark.parametrize(("cp", "span"), [(64, 64), (64, 20), (60, 60)])
def test_window_price_sums_match_a_direct_sum(cp: int, span: int) -> None:
    t = 5 * cp + 17
    window = np.asarray(_prices(3, t, seed=3, vol=0.01))
    n_chunks = -(-(t - 1) // cp)
    jn = np.minimum(cp, t - 1 - np.arange(n_chunks) * cp)
    s0, s1 = window_price_sums(jnp.asarray(window), jn, span, cp)
    e0, e1 = _direct_sums(window, jn, span, cp)
    np.testing.assert_allclose(np.asarray(s0), e0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(s1), e1, rtol=0, atol=1e-10)


def test_window_price_sums_survive_a_crash_within_a_chunk() -> None:
    # one asset falls by 1e-200 inside a chunk: blocked products would underflow
    cp, t = 64, 3 * 64 + 1
    window = np.ones((t, 2))
    window[70:, 1] = 1e-200
    jn = np.full(3, cp)
    s0, s1 = window_price_sums(jnp.asarray(window), jn, cp, cp)
    e0, e1 = _direct_sums(window, jn, cp, cp)
    assert np.all(np.isfinite(np.asarray(s1)))
    np.testing.assert_allclose(np.asarray(s0), e0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(s1), e1, rtol=1e-12, atol=1e-9)
