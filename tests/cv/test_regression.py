"""Reproductions of the purge/embargo bugs found in public libraries (spec: evaluation.md §2).

Each test builds the situation that triggers the bug and asserts our correct behaviour.
"""

from __future__ import annotations

import numpy as np

from algotrader.cv import CombinatorialPurgedCV, WalkForward

from ._brute import overlapping_pairs


def _split_with_test_groups(cv: CombinatorialPurgedCV, n: int, groups: tuple[int, ...]):  # type: ignore[no-untyped-def]
    return next(s for s in cv.splits(n_samples=n) if s.test_groups == groups)


def test_mlfinlab_295_window_start_is_label_start_not_end() -> None:
    # mlfinlab/mlfinpy start the test window at t1 of the first test sample, so training
    # labels ending inside the first test label are kept (6 leaking rows reproduced there).
    n, h = 30, 3
    cv = CombinatorialPurgedCV(3, 1, horizon=h)
    s = _split_with_test_groups(cv, n, (1,))  # test rows 10..19
    assert 8 not in s.train and 9 not in s.train  # labels [8, 11], [9, 12] overlap [10, 13]
    assert 7 in s.train  # [7, 10] only touches the test start
    t0 = np.arange(n)
    assert overlapping_pairs(s.train, s.test, t0, t0 + h) == []


def test_mlfinpy_cpcv_embargo_is_not_ignored() -> None:
    # mlfinpy's CombinatorialPurgedKFold sets the embargo to 0 inside split().
    n, h, e = 60, 1, 4
    with_e = _split_with_test_groups(
        CombinatorialPurgedCV(6, 2, horizon=h, embargo_len=e), n, (1, 3)
    )
    without = _split_with_test_groups(CombinatorialPurgedCV(6, 2, horizon=h), n, (1, 3))
    removed = sorted(set(without.train) - set(with_e.train))
    assert removed == [20, 21, 22, 23, 40, 41, 42, 43]


def test_purgedcv_observation_embargo_adds_to_the_purge() -> None:
    # purgedcv's embargo_observations gives max(h-1, e) rows after the test; LdP (and we) h-1+e.
    n, h = 400, 5
    for e, first_train_after in ((3, 199 + h + 3), (10, 199 + h + 10), (0, 199 + h)):
        cv = CombinatorialPurgedCV(4, 1, horizon=h, embargo_len=e)
        s = _split_with_test_groups(cv, n, (1,))  # test rows 100..199
        after = s.train[s.train > 199]
        assert after[0] == first_train_after
        before = s.train[s.train < 100]
        assert before[-1] == 100 - h  # h - 1 rows purged before the block


def test_timeseriescv_non_contiguous_blocks_keep_the_rows_between() -> None:
    # timeseriescv 0.2 drops the whole training block between two test blocks (rows 20-39
    # removed instead of 20-22). With h=3 we drop only the purge reach after block 0 and the
    # purge reach before block 2.
    n, h = 100, 3
    cv = CombinatorialPurgedCV(5, 2, horizon=h)
    s = _split_with_test_groups(cv, n, (0, 2))  # test rows 0..19 and 40..59
    between = s.train[(s.train >= 20) & (s.train < 40)]
    assert between.tolist() == list(range(22, 38))


def test_two_blocks_do_not_purge_their_hull() -> None:
    # HKUDS/Vibe-Trading#1204: multiple test blocks purged as one hull.
    n = 90
    t0 = np.arange(n, dtype=float)
    t1 = t0 + 2
    cv = CombinatorialPurgedCV(9, 2, t0=t0, t1=t1)
    s = _split_with_test_groups(cv, n, (2, 6))
    assert set(range(32, 58)) <= set(s.train.tolist())


def test_embargo_after_adjacent_test_groups_acts_once_after_the_merged_block() -> None:
    n, e = 60, 3
    cv = CombinatorialPurgedCV(6, 2, horizon=1, embargo_len=e)
    s = _split_with_test_groups(cv, n, (2, 3))  # one block 20..39
    assert 19 in s.train and 40 not in s.train and 43 in s.train


def test_walk_forward_keeps_every_training_group() -> None:
    # Expanding walk-forward must train on *all* earlier groups (no dropped training blocks).
    wf = WalkForward(warmup_len=4, group_len=5, horizon=1)
    folds = wf.folds(n_samples=34)
    last = folds[-1]
    assert last.train_groups == (0, 1, 2, 3, 4)
    assert last.train.tolist() == list(range(29))
