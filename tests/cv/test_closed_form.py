"""Hand-computed splits and scikit-learn/optuna protocol checks."""

from __future__ import annotations

import math

import numpy as np

from algotrader.cv import CombinatorialPurgedCV, WalkForward, equal_groups, path_ids


def test_equal_groups_sizes() -> None:
    sizes = [len(g) for g in equal_groups(23, 5)]
    assert sizes == [5, 5, 5, 4, 4]
    assert np.concatenate(equal_groups(23, 5)).tolist() == list(range(23))


def test_full_cpcv_counts() -> None:
    cv = CombinatorialPurgedCV(10, 2)
    assert cv.get_n_splits() == 45
    assert cv.n_paths() == 9 == math.comb(9, 1)


def test_path_ids_small() -> None:
    combos = np.array([[0, 1], [0, 2], [1, 2]])
    assert path_ids(combos).tolist() == [[0, 0], [1, 0], [1, 1]]


def test_cpcv_datetime_labels() -> None:
    t0 = np.arange("2024-01-01", "2024-01-21", dtype="datetime64[D]")
    t1 = t0 + np.timedelta64(2, "D")
    cv = CombinatorialPurgedCV(4, 1, t0=t0, t1=t1, embargo_len=1)
    s = next(s for s in cv.splits() if s.test_groups == (1,))  # rows 5..9
    assert s.train.tolist() == [
        0,
        1,
        2,
        3,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
    ]  # 10 purged, 11 embargoed


def test_sklearn_style_protocol() -> None:
    X = np.zeros((40, 3))
    cv = CombinatorialPurgedCV(4, 2, horizon=1)
    pairs = list(cv.split(X))
    assert len(pairs) == cv.get_n_splits(X)
    for train, test in pairs:
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert np.all(np.diff(test) > 0)
    wf = WalkForward(group_len=10)
    assert [len(t) for _, t in wf.split(X)] == [10, 10, 10]
    assert wf.get_n_splits(X) == 3


def test_walk_forward_rolling_window() -> None:
    wf = WalkForward(group_len=5, train_groups=2, warmup_len=3, horizon=0)
    folds = wf.folds(n_samples=28)  # 25 usable -> 5 groups starting at 3
    assert [f.test_group for f in folds] == [1, 2, 3, 4]
    assert folds[-1].train.tolist() == list(range(13, 23))
    assert folds[0].train.tolist() == list(range(3, 8))


def test_walk_forward_exclude_warmup() -> None:
    inc = WalkForward(group_len=5, warmup_len=3).folds(n_samples=13)
    exc = WalkForward(group_len=5, warmup_len=3, exclude_warmup=True).folds(n_samples=13)
    assert inc[0].train.tolist() == list(range(8))
    assert exc[0].train.tolist() == list(range(3, 8))


def test_walk_forward_min_train_groups_zero_uses_warmup() -> None:
    folds = WalkForward(group_len=4, warmup_len=4, min_train_groups=0).folds(n_samples=12)
    assert folds[0].test.tolist() == [4, 5, 6, 7] and folds[0].train.tolist() == [0, 1, 2, 3]


def test_nested_inner_cv_by_hand() -> None:
    wf = WalkForward(group_len=10, horizon=2, embargo_len=1, min_train_groups=3)
    fold = wf.folds(n_samples=40)[0]  # test group 3 = rows 30..39, train rows 0..28
    assert fold.train.tolist() == list(range(29))
    inner = wf.inner_cv(fold, n_test_groups=1, n_samples=40)
    assert len(inner) == 3
    last = next(s for s in inner if s.test_groups == (2,))
    # row 29 is purged from the inner universe (its label reaches into the outer test)
    assert last.test.tolist() == list(range(20, 29))
    assert last.train.tolist() == list(range(19))  # row 19 purged against inner test
    first = next(s for s in inner if s.test_groups == (0,))
    assert first.train.tolist() == list(range(12, 29))  # 10 purged (h-1), 11 embargoed


def test_max_combos_balanced_equal_counts() -> None:
    cv = CombinatorialPurgedCV(10, 2, max_combos=10)
    counts = np.bincount(cv.combos.ravel(), minlength=10)
    assert (counts == 2).all()


def test_fixed_splits_wraps_nested_inner_cv() -> None:
    from algotrader.cv import FixedSplits

    wf = WalkForward(group_len=10, horizon=1, min_train_groups=4)
    fold = wf.folds(n_samples=60)[0]
    inner = wf.inner_cv(fold, n_test_groups=2, n_samples=60)
    cv = FixedSplits(inner)
    assert cv.get_n_splits() == len(inner) == 6
    for (train, test), s in zip(cv.split(np.zeros((60, 1))), inner, strict=True):
        np.testing.assert_array_equal(train, s.train)
        np.testing.assert_array_equal(test, s.test)


def test_walk_forward_train_on_remainder() -> None:
    # 3 warm-up samples, 2 leftover samples (3, 4), groups of 4 starting at 5
    base = WalkForward(warmup_len=3, group_len=4).folds(n_samples=13)[0]
    keep = WalkForward(warmup_len=3, group_len=4, train_on_remainder=True).folds(n_samples=13)[0]
    assert base.train.tolist() == [0, 1, 2, 5, 6, 7, 8]
    assert keep.train.tolist() == list(range(9))
    excl = WalkForward(warmup_len=3, group_len=4, train_on_remainder=True, exclude_warmup=True)
    assert excl.folds(n_samples=13)[0].train.tolist() == [5, 6, 7, 8]
    wf = WalkForward(warmup_len=3, group_len=4, train_on_remainder=True, min_train_groups=2)
    inner = wf.inner_cv(wf.folds(n_samples=17)[0], n_test_groups=1, n_samples=17)
    assert all({3, 4} <= set(s.train.tolist()) for s in inner)
    assert all(not ({3, 4} & set(s.test.tolist())) for s in inner)
