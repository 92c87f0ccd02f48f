"""Allocation rules from predictive samples: mean/covariance -> target weights per row.

Timing: the forecast for row ``t`` uses information known at ``t``; the weights decided at
``t`` earn ``y[t]`` (the next period), and the runner turns them into net returns through
:func:`algotrader.backtest.run_backtest` with the run's one ``CostModel`` (drifted weights,
cost on every trade including the first), so these rules only choose targets.

Rules (``rule`` names):

* ``equal_weight``: ``gross / A`` each.
* ``long_only``: weights proportional to ``relu(mu / sigma)`` scaled to ``gross``, with
  per-asset caps ``[0, max_weight]`` met by water-filling (capped names fixed, the rest
  rescaled until nothing exceeds the cap); all-non-positive signal -> cash.
* ``kelly``: fractional Kelly ``fraction * Sigma^-1 mu`` (Sigma ridge-regularised), clipped to
  ``[-max_weight, max_weight]`` and scaled down to ``gross`` if the gross exceeds it.
* ``mean_variance``: row by row ``argmax mu'w - (gamma/2) w'Sigma w - kappa ||w - w_prev||^2``
  = ``(gamma Sigma + 2 kappa I)^-1 (mu + 2 kappa w_prev)`` (quadratic turnover penalty,
  previous *target* as the anchor), then the same caps as ``kelly``.
* ``optimiser``: the correlation-aware optimiser's row solve (:mod:`algotrader.portfolio`,
  step 6 of docs/optimiser.md) fed the predictive moments instead of EWMA estimates:
  ``sigma = sqrt(diag Sigma)``, ``C = Sigma / (sigma sigma')``, ``A = shrink C + (1 - shrink) I``,
  signal ``m = mu / sigma``, ``x = A^-1 m`` by the optimiser's own stable solve
  (:func:`algotrader.portfolio.solve.solve_symmetric`: Cholesky, eigen fallback),
  ``cash = x / sqrt(m'x) / sigma``; the unit-risk cash is then scaled to ``gross`` and
  capped like ``kelly``. ``shrink = 1`` is the Kelly direction ``Sigma^-1 mu``; a diagonal
  ``Sigma`` gives ``mu / sigma^2`` whatever ``shrink``. Rows whose signal is all
  ``|m| <= 1e-8`` (or whose solve is degenerate) hold cash.

Example:
    >>> import numpy as np
    >>> mu = np.array([[0.02, 0.01, -0.01]])
    >>> sd = np.array([[0.1, 0.1, 0.1]])
    >>> long_only(mu, sd, gross=1.0).round(4).tolist()
    [[0.6667, 0.3333, 0.0]]
    >>> long_only(mu, sd, gross=1.0, max_weight=0.5).round(4).tolist()
    [[0.5, 0.5, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from algotrader.errors import ConfigError
from algotrader.portfolio.solve import solve_symmetric

__all__ = [
    "allocate",
    "equal_weight",
    "kelly",
    "long_only",
    "mean_variance",
    "moments",
    "optimiser_weights",
]

FloatArray = NDArray[np.float64]
RULES = ("equal_weight", "long_only", "kelly", "mean_variance", "optimiser")
#: the settings each rule accepts (anything else is a ConfigError naming the key)
RULE_KEYS: dict[str, frozenset[str]] = {
    "equal_weight": frozenset({"gross"}),
    "long_only": frozenset({"gross", "max_weight"}),
    "kelly": frozenset({"fraction", "gross", "max_weight", "ridge"}),
    "mean_variance": frozenset({"gamma", "turnover_penalty", "gross", "max_weight", "ridge"}),
    "optimiser": frozenset({"shrink", "gross", "max_weight"}),
}
#: a row's signal with every ``|mu / sigma|`` at or below this holds cash (the optimiser's rule)
ZERO_SIGNAL_ATOL = 1e-8


def moments(samples: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Predictive mean (n, A) and covariance (n, A, A) (ddof 1) from samples (S, n, A)."""
    x = np.asarray(samples, dtype=np.float64)
    mu = x.mean(axis=0)
    d = x - mu
    cov = np.einsum("sti,stj->tij", d, d) / max(x.shape[0] - 1, 1)
    return mu, cov


def equal_weight(n: int, a: int, gross: float = 1.0) -> FloatArray:
    """``gross / A`` in every cell of an (n, A) array."""
    return np.full((n, a), gross / a)


def _water_fill(raw: FloatArray, gross: float, cap: float) -> FloatArray:
    w = np.zeros_like(raw)
    if raw.sum() <= 0:
        return w
    if cap * np.count_nonzero(raw) < gross:
        cap_total = cap * np.count_nonzero(raw)
        gross = cap_total
    fixed = np.zeros(raw.size, dtype=bool)
    for _ in range(raw.size + 1):
        free = ~fixed & (raw > 0)
        rest = gross - cap * fixed.sum()
        w = np.where(fixed, cap, 0.0)
        if free.any() and raw[free].sum() > 0:
            w[free] = raw[free] / raw[free].sum() * rest
        over = free & (w > cap + 1e-15)
        if not over.any():
            break
        fixed |= over
    return np.minimum(w, cap)


def long_only(
    mu: FloatArray, sigma: FloatArray, *, gross: float = 1.0, max_weight: float = 1.0
) -> FloatArray:
    """Long-only weights proportional to ``relu(mu / sigma)``, caps by water-filling."""
    sig = np.where(np.asarray(sigma) > 0, sigma, np.inf)
    raw = np.maximum(np.asarray(mu) / sig, 0.0)
    return np.stack([_water_fill(r, gross, max_weight) for r in raw])


def _cap(w: FloatArray, gross: float, max_weight: float) -> FloatArray:
    w = np.clip(w, -max_weight, max_weight)
    g = np.abs(w).sum(axis=1, keepdims=True)
    scale = np.where(g > gross, gross / np.maximum(g, 1e-300), 1.0)
    out: FloatArray = w * scale
    return out


def kelly(
    mu: FloatArray,
    cov: FloatArray,
    *,
    fraction: float = 0.5,
    gross: float = 1.0,
    max_weight: float = 1.0,
    ridge: float = 1e-8,
) -> FloatArray:
    """Fractional Kelly ``fraction * Sigma^-1 mu`` per row, capped."""
    a = mu.shape[1]
    w = np.stack([np.linalg.solve(c + ridge * np.eye(a), m) for m, c in zip(mu, cov, strict=True)])
    return _cap(fraction * w, gross, max_weight)


def mean_variance(
    mu: FloatArray,
    cov: FloatArray,
    *,
    gamma: float = 5.0,
    turnover_penalty: float = 0.0,
    gross: float = 1.0,
    max_weight: float = 1.0,
    w0: FloatArray | None = None,
    ridge: float = 1e-8,
) -> FloatArray:
    """Mean-variance with a quadratic turnover penalty, sequential over rows, capped."""
    n, a = mu.shape
    prev = np.zeros(a) if w0 is None else np.asarray(w0, dtype=np.float64)
    out = np.empty((n, a))
    eye = np.eye(a)
    for t in range(n):
        k = 2.0 * turnover_penalty
        w = np.linalg.solve(gamma * cov[t] + (k + ridge) * eye, mu[t] + k * prev)
        out[t] = _cap(w[None], gross, max_weight)[0]
        prev = out[t]
    return out


def optimiser_weights(
    mu: FloatArray,
    cov: FloatArray,
    *,
    shrink: float = 0.5,
    gross: float = 1.0,
    max_weight: float = 1.0,
) -> FloatArray:
    """The correlation-aware optimiser's positions from predictive moments, per row.

    ``mu`` (n, A), ``cov`` (n, A, A). Assets with a zero or non-finite predictive
    standard deviation get weight 0 that row (the solve runs over the others).

    >>> import numpy as np
    >>> mu = np.array([[0.02, 0.01]]); cov = np.array([np.diag([0.01, 0.04])])
    >>> optimiser_weights(mu, cov, shrink=0.3).round(4).tolist()  # mu / sigma^2, scaled
    [[0.8889, 0.1111]]
    """
    if not 0.0 <= shrink <= 1.0:
        raise ConfigError(
            f"allocation shrink {shrink} outside [0, 1]",
            key="allocation.shrink",
            hint="use a value in [0, 1] (1: the sample correlation, 0: identity)",
        )
    mu = np.asarray(mu, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    n, a = mu.shape
    out = np.zeros((n, a))
    for t in range(n):
        sd = np.sqrt(np.diagonal(cov[t]))
        ok = np.isfinite(sd) & (sd > 0) & np.isfinite(mu[t])
        k = int(ok.sum())
        if k == 0:
            continue
        s = sd[ok]
        corr = cov[t][np.ix_(ok, ok)] / np.outer(s, s)
        mat = shrink * np.clip(corr, -1.0, 1.0) + (1.0 - shrink) * np.eye(k)
        m = mu[t, ok] / s
        if np.all(np.abs(m) <= ZERO_SIGNAL_ATOL):
            continue
        bound = (shrink * k + 1.0 - shrink) / (1.0 - shrink) if shrink < 1.0 else None
        x, _ = solve_symmetric(mat, m, cond_bound=bound)
        if x is None:
            continue
        nu2 = float(m @ x)
        if not nu2 > 0.0:
            continue
        cash = x / np.sqrt(nu2) / s
        total = np.abs(cash).sum()
        out[t, ok] = cash * (gross / total)
    return _cap(out, gross, max_weight)


def _check_keys(rule: str, kw: dict[str, Any]) -> None:
    bad = sorted(set(kw) - RULE_KEYS[rule])
    if bad:
        raise ConfigError(
            f"unknown setting(s) {bad} for allocation rule {rule!r}",
            key=f"allocation.{bad[0]}",
            hint=f"{rule!r} accepts {sorted(RULE_KEYS[rule])}",
        )


def allocate(samples: FloatArray, rule: str = "long_only", **kw: Any) -> FloatArray:
    """Weights (n, A) from predictive samples (S, n, A) with the named rule."""
    x = np.asarray(samples, dtype=np.float64)
    _, n, a = x.shape
    if rule in RULE_KEYS:
        _check_keys(rule, kw)
    if rule == "equal_weight":
        return equal_weight(n, a, kw.get("gross", 1.0))
    mu, cov = moments(x)
    if rule == "long_only":
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return long_only(mu, sd, gross=kw.get("gross", 1.0), max_weight=kw.get("max_weight", 1.0))
    if rule == "kelly":
        return kelly(mu, cov, **kw)
    if rule == "mean_variance":
        return mean_variance(mu, cov, **kw)
    if rule == "optimiser":
        return optimiser_weights(mu, cov, **kw)
    raise ConfigError(
        f"unknown allocation rule {rule!r}", key="allocation.rule", hint=f"use one of {list(RULES)}"
    )
