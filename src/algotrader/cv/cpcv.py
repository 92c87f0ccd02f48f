"""Combinatorial purged cross-validation (Lopez de Prado, AFML ch. 12).

The samples are cut into ``N`` contiguous groups; each split tests ``k`` groups and
trains on the others, minus the training samples whose labels overlap a test label
(**purge**) and the ``embargo_len`` samples right after each test block (**embargo**,
added after the purge). See :mod:`algotrader.cv.labels` for the exact rules.

Timing assumption: sample ``i`` is a decision at time ``t0_i`` whose label is known at
``t1_i`` (``horizon=h`` means ``t1_i = i + h``). Test groups can precede training groups:
that is the point of CPCV, and why purge and embargo are needed.

Example:
    >>> cv = CombinatorialPurgedCV(n_groups=4, n_test_groups=2, horizon=1, embargo_len=1)
    >>> cv.get_n_splits(n_samples=20), cv.n_paths()
    (6, 3)
    >>> train, test = next(iter(cv.split(np.zeros(20))))
    >>> test.tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    >>> train.tolist()  # 10 is embargoed (horizon 1 purges nothing)
    [11, 12, 13, 14, 15, 16, 17, 18, 19]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.cv.combos import balanced_combinations, path_ids
from algotrader.cv.labels import (
    BoolArray,
    IntArray,
    TimeArray,
    check_non_negative_int,
    contiguous_blocks,
    label_intervals,
    purge_and_embargo,
)
from algotrader.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class Split:
    """One split with its metadata.

    Attributes:
        train: sorted training indices.
        test: sorted test indices (flat, so scikit-learn and optuna can consume them).
        test_groups: the groups tested, ascending.
        path_ids: the backtest path each test group belongs to (same order as ``test_groups``).
    """

    train: IntArray
    test: IntArray
    test_groups: tuple[int, ...]
    path_ids: tuple[int, ...]


def equal_groups(n_samples: int, n_groups: int) -> list[IntArray]:
    """``n_groups`` contiguous index groups whose sizes differ by at most one (larger first)."""
    sizes = np.full(n_groups, n_samples // n_groups)
    sizes[: n_samples % n_groups] += 1
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [np.arange(edges[g], edges[g + 1], dtype=np.int64) for g in range(n_groups)]


def _fixed_horizon_keep(base: BoolArray, test: IntArray, h: int, e: int) -> BoolArray:
    """Purge and embargo for labels ``[i, i + h]`` by index arithmetic, block by block.

    Before a block ``[a, b]`` the labels ``[i, i + h]`` with ``i > a - h`` overlap it;
    after it, samples up to ``b + h - 1`` overlap and the embargo removes the next ``e``.
    """
    keep = base.copy()
    keep[test] = False
    for a, b in contiguous_blocks(test):
        keep[max(0, a - h + 1) : a] = False
        keep[b + 1 : max(b + 1, b + h) + e] = False
    return keep


def build_splits(
    groups: Sequence[IntArray],
    combos: IntArray,
    t0: TimeArray,
    t1: TimeArray,
    *,
    embargo_len: int,
    universe: BoolArray,
    always_train: BoolArray | None = None,
    horizon: int | None = None,
) -> list[Split]:
    """Purged and embargoed splits for explicit ``groups`` and test-group ``combos``.

    ``universe`` marks the samples usable at all (train or test); ``always_train`` marks
    samples outside every group that may be used for training (e.g. a warm-up). When the
    labels are the fixed-horizon shortcut (``t0 = i``, ``t1 = i + horizon``), pass
    ``horizon`` to use index arithmetic instead of the general interval search (same
    result, checked in the tests).

    Raises:
        ConfigError: a split would have an empty training or test set.
    """
    n = t0.shape[0]
    in_groups = np.zeros(n, dtype=bool)
    for g in groups:
        in_groups[g] = True
    base_train = universe & (in_groups | (always_train if always_train is not None else False))
    ids = path_ids(combos)
    full = bool(universe.all())
    starts = [int(g[0]) if g.size else -1 for g in groups]
    ascending = all(x < y for x, y in itertools.pairwise(starts))
    out: list[Split] = []
    for s, combo in enumerate(combos):
        test = np.concatenate([groups[g] for g in combo])
        if not ascending:
            test = np.sort(test)
        if not full:
            test = test[universe[test]]
        if test.size == 0:
            raise ConfigError(
                f"split {s} has no test sample left",
                key="n_groups",
                hint="use fewer or longer groups (in nested use, the purge against the outer "
                "test block can empty the last inner group: shorten horizon/embargo_len)",
            )
        if horizon is None:
            keep = purge_and_embargo(base_train, test, t0, t1, embargo_len=embargo_len)
        else:
            keep = _fixed_horizon_keep(base_train, test, horizon, embargo_len)
        train = np.flatnonzero(keep).astype(np.int64)
        if train.size == 0:
            raise ConfigError(
                f"split {s} (test groups {tuple(int(g) for g in combo)}) has no training "
                "sample left after purge and embargo",
                key="embargo_len",
                hint="reduce horizon/embargo_len or n_test_groups, or use more samples",
            )
        out.append(Split(train, test, tuple(int(g) for g in combo), tuple(int(p) for p in ids[s])))
    return out


class CombinatorialPurgedCV:
    """CPCV splitter with label-interval purging, embargo and balanced combination choice.

    Args:
        n_groups: N, the number of contiguous groups (sizes differ by at most one).
        n_test_groups: k, the groups tested per split (``1 <= k < N``).
        horizon: label length in samples for the fixed-horizon shortcut
            ``[t0_i, t1_i] = [i, i + horizon]``; ignored when ``t0``/``t1`` are given.
        embargo_len: samples removed right after each contiguous test block, counted from
            the first sample not already purged (embargo added after the purge).
        t0, t1: optional label start/end times per sample (numbers or datetime64).
        max_combos: use at most this many combinations, greedily balanced so every group is
            tested equally often (within one); ``None`` = all ``C(N, k)``.
        n_samples: number of samples, if ``split`` is called without ``X``.

    ``split(X)`` yields ``(train, test)`` integer arrays (scikit-learn protocol);
    :meth:`splits` also returns the test groups and backtest path ids of every split.
    """

    def __init__(
        self,
        n_groups: int = 6,
        n_test_groups: int = 2,
        *,
        horizon: int = 0,
        embargo_len: int = 0,
        t0: ArrayLike | None = None,
        t1: ArrayLike | None = None,
        max_combos: int | None = None,
        n_samples: int | None = None,
    ) -> None:
        if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 2:
            raise ConfigError(f"n_groups must be an integer >= 2, got {n_groups!r}", key="n_groups")
        if int(n_test_groups) != n_test_groups or not 1 <= n_test_groups < n_groups:
            raise ConfigError(
                f"n_test_groups must be an integer in [1, n_groups - 1], got {n_test_groups!r}",
                key="n_test_groups",
                hint=f"with n_groups={n_groups}, use 1..{n_groups - 1}",
            )
        self.n_groups = int(n_groups)
        self.n_test_groups = int(n_test_groups)
        self.horizon = check_non_negative_int(horizon, "horizon", "label length in samples")
        self.embargo_len = check_non_negative_int(embargo_len, "embargo_len", "samples after test")
        self.t0, self.t1 = t0, t1
        self.max_combos = max_combos
        self.n_samples = n_samples
        self.combos = balanced_combinations(self.n_groups, self.n_test_groups, max_combos)

    def _n(self, X: ArrayLike | None, n_samples: int | None) -> int:
        if n_samples is not None:
            n = n_samples
        elif X is not None:
            n = len(X)  # type: ignore[arg-type]
        elif self.n_samples is not None:
            n = self.n_samples
        elif self.t0 is not None:
            n = len(np.asarray(self.t0))
        else:
            raise ShapeError(
                "cannot tell the number of samples", key="X", hint="pass X or n_samples="
            )
        if n < self.n_groups:
            raise ShapeError(
                f"{n} samples cannot form {self.n_groups} groups",
                key="n_groups",
                hint="use fewer groups or more samples",
            )
        return int(n)

    def get_n_splits(
        self,
        X: ArrayLike | None = None,
        y: object = None,
        groups: object = None,
        *,
        n_samples: int | None = None,
    ) -> int:
        """Number of splits (``C(N, k)`` or ``max_combos``)."""
        return int(self.combos.shape[0])

    def n_paths(self) -> int:
        """Number of backtest paths (``C(N-1, k-1)`` with all combinations)."""
        return int(path_ids(self.combos).max()) + 1

    def groups(self, n_samples: int) -> list[IntArray]:
        """The N contiguous index groups."""
        return equal_groups(n_samples, self.n_groups)

    def splits(self, X: ArrayLike | None = None, *, n_samples: int | None = None) -> list[Split]:
        """Every split with its metadata (test groups, path ids)."""
        n = self._n(X, n_samples)
        t0, t1 = label_intervals(n, horizon=self.horizon, t0=self.t0, t1=self.t1)
        return build_splits(
            self.groups(n),
            self.combos,
            t0,
            t1,
            embargo_len=self.embargo_len,
            universe=np.ones(n, dtype=bool),
            horizon=self.horizon if self.t0 is None else None,
        )

    def split(
        self, X: ArrayLike | None = None, y: object = None, groups: object = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` index arrays; ``y`` and ``groups`` are ignored."""
        for s in self.splits(X):
            yield s.train, s.test

    def reconstruct_paths(
        self, test_values: Sequence[ArrayLike], *, n_samples: int
    ) -> NDArray[np.float64]:
        """Assemble out-of-sample values into backtest paths, shape ``(n_paths, n_samples)``.

        Args:
            test_values: one array per split (in :meth:`splits` order), aligned with that
                split's ``test`` indices (e.g. OOS returns or predictions).
            n_samples: total number of samples.

        Each path holds every group exactly once when all combinations are used; with
        ``max_combos`` some paths are incomplete and their missing groups are NaN.
        """
        splits = self.splits(n_samples=n_samples)
        if len(test_values) != len(splits):
            raise ShapeError(
                f"got {len(test_values)} arrays for {len(splits)} splits", key="test_values"
            )
        paths = np.full((self.n_paths(), n_samples), np.nan)
        groups = self.groups(n_samples)
        for s, vals in zip(splits, test_values, strict=True):
            v = np.asarray(vals, dtype=np.float64)
            if v.shape != s.test.shape:
                raise ShapeError(
                    f"values for split with test groups {s.test_groups} have shape {v.shape}, "
                    f"expected {s.test.shape}",
                    key="test_values",
                )
            for g, p in zip(s.test_groups, s.path_ids, strict=True):
                idx = groups[g]
                paths[p, idx] = v[np.searchsorted(s.test, idx)]
        return paths

    def __repr__(self) -> str:
        return (
            f"CombinatorialPurgedCV(n_groups={self.n_groups}, n_test_groups={self.n_test_groups}, "
            f"horizon={self.horizon}, embargo_len={self.embargo_len}, max_combos={self.max_combos})"
        )


class FixedSplits:
    """Precomputed splits behind the scikit-learn splitter protocol (e.g. a nested inner CPCV).

    Example:
        >>> s = FixedSplits([Split(np.array([0, 1]), np.array([2]), (1,), (0,))])
        >>> s.get_n_splits(), [t.tolist() for _, t in s.split()]
        (1, [[2]])
    """

    def __init__(self, splits: Sequence[Split]) -> None:
        self.splits = list(splits)

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """Number of splits."""
        return len(self.splits)

    def split(
        self, X: object = None, y: object = None, groups: object = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` index arrays; the arguments are ignored."""
        for s in self.splits:
            yield s.train, s.test
