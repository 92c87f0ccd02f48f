"""One contract suite over every splitter configuration we ship."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from algotrader.cv import CombinatorialPurgedCV, WalkForward

N = 200
SPLITTERS: dict[str, Callable[[], object]] = {
    "cpcv_full": lambda: CombinatorialPurgedCV(6, 2, horizon=3, embargo_len=2),
    "cpcv_k1": lambda: CombinatorialPurgedCV(5, 1, horizon=1),
    "cpcv_max_combos": lambda: CombinatorialPurgedCV(8, 3, horizon=2, embargo_len=4, max_combos=8),
    "cpcv_intervals": lambda: CombinatorialPurgedCV(
        5, 2, t0=np.arange(N) * 2.0, t1=np.arange(N) * 2.0 + 7.0, embargo_len=3
    ),
    "wf_expanding": lambda: WalkForward(warmup_len=20, group_len=30, horizon=2),
    "wf_rolling": lambda: WalkForward(group_len=25, train_groups=3, horizon=4),
    "wf_no_warmup": lambda: WalkForward(warmup_len=13, group_len=40, exclude_warmup=True),
}


@pytest.mark.parametrize("name", list(SPLITTERS))
def test_split_protocol(name: str) -> None:
    cv = SPLITTERS[name]()
    X = np.zeros((N, 2))
    pairs = list(cv.split(X))  # type: ignore[attr-defined]
    assert len(pairs) == cv.get_n_splits(X)  # type: ignore[attr-defined]
    assert pairs, "at least one split"
    for train, test in pairs:
        for arr in (train, test):
            assert arr.dtype == np.int64 and arr.ndim == 1
            assert np.all(np.diff(arr) > 0)  # sorted, unique
            assert arr.size == 0 or (arr.min() >= 0 and arr.max() < N)
        assert train.size > 0 and test.size > 0
        assert np.intersect1d(train, test).size == 0


@pytest.mark.parametrize("name", list(SPLITTERS))
def test_deterministic_and_independent_of_X_content(name: str) -> None:
    a = list(SPLITTERS[name]().split(np.zeros((N, 1))))  # type: ignore[attr-defined]
    b = list(SPLITTERS[name]().split(np.random.default_rng(0).normal(size=(N, 3))))  # type: ignore[attr-defined]
    for (tr1, te1), (tr2, te2) in zip(a, b, strict=True):
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(te1, te2)


@pytest.mark.parametrize("name", [n for n in SPLITTERS if n.startswith("wf")])
def test_walk_forward_trains_on_the_past_only(name: str) -> None:
    """Outer walk-forward training always ends before its test group starts."""
    cv = SPLITTERS[name]()
    for train, test in cv.split(np.zeros((N, 1))):  # type: ignore[attr-defined]
        assert train.max() < test.min()
