"""Chunk-level zero-fee evaluation pass: segment metrics without the minute paths.

The continuous pass from the training start over training, validation and test
is summarised by ``log V`` at the few rows the metrics read (daily samples from
each segment's first row, each segment's last row, the warm-start row) through
:func:`algotrader.amm.chunk_objective.value_rows`; reserves at a row are
``V w / p`` (zero fees). Each segment's metrics (value rows ``[a, b)``; hodl benchmarks
hold the segment's first reserves) come from
:func:`algotrader.amm.chunk_objective.segment_metric`, the AMM chunk maths the window
objective uses too; this module only picks the rows. A differential test checks every
value against the minute simulation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algotrader.amm import SimConfig
from algotrader.amm.chunk_objective import FAST_METRICS, segment_metric, value_rows
from algotrader.errors import ShapeError
from algotrader.training.data import AmmData
from algotrader.training.problem import Evaluation

Array = jax.Array
DAY = 1440


def fast_evaluate(
    params: Mapping[str, Any],
    data: AmmData,
    cfg: SimConfig,
    start: int,
    segments: Mapping[str, tuple[int, int]],
    metric_names: Sequence[str],
    warm_row: int,
    train_rows: tuple[int, int],
) -> Evaluation:
    """The same :class:`Evaluation` as the minute pass (``cfg.n_steps`` rows from ``start``)."""
    wanted: set[int] = {warm_row}
    for a, b in [*segments.values(), train_rows]:
        if b - a >= 2:
            wanted.update(range(a, b, DAY))
            wanted.add(b - 1)
    rows = np.array(sorted(wanted), dtype=np.int64)
    pos = {int(r): i for i, r in enumerate(rows)}
    if data.P0_all is None or data.P1_all is None:
        raise ShapeError(
            "the fast evaluation needs the prefix sums of the evaluation prices (P0_all, P1_all)",
            key="data",
            hint="build the problem with amm_problem(..., fast=True)",
        )
    prices = data.prices
    logv, weights, _ = value_rows(
        dict(params), jnp.asarray(start), prices, data.P0_all, data.P1_all, cfg, rows
    )
    values = jnp.exp(logv)
    px = prices[start + rows]

    def at(idx: Sequence[int]) -> np.ndarray:
        return np.array([pos[int(r)] for r in idx], dtype=np.int64)

    metrics: dict[str, dict[str, Array]] = {}
    for seg, (a, b) in segments.items():
        if b - a < 2:
            metrics[seg] = {m: jnp.asarray(jnp.nan) for m in metric_names}
            continue
        daily = values[at(range(a, b, DAY))]
        i0, i1 = pos[a], pos[b - 1]
        metrics[seg] = {
            m: segment_metric(m, daily, values[i0], values[i1], weights[i0], px[i0], px[i1], b - a)
            for m in metric_names
        }
    iw = pos[warm_row]
    ta, tb = train_rows
    idx = at(range(ta, tb, DAY))
    v_d, p_d = values[idx], px[idx]
    hodl = jnp.sum(v_d[0] / (p_d.shape[1] * p_d[0]) * p_d, axis=-1)
    aux = {
        "final_weights": weights[iw],
        "final_reserves": values[iw] * weights[iw] / px[iw],
        "daily_excess_returns": jnp.diff(jnp.log(v_d)) - jnp.diff(jnp.log(hodl)),
    }
    return Evaluation(metrics, aux)


def supports_metrics(metric_names: Sequence[str]) -> bool:
    """Whether every metric has a chunk-level form."""
    return all(m in FAST_METRICS for m in metric_names)


__all__ = ["fast_evaluate", "supports_metrics"]
