"""The deferred ("pending") state update of the CG rows (:mod:`.kernel_pending`).

Claims tested: the sums are ``pair.xy`` with the first ``cg_pend_count`` rows of
``cg_pend`` folded in, and a fold applies the eager recurrence ``v <- v beta + p_i p_k``
row after row in order, so a folded matrix equals the eagerly updated one bit for bit
(``fold_rows`` against ``kernel._update_sums`` and the numpy recurrence, for any row
split, in or out of place, with its float32 copy); the diagonal, the weights and the
O(N s) product of the pending rows are the closed forms; the matrix-free products and
``cg_solve_pre`` with pending rows equal the formed folded matrix (the bound holds
against ``np.linalg.solve``); on real runs the CG state after ``settle_pending`` equals
the exact solver's (eager) state bit for bit, ``w`` and ``x`` are never deferred; a saved
pending state loads and continues bit for bit, an earlier release's archive (no
``cg_pend``) of a settled state too, a damaged count is refused (key ``cg_pend_count``);
a gap after more than ``PENDING_ROWS`` CG rows gives batch == stream for 1 and 2 threads,
and the rows after it equal the exact solver's bit for bit (the gap settles exactly).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.portfolio.test_cg import BASE, _gbm
from tests.portfolio.test_property import Case

from algotrader.errors import StateError
from algotrader.portfolio import OptimiserConfig, OptimiserStream, kernel, kernel_linalg, run_batch
from algotrader.portfolio.core import settle_pending
from algotrader.portfolio.kernel_linalg import position_error_bound
from algotrader.portfolio.kernel_pending import (
    PENDING_ROWS,
    fold_rows,
    pending_diagonal,
    pending_product,
    pending_weights,
)
from algotrader.portfolio.stream import StreamStateError

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

NO_LOW = np.zeros((0, 0), dtype=np.float32)
CFG = OptimiserConfig(**BASE, solver="cg")
#: The first CG kernel row of a ``_gbm`` history under ``CFG`` (row 8 is the Python path).
FIRST_KERNEL_ROW = 9


def _beta(cfg: OptimiserConfig) -> float:
    return 1.0 - 2.0 / (2.0 * cfg.corr + 2.0)


def _inputs(n: int, count: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric base (N, N) and a (PENDING_ROWS, N) buffer whose rows past ``count``
    are NaN (so reading them would show)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n + 3)) * scale
    base = g @ g.T
    pend = np.full((PENDING_ROWS, n), np.nan)
    pend[:count] = rng.standard_normal((count, n)) * scale * (0.5 + rng.random(n))
    return np.ascontiguousarray(base), pend


def _eager(base: np.ndarray, rows: np.ndarray, beta: float) -> np.ndarray:
    """The eager per-row update (the exact solver's kernel arithmetic)."""
    xy = base.copy()
    for r in rows:
        kernel._update_sums(xy, np.ascontiguousarray(r), beta)
    return xy


def _folded(base: np.ndarray, pend: np.ndarray, count: int, beta: float) -> np.ndarray:
    out = base.copy()
    fold_rows(out, out, NO_LOW, pend, count, beta, True, 0, out.shape[0])
    return out


# ---------------------------------------------------------------------------------------
# 1. fold_rows is the eager recurrence, bit for bit
# ---------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.one_of(st.integers(1, 23), st.sampled_from([255, 257, 262])),
    count=st.integers(0, PENDING_ROWS),
    beta=st.floats(0.01, 0.999),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-3, 1.0, 37.5]),
    cut=st.floats(0.0, 1.0),
)
@example(n=262, count=PENDING_ROWS, beta=0.9, seed=1, scale=1.0, cut=0.37)  # tiles split
@example(n=3, count=0, beta=0.5, seed=2, scale=1.0, cut=0.0)  # nothing pending
def test_fold_rows_equals_the_eager_update_bit_for_bit(
    n: int, count: int, beta: float, seed: int, scale: float, cut: float
) -> None:
    base, pend = _inputs(n, count, seed, scale)
    rows = pend[:count]
    eager = _eager(base, rows, beta)
    numpy_eager = base.copy()
    for r in rows:
        numpy_eager = numpy_eager * beta + np.outer(r, r)
    np.testing.assert_array_equal(eager, numpy_eager)  # the kernel update is numpy's too

    folded = _folded(base, pend, count, beta)  # rows past count are NaN: never read
    np.testing.assert_array_equal(folded, eager)
    np.testing.assert_array_equal(folded, folded.T)  # stays exactly symmetric

    # out of place (src untouched) with the float32 copy in the same pass
    src = base.copy()
    dst = np.full_like(base, np.nan)
    low = np.full(base.shape, np.nan, dtype=np.float32)
    fold_rows(src, dst, low, pend, count, beta, False, 0, n)
    np.testing.assert_array_equal(src, base)
    np.testing.assert_array_equal(dst, eager)
    np.testing.assert_array_equal(low, eager.astype(np.float32))

    # any split of the rows into two calls (threads) gives the same bits, both ways
    mid = round(cut * n)
    split = base.copy()
    split_low = np.full(base.shape, np.nan, dtype=np.float32)
    for lo, hi in ((mid, n), (0, mid)):  # the later rows first: order does not matter
        fold_rows(split, split, split_low, pend, count, beta, True, lo, hi)
    np.testing.assert_array_equal(split, eager)
    np.testing.assert_array_equal(split_low, eager.astype(np.float32))
    split_dst = np.full_like(base, np.nan)
    for lo, hi in ((0, mid), (mid, n)):
        fold_rows(base, split_dst, NO_LOW, pend, count, beta, False, lo, hi)
    np.testing.assert_array_equal(split_dst, eager)

    # the diagonal carried without the matrix: the fold's diagonal, bit for bit
    dg = np.full(n, np.nan)
    pending_diagonal(base, pend, count, beta, dg)
    np.testing.assert_array_equal(dg, np.diag(eager))


def test_fold_rows_leaves_rows_outside_its_range_alone() -> None:
    """A call covers rows ``lo .. hi - 1`` only (the column tiles of 256 split at N = 261,
    the row tiles of 4 leave one row over)."""
    n, count, beta = 261, 9, 0.93
    base, pend = _inputs(n, count, 5)
    eager = _eager(base, pend[:count], beta)
    part = base.copy()
    fold_rows(part, part, NO_LOW, pend, count, beta, True, 3, 130)
    np.testing.assert_array_equal(part[3:130], eager[3:130])
    np.testing.assert_array_equal(part[:3], base[:3])
    np.testing.assert_array_equal(part[130:], base[130:])
    assert not np.array_equal(part[3:130], base[3:130])
    # nothing pending: the copy out of place, nothing changed in place
    dst = np.zeros_like(base)
    fold_rows(base, dst, NO_LOW, pend, 0, beta, False, 0, n)
    np.testing.assert_array_equal(dst, base)


# ---------------------------------------------------------------------------------------
# 2. weights and the O(N s) product: closed forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 17, PENDING_ROWS])
@pytest.mark.parametrize("beta", [0.5, 0.9, 0.999])
def test_pending_weights_closed_form(count: int, beta: float) -> None:
    coef = np.full(max(count, 1), np.nan)
    sb = pending_weights(count, beta, coef)
    expected = beta ** (count - 1 - np.arange(count, dtype=np.float64))
    np.testing.assert_allclose(coef[:count], expected, rtol=1e-14, atol=0.0)
    assert sb == pytest.approx(beta**count, rel=1e-14)
    if count:
        assert coef[count - 1] == 1.0  # the newest row has weight 1 exactly
    else:
        assert sb == 1.0 and np.isnan(coef[0])  # nothing pending: the base alone


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    count=st.integers(0, PENDING_ROWS),
    beta=st.floats(0.05, 0.999),
    seed=st.integers(0, 2**32 - 1),
)
def test_pending_product_is_the_weighted_sum_of_rank_one_products(
    n: int, count: int, beta: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    _, pend = _inputs(n, count, seed)
    z = rng.standard_normal(n)
    coef = np.empty(max(count, 1))
    pending_weights(count, beta, coef)
    q, h = np.full(n, np.nan), np.empty(max(count, 1))
    pending_product(pend, count, coef, z, h, q)
    rows, c = pend[:count], beta ** (count - 1 - np.arange(count, dtype=np.float64))
    expected = (c * (rows @ z)) @ rows if count else np.zeros(n)
    # rounding scale: the same sum in absolute values
    scale = (c * (np.abs(rows) @ np.abs(z))) @ np.abs(rows) if count else np.zeros(n)
    assert np.all(np.abs(q - expected) <= 1e-12 * scale)
    if count == 0:
        np.testing.assert_array_equal(q, np.zeros(n))


# ---------------------------------------------------------------------------------------
# 3. the matrix-free products with pending rows equal the formed matrix
# ---------------------------------------------------------------------------------------


def _call(fn: Any, **values: Any) -> Any:
    """Call a compiled function by its parameter names (robust to added work arrays)."""
    names = list(inspect.signature(fn.py_func).parameters)
    missing = [k for k in names if k not in values]
    assert not missing, f"test does not know {missing} of {fn.py_func.__name__}"
    return fn(*(values[k] for k in names))


def _scaled_case(n: int, count: int, seed: int, beta: float = 0.9) -> dict[str, Any]:
    """Inputs of ``_matvec_scaled`` (``base``: the base sums) and, by the closed form
    ``X = beta^s base + sum_j beta^(s - 1 - j) p_j p_j'``, the formed matrix
    ``A = T X T - u u' + diag(e)``, its pending part ``T (X - beta^s base) T`` and the
    rounding scale ``|A|-with-absolute-terms @ |v|``."""
    rng = np.random.default_rng(seed)
    base, pend = _inputs(n, count, seed)
    coef = np.empty(max(count, 1))
    sb = pending_weights(count, beta, coef)
    x_pend, x_abs = np.zeros((n, n)), beta**count * np.abs(base)
    for j, r in enumerate(pend[:count]):
        x_pend = x_pend + beta ** (count - 1 - j) * np.outer(r, r)
        x_abs = x_abs + beta ** (count - 1 - j) * np.abs(np.outer(r, r))
    t, u = rng.uniform(0.1, 0.3, n), rng.uniform(-0.01, 0.01, n)
    e, v = np.full(n, 0.5), rng.standard_normal(n)
    tt, uu = np.outer(t, t), np.outer(u, u)
    values = {
        "pend": pend, "count": count, "coef": coef, "sb": sb, "t": t, "u": u, "e": e, "v": v,
        "h": np.empty(max(count, 1)), "q": np.empty(n), "z64": np.empty(n),
        "out": np.full(n, np.nan),
    }  # fmt: skip
    return {
        "values": values,
        "base": base,
        "formed": tt * (beta**count * base + x_pend) - uu + np.diag(e),
        "pending_part": tt * x_pend - uu + np.diag(e),
        "scale": (tt * x_abs + np.abs(uu) + np.diag(e)) @ np.abs(v),
    }


def _low(values: dict[str, Any], xy_low: np.ndarray) -> np.ndarray:
    n = xy_low.shape[0]
    z32, zo = np.empty(n, dtype=np.float32), np.empty(n, dtype=np.float32)
    values = {**values, "out": np.full(n, np.nan)}
    _call(kernel_linalg._matvec_scaled_low, xy_low=xy_low, z=z32, z_out=zo, **values)
    return values["out"]


@pytest.mark.parametrize("n", [5, 13, 40])
@pytest.mark.parametrize("count", [0, 1, 7, PENDING_ROWS])
def test_matvec_scaled_with_pending_rows_equals_the_formed_matrix(n: int, count: int) -> None:
    case = _scaled_case(n, count, 100 * n + count)
    values, base, scale = case["values"], case["base"], case["scale"]
    expected = case["formed"] @ values["v"]
    _call(kernel_linalg._matvec_scaled, xy=base, z=np.empty(n), **values)
    assert np.max(np.abs(values["out"] - expected) / scale) <= 1e-12
    rel = np.max(np.abs(_low(values, base.astype(np.float32)) - expected) / scale)
    assert 0.0 < rel <= 1e-6  # the float32 path: rounded, within float32 accuracy


@pytest.mark.parametrize("count", [1, PENDING_ROWS])
def test_matvec_scaled_low_carries_the_pending_part_in_float64(count: int) -> None:
    """With a zero base only the pending rows contribute: the float32 path then has the
    float64 path's accuracy (the pending part is never rounded to float32)."""
    n = 30
    case = _scaled_case(n, count, 7)
    values = case["values"]
    expected = case["pending_part"] @ values["v"]
    out = _low(values, np.zeros((n, n), dtype=np.float32))
    assert np.max(np.abs(out - expected) / case["scale"]) <= 1e-12


# ---------------------------------------------------------------------------------------
# 4. cg_solve_pre on pending rows: the bound holds against the folded matrix's solve
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("count", [0, 3, PENDING_ROWS])
def test_cg_solve_pre_with_pending_rows_meets_its_bound(mixed: bool, count: int) -> None:
    n, beta, tol = 24, 0.9, 1e-10
    rng = np.random.default_rng(31 + count)
    base, pend = _inputs(n, count, 31 + count)
    t, u, e = rng.uniform(0.1, 0.3, n), rng.uniform(-0.01, 0.01, n), np.full(n, 0.5)
    folded = _folded(base, pend, count, beta)
    formed = np.outer(t, t) * folded - np.outer(u, u) + np.diag(e)
    lam_min = float(np.linalg.eigvalsh(formed).min())
    assert lam_min > 0.1
    m, x = rng.standard_normal(n), np.zeros(n)
    low = base.astype(np.float32) if mixed else NO_LOW
    it, ss, dd, bound = kernel_linalg.cg_solve_pre(
        base, low, pend, count, beta, t, u, e, m, x, np.empty((5, n)), lam_min, tol, 500,
        np.zeros((n, 0)), np.zeros(0), np.zeros((0, 0)), np.zeros((3, 0)),
    )  # fmt: skip
    assert 0 < it < 500 and bound <= tol
    exact = np.linalg.solve(formed, m)
    err = np.linalg.norm(x - exact) / np.linalg.norm(exact)
    assert err <= bound + 1e-13  # the exact solve's own rounding on top
    np.testing.assert_allclose(np.sqrt(ss), np.linalg.norm(formed @ x - m), rtol=1e-6, atol=1e-14)
    assert dd == pytest.approx(m @ exact, rel=1e-9)
    # the reported bound is the bound of the true residual
    res = np.linalg.norm(formed @ x - m)
    assert bound == pytest.approx(position_error_bound(res, np.linalg.norm(x), lam_min), rel=1e-3)
    if count:  # the pending rows matter: the base alone is another matrix
        wrong = np.outer(t, t) * base - np.outer(u, u) + np.diag(e)
        other = np.linalg.solve(wrong, m)
        assert np.linalg.norm(other - exact) / np.linalg.norm(exact) > 1e3 * tol


# ---------------------------------------------------------------------------------------
# 5. real runs: the settled CG state is the exact solver's eager state, bit for bit
# ---------------------------------------------------------------------------------------


def _same_sums(a: OptimiserStream, b: OptimiserStream, *, xy: bool = True) -> None:
    pa, pb = a._state.pair, b._state.pair
    assert pa is not None and pb is not None
    np.testing.assert_array_equal(pa.w, pb.w)
    np.testing.assert_array_equal(pa.x, pb.x)
    if xy:
        np.testing.assert_array_equal(pa.xy, pb.xy)


def _frames(prices: np.ndarray, mu: np.ndarray, cfg: OptimiserConfig) -> tuple[Any, Any]:
    return Case(prices, mu, cfg, 1).frames()


@pytest.mark.parametrize(
    ("history", "steps"),
    [
        (FIRST_KERNEL_ROW + PENDING_ROWS, 0),  # a full buffer: the fold is due at the next row
        (FIRST_KERNEL_ROW + PENDING_ROWS + 19, 0),  # one fold, 19 pending
        (FIRST_KERNEL_ROW + 2 * PENDING_ROWS + 7, 0),  # two folds, 7 pending
        (50, 35),  # the stream's one-row steps fold too
    ],
)
def test_settled_cg_state_equals_the_eager_exact_state(history: int, steps: int) -> None:
    prices, mu = _gbm(history + steps, 8, 5)
    p, m = _frames(prices, mu, CFG)
    cg = OptimiserStream.from_warmup(p.head(history), m.head(history), CFG)
    ex_cfg = CFG.model_copy(update={"solver": "exact"})
    ex = OptimiserStream.from_warmup(p.head(history), m.head(history), ex_cfg)
    for t in range(history, history + steps):
        cg.step(prices[t], mu[t])
        ex.step(prices[t], mu[t])
    state = cg._state
    count = int(state.cg_pend_count[0])
    rows_run = history + steps - FIRST_KERNEL_ROW
    assert rows_run >= PENDING_ROWS  # the full buffer case: exactly PENDING_ROWS
    assert count == (rows_run - 1) % PENDING_ROWS + 1  # a fold when a 33rd row comes
    assert state.pair is not None and ex._state.pair is not None
    _same_sums(cg, ex, xy=False)  # w and x are never deferred
    assert not np.array_equal(state.pair.xy, ex._state.pair.xy)  # xy really is
    # the invariant: the sums are xy with the first count pending rows folded in
    folded = _folded(state.pair.xy, state.cg_pend, count, _beta(CFG))
    np.testing.assert_array_equal(folded, ex._state.pair.xy)
    settle_pending(state, CFG)
    assert int(state.cg_pend_count[0]) == 0
    _same_sums(cg, ex)
    settle_pending(state, CFG)  # nothing pending: no change
    _same_sums(cg, ex)
    np.testing.assert_array_equal(state.vol_acc.sums, ex._state.vol_acc.sums)


# ---------------------------------------------------------------------------------------
# 6. save / load
# ---------------------------------------------------------------------------------------

SPLIT = FIRST_KERNEL_ROW + PENDING_ROWS + 19  # 19 rows pending at the save


def _archive(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _continue_equal(
    a: OptimiserStream, b: OptimiserStream, prices: np.ndarray, mu: np.ndarray
) -> None:
    """``a`` and ``b`` step on from ``SPLIT`` with the same bits; at the end both, settled,
    hold the exact solver's eager sums over all the rows."""
    p, m = _frames(prices, mu, CFG)
    ex_cfg = CFG.model_copy(update={"solver": "exact"})
    ex = OptimiserStream.from_warmup(p.head(SPLIT), m.head(SPLIT), ex_cfg)
    for t in range(SPLIT, prices.shape[0]):
        ra, rb = a.step(prices[t], mu[t]), b.step(prices[t], mu[t])
        ex.step(prices[t], mu[t])
        np.testing.assert_array_equal(ra.cash_position, rb.cash_position)
        assert ra.status == rb.status
    np.testing.assert_array_equal(a._state.cg_pend_count, b._state.cg_pend_count)
    _same_sums(a, b)
    for s in (a, b):
        settle_pending(s._state, CFG)
        _same_sums(s, ex)


def test_saved_pending_state_loads_and_continues_bit_for_bit(tmp_path: Path) -> None:
    prices, mu = _gbm(SPLIT + 45, 8, 6)  # the continuation folds once more
    p, m = _frames(prices, mu, CFG)
    a = OptimiserStream.from_warmup(p.head(SPLIT), m.head(SPLIT), CFG)
    count = int(a._state.cg_pend_count[0])
    assert count == 19
    path = a.save(tmp_path / "s")
    data = _archive(path)
    assert data["cg_pend"].shape == (PENDING_ROWS, 8) and int(data["cg_pend_count"][0]) == 19
    b = OptimiserStream.load(path)
    assert int(b._state.cg_pend_count[0]) == count
    np.testing.assert_array_equal(b._state.cg_pend[:count], a._state.cg_pend[:count])
    _same_sums(a, b)
    _continue_equal(a, b, prices, mu)


def test_archive_without_pending_keys_of_a_settled_state_loads(tmp_path: Path) -> None:
    """An earlier release's file (no ``cg_pend``/``cg_pend_count``) is a settled state."""
    prices, mu = _gbm(SPLIT + 45, 8, 6)
    p, m = _frames(prices, mu, CFG)
    a = OptimiserStream.from_warmup(p.head(SPLIT), m.head(SPLIT), CFG)
    settle_pending(a._state, CFG)
    data = _archive(a.save(tmp_path / "s"))
    old = {k: v for k, v in data.items() if k not in ("cg_pend", "cg_pend_count")}
    np.savez(tmp_path / "old.npz", **old)  # type: ignore[arg-type]
    b = OptimiserStream.load(tmp_path / "old.npz")
    assert int(b._state.cg_pend_count[0]) == 0
    _same_sums(a, b)
    _continue_equal(a, b, prices, mu)


def test_archive_with_another_pending_buffer_size_is_settled_on_load(tmp_path: Path) -> None:
    """A buffer of another size (a release with another ``PENDING_ROWS``) holding 19 rows:
    folded at the first kernel row, so it continues as the settled in-memory stream."""
    prices, mu = _gbm(SPLIT + 45, 8, 6)
    p, m = _frames(prices, mu, CFG)
    a = OptimiserStream.from_warmup(p.head(SPLIT), m.head(SPLIT), CFG)
    data = _archive(a.save(tmp_path / "s"))
    np.savez(tmp_path / "small.npz", **{**data, "cg_pend": data["cg_pend"][:19]})  # type: ignore[arg-type]
    b = OptimiserStream.load(tmp_path / "small.npz")
    settle_pending(a._state, CFG)
    _continue_equal(a, b, prices, mu)


@pytest.mark.parametrize(
    "damage",
    [
        {"cg_pend_count": np.array([PENDING_ROWS + 1])},  # more rows than the buffer
        {"cg_pend_count": np.array([-1])},
        {"cg_pend": np.zeros((PENDING_ROWS, 9))},  # another asset count
        {"cg_pend": np.zeros((0, 0))},  # rows pending, no buffer
    ],
    ids=["too-many", "negative", "wrong-width", "no-buffer"],
)
def test_damaged_pending_count_is_refused(tmp_path: Path, damage: dict[str, np.ndarray]) -> None:
    prices, mu = _gbm(SPLIT, 8, 6)
    p, m = _frames(prices, mu, CFG)
    a = OptimiserStream.from_warmup(p, m, CFG)
    data = _archive(a.save(tmp_path / "s"))
    assert int(data["cg_pend_count"][0]) == 19
    np.savez(tmp_path / "bad.npz", **{**data, **damage})  # type: ignore[arg-type]
    with pytest.raises(StreamStateError, match="cg_pend_count") as info:
        OptimiserStream.load(tmp_path / "bad.npz")
    assert info.value.key == "cg_pend_count" and isinstance(info.value, StateError)


# ---------------------------------------------------------------------------------------
# 7. a gap after more than PENDING_ROWS CG rows: batch == stream, any thread count
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_gap_after_pending_rows_batch_equals_stream(
    threads: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gap = FIRST_KERNEL_ROW + PENDING_ROWS + 29  # 29 rows pending when the gap comes
    prices, mu = _gbm(gap + 30, 6, 8)
    prices[gap, 2] = np.nan
    p, m = _frames(prices, mu, CFG)
    if threads is None:
        monkeypatch.delenv("ALGOTRADER_THREADS", raising=False)
    else:
        monkeypatch.setenv("ALGOTRADER_THREADS", str(threads))
    batch = run_batch(p, m, CFG)
    exact = run_batch(p, m, CFG.model_copy(update={"solver": "exact"}))
    assert set(batch.method[FIRST_KERNEL_ROW:gap]) == {"cg"}
    assert "cg" not in set(batch.method[gap:])  # after the gap: the Python path
    split = 20
    stream = OptimiserStream.from_warmup(p.head(split), m.head(split), CFG)
    for t in range(split, prices.shape[0]):
        if t == gap:
            assert int(stream._state.cg_pend_count[0]) == 29
        out = stream.step(prices[t], mu[t], t)
        np.testing.assert_array_equal(out.cash_position, batch.cash[t])
        np.testing.assert_array_equal(out.vola, batch.vola[t])
        assert out.status == batch.status[t]
    assert int(stream._state.cg_pend_count[0]) == 0  # settled at the gap
    # the gap settles exactly: from there on the CG run is the exact run, bit for bit
    np.testing.assert_array_equal(batch.cash[gap:], exact.cash[gap:])
    assert list(batch.status[gap:]) == list(exact.status[gap:])
