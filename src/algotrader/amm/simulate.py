"""Run one configured simulation and tabulate it (the library side of ``algotrader amm run``).

Example:
    >>> import numpy as np
    >>> from algotrader.amm.data import PriceData, Window
    >>> n = 3 * 1440 + 1
    >>> data = PriceData(unix=np.arange(n) * 60_000, prices=np.ones((n, 2)), tokens=("A", "B"))
    >>> cfg = RunConfig(tokens=["A", "B"], rule="balancer")
    >>> res = simulate(cfg, Window(data, 0, n), {"initial_weights_logits": [0.0, 0.0]})
    >>> res.per_step.shape, round(res.metrics["returns"], 12)
    ((4320, 8), 0.0)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

from algotrader.amm.config import RunConfig
from algotrader.amm.data import Window
from algotrader.amm.forward import DynamicInputs, check_window, jit_forward_pass
from algotrader.amm.metrics import all_metrics
from algotrader.amm.rules import parse_rule
from algotrader.amm.weights import n_coarse_rows
from algotrader.errors import ConfigError, ShapeError

logger = logging.getLogger(__name__)


@dataclass
class SimulationResult:
    """Tables and metrics of one run."""

    per_step: pl.DataFrame
    daily: pl.DataFrame
    metrics: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)


def validate_params(params: dict[str, Any], cfg: RunConfig) -> dict[str, jax.Array]:
    """Check names and lengths of ONE raw parameter set; return float64 arrays ``(n,)``."""
    spec = parse_rule(cfg.rule)
    need = set(spec.param_names)
    got = set(params)
    if need - got:
        missing = sorted(need - got)
        raise ConfigError(
            f"missing parameters {missing}", key=missing[0], hint=f"{cfg.rule} needs {sorted(need)}"
        )
    if got - need:
        extra = sorted(got - need)
        raise ConfigError(
            f"unexpected parameters {extra}", key=extra[0], hint=f"{cfg.rule} needs {sorted(need)}"
        )
    out = {}
    for name in sorted(need):
        arr = np.asarray(params[name], dtype=np.float64)
        want = (1,) if name == "raw_min_budget" else (cfg.n_assets,)
        if arr.ndim == 0:
            arr = np.full(want, float(arr))
        if arr.shape != want or not np.all(np.isfinite(arr)):
            raise ConfigError(
                f"parameter {name} must be {want[0]} finite values (tokens sorted), got {arr.tolist()}",
                key=name,
            )
        out[name] = jnp.asarray(arr)
    return out


def coarse_rows_needed(cfg: RunConfig, window: Window) -> int:
    """Rows of directly supplied coarse weights a window needs (initial + one per chunk)."""
    return n_coarse_rows(cfg.sim_config(window.bout_length)) + 1


def simulate(
    cfg: RunConfig,
    window: Window,
    params: dict[str, Any],
    coarse: np.ndarray | None = None,
    dynamic: DynamicInputs | None = None,
) -> SimulationResult:
    """Simulate ``params`` (one set) over ``window``; per-step and daily tables + metrics."""
    sim = cfg.sim_config(window.bout_length)
    check_window(window.start_index, window.data.prices.shape[0], sim)
    p = validate_params(params, cfg)
    if coarse is not None and coarse.shape != (coarse_rows_needed(cfg, window), cfg.n_assets):
        raise ShapeError(
            f"coarse weights must be {(coarse_rows_needed(cfg, window), cfg.n_assets)}, got {coarse.shape}",
            key="coarse_weights",
        )
    t0 = time.perf_counter()
    out = jit_forward_pass(
        p, window.start_index, jnp.asarray(window.data.prices), sim, dynamic, coarse
    )
    out = jax.tree.map(np.asarray, jax.block_until_ready(out))
    elapsed = time.perf_counter() - t0
    metrics = all_metrics(out)
    metrics["final_value"] = float(out["value"][-1])
    unix = window.data.unix[window.start_index : window.start_index + sim.n_steps]
    cols: dict[str, Any] = {"unix": unix}
    for label, key in (("price", "prices"), ("weight", "weights"), ("reserve", "reserves")):
        for k, token in enumerate(cfg.tokens):
            cols[f"{label}_{token}"] = out[key][:, k]
    cols["value"] = out["value"]
    per_step = pl.DataFrame(cols)
    daily = per_step.gather_every(1440)
    logger.info("simulated %d steps in %.3f s (compile included)", sim.n_steps, elapsed)
    return SimulationResult(per_step, daily, metrics, {"simulate_s": elapsed})


__all__ = ["SimulationResult", "coarse_rows_needed", "simulate", "validate_params"]
