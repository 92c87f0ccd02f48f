"""Inference on Sharpe ratios: PSR, DSR, expected maximum Sharpe, MinTRL, effective trials.

Units: every Sharpe ratio in this module is **per period** (not annualised), the unit in
which the Bailey & Lopez de Prado formulas hold; multiply by ``sqrt(periods_per_year)``
to annualise (see :func:`per_period_sharpe`). Moments: skewness ``g3`` and **non-excess**
kurtosis ``g4`` (3 for a normal), both the biased (population) estimators, and the
Sharpe ratio uses the sample standard deviation (ddof=1) -- the conventions of skfolio,
mlfinlab and RiskLabAI (spec: evaluation.md §2).

* PSR: ``Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2))``;
* expected maximum of N trial Sharpe ratios with variance V:
  ``SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))``;
* DSR: PSR with ``SR* = SR0``;
* MinTRL: ``1 + (1 - g3 SR + (g4 - 1)/4 SR^2) (z_(1-alpha) / (SR - SR*))^2`` periods.

NaN policy: propagate (a column with any NaN gives NaN); a non-positive variance term
gives NaN.

Example:
    >>> import numpy as np
    >>> r = np.tile([0.02, -0.01], 50)  # skew 0, kurtosis 1, SR = 0.005/0.01507
    >>> round(probabilistic_sharpe_ratio(r), 4)
    0.9995
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from algotrader.errors import DataError
from algotrader.metrics._arrays import FloatArray, as_2d, as_returns, nan_columns, out

EULER_GAMMA = 0.5772156649015329


def _moments(arr: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    t = arr.shape[0]
    if t < 3:
        nan = np.full(arr.shape[1], np.nan)
        return nan, nan.copy(), nan.copy(), t
    mean = arr.mean(axis=0)
    sd = arr.std(axis=0, ddof=1)
    d = arr - mean
    d2 = d * d
    m2 = d2.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sr = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan)
        g3 = np.where(m2 > 0, (d2 * d).mean(axis=0) / m2**1.5, np.nan)  # biased skewness
        g4 = np.where(m2 > 0, (d2 * d2).mean(axis=0) / m2**2, np.nan)  # non-excess kurtosis
    bad = nan_columns(arr)
    return np.where(bad, np.nan, sr), np.where(bad, np.nan, g3), np.where(bad, np.nan, g4), t


def per_period_sharpe(returns: ArrayLike) -> Any:
    """Non-annualised Sharpe ratio ``mean / std(ddof=1)``; NaN for fewer than 3 returns."""
    arr, was_1d = as_returns(returns)
    return out(_moments(arr)[0], was_1d)


def _variance_term(sr: FloatArray, g3: FloatArray, g4: FloatArray) -> FloatArray:
    v = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    return np.where(v > 0, v, np.nan)


def probabilistic_sharpe_ratio(
    returns: ArrayLike, *, benchmark_sharpe_per_period: float | ArrayLike = 0.0
) -> Any:
    """Probability that the true Sharpe ratio exceeds the benchmark, given non-normal returns.

    Args:
        returns: simple returns ``(T,)`` or ``(T, K)``.
        benchmark_sharpe_per_period: SR*, per period (annualised SR* / sqrt(P)).

    NaN policy: propagate; fewer than 3 returns or zero dispersion give NaN.
    """
    arr, was_1d = as_returns(returns)
    sr, g3, g4, t = _moments(arr)
    bench = np.asarray(benchmark_sharpe_per_period, dtype=np.float64)
    z = (sr - bench) * np.sqrt(max(t - 1, 0)) / np.sqrt(_variance_term(sr, g3, g4))
    return out(np.asarray(stats.norm.cdf(z), dtype=np.float64), was_1d)


def expected_max_sharpe(n_trials: float, sharpe_variance: float) -> float:
    """Expected maximum per-period Sharpe ratio of ``n_trials`` unskilled trials (SR0).

    ``n_trials`` may be an effective (non-integer) number >= 1; one trial gives 0.

    Raises:
        DataError: ``n_trials < 1`` or a negative variance.
    """
    n = float(n_trials)
    if not n >= 1:
        raise DataError(f"n_trials must be >= 1, got {n_trials!r}", key="n_trials")
    if not sharpe_variance >= 0:
        raise DataError(
            f"sharpe_variance must be >= 0, got {sharpe_variance!r}",
            key="sharpe_variance",
            hint="the variance of the per-period Sharpe ratios across trials",
        )
    if n == 1:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n * np.e))
    return float(np.sqrt(sharpe_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def effective_number_of_trials(trial_returns: ArrayLike) -> float:
    """Effective number of independent trials ``rho + (1 - rho) N`` from a ``(T, N)`` panel.

    ``rho`` is the average off-diagonal correlation of the trials' returns, clipped to
    ``[0, 1]``: perfectly correlated trials count as one, uncorrelated ones as N.

    Raises:
        DataError: fewer than 2 trials, or NaN in the panel.
    """
    arr, _ = as_2d(trial_returns, "trial_returns")
    n = arr.shape[1]
    if n < 2 or np.isnan(arr).any():
        raise DataError(
            "effective_number_of_trials needs a NaN-free (T, N) panel with N >= 2",
            key="trial_returns",
            hint="one column per trial, aligned in time",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.atleast_2d(np.asarray(np.corrcoef(arr, rowvar=False), dtype=np.float64))
    off = corr[~np.eye(n, dtype=bool)]
    rho = float(np.clip(np.nanmean(off), 0.0, 1.0)) if np.isfinite(off).any() else 1.0
    return rho + (1.0 - rho) * n


def deflated_sharpe_ratio(
    returns: ArrayLike,
    *,
    trial_sharpes_per_period: ArrayLike | None = None,
    n_trials: float | None = None,
    sharpe_variance: float | None = None,
) -> Any:
    """Deflated Sharpe ratio: PSR against the expected maximum Sharpe of the trials.

    Args:
        returns: returns of the selected strategy, ``(T,)`` or ``(T, K)``.
        trial_sharpes_per_period: per-period Sharpe ratios of every trial tried; gives
            ``N`` (unless ``n_trials`` is set) and the variance (unless ``sharpe_variance``).
        n_trials: number of trials, possibly effective
            (see :func:`effective_number_of_trials`).
        sharpe_variance: variance of the trials' per-period Sharpe ratios.

    Raises:
        DataError: neither trial Sharpe ratios nor (``n_trials``, ``sharpe_variance``).
    """
    if trial_sharpes_per_period is not None:
        srs = np.asarray(trial_sharpes_per_period, dtype=np.float64).reshape(-1)
        if srs.size < 2 or np.isnan(srs).any():
            raise DataError(
                "trial_sharpes_per_period needs at least 2 finite values",
                key="trial_sharpes_per_period",
            )
        n_trials = float(srs.size) if n_trials is None else n_trials
        sharpe_variance = float(srs.var(ddof=1)) if sharpe_variance is None else sharpe_variance
    if n_trials is None or sharpe_variance is None:
        raise DataError(
            "deflated_sharpe_ratio needs the trials",
            key="trial_sharpes_per_period",
            hint="pass trial_sharpes_per_period=..., or n_trials= and sharpe_variance=",
        )
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(returns, benchmark_sharpe_per_period=sr0)


def minimum_track_record_length(
    returns: ArrayLike,
    *,
    benchmark_sharpe_per_period: float = 0.0,
    confidence: float = 0.95,
) -> Any:
    """Minimum number of periods for the observed Sharpe to beat SR* at ``confidence``.

    Returns periods (same frequency as ``returns``); +inf when the observed Sharpe does not
    exceed the benchmark. NaN policy: propagate.
    """
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must lie in (0, 1), got {confidence!r}", key="confidence")
    arr, was_1d = as_returns(returns)
    sr, g3, g4, _ = _moments(arr)
    z = stats.norm.ppf(confidence)
    edge = sr - benchmark_sharpe_per_period
    with np.errstate(divide="ignore", invalid="ignore"):
        mtrl = 1.0 + _variance_term(sr, g3, g4) * (z / edge) ** 2
    res = np.where(edge > 0, mtrl, np.where(np.isnan(edge), np.nan, np.inf))
    return out(res, was_1d)
