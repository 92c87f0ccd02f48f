"""Contract tests run over every registered rule (and the hooks)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algotrader.amm as amm
from algotrader.amm import RULES, SimConfig, parse_rule

from .conftest import SMALL, SMALL_BOUT, SMALL_ROWS, SMALL_START, gbm_prices, small_params

POOLS = [*sorted(RULES), "bounded__momentum", "lvr__momentum", "rvr__power_channel"]
PRICES = jnp.asarray(gbm_prices(SMALL_ROWS, 3, seed=1))


def _cfg(rule: str, **kw: object) -> SimConfig:
    return SimConfig(rule=rule, n_assets=3, bout_length=SMALL_BOUT, **SMALL, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=POOLS)
def run(request: pytest.FixtureRequest) -> tuple[str, dict[str, np.ndarray]]:
    rule = request.param
    batch = small_params(rule, 3, n_sets=2, seed=3)
    out = amm.batched_forward(batch, SMALL_START, PRICES, _cfg(rule))
    return rule, jax.tree.map(np.asarray, out)


def test_weights_sum_to_one_and_respect_guardrails(run: tuple[str, dict]) -> None:
    rule, out = run
    w = out["weights"]
    cfg = _cfg(rule)
    assert w.shape == (2, cfg.n_steps, 3)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    assert w.min() >= cfg.min_weight - 1e-12
    assert np.abs(np.diff(w, axis=1)).max() <= cfg.maximum_change + 1e-12


def test_outputs_float64_finite_positive(run: tuple[str, dict]) -> None:
    _, out = run
    for key in ("weights", "reserves", "value", "prices"):
        assert out[key].dtype == np.float64, key
        assert np.all(np.isfinite(out[key])), key
    assert np.all(out["reserves"] > 0) and np.all(out["value"] > 0)


DELTA_POOLS = [p for p in POOLS if parse_rule(p).base.kind == "delta"]


@pytest.mark.parametrize("run", DELTA_POOLS, indirect=True)
def test_delta_rule_outputs_sum_to_zero(run: tuple[str, dict]) -> None:
    _, out = run
    np.testing.assert_allclose(out["rule_outputs"].sum(-1), 0.0, atol=1e-12)


def test_delta_subset_is_not_empty() -> None:
    assert len(DELTA_POOLS) >= 3 and set(DELTA_POOLS) < set(POOLS)


def test_weights_actually_move_for_dynamic_rules(run: tuple[str, dict]) -> None:
    rule, out = run
    kind = parse_rule(rule).base.kind
    spread = np.ptp(out["weights"][0], axis=0).max()
    assert (spread > 1e-4) == (kind in ("delta", "target"))


@pytest.mark.slow
@pytest.mark.parametrize("rule", POOLS)
def test_deterministic_and_vmap_equals_loop(rule: str) -> None:
    batch = small_params(rule, 3, n_sets=2, seed=3)
    cfg = _cfg(rule)
    vm = amm.batched_forward(batch, SMALL_START, PRICES, cfg)["value"]
    again = amm.batched_forward(batch, SMALL_START, PRICES, cfg)["value"]
    assert np.array_equal(np.asarray(vm), np.asarray(again))
    one = amm.jit_forward_pass({k: v[1] for k, v in batch.items()}, SMALL_START, PRICES, cfg)
    np.testing.assert_allclose(np.asarray(vm[1]), np.asarray(one["value"]), rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "rule", [r for r in POOLS if parse_rule(r).base.kind in ("delta", "target")]
)
def test_objective_is_differentiable(rule: str) -> None:
    params = {k: jnp.asarray(v) for k, v in small_params(rule, 3).items()}
    cfg = _cfg(rule, return_val="returns")
    value, grad = jax.jit(jax.value_and_grad(amm.objective), static_argnames=("cfg",))(
        params, SMALL_START, PRICES, cfg
    )
    assert np.isfinite(float(value))
    for name, g in grad.items():
        assert np.all(np.isfinite(np.asarray(g))), name
    assert np.all(np.asarray(grad["initial_weights_logits"]) == 0.0)
    assert any(
        np.abs(np.asarray(g)).max() > 0 for k, g in grad.items() if k != "initial_weights_logits"
    )
