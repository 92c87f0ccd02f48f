"""Label intervals, purging and embargo: the leakage rules shared by every splitter.

Each sample ``i`` carries a label interval ``[t0_i, t1_i]``: ``t0_i`` is when the sample's
features are known (the decision time) and ``t1_i`` the time at which its label is fully
realised. With a fixed horizon ``h`` (in samples) the shortcut is ``t0_i = i``,
``t1_i = i + h`` (``h = 1``: the label is the return from bar ``i`` to bar ``i + 1``).

**Overlap.** Two labels overlap when they share more than an endpoint:
``t0_a < t1_b and t0_b < t1_a``. A label ending exactly when another starts does not overlap
it (the return over ``[i-1, i]`` and the return over ``[i, i+1]`` are disjoint), which is
Lopez de Prado's rule (AFML snippet 7.1: keep training labels with ``t1 <= t0_test``).
With a fixed horizon ``h`` this purges ``h - 1`` samples before a test block and ``h - 1``
after it.

**Purge.** A training sample is removed when its label overlaps the label of **any** test
sample (exactly, sample by sample: two disjoint test blocks never purge the training rows
between them beyond their own label reach).

**Embargo.** After each contiguous test block, the first ``embargo_len`` samples that
survive the purge are removed as well: the embargo is **added after the purge**
(AFML snippet 7.2), not overlapped with it.

Example:
    >>> import numpy as np
    >>> t0, t1 = label_intervals(12, horizon=3)
    >>> train = np.ones(12, dtype=bool); train[5:7] = False
    >>> keep = purge_and_embargo(train, np.array([5, 6]), t0, t1, embargo_len=2)
    >>> np.flatnonzero(keep).tolist()
    [0, 1, 2, 11]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.errors import ConfigError, ShapeError

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
#: label times: float64, or int64 nanoseconds for datetime input
TimeArray = NDArray[Any]


def _as_times(x: ArrayLike, name: str) -> TimeArray:
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ns]").astype(np.int64)
    try:
        out = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{name} must hold numbers or datetime64 values, got dtype {arr.dtype}",
            key=name,
            hint="pass integer positions, floats, or numpy datetime64 timestamps",
        ) from exc
    if np.isnan(out).any():
        raise ConfigError(f"{name} holds NaN", key=name, hint="every sample needs a label time")
    return out


def label_intervals(
    n_samples: int,
    *,
    horizon: int = 0,
    t0: ArrayLike | None = None,
    t1: ArrayLike | None = None,
) -> tuple[TimeArray, TimeArray]:
    """Validated label intervals ``(t0, t1)``, each of shape ``(n_samples,)``.

    Either pass ``t0`` and ``t1`` (numbers or datetime64, ``t0`` non-decreasing,
    ``t1 >= t0``), or neither and get the fixed-horizon shortcut ``t0 = i``, ``t1 = i + horizon``.

    Raises:
        ConfigError: only one of ``t0``/``t1`` given, negative horizon, unsorted ``t0``,
            ``t1 < t0``, or mixed datetime and numeric times.
        ShapeError: ``t0``/``t1`` length differs from ``n_samples``.
    """
    if (t0 is None) != (t1 is None):
        raise ConfigError(
            "pass both t0 and t1 (label start and end times) or neither",
            key="t0" if t0 is None else "t1",
            hint="or use horizon=h for labels spanning [i, i + h]",
        )
    if t0 is None or t1 is None:
        if int(horizon) != horizon or horizon < 0:
            raise ConfigError(
                f"horizon must be a non-negative integer, got {horizon!r}",
                key="horizon",
                hint="horizon is the label length in samples (1 = next-bar return)",
            )
        base = np.arange(n_samples, dtype=np.int64)
        return base, base + int(horizon)
    a = np.asarray(t0)
    b = np.asarray(t1)
    if np.issubdtype(a.dtype, np.datetime64) != np.issubdtype(b.dtype, np.datetime64):
        raise ConfigError(
            "t0 and t1 must both be datetime64 or both numeric",
            key="t1",
            hint="convert both to the same time type",
        )
    ta, tb = _as_times(a, "t0"), _as_times(b, "t1")
    for name, arr in (("t0", ta), ("t1", tb)):
        if arr.shape != (n_samples,):
            raise ShapeError(
                f"{name} has shape {arr.shape}, expected ({n_samples},)",
                key=name,
                hint="give one label time per sample",
            )
    if n_samples > 1 and (np.diff(ta) < 0).any():
        row = int(np.flatnonzero(np.diff(ta) < 0)[0]) + 1
        raise ConfigError("t0 must be non-decreasing (samples in time order)", key="t0", row=row)
    if (tb < ta).any():
        row = int(np.flatnonzero(tb < ta)[0])
        raise ConfigError(
            "t1 must be at or after t0 for every sample", key="t1", row=row, hint="t1 = label end"
        )
    return ta, tb


def overlaps_test(test_idx: IntArray, t0: TimeArray, t1: TimeArray) -> BoolArray:
    """Mask of the samples whose label overlaps the label of at least one test sample.

    Exact and O(n log n): for sample ``i``, the test samples with ``t0_j < t1_i`` form a
    prefix of the (time-sorted) test set; ``i`` overlaps one of them iff the prefix
    maximum of ``t1_j`` exceeds ``t0_i``.
    """
    test_idx = np.asarray(test_idx, dtype=np.int64)
    n = t0.shape[0]
    if test_idx.size == 0:
        return np.zeros(n, dtype=bool)
    test_idx = np.sort(test_idx)
    test_t0 = t0[test_idx]
    prefix_max_t1 = np.maximum.accumulate(t1[test_idx])
    k = np.searchsorted(test_t0, t1, side="left")
    has = k > 0
    reach = prefix_max_t1[np.maximum(k - 1, 0)]
    return np.asarray(has & (reach > t0), dtype=bool)


def contiguous_blocks(idx: IntArray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive integers in sorted ``idx`` as ``(first, last)`` pairs."""
    idx = np.sort(np.asarray(idx, dtype=np.int64))
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends, strict=True)]


def embargo_mask(test_idx: IntArray, t0: TimeArray, t1: TimeArray, embargo_len: int) -> BoolArray:
    """Mask of the samples embargoed after each contiguous test block.

    For a block ending at index ``b``, the embargo removes the first ``embargo_len``
    samples after ``b`` whose labels do not overlap the block's labels (i.e. the first ones
    that the block's purge leaves): the embargo is added after the purge.
    """
    n = t0.shape[0]
    mask = np.zeros(n, dtype=bool)
    if embargo_len <= 0:
        return mask
    for first, last in contiguous_blocks(test_idx):
        block = np.arange(first, last + 1, dtype=np.int64)
        # labels after the block start no earlier than the block's, so the overlap region
        # is a prefix of the samples after it; scan forward from the first sample it leaves
        reach = t1[first : last + 1].max()
        j = max(last + 1, int(np.searchsorted(t0, reach, side="left")))
        after = np.arange(last + 1, j, dtype=np.int64)
        left = after[~overlaps_test(block, t0[:j], t1[:j])[after]] if after.size else after
        chosen = np.concatenate([left, np.arange(j, min(n, j + embargo_len), dtype=np.int64)])
        mask[chosen[:embargo_len]] = True
    return mask


def purge_and_embargo(
    train: BoolArray,
    test_idx: IntArray,
    t0: TimeArray,
    t1: TimeArray,
    *,
    embargo_len: int = 0,
) -> BoolArray:
    """Training mask with purged and embargoed samples (and the test samples) removed."""
    keep = np.asarray(train, dtype=bool).copy()
    keep[np.asarray(test_idx, dtype=np.int64)] = False
    keep &= ~overlaps_test(test_idx, t0, t1)
    keep &= ~embargo_mask(test_idx, t0, t1, embargo_len)
    return keep


def check_non_negative_int(value: int, name: str, hint: str) -> int:
    """Validate a count parameter."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ConfigError(
            f"{name} must be a non-negative integer, got {value!r}", key=name, hint=hint
        )
    return int(value)
