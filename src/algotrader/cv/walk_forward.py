"""Walk-forward splitter (the outer loop) and its nested inner CPCV.

Layout (seed 004): the first ``warmup_len`` samples are a warm-up that is never tested;
the rest is cut into contiguous groups of ``group_len`` samples **aligned on the most
recent sample**: when ``T - warmup_len`` is not a multiple of ``group_len`` the leading
remainder right after the warm-up belongs to no group and is dropped (neither trained on
nor tested), so the last group always ends on the last sample.

Fold for test group ``g`` (``g >= min_train_groups``):

* expanding (``train_groups=None``): train on every group before ``g``, plus the warm-up
  unless ``exclude_warmup``;
* rolling (``train_groups=m``): train on the ``m`` groups before ``g`` (warm-up never used);
* training samples whose label overlaps a test label are purged (``horizon`` or
  ``t0``/``t1``, see :mod:`algotrader.cv.labels`).

Timing assumption: sample ``i`` is a decision at ``t0_i`` (default ``i``) whose label is
realised at ``t1_i`` (default ``i + horizon``); training always precedes the test group,
so the embargo (which acts *after* a test block) removes nothing in an outer split; it is
used by the nested inner CPCV (:meth:`WalkForward.inner_cv`).

Example:
    >>> wf = WalkForward(warmup_len=3, group_len=4, horizon=2)
    >>> [(f.train.tolist(), f.test.tolist()) for f in wf.folds(n_samples=13)]
    [([0, 1, 2, 5, 6, 7], [9, 10, 11, 12])]
    >>> wf.groups(13)[0].tolist()  # samples 3, 4: the dropped leading remainder; 8 is purged
    [5, 6, 7, 8]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from algotrader.cv.combos import balanced_combinations
from algotrader.cv.cpcv import Split, build_splits
from algotrader.cv.labels import (
    IntArray,
    check_non_negative_int,
    embargo_mask,
    label_intervals,
    overlaps_test,
    purge_and_embargo,
)
from algotrader.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class Fold:
    """One outer walk-forward fold.

    Attributes:
        train: sorted training indices (purged).
        test: the test group's indices.
        test_group: index of the test group.
        train_groups: indices of the groups trained on (the warm-up is not a group).
    """

    train: IntArray
    test: IntArray
    test_group: int
    train_groups: tuple[int, ...]


class WalkForward:
    """Expanding or rolling walk-forward over fixed-length groups aligned on the last sample.

    Args:
        group_len: samples per group (one test block).
        warmup_len: leading samples never tested (kept for training unless ``exclude_warmup``).
        horizon: label length in samples (``t1_i = i + horizon``); ignored with ``t0``/``t1``.
        embargo_len: samples embargoed after each test block in the **inner** CPCV
            (:meth:`inner_cv`); outer training precedes the test, so nothing to embargo there.
        exclude_warmup: drop the warm-up from training too.
        train_on_remainder: also train on the leading remainder (the samples between the
            warm-up and the first group), which the seed-004 layout otherwise drops; it is
            treated like the warm-up (training only, expanding mode, not with
            ``exclude_warmup``).
        train_groups: ``None`` for an expanding window, else the number of groups in a
            rolling window.
        min_train_groups: first test group index (at least this many groups before it).
        t0, t1: optional label start/end times per sample.
        n_samples: number of samples if ``split`` is called without ``X``.
    """

    def __init__(
        self,
        *,
        group_len: int,
        warmup_len: int = 0,
        horizon: int = 0,
        embargo_len: int = 0,
        exclude_warmup: bool = False,
        train_on_remainder: bool = False,
        train_groups: int | None = None,
        min_train_groups: int = 1,
        t0: ArrayLike | None = None,
        t1: ArrayLike | None = None,
        n_samples: int | None = None,
    ) -> None:
        self.group_len = check_non_negative_int(group_len, "group_len", "samples per group")
        if self.group_len < 1:
            raise ConfigError("group_len must be at least 1", key="group_len")
        self.warmup_len = check_non_negative_int(warmup_len, "warmup_len", "warm-up samples")
        self.horizon = check_non_negative_int(horizon, "horizon", "label length in samples")
        self.embargo_len = check_non_negative_int(embargo_len, "embargo_len", "samples after test")
        self.exclude_warmup = bool(exclude_warmup)
        self.train_on_remainder = bool(train_on_remainder)
        if train_groups is not None and (int(train_groups) != train_groups or train_groups < 1):
            raise ConfigError(
                f"train_groups must be None (expanding) or >= 1, got {train_groups!r}",
                key="train_groups",
            )
        self.train_groups = train_groups
        self.min_train_groups = check_non_negative_int(
            min_train_groups, "min_train_groups", "groups before the first test group"
        )
        self.t0, self.t1 = t0, t1
        self.n_samples = n_samples

    # -- layout ---------------------------------------------------------------------------
    def _n(self, X: ArrayLike | None, n_samples: int | None) -> int:
        if n_samples is not None:
            return int(n_samples)
        if X is not None:
            return len(X)  # type: ignore[arg-type]
        if self.n_samples is not None:
            return int(self.n_samples)
        if self.t0 is not None:
            return len(np.asarray(self.t0))
        raise ShapeError("cannot tell the number of samples", key="X", hint="pass X or n_samples=")

    def groups(self, n_samples: int) -> list[IntArray]:
        """The groups, oldest first; the last one ends on sample ``n_samples - 1``."""
        usable = n_samples - self.warmup_len
        n_groups = max(usable, 0) // self.group_len
        if n_groups == 0:
            raise ShapeError(
                f"{n_samples} samples leave no complete group of {self.group_len} after a "
                f"warm-up of {self.warmup_len}",
                key="group_len",
                hint="use a shorter group_len/warmup_len or more samples",
            )
        start = n_samples - n_groups * self.group_len
        return [
            np.arange(start + g * self.group_len, start + (g + 1) * self.group_len, dtype=np.int64)
            for g in range(n_groups)
        ]

    def _train_group_ids(self, g: int) -> list[int]:
        lo = 0 if self.train_groups is None else max(0, g - self.train_groups)
        return list(range(lo, g))

    def _prefix_len(self, groups: list[IntArray]) -> int:
        """Length of the training-only prefix: warm-up (and remainder if asked), or 0."""
        if self.train_groups is not None or self.exclude_warmup:
            return 0
        return int(groups[0][0]) if self.train_on_remainder else self.warmup_len

    def folds(self, X: ArrayLike | None = None, *, n_samples: int | None = None) -> list[Fold]:
        """Every outer fold, oldest test group first."""
        n = self._n(X, n_samples)
        t0, t1 = label_intervals(n, horizon=self.horizon, t0=self.t0, t1=self.t1)
        groups = self.groups(n)
        if self.min_train_groups == 0 and self._prefix_len(groups) == 0:
            raise ConfigError(
                "min_train_groups=0 leaves the first fold without training data",
                key="min_train_groups",
                hint="use min_train_groups >= 1, or keep a warm-up in training",
            )
        out: list[Fold] = []
        for g in range(self.min_train_groups, len(groups)):
            ids = self._train_group_ids(g)
            train = np.zeros(n, dtype=bool)
            for h in ids:
                train[groups[h]] = True
            train[: self._prefix_len(groups)] = True
            keep = purge_and_embargo(train, groups[g], t0, t1, embargo_len=0)
            out.append(Fold(np.flatnonzero(keep).astype(np.int64), groups[g], g, tuple(ids)))
        if not out:
            raise ShapeError(
                f"only {len(groups)} group(s): no fold with {self.min_train_groups} training "
                "group(s) before the test group",
                key="min_train_groups",
                hint="lower min_train_groups or group_len",
            )
        return out

    # -- scikit-learn protocol ---------------------------------------------------------------
    def get_n_splits(
        self, X: ArrayLike | None = None, y: object = None, groups: object = None
    ) -> int:
        """Number of outer folds."""
        return len(self.folds(X))

    def split(
        self, X: ArrayLike | None = None, y: object = None, groups: object = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` index arrays; ``y`` and ``groups`` are ignored."""
        for f in self.folds(X):
            yield f.train, f.test

    # -- nested -------------------------------------------------------------------------------
    def inner_cv(
        self,
        fold: Fold,
        *,
        n_test_groups: int,
        max_combos: int | None = None,
        n_samples: int | None = None,
    ) -> list[Split]:
        """Inner CPCV splits for an outer fold, over its training groups only.

        The inner universe is the fold's training groups (plus the warm-up as
        training-only samples when it is used), **purged and embargoed against the outer
        test block**: a sample whose label overlaps an outer test label is removed from
        inner training *and* inner testing, so no outer test information reaches tuning.
        Inside, the usual CPCV purge and embargo (``embargo_len``) apply between inner
        test and inner training groups. Path ids refer to the inner combinations. Wrap the
        result in :class:`algotrader.cv.FixedSplits` to hand it to optuna or ``GridSearchCV``.

        Raises:
            ConfigError: fewer than ``n_test_groups + 1`` training groups in the fold.
        """
        n = self._n(None, n_samples)
        t0, t1 = label_intervals(n, horizon=self.horizon, t0=self.t0, t1=self.t1)
        all_groups = self.groups(n)
        ids = list(fold.train_groups)
        if not 1 <= n_test_groups < len(ids):
            raise ConfigError(
                f"fold for test group {fold.test_group} has {len(ids)} training group(s); "
                f"an inner CPCV with {n_test_groups} test group(s) needs more",
                key="n_test_groups",
                hint="lower n_test_groups or raise min_train_groups",
            )
        universe = np.zeros(n, dtype=bool)
        for h in ids:
            universe[all_groups[h]] = True
        warm = np.zeros(n, dtype=bool)
        warm[: self._prefix_len(all_groups)] = True
        universe |= warm
        universe &= ~overlaps_test(fold.test, t0, t1)
        universe &= ~embargo_mask(fold.test, t0, t1, self.embargo_len)
        universe[fold.test] = False
        combos = balanced_combinations(len(ids), n_test_groups, max_combos)
        return build_splits(
            [all_groups[h] for h in ids],
            combos,
            t0,
            t1,
            embargo_len=self.embargo_len,
            universe=universe,
            always_train=warm,
            horizon=self.horizon if self.t0 is None else None,
        )
