"""Differential tests against basanos 0.7.3 golden outputs (tests/data/basanos).

Rule (issue 3): on every row after warm-up whose prices are complete at t and t-1,
match the reference to 1e-9 relative. Elsewhere we follow the issue's documented
semantics (checked explicitly below) where the reference is inconsistent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from algotrader.portfolio import OptimiserStream, analyse, run_batch

RTOL = 1e-9
GAP_REENTRY_ROWS = (103, 251, 425, 543)

# numerical warnings (overflow, invalid) from the optimiser are bugs here
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.fixture(scope="module")
def batch(golden: Any) -> dict[str, Any]:
    prices, mu = golden.inputs()
    return {n: run_batch(prices, mu, golden.config(n)) for n in golden.CONFIG_NAMES}


@pytest.mark.parametrize("name", ["ewma_shrink", "sliding_window"])
def test_batch_cash_vola_status_match_reference(golden: Any, batch: Any, name: str) -> None:
    prices, _ = golden.inputs()
    res = batch[name]
    rows = golden.comparable_rows(prices, res.config.warmup_rows)
    assert rows.sum() > 500
    cash_rel = golden.max_rel(res.cash, golden.values(f"{name}_cash_position"))
    assert np.all(cash_rel[rows] <= RTOL), np.flatnonzero(rows & (cash_rel > RTOL))
    vola_rel = golden.max_rel(res.vola, golden.values(f"{name}_vola"))
    assert np.all(vola_rel[rows] <= RTOL)
    risk_rel = golden.max_rel(res.risk, golden.values(f"{name}_risk_position"))
    assert np.all(risk_rel[rows] <= RTOL)
    ref_status = golden.frame(f"{name}_status")["status"].to_numpy()
    assert np.array_equal(res.status[rows], ref_status[rows])


def test_batch_vola_matches_reference_on_every_defined_row(golden: Any, batch: Any) -> None:
    # The vola has no warm-up exception: wherever both are defined they agree.
    ref = golden.values("ewma_shrink_vola")
    ours = batch["ewma_shrink"].vola
    both = np.isfinite(ref) & np.isfinite(ours)
    assert both.sum() > 4000
    np.testing.assert_allclose(ours[both], ref[both], rtol=RTOL)


def test_turnover_cap_matches_reference_given_the_same_previous_row(
    golden: Any, batch: Any
) -> None:
    """The cap is path dependent: the reference also caps degenerate rows, we only valid
    ones, so paths can part after a gap. Wherever our previous row equals the reference's,
    the capped row must equal it too; before the first gap the whole path must match."""
    prices, _ = golden.inputs()
    res = batch["ewma_shrink_turnover"]
    ref = golden.values("ewma_shrink_turnover_cash_position")
    rel = golden.max_rel(res.cash, ref)
    rows = golden.comparable_rows(prices, res.config.warmup_rows)
    first_gap = golden.meta()["gap_rows"][0]
    assert np.all(rel[res.config.warmup_rows : first_gap] <= RTOL)
    prev_equal = np.zeros_like(rows)
    prev_equal[1:] = rel[:-1] <= RTOL
    prev_equal[res.config.warmup_rows] = True
    # The reference also caps zero-signal rows (moving them part-way to 0); we do not.
    checked = rows & prev_equal & (res.status == "valid")
    assert checked.sum() > 400
    assert np.all(rel[checked] <= RTOL), np.flatnonzero(checked & (rel > RTOL))
    cap = res.config.max_turnover
    assert cap is not None
    valid = res.status == "valid"
    steps = np.abs(np.nan_to_num(np.diff(res.cash, axis=0))).sum(axis=1)
    assert np.all(steps[valid[1:]] <= cap * (1 + 1e-12))
    for t in golden.meta()["zero_mu_rows"]:  # not capped: flat at once
        assert res.status[t] == "zero_signal" and np.all(res.cash[t] == 0.0)


def test_warmup_rows_report_warmup_with_nan_cash(golden: Any, batch: Any) -> None:
    for name in golden.CONFIG_NAMES:
        res = batch[name]
        w = res.config.warmup_rows
        assert np.all(res.status[:w] == "warmup")
        assert np.isnan(res.cash[:w]).all()
        assert res.status[w] != "warmup"


def test_gap_reentry_rows_are_solved_over_the_remaining_assets(golden: Any, batch: Any) -> None:
    gap_col = golden.meta()["assets"].index(golden.meta()["gap_asset"])
    ref_status = golden.frame("ewma_shrink_status")["status"].to_numpy()
    res = batch["ewma_shrink"]
    for t in GAP_REENTRY_ROWS:
        assert ref_status[t] == "degenerate"  # the reference zeroes the whole book
        assert res.status[t] == "valid"
        assert np.isnan(res.cash[t, gap_col])
        others = np.delete(res.cash[t], gap_col)
        assert np.all(np.isfinite(others)) and np.any(others != 0)


def test_zero_signal_rows(golden: Any, batch: Any) -> None:
    for t in golden.meta()["zero_mu_rows"]:
        res = batch["ewma_shrink"]
        assert res.status[t] == "zero_signal"
        assert np.all(res.cash[t] == 0.0)


@pytest.mark.parametrize("name", ["ewma_shrink", "ewma_shrink_turnover"])
def test_stream_matches_reference_stream(golden: Any, name: str) -> None:
    prices, mu = golden.inputs()
    k = golden.meta()["stream_warmup_rows"]
    stream = OptimiserStream.from_warmup(prices.head(k), mu.head(k), golden.config(name))
    p = prices.drop("date").to_numpy()
    m = mu.drop("date").to_numpy()
    out = [stream.step(p[t], m[t], prices["date"][t]) for t in range(k, prices.height)]
    cash = np.array([o.cash_position for o in out])
    rows = golden.comparable_rows(prices, 0)[k:]
    assert rows.sum() >= 95
    rel = golden.max_rel(cash, golden.values(f"stream_{name}_cash_position"))
    assert np.all(rel[rows] <= RTOL)
    status = golden.frame(f"stream_{name}_status")["status"].to_numpy()
    assert [str(o.status) for o in out] == list(status)
    vola_rel = golden.max_rel(np.array([o.vola for o in out]), golden.values(f"stream_{name}_vola"))
    assert np.all(vola_rel[rows] <= RTOL)


def test_sliding_window_stream_matches_reference_batch_not_its_woodbury(golden: Any) -> None:
    """The reference stream's Woodbury solve is off by up to 83% on rows 578-586; our stream
    solves the dense factor matrix like the reference batch, and matches that."""
    prices, mu = golden.inputs()
    k = golden.meta()["stream_warmup_rows"]
    cfg = golden.config("sliding_window")
    stream = OptimiserStream.from_warmup(prices.head(k), mu.head(k), cfg)
    p = prices.drop("date").to_numpy()
    m = mu.drop("date").to_numpy()
    cash = np.array([stream.step(p[t], m[t]).cash_position for t in range(k, prices.height)])
    rows = golden.comparable_rows(prices, 0)[k:]
    rel_batch = golden.max_rel(cash, golden.values("sliding_window_cash_position")[k:])
    assert np.all(rel_batch[rows] <= RTOL)
    rel_stream = golden.max_rel(cash, golden.values("stream_sliding_window_cash_position"))
    assert rel_stream[578 - k] > 0.01  # the reference stream's known defect


def test_correlation_of_a_row_matches_reference(golden: Any, batch: Any) -> None:
    res = batch["ewma_shrink"]
    lam = res.config.shrink
    cor = golden.frame("ewma_cor_rows_40_200_599")
    assets = list(res.assets)
    for i, t in enumerate((40, 200, 599)):
        date = cor["date"].unique(maintain_order=True)[i]
        part = cor.filter(cor["date"] == date)
        ref = np.full((len(assets), len(assets)), np.nan)
        for r, c, v in part.select("row", "col", "value").iter_rows():
            ref[assets.index(r), assets.index(c)] = v
        shrunk = res.correlation(t)
        raw = (shrunk - (1 - lam) * np.eye(len(assets))) / lam
        np.testing.assert_allclose(raw, ref, rtol=RTOL, atol=1e-12)


def test_analytics_match_reference_portfolio(golden: Any) -> None:
    prices, _ = golden.inputs()
    cfg = golden.config("ewma_shrink")
    cash = golden.values("ewma_shrink_cash_position")
    ref = golden.frame("ewma_shrink_portfolio")
    rep = analyse(
        cash,
        prices.drop("date").to_numpy().astype(float),
        aum=cfg.aum,
        position_scale=cfg.position_scale,
    )
    np.testing.assert_allclose(rep.profit, ref["profit"].to_numpy(), rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(rep.nav, ref["NAV_accumulated"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(rep.returns, ref["returns"].to_numpy(), rtol=RTOL, atol=1e-12)
