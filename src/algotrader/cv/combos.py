"""Choice of test-group combinations for CPCV and backtest-path bookkeeping.

Example:
    >>> balanced_combinations(4, 2, max_combos=2).tolist()
    [[0, 1], [2, 3]]
    >>> path_ids(balanced_combinations(4, 2)).tolist()
    [[0, 0], [1, 0], [2, 0], [1, 1], [2, 1], [2, 2]]
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray

from algotrader.errors import ConfigError

IntArray = NDArray[np.int64]


def all_combinations(n_groups: int, k: int) -> IntArray:
    """Every k-subset of ``range(n_groups)`` in lexicographic order, shape ``(C(N, k), k)``."""
    combos = list(itertools.combinations(range(n_groups), k))
    return np.asarray(combos, dtype=np.int64).reshape(len(combos), k)


def balanced_combinations(n_groups: int, k: int, max_combos: int | None = None) -> IntArray:
    """Test-group combinations, at most ``max_combos`` of them, greedily balanced.

    With ``max_combos=None`` (or at least ``C(N, k)``) every combination is returned, so
    each group is tested ``C(N-1, k-1)`` times. Otherwise combinations are picked one at a
    time (deterministically, no randomness): the next one is the unused combination whose
    groups have been tested least so far (smallest sum of test counts, then smallest
    maximum count, then lexicographic order); a repair pass then swaps chosen and unused
    combinations while that lowers the sum of squared test counts. The test counts of any
    two groups then differ by at most one (checked exhaustively for every N <= 10, k, and
    max_combos in the tests), so they are all equal when ``max_combos * k`` is a multiple of N.

    Raises:
        ConfigError: ``max_combos`` < 1.
    """
    combos = all_combinations(n_groups, k)
    if max_combos is None or max_combos >= combos.shape[0]:
        return combos
    if max_combos < 1:
        raise ConfigError(
            f"max_combos must be at least 1, got {max_combos}",
            key="max_combos",
            hint="use None to take every combination",
        )
    counts = np.zeros(n_groups, dtype=np.int64)
    used = np.zeros(combos.shape[0], dtype=bool)
    order = np.arange(combos.shape[0])
    chosen: list[int] = []
    big = np.iinfo(np.int64).max // 4
    for _ in range(max_combos):
        c = counts[combos]
        sums = np.where(used, big, c.sum(axis=1))
        maxes = c.max(axis=1)
        pick = int(np.lexsort((order, maxes, sums))[0])
        used[pick] = True
        counts[combos[pick]] += 1
        chosen.append(pick)
    sel = _rebalance(combos, np.asarray(chosen, dtype=np.int64), n_groups)
    return combos[np.sort(sel)]


def _rebalance(combos: IntArray, chosen: IntArray, n_groups: int) -> IntArray:
    """Swap chosen/unused combinations while that lowers the sum of squared test counts.

    The sum of squares is smallest exactly when the counts differ by at most one, so this
    repairs the rare cases where the greedy pass paints itself into a corner.
    """
    member = np.zeros((combos.shape[0], n_groups), dtype=np.int64)
    np.put_along_axis(member, combos, 1, axis=1)
    chosen = chosen.copy()
    for _ in range(10 * len(chosen) + 10):
        counts = member[chosen].sum(axis=0)
        unused = np.setdiff1d(np.arange(combos.shape[0]), chosen)
        if unused.size == 0:
            break
        mc, mu = member[chosen], member[unused]
        delta = -2 * (mc @ mu.T) + 2 * (mu @ counts)[None, :] - 2 * (mc @ counts)[:, None]
        delta += 2 * combos.shape[1]
        i, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if delta[i, j] >= 0:
            break
        chosen[i] = unused[j]
    return chosen


def path_ids(combos: IntArray) -> IntArray:
    """Backtest path of each (split, test group): the occurrence number of that group.

    The j-th split (in order) that tests group g assigns g to path j, so every path
    holds each group at most once, and exactly once when all ``C(N, k)`` combinations are
    used (then there are ``k/N * C(N, k) = C(N-1, k-1)`` paths). Shape ``(n_splits, k)``.
    """
    seen: dict[int, int] = {}
    ids = np.zeros_like(combos)
    for s, row in enumerate(combos):
        for j, g in enumerate(row):
            ids[s, j] = seen.get(int(g), 0)
            seen[int(g)] = ids[s, j] + 1
    return ids


def n_full_paths(n_groups: int, k: int) -> int:
    """Number of complete backtest paths of full CPCV: ``C(N-1, k-1)``."""
    return math.comb(n_groups - 1, k - 1)
