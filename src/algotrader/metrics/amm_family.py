"""The AMM reference family's metrics, exactly as it defines them, under explicit names.

The AMM simulator (spec amm.md §e) evaluates **minute** value series ``V`` (T values,
one per minute, a 365-day year = 525,600 minutes) and names its metrics loosely (its
"sharpe" is minute-level in training and daily in the evaluation tables). These functions
reproduce each definition so results can be compared with that family; for new work use
the general metrics in :mod:`algotrader.metrics`, which take ``periods_per_year``.

Mapping (AMM name -> function here -> closest general metric):

=============================  ====================================  =========================================
AMM name                       function                              general equivalent
=============================  ====================================  =========================================
sharpe (training), jax_sharpe  ``minute_sharpe``                     ``sharpe(r_minute, P=525600, ddof=0)``
daily_sharpe; "sharpe" (eval)  ``daily_sharpe`` / ``eval_sharpe``    ``sharpe(r_daily, P=365, ddof=0)``
daily_log_sharpe               ``daily_log_sharpe``                  ``log_sharpe(r_daily, P=365, ddof=0)`` (+eps)
returns / return               ``total_return``                      ``total_return(V)``
annualised_returns             ``annualised_return``                 ``annualised_return(V, P=525600)``
returns_over_hodl              ``returns_over_hodl``                 ``returns_over_hodl(V, prices, R0)``
returns_over_uniform_hodl      ``returns_over_uniform_hodl``         ``returns_over_uniform_hodl(V, prices)``
annualised_*_over_*hodl        ``annualised_returns_over_*hodl``     ``annualised_returns_over_benchmark``
greatest_draw_down             ``greatest_draw_down`` (<= 0)         ``-greatest_drawdown(V)``
weekly_max_drawdown            ``weekly_max_drawdown`` (<= 0)        ``-max(chunk_max_drawdowns(V, 10080))``
daily/weekly_var_95%/99%       ``chunked_var``                       (none: mean of per-chunk quantiles)
*_var_*_trad                   ``chunked_var_trad``                  ``-value_at_risk`` of chunk returns
ulcer                          ``chunked_ulcer`` (<= 0)              ``-ulcer_index`` per 30-day chunk, averaged
sterling                       ``chunked_sterling``                  ``sterling(V, chunk_len=43200)`` (other CAGR)
calmar                         ``calmar``                            ``calmar(V, P=525600)`` (other CAGR, +inf)
=============================  ====================================  =========================================

Differences from the general metrics: the AMM standard deviations use ddof=0 (``jnp.std``);
``calmar``/``chunked_sterling`` annualise with ``ann = 365 / (T / 1440)`` (T values, not
T - 1 periods) and return +inf when there is no drawdown; drawdown-type metrics are
reported as non-positive numbers ("higher is better"). Chunks start at the first value and
an incomplete trailing chunk is dropped.

NaN policy: propagate (a column with NaN gives NaN). Inputs: value paths ``(T,)`` or
``(T, K)``, strictly positive.

Example:
    >>> import numpy as np
    >>> v = 1 + 0.0001 * np.arange(3 * 1440)  # three days of minutes
    >>> round(total_return(v), 4), greatest_draw_down(v)
    (0.4319, 0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from algotrader.metrics._arrays import FloatArray, as_values, nan_columns, out
from algotrader.metrics.relative import _prices

MINUTES_PER_DAY = 1440
MINUTES_PER_YEAR = 525_600
WEEK = 7 * MINUTES_PER_DAY
MONTH = 30 * MINUTES_PER_DAY


def _nan(arr: FloatArray, res: FloatArray) -> FloatArray:
    return np.where(nan_columns(arr), np.nan, res)


def _sharpe0(r: FloatArray, scale: float) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(scale) * r.mean(axis=0) / r.std(axis=0)  # type: ignore[no-any-return]


def minute_sharpe(values: ArrayLike) -> Any:
    """``sqrt(525600) * mean(r) / std(r)`` of minute returns ``r = V_t / V_(t-1) - 1`` (ddof 0)."""
    v, d1 = as_values(values)
    return out(_nan(v, _sharpe0(v[1:] / v[:-1] - 1.0, MINUTES_PER_YEAR)), d1)


def _daily(v: FloatArray) -> FloatArray:
    return v[::MINUTES_PER_DAY]


def daily_sharpe(values: ArrayLike) -> Any:
    """``sqrt(365) * mean(r_d) / std(r_d)`` on daily samples ``V[::1440]`` (ddof 0)."""
    v, d1 = as_values(values)
    vd = _daily(v)
    return out(_nan(v, _sharpe0(vd[1:] / vd[:-1] - 1.0, 365.0)), d1)


def eval_sharpe(values: ArrayLike) -> Any:
    """The evaluation tables' "sharpe": :func:`daily_sharpe`, but 0 when std <= 1e-12."""
    v, d1 = as_values(values)
    vd = _daily(v)
    r = vd[1:] / vd[:-1] - 1.0
    sd = r.std(axis=0)
    res = np.where(sd > 1e-12, np.sqrt(365.0) * r.mean(axis=0) / np.where(sd > 1e-12, sd, 1.0), 0.0)
    return out(_nan(v, res), d1)


def daily_log_sharpe(values: ArrayLike) -> Any:
    """``sqrt(365) * mean(dlog(V_d + 1e-12)) / (std(.) + 1e-8)``: the default objective."""
    v, d1 = as_values(values)
    lr = np.diff(np.log(_daily(v) + 1e-12), axis=0)
    return out(_nan(v, np.sqrt(365.0) * lr.mean(axis=0) / (lr.std(axis=0) + 1e-8)), d1)


def total_return(values: ArrayLike) -> Any:
    """``V[-1] / V[0] - 1``."""
    v, d1 = as_values(values)
    return out(_nan(v, v[-1] / v[0] - 1.0), d1)


def annualised_return(values: ArrayLike) -> Any:
    """``(V[-1] / V[0]) ** (525600 / (T - 1)) - 1``."""
    v, d1 = as_values(values)
    return out(_nan(v, (v[-1] / v[0]) ** (MINUTES_PER_YEAR / (v.shape[0] - 1)) - 1.0), d1)


def _hodl_end(prices: ArrayLike, holdings: FloatArray) -> float:
    p = _prices(prices)
    return float(p[-1] @ holdings)


def returns_over_hodl(values: ArrayLike, prices: ArrayLike, initial_reserves: ArrayLike) -> Any:
    """``V[-1] / sum(R_0 * p_end) - 1`` (initial reserves held unchanged)."""
    v, d1 = as_values(values)
    r0 = np.asarray(initial_reserves, dtype=np.float64)
    return out(_nan(v, v[-1] / _hodl_end(prices, r0) - 1.0), d1)


def returns_over_uniform_hodl(values: ArrayLike, prices: ArrayLike) -> Any:
    """``V[-1] / sum(h * p_end) - 1`` with ``h = V_0 / (n p_0)`` per column."""
    v, d1 = as_values(values)
    p = _prices(prices)
    end = (v[0][:, None] / (p.shape[1] * p[0][None, :])) @ p[-1]
    return out(_nan(v, v[-1] / end - 1.0), d1)


def _annualise_minutes(rel: Any, t: int) -> Any:
    return (1.0 + np.asarray(rel)) ** (MINUTES_PER_YEAR / (t - 1)) - 1.0


def annualised_returns_over_hodl(
    values: ArrayLike, prices: ArrayLike, initial_reserves: ArrayLike
) -> Any:
    """``(1 + returns_over_hodl) ** (525600 / (T - 1)) - 1``."""
    res = _annualise_minutes(returns_over_hodl(values, prices, initial_reserves), len(values))  # type: ignore[arg-type]
    return float(res) if np.ndim(res) == 0 else res


def annualised_returns_over_uniform_hodl(values: ArrayLike, prices: ArrayLike) -> Any:
    """``(1 + returns_over_uniform_hodl) ** (525600 / (T - 1)) - 1``."""
    res = _annualise_minutes(returns_over_uniform_hodl(values, prices), len(values))  # type: ignore[arg-type]
    return float(res) if np.ndim(res) == 0 else res


def greatest_draw_down(values: ArrayLike) -> Any:
    """``min(V - V_0) / V_0`` (<= 0): loss from the start, not from the peak."""
    v, d1 = as_values(values)
    return out(_nan(v, (v - v[0]).min(axis=0) / v[0]), d1)


def _chunks(v: FloatArray, length: int) -> FloatArray:
    n = v.shape[0] // length
    return v[: n * length].reshape(n, length, v.shape[1])


def _chunk_dd(v: FloatArray, length: int) -> FloatArray:
    c = _chunks(v, length)
    peak = np.maximum.accumulate(c, axis=1)
    return (c - peak) / peak  # type: ignore[no-any-return]


def weekly_max_drawdown(values: ArrayLike) -> Any:
    """Min over 7-day chunks of ``min((V - runmax) / runmax)`` (<= 0); NaN with no full week."""
    v, d1 = as_values(values)
    dd = _chunk_dd(v, WEEK)
    res = dd.min(axis=(0, 1)) if dd.shape[0] else np.full(v.shape[1], np.nan)
    return out(_nan(v, res), d1)


def chunked_ulcer(values: ArrayLike, *, chunk_minutes: int = MONTH) -> Any:
    """``-mean over chunks of sqrt(mean(dd^2))`` (30-day chunks by default; <= 0)."""
    v, d1 = as_values(values)
    dd = _chunk_dd(v, chunk_minutes)
    res = (
        -np.sqrt((dd**2).mean(axis=1)).mean(axis=0) if dd.shape[0] else np.full(v.shape[1], np.nan)
    )
    return out(_nan(v, res), d1)


def _cagr_days(v: FloatArray) -> FloatArray:
    ann = 365.0 / (v.shape[0] / MINUTES_PER_DAY)
    return (v[-1] / v[0]) ** ann - 1.0  # type: ignore[no-any-return]


def chunked_sterling(values: ArrayLike, *, chunk_minutes: int = MONTH) -> Any:
    """``((1 + R) ** ann - 1) / (-mean of chunk max drawdowns)``; +inf if that is <= 0."""
    v, d1 = as_values(values)
    dd = _chunk_dd(v, chunk_minutes)
    if dd.shape[0] == 0:
        return out(_nan(v, np.full(v.shape[1], np.nan)), d1)
    den = -dd.min(axis=1).mean(axis=0)
    res = np.where(den > 0, _cagr_days(v) / np.where(den > 0, den, 1.0), np.inf)
    return out(_nan(v, res), d1)


def calmar(values: ArrayLike) -> Any:
    """``((1 + R) ** ann - 1) / (-min((V - runmax) / runmax))``; +inf with no drawdown."""
    v, d1 = as_values(values)
    peak = np.maximum.accumulate(v, axis=0)
    den = -((v - peak) / peak).min(axis=0)
    res = np.where(den > 0, _cagr_days(v) / np.where(den > 0, den, 1.0), np.inf)
    return out(_nan(v, res), d1)


def chunked_var(values: ArrayLike, *, chunk_minutes: int, q: float = 5.0) -> Any:
    """Mean over chunks of the ``q``-th percentile of the minute returns inside each chunk.

    The values are cut into complete chunks of ``chunk_minutes`` first and the returns are
    taken inside each chunk (``chunk_minutes - 1`` of them; the return across a chunk
    boundary belongs to no chunk), as the reference simulator does (its goldens agree).
    ``chunk_minutes`` = 1440 (daily) or 10080 (weekly); ``q`` = 5 or 1. A return (<= 0
    typically), not a positive loss.
    """
    v, d1 = as_values(values)
    c = _chunks(v, chunk_minutes)
    r = c[:, 1:] / c[:, :-1] - 1.0
    res = np.percentile(r, q, axis=1).mean(axis=0) if c.shape[0] else np.full(v.shape[1], np.nan)
    return out(_nan(v, res), d1)


def chunked_var_trad(values: ArrayLike, *, chunk_minutes: int, q: float = 5.0) -> Any:
    """``q``-th percentile of end-of-chunk to end-of-chunk returns ("_trad" variant)."""
    v, d1 = as_values(values)
    ends = v[chunk_minutes - 1 :: chunk_minutes]
    r = ends[1:] / ends[:-1] - 1.0
    res = np.percentile(r, q, axis=0) if r.shape[0] else np.full(v.shape[1], np.nan)
    return out(_nan(v, res), d1)
