"""In-sample vs out-of-sample diagnostics: walk-forward efficiency, IS-OOS gap, Rademacher.

Units are kept consistent (the AMM reference mixes minutes and days, spec amm.md §f):

* WFE and the gap compare two values of the **same** metric in the same units (e.g. two
  annualised Sharpe ratios); annualisation already makes windows of different lengths
  comparable.
* The Rademacher complexity is computed on **standardised** per-period return paths
  (each path divided by its own standard deviation), so it is in per-period Sharpe units;
  the bound is annualised with ``sqrt(periods_per_year)`` and uses the number of periods
  ``T`` of the same paths.

Example:
    >>> walk_forward_efficiency([2.0, 1.0, -0.5], [1.0, 0.8, 0.3]).tolist()
    [0.5, 0.8, nan]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import DataError
from algotrader.metrics._arrays import FloatArray, as_2d, check_periods


def walk_forward_efficiency(is_metric: ArrayLike, oos_metric: ArrayLike) -> FloatArray:
    """``OOS / IS`` per cycle; **NaN (undefined) when IS <= 0** or either value is NaN.

    A ratio over a non-positive in-sample figure has no meaning (a negative IS Sharpe
    with a negative OOS one would give a positive "efficiency"), so it is reported as
    undefined, and :func:`summarise_walk_forward` counts those cycles separately instead of
    letting one NaN poison the mean.
    """
    i = np.atleast_1d(np.asarray(is_metric, dtype=np.float64))
    o = np.atleast_1d(np.asarray(oos_metric, dtype=np.float64))
    if i.shape != o.shape:
        raise DataError(f"is_metric {i.shape} and oos_metric {o.shape} differ", key="oos_metric")
    ok = (i > 0) & np.isfinite(o)
    return np.where(ok, o / np.where(ok, i, 1.0), np.nan)


def is_oos_gap(is_metric: ArrayLike, oos_metric: ArrayLike) -> FloatArray:
    """``IS - OOS`` per cycle (positive: the in-sample figure flatters). NaN propagates."""
    i = np.atleast_1d(np.asarray(is_metric, dtype=np.float64))
    o = np.atleast_1d(np.asarray(oos_metric, dtype=np.float64))
    if i.shape != o.shape:
        raise DataError(f"is_metric {i.shape} and oos_metric {o.shape} differ", key="oos_metric")
    return i - o


@dataclass(frozen=True)
class WalkForwardSummary:
    """Aggregate of walk-forward cycles.

    Attributes:
        mean_wfe: mean WFE over the cycles where it is defined (NaN if none).
        n_wfe_undefined: cycles with IS <= 0 (or NaN), excluded from ``mean_wfe``.
        mean_gap: mean IS - OOS over cycles with both values.
        mean_oos, std_oos, worst_oos: of the OOS metric (NaN-excluding).
        n_cycles: number of cycles.
    """

    mean_wfe: float
    n_wfe_undefined: int
    mean_gap: float
    mean_oos: float
    std_oos: float
    worst_oos: float
    n_cycles: int


def summarise_walk_forward(is_metric: ArrayLike, oos_metric: ArrayLike) -> WalkForwardSummary:
    """NaN-safe summary of per-cycle IS/OOS metrics."""
    wfe = walk_forward_efficiency(is_metric, oos_metric)
    gap = is_oos_gap(is_metric, oos_metric)
    o = np.atleast_1d(np.asarray(oos_metric, dtype=np.float64))
    ok = ~np.isnan(wfe)
    fin_o = o[~np.isnan(o)]
    fin_g = gap[~np.isnan(gap)]
    return WalkForwardSummary(
        mean_wfe=float(wfe[ok].mean()) if ok.any() else float("nan"),
        n_wfe_undefined=int((~ok).sum()),
        mean_gap=float(fin_g.mean()) if fin_g.size else float("nan"),
        mean_oos=float(fin_o.mean()) if fin_o.size else float("nan"),
        std_oos=float(fin_o.std(ddof=1)) if fin_o.size > 1 else float("nan"),
        worst_oos=float(fin_o.min()) if fin_o.size else float("nan"),
        n_cycles=int(o.size),
    )


def rademacher_complexity(
    paths: ArrayLike, *, n_draws: int = 1000, seed: int, standardise: bool = True
) -> float:
    """Empirical Rademacher complexity ``E_sigma[max_s (1/T) sum_t sigma_t x_s(t)]``.

    Args:
        paths: ``(T, S)`` per-period returns of S strategies (or configurations) over the
            same T periods.
        n_draws: Monte Carlo draws of the random signs.
        seed: generator seed.
        standardise: divide each path by its standard deviation (ddof=1) first, so the
            result is in per-period Sharpe units (needed by :func:`adjusted_sharpe_bound`).

    Raises:
        DataError: NaN in ``paths``, fewer than 2 periods, or a constant path when
            ``standardise``.
    """
    x, _ = as_2d(paths, "paths")
    if x.shape[0] < 2 or np.isnan(x).any():
        raise DataError("paths must be a NaN-free (T, S) array with T >= 2", key="paths")
    if standardise:
        sd = x.std(axis=0, ddof=1)
        if (sd <= 0).any():
            raise DataError(
                "a path is constant and cannot be standardised",
                column=str(int(np.flatnonzero(sd <= 0)[0])),
                key="paths",
                hint="drop constant paths or pass standardise=False",
            )
        x = x / sd
    rng = np.random.default_rng(seed)
    total = 0.0
    batch = max(1, 5_000_000 // x.shape[0])
    for lo in range(0, n_draws, batch):
        m = min(batch, n_draws - lo)
        sigma = rng.integers(0, 2, size=(m, x.shape[0])) * 2.0 - 1.0
        total += float((sigma @ x).max(axis=1).sum())
    return total / (n_draws * x.shape[0])


def adjusted_sharpe_bound(
    sharpe: float,
    *,
    rademacher: float,
    n_periods: int,
    periods_per_year: float,
    delta: float = 0.05,
) -> float:
    """Lower bound (probability ``1 - delta``) on the true annualised Sharpe ratio.

    ``sharpe - sqrt(P) * (2 R + 3 sqrt(2 ln(2/delta) / T))`` with ``R`` from
    :func:`rademacher_complexity` on standardised paths (per-period Sharpe units) and
    ``T = n_periods``, the number of periods of those paths, in the same frequency as P.
    ``sharpe`` is annualised with the same P.
    """
    ppy = check_periods(periods_per_year)
    if not 0 < delta < 1:
        raise DataError(f"delta must lie in (0, 1), got {delta!r}", key="delta")
    if n_periods < 1:
        raise DataError("n_periods must be >= 1", key="n_periods")
    haircut = 2.0 * rademacher + 3.0 * np.sqrt(2.0 * np.log(2.0 / delta) / n_periods)
    return float(sharpe - np.sqrt(ppy) * haircut)
