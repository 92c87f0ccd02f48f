"""Property tests: batch == stream, no look-ahead, permutation and price-scale invariance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.portfolio import (
    OptimiserConfig,
    OptimiserStream,
    run_batch,
)

# numerical warnings (overflow, invalid) from the optimiser are bugs here
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@dataclass
class Case:
    prices: np.ndarray
    mu: np.ndarray
    cfg: OptimiserConfig
    split: int

    def frames(
        self, prices: np.ndarray | None = None, mu: np.ndarray | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        p = self.prices if prices is None else prices
        m = self.mu if mu is None else mu
        names = [f"A{i}" for i in range(p.shape[1])]
        dates = pl.Series("date", np.arange(p.shape[0]), dtype=pl.Int64)
        return (
            pl.DataFrame({"date": dates, **{n: p[:, i] for i, n in enumerate(names)}}),
            pl.DataFrame({"date": dates, **{n: m[:, i] for i, n in enumerate(names)}}),
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 6))
    t_len = draw(st.integers(8, 70))
    vola = draw(st.integers(1, 6))
    corr = draw(st.integers(vola, 12))
    sw = draw(st.booleans())
    cov: dict[str, object] = {"covariance_mode": "ewma_shrink"}
    if sw:
        k = draw(st.integers(1, 4))
        cov = {
            "covariance_mode": "sliding_window",
            "window": draw(st.integers(2, 15)),
            "n_factors": k,
            "max_components": draw(st.one_of(st.none(), st.integers(1, k))),
        }
    cfg = OptimiserConfig(
        vola=vola,
        corr=corr,
        clip=draw(st.floats(0.5, 5.0)),
        shrink=draw(st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0])),
        aum=1.0,
        covariance_config=cov,  # type: ignore[arg-type]
        max_turnover=draw(st.one_of(st.none(), st.floats(1.0, 500.0))),
    )
    vol = rng.uniform(0.002, 0.05, size=n)
    common = rng.standard_normal((t_len, 1))
    rets = vol * (0.6 * common + rng.standard_normal((t_len, n)))
    prices = 100.0 * np.exp(np.cumsum(rets, axis=0))
    gap_p = draw(st.sampled_from([0.0, 0.0, 0.05, 0.15]))
    gaps = rng.random((t_len, n)) < gap_p
    gaps[0] = False  # keep every warm-up frame under max_nan_fraction
    prices[gaps] = np.nan
    if draw(st.booleans()):  # a flat day: zero return (and 0/0 vol-adjustment)
        prices[1:3, 0] = prices[0, 0]
    mu = rng.standard_normal((t_len, n))
    mu[rng.random((t_len, n)) < 0.05] = np.nan
    zero_rows = rng.random(t_len) < 0.08
    mu[zero_rows] = 0.0
    split = draw(st.integers(1, t_len - 1))
    return Case(prices, mu, cfg, split)


def _stream_outputs(case: Case) -> tuple[np.ndarray, list[str], np.ndarray]:
    p, m = case.frames()
    stream = OptimiserStream.from_warmup(p.head(case.split), m.head(case.split), case.cfg)
    outs = [stream.step(case.prices[t], case.mu[t], t) for t in range(case.split, len(case.prices))]
    return (
        np.array([o.cash_position for o in outs]),
        [str(o.status) for o in outs],
        np.array([o.vola for o in outs]),
    )


@settings(max_examples=120, deadline=None)
@given(cases())
def test_batch_equals_stream_bit_for_bit(case: Case) -> None:
    p, m = case.frames()
    batch = run_batch(p, m, case.cfg)
    cash, status, vola = _stream_outputs(case)
    np.testing.assert_array_equal(cash, batch.cash[case.split :])
    np.testing.assert_array_equal(vola, batch.vola[case.split :])
    assert status == list(batch.status[case.split :])


@settings(max_examples=40, deadline=None)
@given(case=cases())
def test_save_load_mid_stream_continues_identically(
    tmp_path_factory: pytest.TempPathFactory, case: Case
) -> None:
    tmp = tmp_path_factory.mktemp("stream")
    p, m = case.frames()
    a = OptimiserStream.from_warmup(p.head(case.split), m.head(case.split), case.cfg)
    a.save(tmp / "s.npz")
    b = OptimiserStream.load(tmp / "s.npz")
    for t in range(case.split, len(case.prices)):
        ra = a.step(case.prices[t], case.mu[t], t)
        rb = b.step(case.prices[t], case.mu[t], t)
        np.testing.assert_array_equal(ra.cash_position, rb.cash_position)
        np.testing.assert_array_equal(ra.vola, rb.vola)
        assert ra.status == rb.status


@settings(max_examples=60, deadline=None)
@given(cases())
def test_no_look_ahead(case: Case) -> None:
    rng = np.random.default_rng(7)
    p, m = case.frames()
    base = run_batch(p, m, case.cfg)
    t = case.split
    prices = case.prices.copy()
    mu = case.mu.copy()
    prices[t + 1 :] = rng.uniform(1.0, 1000.0, size=prices[t + 1 :].shape)
    mu[t + 1 :] = rng.standard_normal(mu[t + 1 :].shape) * 1e3
    p2, m2 = case.frames(prices, mu)
    corrupted = run_batch(p2, m2, case.cfg)
    np.testing.assert_array_equal(corrupted.cash[: t + 1], base.cash[: t + 1])
    np.testing.assert_array_equal(corrupted.vola[: t + 1], base.vola[: t + 1])
    assert list(corrupted.status[: t + 1]) == list(base.status[: t + 1])


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 1.0
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * scale)


@settings(max_examples=60, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_permuting_assets_permutes_outputs(case: Case, rnd: object) -> None:
    n = case.prices.shape[1]
    perm = np.arange(n)
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    p, m = case.frames()
    base = run_batch(p, m, case.cfg)
    p2, m2 = case.frames(case.prices[:, perm], case.mu[:, perm])
    permuted = run_batch(p2, m2, case.cfg)
    assert list(permuted.status) == list(base.status)
    _close(permuted.cash, base.cash[:, perm])
    _close(permuted.vola, base.vola[:, perm])


@settings(max_examples=60, deadline=None)
@given(cases(), st.floats(1e-3, 1e3))
def test_scaling_prices_changes_nothing(case: Case, scale: float) -> None:
    p, m = case.frames()
    base = run_batch(p, m, case.cfg)
    p2, m2 = case.frames(case.prices * 4.0, case.mu)  # power of two: exact
    exact = run_batch(p2, m2, case.cfg)
    np.testing.assert_array_equal(exact.cash, base.cash)
    per_asset = scale * np.linspace(0.5, 2.0, case.prices.shape[1])
    p3, m3 = case.frames(case.prices * per_asset, case.mu)
    scaled = run_batch(p3, m3, case.cfg)
    assert list(scaled.status) == list(base.status)
    _close(scaled.cash, base.cash)


@settings(max_examples=40, deadline=None)
@given(cases(), st.integers(1, 60))
def test_batch_equals_stream_with_small_kernel_spans(case: Case, span: int) -> None:
    """Runs of gap-free rows are cut into many kernel calls: boundaries change nothing."""
    from unittest import mock

    from algotrader.portfolio import core

    with mock.patch.object(core, "KERNEL_SPAN", span):
        p, m = case.frames()
        batch = run_batch(p, m, case.cfg)
    cash, status, _ = _stream_outputs(case)
    np.testing.assert_array_equal(cash, batch.cash[case.split :])
    assert status == list(batch.status[case.split :])


@pytest.mark.slow
@pytest.mark.parametrize("n_assets", [17, 40])
def test_batch_equals_stream_on_long_gap_free_history(n_assets: int) -> None:
    rng = np.random.default_rng(n_assets)
    t_len = 700
    rets = 0.01 * (0.5 * rng.standard_normal((t_len, 1)) + rng.standard_normal((t_len, n_assets)))
    prices = 100.0 * np.exp(np.cumsum(rets, axis=0))
    mu = rng.standard_normal((t_len, n_assets))
    mu[[200, 201]] = 0.0
    prices[650, 3] = np.nan  # a late gap switches to the dense state mid-history
    cfg = OptimiserConfig(vola=10, corr=25, clip=3.0, shrink=0.6, aum=1.0, max_turnover=300.0)
    case = Case(prices, mu, cfg, split=120)
    p, m = case.frames()
    batch = run_batch(p, m, cfg)
    cash, status, vola = _stream_outputs(case)
    np.testing.assert_array_equal(cash, batch.cash[case.split :])
    np.testing.assert_array_equal(vola, batch.vola[case.split :])
    assert status == list(batch.status[case.split :])
    assert (batch.status == "valid").sum() > 600
