"""Leakage-safe splitters: walk-forward (outer loop) and combinatorial purged CV (inner loop).

Splitters are small objects following the scikit-learn protocol (``split(X)`` yields
``(train, test)`` integer index arrays, ``get_n_splits()``), so optuna objectives and
``GridSearchCV`` consume them directly; richer metadata (test groups, backtest path ids,
fold groups) comes from ``splits()`` / ``folds()``.

Example:
    >>> import numpy as np
    >>> from algotrader.cv import CombinatorialPurgedCV
    >>> cv = CombinatorialPurgedCV(n_groups=6, n_test_groups=2, horizon=5, embargo_len=10)
    >>> cv.get_n_splits(), cv.n_paths()
    (15, 5)
"""

from __future__ import annotations

from algotrader.cv.combos import all_combinations, balanced_combinations, n_full_paths, path_ids
from algotrader.cv.cpcv import (
    CombinatorialPurgedCV,
    FixedSplits,
    Split,
    build_splits,
    equal_groups,
)
from algotrader.cv.labels import (
    contiguous_blocks,
    embargo_mask,
    label_intervals,
    overlaps_test,
    purge_and_embargo,
)
from algotrader.cv.walk_forward import Fold, WalkForward

__all__ = [
    "CombinatorialPurgedCV",
    "FixedSplits",
    "Fold",
    "Split",
    "WalkForward",
    "all_combinations",
    "balanced_combinations",
    "build_splits",
    "contiguous_blocks",
    "embargo_mask",
    "equal_groups",
    "label_intervals",
    "n_full_paths",
    "overlaps_test",
    "path_ids",
    "purge_and_embargo",
]
