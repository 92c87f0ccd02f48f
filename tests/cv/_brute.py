"""Brute-force reference checks used by the property and regression tests."""

from __future__ import annotations


def overlapping_pairs(train, test, t0, t1) -> list[tuple[int, int]]:
    """All (train, test) pairs whose label intervals share more than an endpoint."""
    out = []
    for i in train:
        for j in test:
            if t0[i] < t1[j] and t0[j] < t1[i]:
                out.append((int(i), int(j)))
    return out


def blocks(idx) -> list[tuple[int, int]]:
    idx = sorted(int(i) for i in idx)
    res: list[tuple[int, int]] = []
    for i in idx:
        if res and i == res[-1][1] + 1:
            res[-1] = (res[-1][0], i)
        else:
            res.append((i, i))
    return res


def embargo_violations(train, test, t0, t1, e: int) -> list[int]:
    """Train indices that sit among the first ``e`` samples surviving a block's purge."""
    train_set = set(int(i) for i in train)
    bad = []
    n = len(t0)
    for first, last in blocks(test):
        survivors = [
            i
            for i in range(last + 1, n)
            if not any(t0[i] < t1[j] and t0[j] < t1[i] for j in range(first, last + 1))
        ]
        bad += [i for i in survivors[:e] if i in train_set]
    return bad
