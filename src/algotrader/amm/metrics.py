"""Pool metrics in JAX (all "higher is better"), by name.

Notation: ``V`` is the per-minute value ``(T,)``; ``V_d = V[::1440]``; a year is 365
days (525,600 minutes); ``ann = 365 / (T / 1440)``.  Chunked metrics use
non-overlapping chunks of 1440 (daily), 10080 (weekly) or 43200 (30-day) minutes
and drop an incomplete last chunk.

* ``sharpe``: minute-level ``sqrt(525600) mean(r) / std(r)``, ``r = dV / V``.
* ``daily_sharpe``: ``sqrt(365) mean(r_d) / std(r_d)``.
* ``daily_log_sharpe`` (default objective): ``sqrt(365) mean(dlog(V_d + 1e-12)) / (std + 1e-8)``.
* ``returns``: ``V[-1]/V[0] - 1``; ``annualised_*``: ``(1 + x)^(525600/(T-1)) - 1``.
* ``returns_over_hodl``: ``V[-1] / sum(R_0 p_end) - 1``; ``returns_over_uniform_hodl``
  the same against equal initial value per asset.
* ``greatest_draw_down``: ``min(V - V_0) / V_0``; ``weekly_max_drawdown``: worst
  within-week drawdown from the running peak.
* ``{daily,weekly}_var_{95,99}%``: mean over chunks of the percentile of minute
  returns within the chunk; ``_trad``: percentile of returns between chunk ends.
* ``{daily,weekly}_raroc``, ``{daily,weekly,monthly}_rovar[_trad]``: return on VaR.
* ``ulcer``: ``-mean over 30-day chunks of sqrt(mean(dd^2))``; ``sterling``,
  ``calmar``: annualised return over mean 30-day / full-series max drawdown.

NaN policy: metrics are computed on whatever ``V`` holds; a NaN value propagates.
A chunked metric whose series holds too few complete chunks (one; two for the
``_trad`` variants) is NaN.

Example:
    >>> import jax.numpy as jnp
    >>> out = {"value": jnp.array([1.0, 1.1, 1.21])}
    >>> round(float(metric_value(out, "returns")), 6)
    0.21
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from algotrader.errors import ConfigError

Array = jax.Array
MetricFn = Callable[[dict[str, Any]], Array]

DAY = 1440
WEEK = 7 * DAY
MONTH = 30 * DAY
YEAR = 365 * DAY


def _chunks(x: Array, size: int) -> Array:
    n = x.shape[0] // size
    return x[: n * size].reshape(n, size)


def _enough(v: Array, size: int, chunks: int) -> bool:
    """Whether ``v`` holds at least ``chunks`` complete chunks (else the metric is NaN)."""
    return v.shape[0] // size >= chunks


_NAN = float("nan")


def _returns(v: Array) -> Array:
    return v[1:] / v[:-1] - 1.0


def _ann_factor(v: Array) -> float:
    return 365.0 / (v.shape[0] / DAY)


def _annualise(total: Array, v: Array) -> Array:
    return (1.0 + total) ** (YEAR / (v.shape[0] - 1)) - 1.0


def sharpe(v: Array) -> Array:
    """Minute-level annualised Sharpe ratio of ``V``."""
    r = _returns(v)
    return jnp.sqrt(float(YEAR)) * jnp.mean(r) / jnp.std(r)


def daily_sharpe(v: Array) -> Array:
    """Daily arithmetic Sharpe ratio of ``V[::1440]``."""
    r = _returns(v[::DAY])
    return jnp.sqrt(365.0) * jnp.mean(r) / jnp.std(r)


def daily_log_sharpe(v: Array) -> Array:
    """Daily log-return Sharpe ratio of ``V[::1440]`` (regularised)."""
    lr = jnp.diff(jnp.log(v[::DAY] + 1e-12))
    return jnp.sqrt(365.0) * jnp.mean(lr) / (jnp.std(lr) + 1e-8)


def _running_drawdown(x: Array) -> Array:
    peak = jax.lax.cummax(x, axis=x.ndim - 1)
    return (x - peak) / peak


def _var(v: Array, size: int, q: float) -> Array:
    if not _enough(v, size, 1):
        return jnp.asarray(_NAN)
    per_chunk = jnp.percentile(_returns(_chunks(v, size).T), q, axis=0)
    return jnp.mean(per_chunk)


def _var_trad(v: Array, size: int, q: float) -> Array:
    if not _enough(v, size, 2):
        return jnp.asarray(_NAN)
    return jnp.percentile(_returns(_chunks(v, size)[:, -1]), q)


def _raroc(v: Array, size: int) -> Array:
    ann = _ann_factor(v)
    total = v[-1] / v[0] - 1.0
    return -((1.0 + total) ** ann - 1.0) / (_var(v, size, 5.0) * jnp.sqrt(ann * DAY / size))


def _rovar(v: Array, size: int, trad: bool) -> Array:
    if not _enough(v, size, 2 if trad else 1):
        return jnp.asarray(_NAN)
    ann = _ann_factor(v)
    c = _chunks(v, size)
    growth = jnp.mean((c[:, -1] / c[:, 0]) ** (YEAR / size) - 1.0)
    var = _var_trad(v, size, 5.0) if trad else _var(v, size, 5.0)
    return -growth / (var * jnp.sqrt(ann * DAY / size))


def _ann_return(v: Array) -> Array:
    return (v[-1] / v[0]) ** _ann_factor(v) - 1.0


def ulcer(v: Array) -> Array:
    """Minus the mean over 30-day chunks of the root-mean-square drawdown."""
    if not _enough(v, MONTH, 1):
        return jnp.asarray(_NAN)
    dd = _running_drawdown(_chunks(v, MONTH))
    return -jnp.mean(jnp.sqrt(jnp.mean(dd**2, axis=-1)))


def sterling(v: Array) -> Array:
    """Annualised return over minus the mean 30-day max drawdown (inf if none)."""
    if not _enough(v, MONTH, 1):
        return jnp.asarray(_NAN)
    den = -jnp.mean(jnp.min(_running_drawdown(_chunks(v, MONTH)), axis=-1))
    return jnp.where(den > 0, _ann_return(v) / jnp.where(den > 0, den, 1.0), jnp.inf)


def calmar(v: Array) -> Array:
    """Annualised return over the full-series max drawdown (inf if none)."""
    den = -jnp.min(_running_drawdown(v))
    return jnp.where(den > 0, _ann_return(v) / jnp.where(den > 0, den, 1.0), jnp.inf)


def _hodl_value(out: dict[str, Any]) -> Array:
    return jnp.sum(out["initial_reserves"] * out["prices"][-1])


def _uniform_hodl_value(out: dict[str, Any]) -> Array:
    p0 = out["prices"][0]
    v0 = jnp.sum(out["initial_reserves"] * p0)
    return jnp.sum(v0 / (p0.shape[0] * p0) * out["prices"][-1])


def _over(out: dict[str, Any], ref: Array) -> Array:
    return out["value"][-1] / ref - 1.0


def _value_metric(fn: Callable[[Array], Array]) -> MetricFn:
    return lambda out: fn(out["value"])


METRICS: dict[str, MetricFn] = {
    "sharpe": _value_metric(sharpe),
    "daily_sharpe": _value_metric(daily_sharpe),
    "daily_log_sharpe": _value_metric(daily_log_sharpe),
    "returns": _value_metric(lambda v: v[-1] / v[0] - 1.0),
    "annualised_returns": _value_metric(lambda v: _annualise(v[-1] / v[0] - 1.0, v)),
    "returns_over_hodl": lambda o: _over(o, _hodl_value(o)),
    "annualised_returns_over_hodl": lambda o: _annualise(_over(o, _hodl_value(o)), o["value"]),
    "returns_over_uniform_hodl": lambda o: _over(o, _uniform_hodl_value(o)),
    "annualised_returns_over_uniform_hodl": lambda o: _annualise(
        _over(o, _uniform_hodl_value(o)), o["value"]
    ),
    "greatest_draw_down": _value_metric(lambda v: jnp.min(v - v[0]) / v[0]),
    "weekly_max_drawdown": _value_metric(
        lambda v: (
            jnp.min(_running_drawdown(_chunks(v, WEEK)))
            if _enough(v, WEEK, 1)
            else jnp.asarray(_NAN)
        )
    ),
    "ulcer": _value_metric(ulcer),
    "sterling": _value_metric(sterling),
    "calmar": _value_metric(calmar),
}


def _chunked_metrics() -> dict[str, MetricFn]:
    def var_fn(size: int, q: float, trad: bool) -> MetricFn:
        fn = _var_trad if trad else _var
        return lambda o: fn(o["value"], size, q)

    def raroc_fn(size: int) -> MetricFn:
        return lambda o: _raroc(o["value"], size)

    def rovar_fn(size: int, trad: bool) -> MetricFn:
        return lambda o: _rovar(o["value"], size, trad)

    out: dict[str, MetricFn] = {}
    for label, size in (("daily", DAY), ("weekly", WEEK)):
        for q, pct in ((5.0, "95%"), (1.0, "99%")):
            out[f"{label}_var_{pct}"] = var_fn(size, q, False)
            out[f"{label}_var_{pct}_trad"] = var_fn(size, q, True)
        out[f"{label}_raroc"] = raroc_fn(size)
    for label, size in (("daily", DAY), ("weekly", WEEK), ("monthly", MONTH)):
        out[f"{label}_rovar"] = rovar_fn(size, False)
        out[f"{label}_rovar_trad"] = rovar_fn(size, True)
    return out


METRICS.update(_chunked_metrics())


def metric_value(out: dict[str, Any], name: str) -> Array:
    """Metric ``name`` of a forward-pass output (needs ``value``; some need more)."""
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}", key="return_val", hint=f"use one of {sorted(METRICS)}"
        )
    return METRICS[name](out)


def all_metrics(out: dict[str, Any]) -> dict[str, float]:
    """Every metric as a Python float (for reports)."""
    return {name: float(fn(out)) for name, fn in METRICS.items()}


__all__ = ["METRICS", "all_metrics", "metric_value"]
