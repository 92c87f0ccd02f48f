"""Invariants over random inputs (hypothesis) and the no-look-ahead contract."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import algotrader.amm as amm
from algotrader.amm import SimConfig

from .conftest import SMALL, SMALL_BOUT, SMALL_ROWS, SMALL_START, gbm_prices, small_params

N = 3


def _cfg(**kw: object) -> SimConfig:
    return SimConfig(rule="momentum", n_assets=N, bout_length=SMALL_BOUT, **SMALL, **kw)  # type: ignore[arg-type]


_FWD = jax.jit(amm.forward_pass, static_argnames=("cfg",))
seeds = st.integers(min_value=0, max_value=10_000)


def _run(seed: int, cfg: SimConfig, dyn: amm.DynamicInputs | None = None) -> dict[str, np.ndarray]:
    prices = jnp.asarray(gbm_prices(SMALL_ROWS, N, seed=seed))
    params = {
        k: jnp.asarray(v) for k, v in small_params("momentum", N, n_sets=2, seed=seed).items()
    }
    params = {k: v[1] for k, v in params.items()}
    return jax.tree.map(np.asarray, _FWD(params, SMALL_START, prices, cfg, dyn))


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_zero_fee_value_shares_equal_weights(seed: int) -> None:
    out = _run(seed, _cfg())
    shares = out["reserves"] * out["prices"] / out["value"][:, None]
    np.testing.assert_allclose(shares, out["weights"], rtol=1e-11, atol=1e-13)


@settings(max_examples=15, deadline=None)
@given(seeds, st.floats(min_value=0.0, max_value=0.05))
def test_value_positive_with_fees(seed: int, fee: float) -> None:
    dyn = amm.DynamicInputs(fees=jnp.full(SMALL_BOUT - 1, fee))
    out = _run(seed, _cfg(), dyn)
    assert np.all(out["value"] > 0) and np.all(out["reserves"] > 0)


@settings(max_examples=15, deadline=None)
@given(seeds, st.floats(min_value=0.0, max_value=0.02), st.floats(min_value=0.0, max_value=0.02))
def test_more_fees_never_more_arbitrage_volume(seed: int, f1: float, f2: float) -> None:
    lo, hi = sorted((f1, f2))
    vol = [
        _run(seed, _cfg(), amm.DynamicInputs(fees=jnp.full(SMALL_BOUT - 1, f)))["arb_volume"].sum()
        for f in (lo, hi)
    ]
    assert vol[1] <= vol[0] * (1 + 1e-9) + 1e-9


@settings(max_examples=10, deadline=None)
@given(seeds)
def test_reserves_unchanged_without_arbitrage_and_constant_weights(seed: int) -> None:
    prices = jnp.asarray(gbm_prices(SMALL_ROWS, N, seed=seed))
    cfg = SimConfig(
        rule="balancer", n_assets=N, bout_length=SMALL_BOUT, do_arb=False, fees=0.003, **SMALL
    )  # type: ignore[arg-type]
    out = _FWD({"initial_weights_logits": jnp.array([0.1, 0.2, 0.3])}, SMALL_START, prices, cfg)
    res = np.asarray(out["reserves"])
    assert np.array_equal(res, np.broadcast_to(res[0], res.shape))


@settings(max_examples=8, deadline=None)
@given(seeds, st.integers(min_value=0, max_value=SMALL_BOUT - 3), st.booleans())
def test_no_look_ahead(seed: int, cut: int, fees: bool) -> None:
    """Corrupting prices after minute ``start + cut`` leaves rows ``<= cut`` unchanged."""
    raw = gbm_prices(SMALL_ROWS, N, seed=seed)
    bad = raw.copy()
    bad[SMALL_START + cut + 1 :] *= np.random.default_rng(seed).uniform(
        0.5, 2.0, bad[SMALL_START + cut + 1 :].shape
    )
    params = {k: jnp.asarray(v) for k, v in small_params("momentum", N).items()}
    cfg = _cfg()
    dyn = amm.DynamicInputs(fees=jnp.full(SMALL_BOUT - 1, 0.003)) if fees else None
    a = _FWD(params, SMALL_START, jnp.asarray(raw), cfg, dyn)
    b = _FWD(params, SMALL_START, jnp.asarray(bad), cfg, dyn)
    for key in ("weights", "reserves", "value"):
        assert np.array_equal(np.asarray(a[key])[: cut + 1], np.asarray(b[key])[: cut + 1]), key
    assert not np.array_equal(np.asarray(a["value"]), np.asarray(b["value"]))


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 4),
    st.integers(0, 10_000),
    st.sampled_from([0.997, 0.99, 0.9999]),
)
def test_reference_validity_executes_no_trade_or_a_profitable_pair(
    n: int, seed: int, gamma: float
) -> None:
    """The reference rule's trade is nothing or one closed-form profitable pair trade,
    (with fees; at ``gamma = 1`` both signatures of a pair are the same trade, a tie the
    reference sums, so the fee-free path must not use this rule)."""
    from algotrader.amm.arbitrage import pair_trades
    from algotrader.amm.reference_arb import reference_delta

    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n))
    p = np.exp(rng.normal(0.0, 2.0, n))
    r = w * 1e6 / p * np.exp(rng.normal(0.0, 0.02, n))
    delta, best = (
        np.asarray(x)
        for x in reference_delta(jnp.asarray(r), jnp.asarray(p), jnp.asarray(w), gamma)
    )
    big_l, gain, loss, _ = (
        np.asarray(x) for x in pair_trades(jnp.log(jnp.asarray(r * p / w)), jnp.asarray(w), gamma)
    )
    if not delta.any():
        assert best == 0.0
        return
    moved = np.flatnonzero(delta)
    assert len(moved) == 2
    i, j = (moved[0], moved[1]) if delta[moved[0]] > 0 else (moved[1], moved[0])
    assert big_l[i, j] > 0.0
    np.testing.assert_allclose(delta[i], r[i] * gain[i, j], rtol=1e-8)
    np.testing.assert_allclose(delta[j], r[j] * loss[i, j], rtol=1e-8)
    assert best == -float(np.sum(delta * p)) and best > 0.0
