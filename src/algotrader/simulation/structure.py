"""The nested CV structure: groups aligned to the last row, outer folds, inner CPCV splits.

All lengths are in rows. Sample ``i``'s label spans rows ``(i, i + h]`` (``h = cv.horizon``).

- **Groups** (spec 4.2): warm-up ``[0, W)``; usable ``U = T - W``; the remainder
  ``rho = U mod G`` is dropped at the start so the groups end on the last row:
  group ``g = [W + rho + gG, W + rho + (g+1)G)``, ``g = 0..n-1``.
- **Outer fold k** (test = group ``k``): train = warm-up (unless ``exclude_warmup``, and not
  for a rolling window) and groups ``0..k-1`` (rolling: the last ``max_train_groups``),
  **purged against the outer test**: rows whose label overlaps the test labels
  (``i > s - h``) are removed (the source has no such purge).
- **Inner CPCV** on the fold's train groups: all q-subsets, or a greedy balanced
  ``max_inner_combos`` selection with ties broken by ``default_rng(cv.seed + 10000 k)``;
  exact label-overlap purge and a separate embargo after the purge
  (:func:`algotrader.cv.build_splits`), warm-up purged too. The inner universe is the purged
  outer train set, so no outer-test label ever enters tuning. ``source_compatible_purge``
  removes ``[s-h+1, e+h-1]`` (one extra sample after every block) and the embargo
  ``[e, e + embargo)`` overlapping it, as the source does.
- **Prebuild rows**: the intersection of every fold's outer train, minus every inner test
  row of any fold and the rows whose labels overlap them.

Example:
    >>> from algotrader.simulation.config import CVConfig, OuterConfig
    >>> s = build_structure(23, CVConfig(warmup_len=2, group_len=5, q=1), OuterConfig(last_n=1))
    >>> [g.tolist()[:1] + g.tolist()[-1:] for g in s.groups], s.dropped.tolist()
    ([[3, 7], [8, 12], [13, 17], [18, 22]], [2])
    >>> f = s.folds[0]
    >>> f.k, f.inner_group_ids, [sp.test_groups for sp in f.splits]
    (3, (0, 1, 2), [(0,), (1,), (2,)])
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algotrader.cv import Split, build_splits, contiguous_blocks, label_intervals
from algotrader.errors import ConfigError
from algotrader.simulation.config import CVConfig, OuterConfig

__all__ = ["CVStructure", "OuterFold", "balanced_seeded_combos", "build_structure"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class OuterFold:
    """One outer walk-forward fold and its inner CPCV splits."""

    k: int
    test_idx: IntArray
    train_idx: IntArray
    purged_idx: IntArray
    inner_group_ids: tuple[int, ...]
    splits: tuple[Split, ...]


@dataclass(frozen=True)
class CVStructure:
    """Groups, outer folds (in test order) and the prebuild rows."""

    n_rows: int
    warmup_idx: IntArray
    dropped: IntArray
    groups: tuple[IntArray, ...]
    folds: tuple[OuterFold, ...]
    prebuild_idx: IntArray

    def to_json(self) -> dict[str, Any]:
        """``cv/cv_structure.json`` content (spec 4.6) plus the inner splits per fold."""
        return {
            "n_rows": self.n_rows,
            "warmup_idx": self.warmup_idx.tolist(),
            "dropped_idx": self.dropped.tolist(),
            "groups": [g.tolist() for g in self.groups],
            "outer_test_group_ids": [f.k for f in self.folds],
            "prebuild_idx": self.prebuild_idx.tolist(),
            "outer_folds": {
                str(f.k): {
                    "k_test": f.k,
                    "train_idx": f.train_idx.tolist(),
                    "test_idx": f.test_idx.tolist(),
                    "purged_idx": f.purged_idx.tolist(),
                    "inner_group_ids": list(f.inner_group_ids),
                    "n_inner_splits": len(f.splits),
                }
                for f in self.folds
            },
        }

    def row_labels(self) -> tuple[IntArray, list[str]]:
        """Per row: group id (-1 outside groups) and label ``warmup``/``dropped``/``group``."""
        gid = np.full(self.n_rows, -1, dtype=np.int64)
        lab = ["group"] * self.n_rows
        for g, idx in enumerate(self.groups):
            gid[idx] = g
        for i in self.warmup_idx:
            lab[int(i)] = "warmup"
        for i in self.dropped:
            lab[int(i)] = "dropped"
        return gid, lab


def balanced_seeded_combos(n_groups: int, q: int, m: int | None, seed: int) -> IntArray:
    """Test-group combos: all q-subsets (lexicographic), or ``m`` greedily balanced ones.

    Greedy (spec 4.3): target ``c* = m q / n``; repeat ``m`` times: among the remaining
    combos pick one minimising, lexicographically, (max - min of the prospective per-group
    test counts, sum of (count - c*)^2, max count); ties broken uniformly by
    ``default_rng(seed)``. The result is sorted lexicographically.

    >>> balanced_seeded_combos(4, 2, 2, seed=0).tolist()
    [[0, 1], [2, 3]]
    """
    combos = np.asarray(list(itertools.combinations(range(n_groups), q)), dtype=np.int64)
    combos = combos.reshape(-1, q)
    if m is None or m >= combos.shape[0]:
        return combos
    rng = np.random.default_rng(seed)
    target = m * q / n_groups
    counts = np.zeros(n_groups, dtype=np.float64)
    remaining = list(range(combos.shape[0]))
    chosen: list[int] = []
    for _ in range(m):
        keys = []
        for c in remaining:
            nxt = counts.copy()
            nxt[combos[c]] += 1
            keys.append((nxt.max() - nxt.min(), float(((nxt - target) ** 2).sum()), nxt.max()))
        best = min(keys)
        ties = [c for c, key in zip(remaining, keys, strict=True) if key == best]
        pick = ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]
        chosen.append(pick)
        remaining.remove(pick)
        counts[combos[pick]] += 1
    return combos[np.sort(np.asarray(chosen, dtype=np.int64))]


def _source_splits(
    groups: list[IntArray],
    combos: IntArray,
    universe: NDArray[np.bool_],
    always: NDArray[np.bool_],
    h: int,
    emb: int,
) -> list[Split]:
    """The source's purge ``[s-h+1, e+h-1]`` and embargo ``[e, e+emb)`` (e exclusive)."""
    n = universe.shape[0]
    in_groups = np.zeros(n, dtype=bool)
    for g in groups:
        in_groups[g] = True
    base = universe & (in_groups | always)
    out = []
    for s, combo in enumerate(combos):
        test = np.sort(np.concatenate([groups[g] for g in combo]))
        test = test[universe[test]]
        keep = base.copy()
        keep[test] = False
        for a, b in contiguous_blocks(test):
            e = b + 1
            keep[max(0, a - h + 1) : min(n, e + h)] = False
            keep[e : min(n, e + emb)] = False
        train = np.flatnonzero(keep).astype(np.int64)
        if test.size == 0 or train.size == 0:
            raise ConfigError(f"inner split {s} is empty after the purge", key="cv.group_len")
        out.append(Split(train, test, tuple(int(g) for g in combo), (0,) * len(combo)))
    return out


def build_structure(n_rows: int, cv: CVConfig, outer: OuterConfig) -> CVStructure:
    """Groups, outer folds and inner splits for ``n_rows`` rows (see the module docstring).

    Raises:
        ConfigError: no group fits, bad outer ids, or a fold with too few inner groups.
    """
    w, g_len, h = cv.warmup_len, cv.group_len, cv.horizon
    usable = n_rows - w
    n_groups = usable // g_len if usable > 0 else 0
    if n_groups == 0:
        raise ConfigError(
            f"{n_rows} rows with warmup_len {w} leave no group of {g_len} rows",
            key="cv.group_len",
            hint="use a shorter group_len/warmup_len or more data",
        )
    rho = usable % g_len
    start = w + rho
    groups = tuple(
        np.arange(start + g * g_len, start + (g + 1) * g_len, dtype=np.int64)
        for g in range(n_groups)
    )
    warmup = np.arange(0, w, dtype=np.int64)
    dropped = np.arange(w, start, dtype=np.int64)
    if outer.test_group_ids is not None:
        ids = list(outer.test_group_ids)
        bad = [k for k in ids if not 0 <= k < n_groups]
        if bad or ids != sorted(set(ids)):
            raise ConfigError(
                f"outer.test_group_ids {ids} must be increasing ids in [0, {n_groups - 1}]",
                key="outer.test_group_ids",
            )
    else:
        last = outer.last_n if outer.last_n is not None else min(5, n_groups)
        ids = list(range(max(0, n_groups - last), n_groups))
    t0, t1 = label_intervals(n_rows, horizon=h)
    folds = []
    for k in ids:
        if outer.window == "rolling":
            assert outer.max_train_groups is not None
            inner_ids = tuple(range(max(0, k - outer.max_train_groups), k))
            use_warmup = False
        else:
            inner_ids = tuple(range(k))
            use_warmup = not cv.exclude_warmup
        if len(inner_ids) < max(outer.min_inner_groups, cv.q + 1):
            raise ConfigError(
                f"outer fold {k} has {len(inner_ids)} inner groups; CPCV with q={cv.q} needs "
                f"at least {max(outer.min_inner_groups, cv.q + 1)}",
                key="outer.last_n",
                hint="test later groups only (smaller last_n), or use shorter groups",
            )
        test = groups[k]
        train_mask = np.zeros(n_rows, dtype=bool)
        for gi in inner_ids:
            train_mask[groups[gi]] = True
        warm_mask = np.zeros(n_rows, dtype=bool)
        if use_warmup:
            warm_mask[warmup] = True
        train_mask |= warm_mask
        purge = train_mask & (t1 > t0[test[0]])  # labels reaching into the outer test
        universe = train_mask & ~purge
        combos = balanced_seeded_combos(
            len(inner_ids), cv.q, cv.max_inner_combos, cv.seed + 10000 * k
        )
        inner_groups = [groups[gi] for gi in inner_ids]
        if cv.source_compatible_purge:
            splits = _source_splits(inner_groups, combos, universe, warm_mask, h, cv.embargo_len)
        else:
            splits = build_splits(
                inner_groups,
                combos,
                t0,
                t1,
                embargo_len=cv.embargo_len,
                universe=universe,
                always_train=warm_mask,
                horizon=h,
            )
        # test_groups in global group ids
        splits = [
            Split(s.train, s.test, tuple(inner_ids[g] for g in s.test_groups), s.path_ids)
            for s in splits
        ]
        folds.append(
            OuterFold(
                k=k,
                test_idx=test,
                train_idx=np.flatnonzero(universe).astype(np.int64),
                purged_idx=np.flatnonzero(purge).astype(np.int64),
                inner_group_ids=inner_ids,
                splits=tuple(splits),
            )
        )
    prebuild = _prebuild_rows(n_rows, folds, t0, t1)
    return CVStructure(n_rows, warmup, dropped, groups, tuple(folds), prebuild)


def _prebuild_rows(
    n_rows: int, folds: list[OuterFold], t0: NDArray[Any], t1: NDArray[Any]
) -> IntArray:
    """Rows in every outer train set, never an inner test row nor overlapping one's label."""
    ok = np.ones(n_rows, dtype=bool)
    tested = np.zeros(n_rows, dtype=bool)
    for f in folds:
        m = np.zeros(n_rows, dtype=bool)
        m[f.train_idx] = True
        ok &= m
        for s in f.splits:
            tested[s.test] = True
    if tested.any():
        first = int(np.flatnonzero(tested)[0])
        ok &= t1 <= t0[first]
    return np.flatnonzero(ok).astype(np.int64)


def n_inner_splits(n_groups: int, q: int, m: int | None) -> int:
    """``C(n, q)`` or ``m`` if smaller."""
    total = math.comb(n_groups, q)
    return total if m is None else min(total, m)
