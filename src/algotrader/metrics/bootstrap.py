"""Circular block bootstrap confidence interval of the Sharpe ratio (Politis & Romano 1992).

A resample concatenates blocks of ``block_len`` consecutive returns starting at uniformly
drawn positions, wrapping around the end of the series (circular), truncated to T; the
same resampled time indices are used for every column, so cross-sectional dependence is
kept. The interval is the percentile interval of the resampled annualised Sharpe ratios.

Example:
    >>> import numpy as np
    >>> r = np.random.default_rng(0).normal(0.001, 0.01, size=500)
    >>> ci = bootstrap_sharpe_ci(r, periods_per_year=252, n_boot=500, seed=1)
    >>> bool(ci.lower < ci.estimate < ci.upper)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import DataError
from algotrader.metrics._arrays import FloatArray, as_returns, check_periods, nan_columns
from algotrader.metrics.returns_based import sharpe

#: Upper bound on elements materialised per batch of resamples.
_BATCH_ELEMENTS = 20_000_000


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap interval: floats for 1-D input, ``(K,)`` arrays otherwise.

    Attributes:
        estimate: the Sharpe ratio of the original series.
        lower, upper: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles.
        std_error: standard deviation of the resampled Sharpe ratios.
        samples: ``(n_boot,)`` or ``(n_boot, K)`` resampled annualised Sharpe ratios.
    """

    estimate: Any
    lower: Any
    upper: Any
    std_error: Any
    samples: FloatArray


def circular_block_indices(
    n: int, block_len: int, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_boot, n)`` resampled time indices of the circular block bootstrap."""
    n_blocks = -(-n // block_len)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_len)[None, None, :]).reshape(n_boot, -1)[:, :n]
    return idx % n  # type: ignore[no-any-return]


def bootstrap_sharpe_ci(
    returns: ArrayLike,
    *,
    periods_per_year: float,
    block_len: int = 10,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int,
    ddof: int = 1,
) -> BootstrapCI:
    """Percentile confidence interval of the annualised Sharpe ratio.

    Args:
        returns: simple returns ``(T,)`` or ``(T, K)``.
        periods_per_year: P.
        block_len: bootstrap block length (10 as in the AMM reference).
        n_boot: number of resamples.
        confidence: interval coverage, e.g. 0.95.
        seed: seed of the generator (required: results are reproducible).
        ddof: as :func:`algotrader.metrics.sharpe`.

    NaN policy: a NaN return makes that column's outputs NaN. Resamples with zero
    dispersion give NaN samples, which are ignored by the percentiles.

    Raises:
        DataError: bad block length, count or confidence, or fewer than 3 returns.
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    t, k = arr.shape
    if not 0 < confidence < 1:
        raise DataError(f"confidence must lie in (0, 1), got {confidence!r}", key="confidence")
    if int(block_len) != block_len or not 1 <= block_len <= t:
        raise DataError(f"block_len must be in [1, T={t}], got {block_len!r}", key="block_len")
    if int(n_boot) != n_boot or n_boot < 2:
        raise DataError(f"n_boot must be an integer >= 2, got {n_boot!r}", key="n_boot")
    if t < 3:
        raise DataError("the bootstrap needs at least 3 returns", key="returns")
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_ELEMENTS // max(1, t * k))
    samples = np.empty((n_boot, k))
    for lo in range(0, n_boot, batch):
        hi = min(n_boot, lo + batch)
        idx = circular_block_indices(t, int(block_len), hi - lo, rng)
        res = arr[idx]  # (b, T, K)
        mean = res.mean(axis=1)
        sd = res.std(axis=1, ddof=ddof)
        with np.errstate(divide="ignore", invalid="ignore"):
            samples[lo:hi] = np.where(sd > 0, mean / sd, np.nan) * np.sqrt(ppy)
    bad = nan_columns(arr)
    samples[:, bad] = np.nan
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        lower = np.nanquantile(samples, alpha, axis=0) if not bad.all() else np.full(k, np.nan)
        upper = np.nanquantile(samples, 1 - alpha, axis=0) if not bad.all() else np.full(k, np.nan)
    se = np.where(bad, np.nan, np.nanstd(np.where(bad, 0.0, samples), axis=0, ddof=1))
    est = np.asarray(sharpe(arr, periods_per_year=ppy, ddof=ddof), dtype=np.float64)
    if was_1d:
        return BootstrapCI(
            float(est[0]), float(lower[0]), float(upper[0]), float(se[0]), samples[:, 0]
        )
    return BootstrapCI(est, lower, upper, se, samples)
