"""The parallel fee path: block-parallel forward and parallel adjoint vs the plain scan."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algotrader.amm.arbitrage import StepInputs, fee_scan
from algotrader.amm.parallel import _step_r, pack_rows, parallel_fee_path
from algotrader.amm.static import SimConfig

from .conftest import gbm_prices

M = 1500


def _plain_scan(r0: jax.Array, x: jax.Array, do_arb: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One minute per ``lax.scan`` iteration, differentiated by plain autodiff."""

    def body(res: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, tuple]:
        new, vol = _step_r(res, xs[0], xs[1], 0.0, 0.0)
        return new, (new, vol)

    _, (path, vol) = jax.lax.scan(body, r0, (x, do_arb))
    return jnp.concatenate([r0[None], path]), jnp.concatenate([jnp.zeros(1), vol])


def _inputs(n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    p = jnp.asarray(gbm_prices(M + 1, n, seed=21, sigma=0.002))
    t = np.linspace(0.0, 1.0, M + 1)[:, None]
    w = np.abs(np.sin(6 * t + np.arange(n))) + 0.2
    return p, jnp.asarray(w / w.sum(axis=1, keepdims=True)), jnp.full((M,), 0.997)


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_forwards_agree_with_the_generic_scan(n: int) -> None:
    p, w, g = _inputs(n)
    r0 = w[0] * 1e6 / p[0]
    rows = pack_rows(p[1:], w[:-1], w[1:], g, jnp.ones(M))
    do_arb = jnp.ones(M, bool)
    seq = parallel_fee_path(r0, rows, do_arb, 0.0, 0.0, -4)
    block = parallel_fee_path(r0, rows, do_arb, 0.0, 0.0, 128)
    cfg = SimConfig(rule="momentum", n_assets=n, bout_length=M + 2, fees=0.003)
    xs = StepInputs(
        p[1:],
        w[:-1],
        w[1:],
        g,
        jnp.zeros(M),
        jnp.zeros(M),
        do_arb,
        jnp.zeros(M, jnp.int32),
        jnp.ones(M, jnp.int32),
        jnp.zeros(M),
        jnp.ones((M, 1)),
    )
    generic = fee_scan(r0, xs, cfg, False, False)
    assert float(jnp.mean(generic[1] > 0)) > 0.2  # trades happen
    np.testing.assert_allclose(np.asarray(block[0]), np.asarray(seq[0]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(seq[0]), np.asarray(generic[0]), rtol=1e-9)


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_parallel_adjoint_equals_autodiff_of_the_scan(n: int) -> None:
    p, w, g = _inputs(n)
    do_arb = jnp.ones(M, bool)

    def loss(fn, r0, w):  # type: ignore[no-untyped-def]
        rows = pack_rows(p[1:], w[:-1], w[1:], g, jnp.ones(M))
        path, vol = fn(r0, rows)
        return jnp.sum(jnp.log(jnp.sum(path * p, axis=1))[::37]) + 1e-3 * jnp.sum(vol)

    ours = jax.grad(
        lambda r0, w: loss(lambda r, x: parallel_fee_path(r, x, do_arb, 0.0, 0.0, -4), r0, w),
        (0, 1),
    )
    plain = jax.grad(lambda r0, w: loss(lambda r, x: _plain_scan(r, x, do_arb), r0, w), (0, 1))
    r0 = w[0] * 1e6 / p[0]
    for a, b in zip(jax.jit(ours)(r0, w), jax.jit(plain)(r0, w), strict=True):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-12 * float(jnp.max(jnp.abs(b)))
        )
