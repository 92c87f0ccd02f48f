"""Bad splitter configuration raises typed errors naming the key and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.cv import CombinatorialPurgedCV, WalkForward, label_intervals
from algotrader.errors import ConfigError, ShapeError


def test_cpcv_bad_counts() -> None:
    with pytest.raises(ConfigError, match="n_groups must be an integer >= 2"):
        CombinatorialPurgedCV(1, 1)
    with pytest.raises(
        ConfigError, match=r"n_test_groups must be an integer in \[1, n_groups - 1\]"
    ):
        CombinatorialPurgedCV(4, 4)
    with pytest.raises(ConfigError, match="horizon must be a non-negative integer"):
        CombinatorialPurgedCV(4, 2, horizon=-1)
    with pytest.raises(ConfigError, match="max_combos must be at least 1"):
        CombinatorialPurgedCV(4, 2, max_combos=0)


def test_cpcv_too_few_samples_and_unknown_size() -> None:
    with pytest.raises(ShapeError, match="3 samples cannot form 4 groups"):
        CombinatorialPurgedCV(4, 2).splits(n_samples=3)
    with pytest.raises(ShapeError, match="cannot tell the number of samples"):
        list(CombinatorialPurgedCV(4, 2).split())


def test_cpcv_empty_training_set_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no training sample left after purge and embargo"):
        CombinatorialPurgedCV(2, 1, horizon=20).splits(n_samples=20)


def test_label_interval_errors() -> None:
    with pytest.raises(ConfigError, match="pass both t0 and t1"):
        label_intervals(3, t0=[0, 1, 2])
    with pytest.raises(ConfigError, match=r"t0 must be non-decreasing.*row=2"):
        label_intervals(3, t0=[0, 2, 1], t1=[3, 3, 3])
    with pytest.raises(ConfigError, match=r"t1 must be at or after t0.*row=1"):
        label_intervals(3, t0=[0, 1, 2], t1=[1, 0, 3])
    with pytest.raises(ShapeError, match=r"t0 has shape \(2,\), expected \(3,\)"):
        label_intervals(3, t0=[0, 1], t1=[1, 2])
    with pytest.raises(ConfigError, match="must both be datetime64 or both numeric"):
        label_intervals(2, t0=np.array(["2024-01-01", "2024-01-02"], "datetime64[D]"), t1=[1, 2])


def test_walk_forward_errors() -> None:
    with pytest.raises(ShapeError, match="leave no complete group of 10 after a warm-up of 5"):
        WalkForward(group_len=10, warmup_len=5).folds(n_samples=12)
    with pytest.raises(ShapeError, match="no fold with 3 training group"):
        WalkForward(group_len=5, min_train_groups=3).folds(n_samples=15)
    with pytest.raises(ConfigError, match="min_train_groups=0 leaves the first fold"):
        WalkForward(group_len=5, min_train_groups=0).folds(n_samples=15)
    with pytest.raises(ConfigError, match="train_groups must be None"):
        WalkForward(group_len=5, train_groups=0)
    with pytest.raises(ConfigError, match="group_len must be at least 1"):
        WalkForward(group_len=0)
    wf = WalkForward(group_len=5)
    fold = wf.folds(n_samples=15)[0]
    with pytest.raises(ConfigError, match="has 1 training group"):
        wf.inner_cv(fold, n_test_groups=1, n_samples=15)


def test_reconstruct_paths_shape_errors() -> None:
    cv = CombinatorialPurgedCV(3, 1)
    with pytest.raises(ShapeError, match="got 1 arrays for 3 splits"):
        cv.reconstruct_paths([np.zeros(3)], n_samples=9)
    with pytest.raises(ShapeError, match="expected"):
        cv.reconstruct_paths([np.zeros(2)] * 3, n_samples=9)
