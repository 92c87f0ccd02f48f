"""Probability of backtest overfitting (PBO) by combinatorially symmetric CV (CSCV).

Bailey, Borwein, Lopez de Prado & Zhu (2017). The ``(T, N)`` performance matrix (T
periods, N strategy configurations) is cut into S contiguous blocks of ``T // S`` rows
(the leading ``T % S`` oldest rows are dropped). For each of the ``C(S, S/2)``
combinations of S/2 blocks forming the in-sample (IS) set, the complement is the
out-of-sample (OOS) set; the configuration ``n*`` with the best IS metric is picked, its
OOS relative rank ``w = rank / (N + 1)`` (rank 1 = worst, ties averaged) gives the logit
``lambda = log(w / (1 - w))``, and ``PBO = mean(lambda <= 0)``: how often the IS winner
lands in the bottom half OOS.

Vectorised: per-block sums, sums of squares and counts are computed once; every
combination's IS statistics are one matrix product with the ``(C, S)`` membership matrix,
and the OOS statistics of a combination are the IS statistics of its complement (another
row of the same product). No per-combination loop.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = probability_of_backtest_overfitting(rng.normal(size=(400, 10)), n_blocks=8)
    >>> res.n_combinations, 0.0 <= res.pbo <= 1.0
    (70, True)
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import DataError
from algotrader.metrics._arrays import FloatArray, as_2d

PBOMetric = Literal["sharpe", "mean", "sum"]


@dataclass(frozen=True)
class PBOResult:
    """Outcome of CSCV.

    Attributes:
        pbo: probability of backtest overfitting, in ``[0, 1]``.
        logits: ``(C,)`` logit of the IS winner's OOS relative rank per combination.
        is_best: ``(C,)`` index of the IS-best configuration per combination.
        is_performance: ``(C,)`` IS metric of the IS-best configuration.
        oos_performance: ``(C,)`` OOS metric of the same configuration.
        prob_oos_loss: fraction of combinations where that OOS metric is below zero.
        degradation_slope: slope of the least-squares line of OOS on IS performance.
        n_combinations: ``C(S, S/2)``.
    """

    pbo: float
    logits: FloatArray
    is_best: np.ndarray
    is_performance: FloatArray
    oos_performance: FloatArray
    prob_oos_loss: float
    degradation_slope: float
    n_combinations: int


def _block_stats(arr: FloatArray, n_blocks: int) -> tuple[FloatArray, FloatArray, int, FloatArray]:
    t, n = arr.shape
    rows = t // n_blocks
    x = arr[t - rows * n_blocks :]
    centre = x.mean(axis=0)
    xc = (x - centre).reshape(n_blocks, rows, n)
    return xc.sum(axis=1), (xc**2).sum(axis=1), rows, centre


def _score(
    s: FloatArray, q: FloatArray, count: float, centre: FloatArray, metric: str
) -> FloatArray:
    """A per-row monotone transform of the metric (enough for argmax and ranks)."""
    if metric != "sharpe":
        return s + count * centre  # proportional to the mean and to the sum
    num = s + count * centre  # count * mean
    var = s * s
    var /= -count
    var += q  # (count - 1) * variance
    np.maximum(var, 1e-300, out=var)  # zero variance: ranks by the sign of the mean
    np.sqrt(var, out=var)
    num /= var  # sharpe * count / sqrt(count - 1)
    return num


def _metric_at(
    s: FloatArray, q: FloatArray, count: float, centre: FloatArray, metric: str
) -> FloatArray:
    """The metric itself for ``(C,)`` selected cells."""
    mean = s / count + centre
    if metric == "mean":
        return mean
    if metric == "sum":
        return mean * count
    sd = np.sqrt(np.maximum(q - s**2 / count, 0.0) / (count - 1.0))
    return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan)


def _memberships_from_masks(n_blocks: int) -> FloatArray:
    masks = np.arange(1 << n_blocks, dtype=np.int64)
    masks = masks[np.bitwise_count(masks) == n_blocks // 2]
    return ((masks[:, None] >> np.arange(n_blocks)) & 1).astype(np.float64)  # type: ignore[no-any-return]


def _memberships_from_combinations(n_blocks: int) -> FloatArray:
    # lexicographic combinations of the *reversed* bit order are ascending masks
    combos = itertools.combinations(range(n_blocks - 1, -1, -1), n_blocks // 2)
    masks = np.sort(np.asarray([sum(1 << b for b in c) for c in combos], dtype=np.int64))
    return ((masks[:, None] >> np.arange(n_blocks)) & 1).astype(np.float64)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=8)
def _half_memberships(n_blocks: int) -> FloatArray:
    """``(C(S, S/2), S)`` 0/1 matrix of the IS block sets, rows in ascending bit-mask order.

    Row ``C-1-i`` is the complement of row ``i`` (complementing a mask reverses the order).
    """
    if n_blocks <= 22:
        member = _memberships_from_masks(n_blocks)
    else:  # avoid enumerating 2^S masks
        member = _memberships_from_combinations(n_blocks)
    member.setflags(write=False)
    return member


def _oos_rank(oos: FloatArray, best: np.ndarray) -> FloatArray:
    chosen = oos[np.arange(oos.shape[0]), best][:, None]
    below = (oos < chosen).sum(axis=1)
    ties = (oos == chosen).sum(axis=1)  # includes the chosen one
    return below + (ties + 1) / 2.0  # type: ignore[no-any-return]


def probability_of_backtest_overfitting(
    performance: ArrayLike, *, n_blocks: int = 16, metric: PBOMetric = "sharpe"
) -> PBOResult:
    """PBO of a ``(T, N)`` matrix of per-period returns (or any additive performance).

    Args:
        performance: ``(T, N)``, one column per configuration, aligned in time.
        n_blocks: S, even, at least 2; each block holds ``T // S`` rows (>= 2).
        metric: ranking metric computed on the IS and OOS rows: ``"sharpe"`` (per-period,
            ddof=1), ``"mean"`` or ``"sum"``.

    NaN policy: NaN in ``performance`` is an error (the CSCV ranks need every cell).

    Raises:
        DataError: odd/small ``n_blocks``, too few rows or configurations, NaN, bad metric.
    """
    arr, _ = as_2d(performance, "performance")
    t, n = arr.shape
    if n_blocks < 2 or n_blocks % 2:
        raise DataError(f"n_blocks must be even and >= 2, got {n_blocks}", key="n_blocks")
    if n < 2:
        raise DataError("PBO needs at least 2 configurations (columns)", key="performance")
    if t // n_blocks < 2:
        raise DataError(
            f"{t} rows give fewer than 2 rows per block with n_blocks={n_blocks}",
            key="n_blocks",
            hint="use fewer blocks or a longer history",
        )
    if not np.isfinite(arr).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise DataError(
            "performance holds NaN or inf",
            row=row,
            column=str(col),
            key="performance",
            hint="align the configurations on a common, gap-free window",
        )
    if metric not in ("sharpe", "mean", "sum"):
        raise DataError(f"unknown metric {metric!r}", key="metric", hint="sharpe, mean or sum")
    s_b, q_b, rows, centre = _block_stats(arr, n_blocks)
    half = n_blocks // 2
    member = _half_memberships(n_blocks)
    both = member @ np.concatenate([s_b, q_b], axis=1)
    s_is, q_is = both[:, :n], both[:, n:]
    # masks are sorted ascending, so the complement (the OOS set) of row i is row C-1-i
    s_oos, q_oos = s_is[::-1], q_is[::-1]
    count = float(rows * half)
    score_is = _score(s_is, q_is, count, centre, metric)
    score_oos = score_is[::-1]
    best = np.argmax(score_is, axis=1)
    omega = _oos_rank(score_oos, best) / (n + 1.0)
    logits = np.log(omega / (1.0 - omega))
    idx = np.arange(member.shape[0])
    is_p = _metric_at(s_is[idx, best], q_is[idx, best], count, centre[best], metric)
    oos_p = _metric_at(s_oos[idx, best], q_oos[idx, best], count, centre[best], metric)
    slope = float(np.polyfit(is_p, oos_p, 1)[0]) if np.ptp(is_p) > 0 else float("nan")
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        is_best=best,
        is_performance=is_p,
        oos_performance=oos_p,
        prob_oos_loss=float(np.mean(oos_p < 0)),
        degradation_slope=slope,
        n_combinations=int(member.shape[0]),
    )
