"""Fast computation of the whole general metric set over many columns at once.

The single-metric functions validate their input and make their own passes over the
data; computing 19 of them over a ``(5000, 2000)`` panel that way re-reads 80 MB dozens
of times and reduces along the slow (strided) axis. This module computes the same
definitions in one go: the panel is validated once, transposed to ``(K, T)`` so every
time reduction runs over contiguous memory, processed in column blocks small enough to
stay in cache, and the intermediates (returns, centred returns and their moments, running
peaks and drawdowns, one partial sort for the tail quantile) are shared by every metric.

The results equal the single-metric functions (checked column by column in the contract
tests, to 1e-9 relative); the definitions live in :mod:`algotrader.metrics.registry`.

Example:
    >>> import numpy as np
    >>> v = np.cumprod(1 + np.random.default_rng(0).normal(0, 0.01, (300, 3)), axis=0)
    >>> out = general_metrics(v, periods_per_year=252)
    >>> out["sharpe"].shape
    (3,)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy import special

from algotrader.metrics._arrays import FloatArray
from algotrader.metrics.returns_based import _ratio

#: Target number of float64 elements per column block (512 KB: a block and its temporaries stay in cache).
BLOCK_ELEMENTS = 1 << 16
_Z95 = 1.6448536269514722  # Phi^-1(0.95)

GENERAL_NAMES: tuple[str, ...] = (
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "sharpe",
    "log_sharpe",
    "sortino",
    "calmar",
    "sterling",
    "ulcer_index",
    "max_drawdown",
    "greatest_drawdown",
    "value_at_risk_95",
    "cvar_95",
    "hit_rate",
    "probabilistic_sharpe",
    "min_track_record_length",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "annualised_turnover",
)


def _quantile_lower_tail(r: FloatArray, q: float) -> tuple[FloatArray, FloatArray]:
    """Linear-interpolated ``q`` quantile along axis 1 and the mean of values <= it."""
    n = r.shape[1]
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    part = np.partition(r, [lo, hi], axis=1)
    a, b = part[:, lo], part[:, hi]
    frac = pos - lo
    quant = a + (b - a) * frac if frac < 0.5 else b - (b - a) * (1 - frac)
    tail = part[:, : hi + 1]
    mask = tail <= quant[:, None]
    cvar = np.where(mask, tail, 0.0).sum(axis=1) / mask.sum(axis=1)
    return quant, cvar


def _block(
    v: FloatArray, ppy: float, bench_growth: Mapping[str, float], to: FloatArray | None
) -> dict[str, FloatArray]:
    k, t = v.shape
    n = t - 1
    sq = np.sqrt(ppy)
    out: dict[str, FloatArray] = {}
    growth = v[:, -1] / v[:, 0]
    out["total_return"] = growth - 1.0
    cagr = growth ** (ppy / n) - 1.0 if n >= 1 else np.full(k, np.nan)
    out["annualised_return"] = cagr
    r = v[:, 1:] / v[:, :-1]
    r -= 1.0
    mean = r.mean(axis=1)
    d = r - mean[:, None]
    d2 = d * d
    m2 = d2.mean(axis=1)
    sd1 = np.sqrt(m2 * n / (n - 1)) if n >= 2 else np.full(k, np.nan)
    out["annualised_volatility"] = sd1 * sq
    out["sharpe"] = _ratio(mean, sd1) * sq if n >= 2 else np.full(k, np.nan)
    lr = np.log1p(r)
    lmean = lr.mean(axis=1)
    lsd = lr.std(axis=1, ddof=1) if n >= 2 else np.full(k, np.nan)
    out["log_sharpe"] = _ratio(lmean, lsd) * sq if n >= 2 else np.full(k, np.nan)
    down = np.minimum(r, 0.0)
    out["sortino"] = _ratio(mean, np.sqrt((down * down).mean(axis=1))) * sq
    peak = np.maximum.accumulate(v, axis=1)
    dd = 1.0 - v / peak
    mdd = dd.max(axis=1)
    out["max_drawdown"] = mdd
    out["ulcer_index"] = np.sqrt((dd * dd).mean(axis=1))
    out["calmar"] = np.where(mdd > 0, cagr / np.where(mdd > 0, mdd, 1.0), np.nan)
    length = round(ppy)
    n_chunks = t // length
    chunks = (
        v[:, None, :] if n_chunks == 0 else v[:, : n_chunks * length].reshape(k, n_chunks, length)
    )
    cpk = np.maximum.accumulate(chunks, axis=2)
    mean_cdd = (1.0 - chunks / cpk).max(axis=2).mean(axis=1)
    out["sterling"] = np.where(mean_cdd > 0, cagr / np.where(mean_cdd > 0, mean_cdd, 1.0), np.nan)
    out["greatest_drawdown"] = np.maximum((1.0 - v / v[:, :1]).max(axis=1), 0.0)
    if n >= 1:
        quant, cvar = _quantile_lower_tail(r, 0.05)
        out["value_at_risk_95"], out["cvar_95"] = -quant, -cvar
        out["hit_rate"] = (r > 0).mean(axis=1)
    else:
        for key in ("value_at_risk_95", "cvar_95", "hit_rate"):
            out[key] = np.full(k, np.nan)
    _inference(out, mean, sd1, d, d2, m2, n)
    for name, g in bench_growth.items():
        out[f"returns_over_{name}"] = growth / g - 1.0
    if to is not None:
        out["annualised_turnover"] = to.mean(axis=1) * ppy
    return out


def _inference(
    out: dict[str, FloatArray],
    mean: FloatArray,
    sd1: FloatArray,
    d: FloatArray,
    d2: FloatArray,
    m2: FloatArray,
    n: int,
) -> None:
    k = mean.shape[0]
    if n < 3:
        out["probabilistic_sharpe"] = np.full(k, np.nan)
        out["min_track_record_length"] = np.full(k, np.nan)
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(sd1 > 0, mean / np.where(sd1 > 0, sd1, 1.0), np.nan)
        g3 = (d2 * d).mean(axis=1) / m2**1.5
        g4 = (d2 * d2).mean(axis=1) / m2**2
        var = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
        var = np.where(var > 0, var, np.nan)
        z = sr * np.sqrt(n - 1) / np.sqrt(var)
        out["probabilistic_sharpe"] = special.ndtr(z)
        mtrl = 1.0 + var * (_Z95 / sr) ** 2
    out["min_track_record_length"] = np.where(sr > 0, mtrl, np.where(np.isnan(sr), np.nan, np.inf))


def general_metrics(
    values: NDArray[np.float64],
    *,
    periods_per_year: float,
    benchmarks: Mapping[str, NDArray[np.float64]] | None = None,
    turnover: NDArray[np.float64] | None = None,
) -> dict[str, FloatArray]:
    """The general metric set for validated ``(T, K)`` values; ``(K,)`` arrays by name.

    Input checks are the caller's (see :func:`algotrader.metrics.registry.compute_metrics`).
    ``returns_over_<name>`` is produced for each benchmark path given; the turnover metric
    only with ``turnover``. NaN policy: a column with any NaN (in values or turnover) gives
    NaN for every metric of that column.
    """
    v_all = np.asarray(values, dtype=np.float64)
    t, k = v_all.shape
    growth = {name: float(b[-1] / b[0]) for name, b in (benchmarks or {}).items()}
    per_block = max(1, BLOCK_ELEMENTS // max(t, 1))
    result: dict[str, FloatArray] = {}
    nan_cols = np.isnan(v_all).any(axis=0)
    to_nan = np.zeros(k, dtype=bool) if turnover is None else np.isnan(turnover).any(axis=0)
    for lo in range(0, k, per_block):
        hi = min(k, lo + per_block)
        vb = np.ascontiguousarray(v_all[:, lo:hi].T)
        tb = None if turnover is None else np.ascontiguousarray(turnover[:, lo:hi].T)
        with np.errstate(invalid="ignore", divide="ignore"):
            part = _block(vb, float(periods_per_year), growth, tb)
        for name, arr in part.items():
            result.setdefault(name, np.empty(k))[lo:hi] = arr
    for name, arr in result.items():
        bad = nan_cols | (to_nan if name == "annualised_turnover" else False)
        arr[bad] = np.nan
    return result
