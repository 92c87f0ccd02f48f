"""Signal quality: cross-sectional information coefficients of ``mu``.

For each row ``t <= T - 1 - h``: Pearson (IC) and Spearman (rank IC) correlation across
assets of ``mu_t`` and the forward return ``P_{t+h}/P_t - 1`` over the assets where both
are finite; NaN with fewer than 2 such assets, a constant side, or no forward row.
(The IC is a research measure: it looks ``h`` rows ahead by definition and is never used
by the optimiser.)

Example:
    >>> import numpy as np
    >>> p = np.array([[1.0, 1.0, 1.0], [1.1, 1.0, 0.9]])
    >>> mu = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> ic, ric = information_coefficients(p, mu, 1)
    >>> round(float(ic[0]), 12), round(float(ric[0]), 12), bool(np.isnan(ic[1]))
    (1.0, 1.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from algotrader.errors import ShapeError


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    yc = y - y.mean()
    den = float(np.sqrt((xc * xc).sum() * (yc * yc).sum()))
    return float((xc * yc).sum() / den) if den > 0 else np.nan


def information_coefficients(
    prices: np.ndarray, mu: np.ndarray, horizon: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """IC and rank IC per row, each of shape (T,)."""
    if horizon < 1:
        raise ShapeError(f"horizon must be >= 1; got {horizon}", key="horizon")
    t_len = prices.shape[0]
    ic = np.full(t_len, np.nan)
    ric = np.full(t_len, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd = prices[horizon:] / prices[:-horizon] - 1.0
    for t in range(max(t_len - horizon, 0)):
        ok = np.isfinite(fwd[t]) & np.isfinite(mu[t])
        if ok.sum() < 2:
            continue
        x, y = mu[t, ok], fwd[t, ok]
        ic[t] = _pearson(x, y)
        ric[t] = _pearson(rankdata(x), rankdata(y))
    return ic, ric


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    v = x[np.isfinite(x)]
    mean = float(v.mean()) if v.size else np.nan
    std = float(v.std(ddof=1)) if v.size > 1 else np.nan
    return mean, std


@dataclass(frozen=True)
class SignalQuality:
    """Summary of the IC series: mean, std (ddof=1) and ICIR = mean / std (finite values)."""

    ic_mean: float
    ic_std: float
    icir: float
    rank_ic_mean: float
    rank_ic_std: float
    rank_icir: float

    @classmethod
    def from_series(cls, ic: np.ndarray, rank_ic: np.ndarray) -> SignalQuality:
        """Summarise two IC series of shape (T,)."""
        m, s = _mean_std(ic)
        rm, rs = _mean_std(rank_ic)
        return cls(
            m,
            s,
            m / s if s > 0 else np.nan,
            rm,
            rs,
            rm / rs if rs > 0 else np.nan,
        )


__all__ = ["SignalQuality", "information_coefficients"]
