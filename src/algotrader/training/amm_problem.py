"""Build a :class:`~algotrader.training.problem.TrainingProblem` from the AMM simulator.

Layout of one training span on the minute price array ``prices`` (rows = minutes,
the estimators run from row 0, which is the burn-in):

```
row:  start          start+L        start+B          start+B+test
      |-- training --|-- validation --|----- test ------|
      windows [s, s + Lw), s in [start, start + bout_offset)
```

* ``B = bout_length`` (training + validation), ``val_len = int(val_fraction B)``,
  ``L = B - val_len``, window length ``Lw = L - bout_offset``.
* The window objective sees ``prices[: start + L]`` only: validation and test
  prices are not even inputs of the gradient (so a NaN there cannot leak into a
  gradient through ``0 * NaN``).
* The evaluation is one continuous pass from ``start`` over ``B + test`` minutes;
  its value path is cut into the three segments (value rows ``[0, L)``,
  ``[L, B - 1)`` and ``[B - 1, B + test - 1)``) and every metric in
  ``metric_names`` is computed per segment (hodl benchmarks restart at the
  segment's first reserves).
* ``aux``: ``final_weights`` / ``final_reserves`` at the last training+validation
  minute (warm start of the next walk-forward cycle) and ``daily_excess_returns``,
  the daily log return of the pool minus that of the uniform hodl over the
  training segment (the Rademacher checkpoint matrix).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.amm import SimConfig, forward_pass, metric_value, parse_rule
from algotrader.amm.chunk_objective import prefix_sums, supports, window_metric
from algotrader.amm.metrics import METRICS
from algotrader.amm.params import logit_lamb_from_memory_days
from algotrader.errors import ConfigError, ShapeError
from algotrader.training.data import AmmData
from algotrader.training.fast_evaluate import fast_evaluate, supports_metrics
from algotrader.training.problem import Evaluation, Params, TrainingProblem
from algotrader.training.runs import array_signature
from algotrader.training.settings import SearchRange

Array = jax.Array
DAY = 1440
#: Metrics tracked every iteration (all have a chunk-level form: cheap at zero fees).
DEFAULT_METRICS: tuple[str, ...] = (
    "daily_log_sharpe",
    "daily_sharpe",
    "returns",
    "returns_over_hodl",
    "returns_over_uniform_hodl",
    "annualised_returns",
)
#: Metrics of walk-forward reports (minute simulation, once per cycle).
REPORT_METRICS: tuple[str, ...] = (*DEFAULT_METRICS, "sharpe", "ulcer", "calmar", "sterling")


@dataclass(frozen=True)
class SpanLayout:
    """Row indices of one training span (see the module docstring)."""

    start: int
    bout_length: int
    test_length: int
    bout_offset: int
    val_fraction: float

    @property
    def val_length(self) -> int:
        return int(self.val_fraction * self.bout_length)

    @property
    def train_length(self) -> int:
        return self.bout_length - self.val_length

    @property
    def window_length(self) -> int:
        return self.train_length - self.bout_offset

    def check(self, n_rows: int) -> None:
        """Raise :class:`ShapeError` / :class:`ConfigError` when the layout cannot work."""
        if self.start < 0 or self.start + self.bout_length + self.test_length > n_rows:
            raise ShapeError(
                f"span [{self.start}, {self.start + self.bout_length + self.test_length}) "
                f"does not fit in {n_rows} price rows",
                key="endTestDateString",
                hint="load more prices or move the dates inside the data",
            )
        if self.window_length < 3 * DAY:
            raise ConfigError(
                f"training windows of {self.window_length} minutes are too short "
                f"(training span {self.train_length}, bout_offset {self.bout_offset})",
                key="bout_offset",
                hint="lower bout_offset or val_fraction, or lengthen the training period",
            )
        if self.val_length and self.val_length < 2 * DAY:
            raise ConfigError(
                f"validation holdout of {self.val_length} minutes is under two days",
                key="val_fraction",
                hint="raise val_fraction or lengthen the training period",
            )


def default_base_params(
    rule: str,
    n_assets: int,
    chunk_period: int,
    *,
    memory_days: float = 10.0,
    k_per_day: float = 20.0,
    initial_weights: Sequence[float] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Default initial raw parameters for ``rule`` (one set, arrays (A,)).

    Delegates to :func:`algotrader.amm.param_init.init_params` (the reference's
    ``initial_*`` defaults: memory 10 days, k 20 per day, uniform weights ...);
    ``overrides`` replaces raw values by name.

    Example:
        >>> p = default_base_params("momentum", 2, 1440)
        >>> sorted(p), round(float(p["logit_lamb"][0]), 4), bool(p["log_k"][0] == np.log2(20))
        (['initial_weights_logits', 'log_k', 'logit_delta_lamb', 'logit_lamb'], 0.7554, True)
    """
    from algotrader.amm.param_init import init_params

    values: dict[str, Any] = {"memory_days": memory_days, "k_per_day": k_per_day}
    if initial_weights is not None:
        w0 = np.asarray(initial_weights, dtype=np.float64)
        if w0.shape != (n_assets,) or np.any(w0 <= 0):
            raise ConfigError(
                f"initial weights must be {n_assets} positive numbers, got {w0.tolist()}",
                key="initial_weights",
            )
        values["initial_weights"] = (w0 / w0.sum()).tolist()
    batch = init_params(rule, n_assets, 1, chunk_period=chunk_period, **values)
    out = {k: np.asarray(v[0], dtype=np.float64) for k, v in batch.items()}
    for key, value in (overrides or {}).items():
        if key not in out:
            raise ConfigError(
                f"{key!r} is not a parameter of rule {rule!r}",
                key=key,
                hint=f"use one of {list(out)}",
            )
        out[key] = np.broadcast_to(np.asarray(value, dtype=np.float64), out[key].shape).copy()
    return out


def default_search_space(cfg: SimConfig, keys: Sequence[str]) -> dict[str, SearchRange]:
    """Absolute default Optuna ranges for the AMM raw parameters in ``keys``.

    ``logit_lamb`` spans memories of 0.5 day to ``max_memory_days``; ``log_k``
    k-per-day 2^-2 .. 2^8; other logits and raw ``sp_*`` values -3 .. 3.

    Example:
        >>> from algotrader.amm import SimConfig
        >>> r = default_search_space(SimConfig(rule="momentum", n_assets=2, bout_length=10), ["logit_lamb"])
        >>> r["logit_lamb"].low < r["logit_lamb"].high
        True
    """
    lo = float(logit_lamb_from_memory_days(0.5, cfg.chunk_period))
    hi = float(logit_lamb_from_memory_days(cfg.max_memory_days, cfg.chunk_period))
    known = {
        "logit_lamb": SearchRange(low=min(lo, hi - 1e-6), high=hi),
        "log_k": SearchRange(low=-2.0, high=8.0),
    }
    return {k: known.get(k, SearchRange(low=-3.0, high=3.0)) for k in keys}


def _segment_out(out: Mapping[str, Array], a: int, b: int) -> dict[str, Array]:
    return {
        "value": out["value"][a:b],
        "prices": out["prices"][a:b],
        "initial_reserves": out["reserves"][a],
    }


def _daily_excess(out: Mapping[str, Array], a: int, b: int) -> Array:
    v = out["value"][a:b:DAY]
    p = out["prices"][a:b:DAY]
    p0 = p[0]
    hodl = jnp.sum((v[0] / (p0.shape[0] * p0)) * p, axis=-1)
    return jnp.diff(jnp.log(v)) - jnp.diff(jnp.log(hodl))


def amm_problem(
    prices: np.ndarray,
    cfg: SimConfig,
    layout: SpanLayout,
    *,
    base_params: Mapping[str, np.ndarray] | None = None,
    metric_names: Sequence[str] = DEFAULT_METRICS,
    trainable: Sequence[str] | None = None,
    fast: bool = True,
) -> TrainingProblem[AmmData]:
    """A training problem for the pool described by ``cfg`` on ``prices`` (N, A).

    ``cfg.bout_length`` is ignored (it is set per use: windows and evaluation);
    ``cfg.return_val`` is the training objective. ``trainable`` defaults to every
    parameter but ``initial_weights_logits``. With ``fast`` (default) the window
    objective uses the chunk-level zero-fee form of
    :mod:`algotrader.amm.chunk_objective` when it applies (same value, far less
    work); otherwise the minute simulation.
    """
    prices = np.asarray(prices, dtype=np.float64)
    if prices.ndim != 2 or prices.shape[1] != cfg.n_assets:
        raise ShapeError(f"prices must be (N, {cfg.n_assets}), got {prices.shape}", key="prices")
    layout.check(prices.shape[0])
    bad = [m for m in (*metric_names, cfg.return_val) if m not in METRICS]
    if bad:
        raise ConfigError(
            f"unknown metric {bad[0]!r}", key="return_val", hint=f"use one of {sorted(METRICS)}"
        )
    base = (
        dict(base_params)
        if base_params is not None
        else default_base_params(cfg.rule, cfg.n_assets, cfg.chunk_period)
    )
    names = parse_rule(cfg.rule).param_names
    if sorted(base) != sorted(names):
        raise ConfigError(
            f"parameters {sorted(base)} do not match rule {cfg.rule!r} ({list(names)})",
            key="params",
            hint="initialise with default_base_params(rule, ...)",
        )
    train_keys = (
        tuple(trainable)
        if trainable is not None
        else tuple(n for n in names if n != "initial_weights_logits")
    )
    win_cfg = replace(cfg, bout_length=layout.window_length)
    eval_len = layout.bout_length + layout.test_length
    eval_cfg = replace(cfg, bout_length=eval_len)
    train_prices = prices[: layout.start + layout.train_length]
    eval_prices = prices[: layout.start + eval_len]
    data = AmmData(train_prices=jnp.asarray(train_prices), prices=jnp.asarray(eval_prices))
    seg_rows = {
        "train": (0, layout.train_length),
        "val": (layout.train_length, layout.bout_length - 1),
        "test": (layout.bout_length - 1, eval_len - 1),
    }
    metric_names = tuple(metric_names)

    use_fast = fast and supports(win_cfg, cfg.return_val)
    if use_fast:
        p0, p1 = prefix_sums(train_prices)
        data = data._replace(P0=jnp.asarray(p0), P1=jnp.asarray(p1))

    def objective(params: Params, start: Array, data: AmmData) -> Array:
        if use_fast:
            return window_metric(params, start, data.train_sums(), win_cfg, cfg.return_val)
        return metric_value(forward_pass(params, start, data.train_prices, win_cfg), cfg.return_val)

    eval_fast = fast and supports(eval_cfg, "returns") and supports_metrics(metric_names)
    if eval_fast:
        p0, p1 = prefix_sums(eval_prices)
        data = data._replace(P0_all=jnp.asarray(p0), P1_all=jnp.asarray(p1))

    def evaluate(params: Params, data: AmmData) -> Evaluation:
        if eval_fast:
            return fast_evaluate(
                params,
                data,
                eval_cfg,
                layout.start,
                seg_rows,
                metric_names,
                layout.bout_length - 2,
                (0, layout.train_length),
            )
        out = forward_pass(params, layout.start, data.prices, eval_cfg)
        metrics: dict[str, dict[str, Array]] = {}
        for seg, (a, b) in seg_rows.items():
            if b - a < 2:
                metrics[seg] = {m: jnp.asarray(jnp.nan) for m in metric_names}
                continue
            sub = _segment_out(out, a, b)
            metrics[seg] = {m: metric_value(sub, m) for m in metric_names}
        last = layout.bout_length - 2
        aux = {
            "final_weights": out["weights"][last],
            "final_reserves": out["reserves"][last],
            "daily_excess_returns": _daily_excess(out, 0, layout.train_length),
        }
        return Evaluation(metrics, aux)

    return TrainingProblem(
        objective=objective,
        evaluate=evaluate,
        base_params={k: np.asarray(v, dtype=np.float64) for k, v in base.items()},
        trainable=train_keys,
        start_low=layout.start,
        n_starts=layout.bout_offset,
        metric_names=metric_names,
        data=data,
        search_space=default_search_space(cfg, train_keys),
        description={
            "kind": "amm",
            "sim_config": {
                k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k != "bout_length"
            },
            "prices": array_signature(eval_prices),
            "fast_objective": use_fast,
            "fast_evaluate": eval_fast,
            "layout": {
                "start": layout.start,
                "bout_length": layout.bout_length,
                "test_length": layout.test_length,
                "bout_offset": layout.bout_offset,
                "val_fraction": layout.val_fraction,
            },
        },
    )


__all__ = [
    "DEFAULT_METRICS",
    "REPORT_METRICS",
    "SpanLayout",
    "amm_problem",
    "default_base_params",
    "default_search_space",
]
