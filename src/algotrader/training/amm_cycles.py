"""AMM hooks for walk-forward training (:class:`~algotrader.training.walk_forward.CycleHooks`).

* ``problem(span, base)``: an :func:`~algotrader.training.amm_problem.amm_problem`
  whose training+validation span is the cycle's training span and whose test
  segment is the cycle's test span (its training windows never read the test
  span, nor the validation holdout).
* ``span_metrics(span, params)``: one continuous pass from the training start to
  the test end; in-sample metrics on the training span, out-of-sample metrics
  and daily returns on the test span.
* ``warm_start(result)``: the selected parameters with the initial weights set
  to the final weights at the end of training (``initial_weights_logits =
  log w``), so the next cycle's pool starts where this one's left off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.amm import SimConfig, forward_pass, metric_value
from algotrader.training.amm_problem import (
    DEFAULT_METRICS,
    REPORT_METRICS,
    SpanLayout,
    _segment_out,
    amm_problem,
)
from algotrader.training.problem import TrainingProblem
from algotrader.training.trainer import TrainResult
from algotrader.training.walk_forward import CycleSpan, SpanMetrics

DAY = 1440


@dataclass(frozen=True)
class AmmCycles:
    """Walk-forward hooks for one pool configuration on one minute price array (N, A)."""

    prices: np.ndarray = field(repr=False)
    cfg: SimConfig
    bout_offset: int
    val_fraction: float
    base_params: Mapping[str, np.ndarray]
    metric_names: Sequence[str] = DEFAULT_METRICS
    report_metrics: Sequence[str] = REPORT_METRICS

    def layout(self, span: CycleSpan) -> SpanLayout:
        """The span layout of a cycle."""
        return SpanLayout(
            start=span.train_start,
            bout_length=span.train_end - span.train_start,
            test_length=span.test_end - span.test_start,
            bout_offset=self.bout_offset,
            val_fraction=self.val_fraction,
        )

    def problem(self, span: CycleSpan, base: Mapping[str, np.ndarray] | None) -> TrainingProblem:
        return amm_problem(
            self.prices,
            self.cfg,
            self.layout(span),
            base_params=self.base_params if base is None else base,
            metric_names=self.metric_names,
        )

    @cached_property
    def _span_fn(self) -> Any:
        metric_names = tuple(dict.fromkeys((*self.metric_names, *self.report_metrics)))

        def run(
            params: dict[str, jax.Array],
            prices: jax.Array,
            start: jax.Array,
            cfg: SimConfig,
            split: int,
        ) -> Any:
            out = forward_pass(params, start, prices, cfg)
            n = cfg.n_steps
            is_out, oos_out = _segment_out(out, 0, split), _segment_out(out, split, n)
            ism = {m: metric_value(is_out, m) for m in metric_names}
            oosm = {m: metric_value(oos_out, m) for m in metric_names}
            v = out["value"][split:n:DAY]
            return ism, oosm, v[1:] / v[:-1] - 1.0

        return jax.jit(run, static_argnames=("cfg", "split"))

    def span_metrics(self, span: CycleSpan, params: Mapping[str, np.ndarray]) -> SpanMetrics:
        total = span.test_end - span.train_start
        cfg = replace(self.cfg, bout_length=total)
        prices = jnp.asarray(self.prices[: span.test_end])
        p = {k: jnp.asarray(v) for k, v in params.items()}
        split = span.train_end - span.train_start - 1
        ism, oosm, r = self._span_fn(p, prices, jnp.asarray(span.train_start), cfg=cfg, split=split)
        return SpanMetrics(
            is_metrics={k: float(v) for k, v in ism.items()},
            oos_metrics={k: float(v) for k, v in oosm.items()},
            oos_daily_returns=np.asarray(r),
        )

    def warm_start(self, result: TrainResult) -> dict[str, np.ndarray]:
        params = {k: np.asarray(v, dtype=np.float64) for k, v in result.best_params.items()}
        w = np.asarray(result.best_aux.get("final_weights", []), dtype=np.float64)
        if (
            "initial_weights_logits" in params
            and w.shape == params["initial_weights_logits"].shape
            and np.all(w > 0)
        ):
            params["initial_weights_logits"] = np.log(w / w.sum())
        return params


__all__ = ["AmmCycles"]
