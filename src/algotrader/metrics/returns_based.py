"""Metrics computed from simple returns: Sharpe, log Sharpe, Sortino, volatility, VaR/CVaR, hit rate.

Conventions (all functions):

* input: simple returns ``r_t = V_t / V_(t-1) - 1`` of shape ``(T,)`` or ``(T, K)``,
  time on axis 0; output: a float or a ``(K,)`` array;
* ``periods_per_year`` is always explicit (252 trading days, 365 calendar days, 52 weeks ...);
  ratios are annualised by ``sqrt(periods_per_year)``, volatilities likewise;
* **NaN policy: propagate** -- a column holding any NaN gives NaN (nothing is dropped or filled);
* degenerate columns (too few observations, zero dispersion) give NaN, as documented per function.

Example:
    >>> import numpy as np
    >>> r = np.array([0.01, -0.005, 0.02, 0.0])
    >>> round(sharpe(r, periods_per_year=252), 3)
    8.949
    >>> hit_rate(r)
    0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrader.metrics._arrays import FloatArray, as_returns, check_periods, nan_columns, out

#: Relative tolerance under which a dispersion counts as zero (degenerate column -> NaN).
DEGENERATE_RTOL = 1e-12


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with NaN where ``den`` is zero (relative to ``num``) or NaN."""
    degenerate = ~(den > DEGENERATE_RTOL * np.abs(num)) | (den == 0)
    safe = np.where(degenerate, 1.0, den)
    return np.where(degenerate | np.isnan(den) | np.isnan(num), np.nan, num / safe)


def _mean_std(arr: FloatArray, ddof: int) -> tuple[FloatArray, FloatArray]:
    t = arr.shape[0]
    if t - ddof < 1:
        nan = np.full(arr.shape[1], np.nan)
        return nan, nan.copy()
    return arr.mean(axis=0), arr.std(axis=0, ddof=ddof)


def sharpe(
    returns: ArrayLike, *, periods_per_year: float, ddof: int = 1, risk_free: float = 0.0
) -> Any:
    """Annualised arithmetic Sharpe ratio ``sqrt(P) * mean(r - rf) / std(r - rf, ddof)``.

    Args:
        returns: simple returns, shape ``(T,)`` or ``(T, K)``.
        periods_per_year: P, the number of return periods in a year.
        ddof: delta degrees of freedom of the standard deviation (1: sample std).
        risk_free: risk-free rate **per period**, subtracted from every return.

    Returns:
        float or ``(K,)`` array. NaN policy: a column with any NaN gives NaN; fewer than
        ``ddof + 1`` observations or a zero standard deviation give NaN.

    Example:
        >>> round(sharpe([0.01, 0.03], periods_per_year=4), 6)
        2.828427
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    mean, std = _mean_std(arr - risk_free, ddof)
    return out(_ratio(mean, std) * np.sqrt(ppy), was_1d)


def log_sharpe(returns: ArrayLike, *, periods_per_year: float, ddof: int = 1) -> Any:
    """Annualised Sharpe ratio of **log** returns ``log(1 + r)``: ``sqrt(P) * mean / std``.

    Takes simple returns and converts them explicitly; NaN policy as :func:`sharpe`.

    Example:
        >>> round(log_sharpe([0.01, 0.03], periods_per_year=4), 4)
        2.8495
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    mean, std = _mean_std(np.log1p(arr), ddof)
    return out(_ratio(mean, std) * np.sqrt(ppy), was_1d)


def downside_deviation(returns: ArrayLike, *, periods_per_year: float, target: float = 0.0) -> Any:
    """Annualised downside deviation ``sqrt(P * mean(min(r - target, 0)^2))`` over all T periods.

    NaN policy: a column with any NaN gives NaN; an empty input gives NaN.
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    down = np.minimum(arr - target, 0.0)
    return out(np.sqrt((down**2).mean(axis=0) * ppy), was_1d)


def sortino(returns: ArrayLike, *, periods_per_year: float, target: float = 0.0) -> Any:
    """Annualised Sortino ratio ``P * mean(r - target) / downside_deviation``.

    The downside deviation averages ``min(r - target, 0)^2`` over **all** T periods
    (the convention of empyrical and of Sortino & Price), ``target`` is per period.

    NaN policy: a column with any NaN gives NaN; a column with no return below ``target``
    (zero downside deviation) gives NaN (empyrical gives +inf there).

    Example:
        >>> round(sortino([0.02, -0.01, 0.01, -0.02], periods_per_year=1), 4)
        0.0
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    excess = arr - target
    mean = excess.mean(axis=0)
    dd = np.sqrt((np.minimum(excess, 0.0) ** 2).mean(axis=0))
    return out(_ratio(mean, dd) * np.sqrt(ppy), was_1d)


def annualised_volatility(returns: ArrayLike, *, periods_per_year: float, ddof: int = 1) -> Any:
    """Annualised standard deviation ``sqrt(P) * std(r, ddof)``.

    NaN policy: a column with any NaN gives NaN; fewer than ``ddof + 1`` observations give NaN.
    """
    ppy = check_periods(periods_per_year)
    arr, was_1d = as_returns(returns)
    _, std = _mean_std(arr, ddof)
    return out(std * np.sqrt(ppy), was_1d)


def _check_level(level: float) -> float:
    from algotrader.errors import DataError

    lv = float(level)
    if not 0.0 < lv < 1.0:
        raise DataError(
            f"confidence level must lie in (0, 1), got {level!r}",
            key="level",
            hint="e.g. 0.95 for the 5% tail",
        )
    return lv


def value_at_risk(returns: ArrayLike, *, level: float = 0.95) -> Any:
    """Historical value at risk as a **positive loss**: ``-quantile(r, 1 - level)``.

    The quantile uses linear interpolation between order statistics (numpy's default,
    as empyrical's ``value_at_risk``, which returns the quantile itself, i.e. the negative).
    Not annualised: the loss is over one period of the input.

    NaN policy: a column with any NaN gives NaN; an empty input gives NaN.

    Example:
        >>> round(value_at_risk([-0.03, -0.01, 0.0, 0.01, 0.02], level=0.8), 6)
        0.014
    """
    lv = _check_level(level)
    arr, was_1d = as_returns(returns)
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    q = np.quantile(arr, 1.0 - lv, axis=0)
    res = np.where(nan_columns(arr), np.nan, -q)
    return out(res, was_1d)


def conditional_value_at_risk(returns: ArrayLike, *, level: float = 0.95) -> Any:
    """Historical CVaR (expected shortfall) as a positive loss: ``-mean(r | r <= quantile)``.

    The quantile is the one of :func:`value_at_risk` (same interpolation), and the
    returns at or below it are averaged (empyrical's ``conditional_value_at_risk``, negated).

    NaN policy: a column with any NaN gives NaN; an empty input gives NaN.

    Example:
        >>> round(conditional_value_at_risk([-0.03, -0.01, 0.0, 0.01, 0.02], level=0.8), 6)
        0.03
    """
    lv = _check_level(level)
    arr, was_1d = as_returns(returns)
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    nan_col = nan_columns(arr)
    filled = np.where(np.isnan(arr), 0.0, arr)
    q = np.quantile(filled, 1.0 - lv, axis=0)
    tail = filled <= q[None, :]
    cvar = -(np.where(tail, filled, 0.0).sum(axis=0) / tail.sum(axis=0))
    return out(np.where(nan_col, np.nan, cvar), was_1d)


def hit_rate(returns: ArrayLike) -> Any:
    """Fraction of periods with a strictly positive return (a zero return is not a hit).

    NaN policy: a column with any NaN gives NaN; an empty input gives NaN.
    """
    arr, was_1d = as_returns(returns)
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    res = np.where(nan_columns(arr), np.nan, (arr > 0).mean(axis=0))
    return out(res, was_1d)


def annualised_turnover(turnover: ArrayLike, *, periods_per_year: float) -> Any:
    """Average per-period turnover times P (e.g. 2.0 = twice the NAV traded per year).

    Args:
        turnover: per-period turnover, e.g. :attr:`BacktestResult.turnover`
            (traded value / pre-trade NAV), shape ``(T,)`` or ``(T, K)``.

    NaN policy: a column with any NaN gives NaN; an empty input gives NaN.

    Example:
        >>> round(annualised_turnover([0.1, 0.0, 0.2, 0.1], periods_per_year=12), 6)
        1.2
    """
    from algotrader.metrics._arrays import as_2d

    ppy = check_periods(periods_per_year)
    arr, was_1d = as_2d(turnover, "turnover")
    if arr.shape[0] == 0:
        return out(np.full(arr.shape[1], np.nan), was_1d)
    return out(arr.mean(axis=0) * ppy, was_1d)
