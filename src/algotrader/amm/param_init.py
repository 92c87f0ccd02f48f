"""Raw parameter sets from human-readable values, and back.

:func:`init_params` builds a parameter *batch* (``dict[str, np.ndarray]``, each array
``(n_sets, n_assets)``, or ``(n_sets, 1)`` for the scalar ``raw_min_budget``) for a
rule string.  Set 0 holds exactly the given values; sets ``1..`` add ``N(0, noise_scale^2)``
noise in raw space to every *trainable* parameter (never to ``initial_weights_logits``),
drawn from ``numpy.random.default_rng(seed)``.

Human values (scalars broadcast to every asset, or one value per asset in the
alphabetical token order):

========================  ======================================  ===================
human key                 raw parameter                           default
========================  ======================================  ===================
``memory_days``           ``logit_lamb``                          10
``memory_days_delta``     ``logit_delta_lamb`` (2nd memory m+d)   0
``k_per_day``             ``log_k = log2(k)`` / ``sp_k``           20
``initial_weights``       ``initial_weights_logits = log(w)``     uniform
``amplitude``             ``sp_amplitude``                        1
``width``                 ``sp_width``                            1
``exponents``             ``sp_exponents``                        1
``pre_exp_scaling``       ``sp_pre_exp_scaling``                  0.5
``min_weights``           ``raw_min_budget``, ``raw_min_logits``  0.01 each
``max_weights``           ``raw_gap_logits``                      0.99 each
========================  ======================================  ===================

Example:
    >>> batch = init_params("momentum", 2, n_sets=3, memory_days=[5.0, 10.0], k_per_day=4)
    >>> sorted(batch), batch["log_k"].shape
    (['initial_weights_logits', 'log_k', 'logit_delta_lamb', 'logit_lamb'], (3, 2))
    >>> human = describe_params({k: v[0] for k, v in batch.items()}, "momentum")
    >>> [round(x, 6) for x in human["memory_days"]], [round(x, 6) for x in human["k_per_day"]]
    ([5.0, 10.0], [4.0, 4.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from algotrader.amm import params as P
from algotrader.amm.rules import parse_rule
from algotrader.errors import ConfigError

HUMAN_DEFAULTS: dict[str, float] = {
    "memory_days": 10.0,
    "memory_days_delta": 0.0,
    "k_per_day": 20.0,
    "amplitude": 1.0,
    "width": 1.0,
    "exponents": 1.0,
    "pre_exp_scaling": 0.5,
    "min_weights": 0.01,
    "max_weights": 0.99,
}


def _vector(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ConfigError(
            f"{name} must be a scalar or {n} values (one per token, sorted), got {arr.shape}",
            key=name,
        )
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} must be finite", key=name)
    return arr


def _positive(name: str, arr: np.ndarray) -> np.ndarray:
    if np.any(arr <= 0):
        raise ConfigError(f"{name} must be > 0", key=name, hint=f"got {arr.tolist()}")
    return arr


def _raw_value(name: str, h: dict[str, np.ndarray], chunk_period: int) -> np.ndarray:
    mem = h["memory_days"]
    if name == "logit_lamb":
        return P.logit_lamb_from_memory_days(mem, chunk_period)
    if name == "logit_delta_lamb":
        second = P.logit_lamb_from_memory_days(mem + h["memory_days_delta"], chunk_period)
        return second - P.logit_lamb_from_memory_days(mem, chunk_period)
    if name == "log_k":
        return np.log2(_positive("k_per_day", h["k_per_day"]))
    if name == "initial_weights_logits":
        return h["initial_weights_logits"]
    if name == "raw_min_budget":
        return np.atleast_1d(P.logit(np.sum(h["min_weights"])))
    if name == "raw_min_logits":
        return np.log(h["min_weights"] / np.sum(h["min_weights"]))
    if name == "raw_gap_logits":
        lo = h["min_weights"]
        return P.logit((h["max_weights"] - lo) / (1.0 - lo))
    human = {
        "sp_k": "k_per_day",
        "sp_amplitude": "amplitude",
        "sp_width": "width",
        "sp_exponents": "exponents",
        "sp_pre_exp_scaling": "pre_exp_scaling",
    }[name]
    return np.asarray(P.inverse_squareplus(_positive(human, h[human])))


def _human_vectors(n_assets: int, values: dict[str, Any]) -> dict[str, np.ndarray]:
    unknown = set(values) - set(HUMAN_DEFAULTS) - {"initial_weights"}
    if unknown:
        raise ConfigError(
            f"unknown parameter values {sorted(unknown)}",
            key=sorted(unknown)[0],
            hint=f"use {sorted([*HUMAN_DEFAULTS, 'initial_weights'])}",
        )
    merged = {**HUMAN_DEFAULTS, **{k: v for k, v in values.items() if k != "initial_weights"}}
    h = {k: _vector(k, v, n_assets) for k, v in merged.items()}
    if np.any(h["memory_days"] < 0) or np.any(h["memory_days"] + h["memory_days_delta"] < 0):
        raise ConfigError("memory days must be >= 0", key="memory_days")
    w = values.get("initial_weights")
    if w is None:
        h["initial_weights_logits"] = np.ones(n_assets)
    else:
        wv = _positive("initial_weights", _vector("initial_weights", w, n_assets))
        h["initial_weights_logits"] = np.log(wv / wv.sum())
    lo, hi = h["min_weights"], h["max_weights"]
    if np.sum(lo) >= 1.0 or np.any(hi <= lo) or np.any(hi > 1.0):
        raise ConfigError("bounds need sum(min_weights) < 1 and min < max <= 1", key="min_weights")
    return h


def init_params(
    rule: str,
    n_assets: int,
    n_sets: int = 1,
    *,
    chunk_period: int = 1440,
    seed: int = 0,
    noise_scale: float = 1.0,
    **values: Any,
) -> dict[str, np.ndarray]:
    """Parameter batch for ``rule`` from human values (see the module table)."""
    if n_sets < 1:
        raise ConfigError("n_sets must be >= 1", key="n_parameter_sets")
    spec = parse_rule(rule)
    h = _human_vectors(n_assets, values)
    rng = np.random.default_rng(seed)
    batch: dict[str, np.ndarray] = {}
    for name in spec.param_names:
        base = np.asarray(_raw_value(name, h, chunk_period), dtype=np.float64)
        arr = np.repeat(base[None, :], n_sets, axis=0)
        if name != "initial_weights_logits" and n_sets > 1:
            arr[1:] += noise_scale * rng.standard_normal(arr[1:].shape)
        batch[name] = arr
    return batch


def describe_params(
    params: dict[str, Any], rule: str, chunk_period: int = 1440, max_memory_days: float = 365.0
) -> dict[str, list[float]]:
    """Human-readable values of ONE parameter set (arrays ``(n,)``), effective (capped)."""
    import jax.numpy as jnp

    spec = parse_rule(rule)
    p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    out: dict[str, Any] = {"initial_weights": P.initial_weights(p)}
    if "logit_lamb" in p:
        mem = P.capped_memory_days(p["logit_lamb"], chunk_period, max_memory_days)
        out["memory_days"] = mem
        out["lamb"] = P.capped_lamb(p["logit_lamb"], chunk_period, max_memory_days)
        if "log_k" in p:
            out["k_per_day"] = jnp.exp2(p["log_k"])
        if "sp_k" in p:
            out["k_per_day"] = P.squareplus(p["sp_k"])
        if "logit_delta_lamb" in p:
            second = p["logit_lamb"] + p["logit_delta_lamb"]
            mem2 = P.capped_memory_days(second, chunk_period, max_memory_days)
            out["memory_days_delta"] = mem2 - mem
    for raw, human in (
        ("sp_amplitude", "amplitude"),
        ("sp_width", "width"),
        ("sp_exponents", "exponents"),
        ("sp_pre_exp_scaling", "pre_exp_scaling"),
    ):
        if raw in p:
            out[human] = P.squareplus(p[raw])
    if "bounded" in spec.hooks:
        from algotrader.amm.rules import weight_bounds

        out["min_weights"], out["max_weights"] = weight_bounds(p)
    return {k: [float(x) for x in np.atleast_1d(np.asarray(v))] for k, v in out.items()}


__all__ = ["HUMAN_DEFAULTS", "describe_params", "init_params"]
