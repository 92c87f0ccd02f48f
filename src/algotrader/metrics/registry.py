"""Registry of metrics: name -> function, definition, inputs and properties.

One place lists every metric the product reports, so that the contract tests run over
all of them and ``metrics.json`` carries each value with the definition it was computed
with. Every entry is computed from the same inputs (:class:`MetricInputs`): a value path
``(T, K)`` plus, where needed, benchmark paths, per-period turnover or prices.

The general metrics are computed together by :mod:`algotrader.metrics.batch` (one pass
over shared intermediates, cache-sized column blocks); each spec's ``compute`` is the
single-metric reference, and the contract tests check that both agree.

Example:
    >>> import numpy as np
    >>> v = np.cumprod(np.r_[1.0, 1 + np.random.default_rng(0).normal(0, 0.01, 300)])
    >>> out = compute_metrics(v, periods_per_year=252, names=["sharpe", "max_drawdown"])
    >>> sorted(out)
    ['max_drawdown', 'sharpe']
    >>> REGISTRY["max_drawdown"].definition
    'max_t (1 - V_t / max_{s<=t} V_s)'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from algotrader.errors import ConfigError, DataError
from algotrader.metrics import amm_family as amm
from algotrader.metrics import returns_based as rb
from algotrader.metrics import value_based as vb
from algotrader.metrics._arrays import FloatArray, as_2d, as_values, check_periods
from algotrader.metrics.batch import general_metrics
from algotrader.metrics.relative import returns_over_benchmark
from algotrader.metrics.sharpe_inference import (
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
)

Requirement = Literal["hodl", "uniform_hodl", "turnover", "prices"]


@dataclass(frozen=True)
class MetricInputs:
    """Inputs shared by every registered metric.

    Attributes:
        values: ``(T, K)`` strictly positive value paths (including the start value).
        periods_per_year: periods of ``values`` per year.
        benchmarks: benchmark value paths ``(T,)`` by name (``hodl``, ``uniform_hodl`` ...).
        turnover: ``(T, K)`` per-period turnover, if known.
        prices: ``(T, A)`` prices, if known (AMM-family HODL metrics).
    """

    values: FloatArray
    periods_per_year: float
    benchmarks: Mapping[str, FloatArray] = field(default_factory=dict)
    turnover: FloatArray | None = None
    prices: FloatArray | None = None

    @property
    def returns(self) -> FloatArray:
        """Simple returns ``(T-1, K)``."""
        return self.values[1:] / self.values[:-1] - 1.0


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric.

    Attributes:
        name: registry key (also the ``metrics.json`` key).
        definition: the formula, in words/symbols.
        compute: ``MetricInputs -> (K,)`` array.
        higher_is_better: direction for ranking.
        requires: inputs beyond the value path.
        family: ``"general"`` or ``"amm"`` (the AMM reference definitions).
        scale_invariant: unchanged when every value is multiplied by c > 0 (currency).
    """

    name: str
    definition: str
    compute: Callable[[MetricInputs], FloatArray]
    higher_is_better: bool
    requires: tuple[Requirement, ...] = ()
    family: Literal["general", "amm"] = "general"
    scale_invariant: bool = True


def _req(x: FloatArray | None) -> FloatArray:
    if x is None:  # guarded by ``available``
        raise ConfigError("missing metric input", key="inputs")
    return x


def _arr(x: Any) -> FloatArray:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


def _g(
    name: str,
    definition: str,
    fn: Callable[[MetricInputs], Any],
    higher: bool,
    requires: tuple[Requirement, ...] = (),
) -> MetricSpec:
    return MetricSpec(name, definition, lambda i: _arr(fn(i)), higher, requires)


def _a(
    name: str,
    definition: str,
    fn: Callable[[MetricInputs], Any],
    requires: tuple[Requirement, ...] = (),
) -> MetricSpec:
    return MetricSpec(f"amm.{name}", definition, lambda i: _arr(fn(i)), True, requires, "amm")


_GENERAL: list[MetricSpec] = [
    _g("total_return", "V_end / V_0 - 1", lambda i: vb.total_return(i.values), True),
    _g(
        "annualised_return",
        "(V_end / V_0)^(P / (T - 1)) - 1",
        lambda i: vb.annualised_return(i.values, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "annualised_volatility",
        "sqrt(P) std(r, ddof=1)",
        lambda i: rb.annualised_volatility(i.returns, periods_per_year=i.periods_per_year),
        False,
    ),
    _g(
        "sharpe",
        "sqrt(P) mean(r) / std(r, ddof=1), simple returns",
        lambda i: rb.sharpe(i.returns, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "log_sharpe",
        "sqrt(P) mean(log(1 + r)) / std(log(1 + r), ddof=1)",
        lambda i: rb.log_sharpe(i.returns, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "sortino",
        "sqrt(P) mean(r) / sqrt(mean(min(r, 0)^2))",
        lambda i: rb.sortino(i.returns, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "calmar",
        "annualised_return / max_drawdown",
        lambda i: vb.calmar(i.values, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "sterling",
        "annualised_return / mean of yearly-chunk max drawdowns",
        lambda i: vb.sterling(i.values, periods_per_year=i.periods_per_year),
        True,
    ),
    _g(
        "ulcer_index",
        "sqrt(mean_t dd_t^2), dd from the running peak (fraction)",
        lambda i: vb.ulcer_index(i.values),
        False,
    ),
    _g(
        "max_drawdown",
        "max_t (1 - V_t / max_{s<=t} V_s)",
        lambda i: vb.max_drawdown(i.values),
        False,
    ),
    _g(
        "greatest_drawdown",
        "max(0, max_t (1 - V_t / V_0))",
        lambda i: vb.greatest_drawdown(i.values),
        False,
    ),
    _g(
        "value_at_risk_95",
        "-quantile_5%(r), historical, one period, positive loss",
        lambda i: rb.value_at_risk(i.returns, level=0.95),
        False,
    ),
    _g(
        "cvar_95",
        "-mean(r | r <= quantile_5%(r)), historical, positive loss",
        lambda i: rb.conditional_value_at_risk(i.returns, level=0.95),
        False,
    ),
    _g("hit_rate", "fraction of periods with r > 0", lambda i: rb.hit_rate(i.returns), True),
    _g(
        "probabilistic_sharpe",
        "P(true SR > 0): Phi(SR sqrt(T-1) / sqrt(1 - g3 SR + (g4-1)/4 SR^2))",
        lambda i: probabilistic_sharpe_ratio(i.returns),
        True,
    ),
    _g(
        "min_track_record_length",
        "periods needed for SR > 0 at 95% (MinTRL)",
        lambda i: minimum_track_record_length(i.returns),
        False,
    ),
    _g(
        "returns_over_hodl",
        "(V_end / V_0) / (H_end / H_0) - 1, H = initial holdings held",
        lambda i: returns_over_benchmark(i.values, i.benchmarks["hodl"]),
        True,
        ("hodl",),
    ),
    _g(
        "returns_over_uniform_hodl",
        "(V_end / V_0) / (U_end / U_0) - 1, U = equal value at start",
        lambda i: returns_over_benchmark(i.values, i.benchmarks["uniform_hodl"]),
        True,
        ("uniform_hodl",),
    ),
    _g(
        "annualised_turnover",
        "P mean_t(sum |trade value| / pre-trade value)",
        lambda i: rb.annualised_turnover(_req(i.turnover), periods_per_year=i.periods_per_year),
        False,
        ("turnover",),
    ),
]

_AMM: list[MetricSpec] = [
    _a(
        "minute_sharpe",
        "sqrt(525600) mean(r_min) / std(r_min, ddof=0)",
        lambda i: amm.minute_sharpe(i.values),
    ),
    _a(
        "daily_sharpe",
        "sqrt(365) mean(r_d) / std(r_d, ddof=0), V_d = V[::1440]",
        lambda i: amm.daily_sharpe(i.values),
    ),
    _a(
        "eval_sharpe",
        "daily_sharpe, 0 if std <= 1e-12 (the evaluation tables' 'sharpe')",
        lambda i: amm.eval_sharpe(i.values),
    ),
    _a(
        "daily_log_sharpe",
        "sqrt(365) mean(dlog(V_d + 1e-12)) / (std + 1e-8)",
        lambda i: amm.daily_log_sharpe(i.values),
    ),
    _a("returns", "V[-1] / V[0] - 1", lambda i: amm.total_return(i.values)),
    _a(
        "annualised_returns",
        "(V[-1] / V[0])^(525600 / (T - 1)) - 1",
        lambda i: amm.annualised_return(i.values),
    ),
    _a(
        "returns_over_uniform_hodl",
        "V[-1] / sum(h p_end) - 1, h = V_0 / (n p_0)",
        lambda i: amm.returns_over_uniform_hodl(i.values, _req(i.prices)),
        ("prices",),
    ),
    _a("greatest_draw_down", "min(V - V_0) / V_0", lambda i: amm.greatest_draw_down(i.values)),
    _a(
        "weekly_max_drawdown",
        "min over 7-day chunks of min((V - runmax) / runmax)",
        lambda i: amm.weekly_max_drawdown(i.values),
    ),
    _a(
        "ulcer",
        "-mean over 30-day chunks of sqrt(mean(dd^2))",
        lambda i: amm.chunked_ulcer(i.values),
    ),
    _a(
        "sterling",
        "((1+R)^(365/days) - 1) / -mean of 30-day chunk max drawdowns",
        lambda i: amm.chunked_sterling(i.values),
    ),
    _a(
        "calmar",
        "((1+R)^(365/days) - 1) / -min((V - runmax) / runmax)",
        lambda i: amm.calmar(i.values),
    ),
    _a(
        "daily_var_95",
        "mean over days of the 5th percentile of minute returns",
        lambda i: amm.chunked_var(i.values, chunk_minutes=amm.MINUTES_PER_DAY, q=5.0),
    ),
    _a(
        "daily_var_95_trad",
        "5th percentile of end-of-day to end-of-day returns",
        lambda i: amm.chunked_var_trad(i.values, chunk_minutes=amm.MINUTES_PER_DAY, q=5.0),
    ),
]

#: Every registered metric by name.
REGISTRY: dict[str, MetricSpec] = {s.name: s for s in [*_GENERAL, *_AMM]}


def available(inputs: MetricInputs, spec: MetricSpec) -> bool:
    """Whether ``inputs`` provide everything ``spec`` requires."""
    for req in spec.requires:
        if req in ("hodl", "uniform_hodl") and req not in inputs.benchmarks:
            return False
        if req == "turnover" and inputs.turnover is None:
            return False
        if req == "prices" and inputs.prices is None:
            return False
    return True


def compute_metrics(
    values: ArrayLike,
    *,
    periods_per_year: float,
    benchmarks: Mapping[str, ArrayLike] | None = None,
    turnover: ArrayLike | None = None,
    prices: ArrayLike | None = None,
    names: Iterable[str] | None = None,
    family: Literal["general", "amm", "all"] = "general",
) -> dict[str, Any]:
    """Compute registered metrics; floats for a ``(T,)`` path, ``(K,)`` arrays otherwise.

    Metrics whose extra inputs are missing are skipped unless named explicitly (then a
    ConfigError says what is missing). NaN policy: each metric's own (propagate).
    """
    arr, was_1d = as_values(values)
    ppy = check_periods(periods_per_year)
    if arr.shape[0] < 2:
        raise DataError(
            f"compute_metrics needs at least 2 values (one return), got {arr.shape[0]}",
            key="values",
            hint="pass the value path including its starting value",
        )
    bench = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in (benchmarks or {}).items()}
    to = None if turnover is None else as_2d(turnover, "turnover")[0]
    pr = None if prices is None else np.asarray(prices, dtype=np.float64)
    inputs = MetricInputs(arr, ppy, bench, to, pr)
    explicit = names is not None
    if names is None:
        specs = [s for s in REGISTRY.values() if family == "all" or s.family == family]
    else:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise ConfigError(
                f"unknown metric(s): {', '.join(unknown)}",
                key="names",
                hint="known: " + ", ".join(REGISTRY),
            )
        specs = [REGISTRY[n] for n in names]
    result: dict[str, Any] = {}
    todo = []
    for spec in specs:
        if not available(inputs, spec):
            if explicit:
                raise ConfigError(
                    f"metric {spec.name} needs {', '.join(spec.requires)}", key=spec.name
                )
            continue
        todo.append(spec)
    fast: dict[str, FloatArray] = {}
    if any(s.family == "general" for s in todo):
        fast = general_metrics(
            arr,
            periods_per_year=ppy,
            benchmarks={k: v for k, v in bench.items() if k in ("hodl", "uniform_hodl")},
            turnover=to,
        )
    for spec in todo:
        res = fast[spec.name] if spec.name in fast else spec.compute(inputs)
        result[spec.name] = float(res[0]) if was_1d else res
    return result
