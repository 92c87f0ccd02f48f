"""Property tests (hypothesis) for the splitters: leakage, embargo, balance, path coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.cv import CombinatorialPurgedCV, WalkForward, balanced_combinations
from algotrader.errors import ConfigError

from ._brute import embargo_violations, overlapping_pairs


@st.composite
def cpcv_cases(draw: st.DrawFn) -> tuple[CombinatorialPurgedCV, int, np.ndarray, np.ndarray]:
    n_groups = draw(st.integers(2, 6))
    k = draw(st.integers(1, n_groups - 1))
    n = draw(st.integers(n_groups * 4, 60))
    embargo = draw(st.integers(0, 3))
    if draw(st.booleans()):
        h = draw(st.integers(0, 3))
        t0 = np.arange(n)
        t1 = t0 + h
        cv = CombinatorialPurgedCV(n_groups, k, horizon=h, embargo_len=embargo)
    else:  # variable-length (triple-barrier-like) labels on an irregular clock
        gaps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        t0 = np.cumsum(gaps).astype(float)
        lens = np.asarray(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)), float)
        t1 = t0 + lens
        cv = CombinatorialPurgedCV(n_groups, k, t0=t0, t1=t1, embargo_len=embargo)
    return cv, n, t0, t1


@settings(max_examples=80, deadline=None)
@given(cpcv_cases())
def test_cpcv_no_leak_and_embargo(case) -> None:  # type: ignore[no-untyped-def]
    cv, n, t0, t1 = case
    try:
        splits = cv.splits(n_samples=n)
    except ConfigError as exc:  # an empty training set is reported, never returned
        assert "no training sample left" in str(exc)
        return
    for s in splits:
        assert np.intersect1d(s.train, s.test).size == 0
        assert overlapping_pairs(s.train, s.test, t0, t1) == []
        assert embargo_violations(s.train, s.test, t0, t1, cv.embargo_len) == []
        groups = cv.groups(n)
        expected_test = np.sort(np.concatenate([groups[g] for g in s.test_groups]))
        np.testing.assert_array_equal(s.test, expected_test)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.data())
def test_balanced_combinations_spread(n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    from math import comb

    m = data.draw(st.integers(1, comb(n_groups, k)))
    combos = balanced_combinations(n_groups, k, m)
    assert combos.shape == (m, k)
    assert len({tuple(c) for c in combos.tolist()}) == m
    counts = np.bincount(combos.ravel(), minlength=n_groups)
    assert counts.max() - counts.min() <= 1
    if (m * k) % n_groups == 0:
        assert (counts == counts[0]).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 7), st.data())
def test_paths_cover_each_group_once(n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    n = n_groups * 3
    cv = CombinatorialPurgedCV(n_groups, k)
    splits = cv.splits(n_samples=n)
    from math import comb

    assert cv.n_paths() == comb(n_groups - 1, k - 1) == k * comb(n_groups, k) // n_groups
    members: dict[int, list[int]] = {}
    for s in splits:
        for g, p in zip(s.test_groups, s.path_ids, strict=True):
            members.setdefault(p, []).append(g)
    for p, gs in members.items():
        assert sorted(gs) == list(range(n_groups)), p
    # reconstruction: feed each split its own test indices, every path is 0..n-1
    paths = cv.reconstruct_paths([s.test.astype(float) for s in splits], n_samples=n)
    np.testing.assert_array_equal(paths, np.tile(np.arange(n, dtype=float), (cv.n_paths(), 1)))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(20, 120),
    st.integers(0, 15),
    st.integers(2, 12),
    st.integers(0, 4),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 3)),
)
def test_walk_forward_is_causal(
    n: int, warmup: int, group_len: int, h: int, exclude: bool, rolling: int | None
) -> None:
    if n - warmup < 2 * group_len:
        return
    wf = WalkForward(
        warmup_len=warmup,
        group_len=group_len,
        horizon=h,
        exclude_warmup=exclude,
        train_groups=rolling,
    )
    groups = wf.groups(n)
    assert groups[-1][-1] == n - 1  # aligned on the most recent sample
    assert groups[0][0] == warmup + (n - warmup) % group_len  # leading remainder dropped
    t0 = np.arange(n)
    for f in wf.folds(n_samples=n):
        assert f.train.size == 0 or f.train.max() + h <= f.test.min()  # label ends before test
        assert overlapping_pairs(f.train, f.test, t0, t0 + h) == []
        if exclude or rolling is not None:
            assert (f.train >= warmup).all()
        if rolling is not None:
            assert len(f.train_groups) <= rolling


@settings(max_examples=30, deadline=None)
@given(st.integers(60, 140), st.integers(0, 3), st.integers(0, 3), st.integers(1, 2))
def test_nested_inner_cv_never_touches_outer_test(n: int, h: int, e: int, k: int) -> None:
    wf = WalkForward(warmup_len=5, group_len=10, horizon=h, embargo_len=e, min_train_groups=3)
    t0 = np.arange(n)
    t1 = t0 + h
    for fold in wf.folds(n_samples=n):
        inner = wf.inner_cv(fold, n_test_groups=k, n_samples=n)
        for s in inner:
            assert s.test.max() < fold.test.min()
            assert overlapping_pairs(s.train, fold.test, t0, t1) == []
            assert overlapping_pairs(s.test, fold.test, t0, t1) == []
            assert overlapping_pairs(s.train, s.test, t0, t1) == []
            assert embargo_violations(s.train, s.test, t0, t1, e) == []
            assert set(s.test_groups) <= set(range(len(fold.train_groups)))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.data())
def test_fixed_horizon_fast_path_equals_interval_search(n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    n = data.draw(st.integers(n_groups * 5, 80))
    h = data.draw(st.integers(0, 4))
    e = data.draw(st.integers(0, 4))
    fast = CombinatorialPurgedCV(n_groups, k, horizon=h, embargo_len=e)
    t0 = np.arange(n)
    slow = CombinatorialPurgedCV(n_groups, k, t0=t0, t1=t0 + h, embargo_len=e)
    try:
        a = fast.splits(n_samples=n)
    except ConfigError as exc:
        assert "no training sample left" in str(exc)
        with pytest.raises(ConfigError, match="no training sample left"):
            slow.splits(n_samples=n)  # the interval search refuses the same case
        return
    b = slow.splits(n_samples=n)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.train, y.train)
        np.testing.assert_array_equal(x.test, y.test)
    wf = WalkForward(group_len=max(2, n // 8), horizon=h, embargo_len=e, min_train_groups=3)
    wf_slow = WalkForward(
        group_len=max(2, n // 8), t0=t0, t1=t0 + h, embargo_len=e, min_train_groups=3
    )
    try:
        folds = wf.folds(n_samples=n)
    except ConfigError as exc:  # too few groups for min_train_groups: reported, not returned
        assert exc.key is not None
        with pytest.raises(ConfigError) as slow_exc:
            wf_slow.folds(n_samples=n)
        assert (slow_exc.value.key, slow_exc.value.message) == (exc.key, exc.message)
        return
    for f, g in zip(folds, wf_slow.folds(n_samples=n), strict=True):
        np.testing.assert_array_equal(f.train, g.train)
        try:
            inner = wf.inner_cv(f, n_test_groups=1, n_samples=n)
        except ConfigError as exc:
            assert any(
                m in str(exc) for m in ("no training sample", "needs more", "no test sample")
            )
            with pytest.raises(ConfigError) as slow_exc:
                wf_slow.inner_cv(g, n_test_groups=1, n_samples=n)
            assert slow_exc.value.message == exc.message
            continue
        for x, y in zip(inner, wf_slow.inner_cv(g, n_test_groups=1, n_samples=n), strict=True):
            np.testing.assert_array_equal(x.train, y.train)
            np.testing.assert_array_equal(x.test, y.test)
