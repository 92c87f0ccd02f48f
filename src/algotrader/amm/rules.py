"""Update rules: one registry, parsed from the reference's rule strings.

A rule string is ``[hook__]*base`` with base in :data:`RULES` and hooks in
:data:`HOOKS` (``lvr``, ``rvr``: benchmark rebalancing instead of an AMM; ``bounded``:
learnable per-asset weight bounds).  Kinds of base rule:

* ``static`` (``balancer``): constant weights, arbitraged pool.
* ``hodl``: constant weights, no trading at all (reserves never move).
* ``delta`` (momentum family): per-chunk weight changes ``dw`` with ``sum(dw) = 0``,
  ``dw = k * (s - sum(k s) / sum(k))`` on a per-rule signal ``s``
  (``dw_i = 0`` where ``k_i = 0``).
* ``target`` (``min_variance``): target weights blended as
  ``Lambda * w_prev + (1 - Lambda) * target``.

Signals (``g``: EWMA proportional gradient, see :mod:`algotrader.amm.estimators`):
momentum ``g``; anti_momentum the same with ``-k``; power_channel
``sign(g) |g / (2 alpha)|^p`` with ``p = max(squareplus(sp_exponents), 1)``;
mean_reversion_channel ``-A E (x - x^3/6) / 0.5415 + (1 - E) sign(g) |g/(2 alpha)|^p``
with ``E = exp(-g^2 / (2 w^2))``, ``x = pi g / (3 w)``; difference_momentum
``1 - EWMA_2 / EWMA_1``; min_variance target ``propto 1 / var`` (EWMA variance of
chunk returns).

Example:
    >>> spec = parse_rule("bounded__momentum")
    >>> spec.base.name, spec.base.kind, sorted(spec.hooks)
    ('momentum', 'delta', ['bounded'])
    >>> spec.param_names
    ('initial_weights_logits', 'log_k', 'logit_delta_lamb', 'logit_lamb', 'raw_gap_logits', 'raw_min_budget', 'raw_min_logits')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from algotrader.amm import params as P
from algotrader.amm.estimators import ewma_path, ewma_return_variance, gradient_estimator
from algotrader.amm.static import SimConfig
from algotrader.errors import ConfigError

Array = jax.Array
RuleFn = Callable[[dict[str, Any], Array, SimConfig], dict[str, Array]]

_MRC_NORMALISER = 0.5415


def momentum_form(k: Array, signal: Array) -> Array:
    """``k * (s - sum(k s) / sum(k))`` per row; zero where ``k == 0``. Rows sum to 0.

    Args:
        k: ``(n,)`` per-asset scale.
        signal: ``(..., n)`` per-asset signal.
    """
    k_sum = jnp.sum(k)
    safe = jnp.where(k_sum == 0.0, 1.0, k_sum)
    offset = jnp.sum(k * signal, axis=-1, keepdims=True) / safe
    return jnp.where(k == 0.0, 0.0, k * (signal - offset))


def _safe_abs_pow(x: Array, p: Any) -> Array:
    """``|x|^p`` with finite derivatives at 0 (in ``x`` and ``p``)."""
    ax = jnp.abs(x)
    pos = ax > 0.0
    return jnp.where(pos, jnp.power(jnp.where(pos, ax, 1.0), p), 0.0)


def _lambdas(params: dict[str, Any], cfg: SimConfig) -> tuple[Array, Array, Array | None]:
    lamb = P.capped_lamb(params["logit_lamb"], cfg.chunk_period, cfg.max_memory_days)
    mem = P.capped_memory_days(params["logit_lamb"], cfg.chunk_period, cfg.max_memory_days)
    alt = None
    if cfg.use_alt_lamb:
        alt = jax.nn.sigmoid(params["logit_lamb"] + params["logit_delta_lamb"])
    return lamb, mem, alt


def _gradient_readouts(
    params: dict[str, Any], chunk_prices: Array, cfg: SimConfig
) -> tuple[dict[str, Array], Array]:
    lamb, mem, alt = _lambdas(params, cfg)
    return gradient_estimator(chunk_prices, lamb, alt), mem


def _momentum(params: dict[str, Any], chunk_prices: Array, cfg: SimConfig) -> dict[str, Array]:
    est, mem = _gradient_readouts(params, chunk_prices, cfg)
    k = P.k_from_params(params, mem)
    return {"rule_outputs": momentum_form(k, est["gradient"]), **est}


def _anti_momentum(params: dict[str, Any], chunk_prices: Array, cfg: SimConfig) -> dict[str, Array]:
    est, mem = _gradient_readouts(params, chunk_prices, cfg)
    k = -P.k_from_params(params, mem)
    return {"rule_outputs": momentum_form(k, est["gradient"]), **est}


def _power_signal(g: Array, params: dict[str, Any], cfg: SimConfig, clip_one: bool) -> Array:
    p = P.squareplus(params["sp_exponents"])
    if clip_one:
        p = jnp.maximum(p, 1.0)
    alpha = P.pre_exp_scaling(params, cfg.use_pre_exp_scaling)
    return jnp.sign(g) * _safe_abs_pow(g / (2.0 * alpha), p)


def _power_channel(params: dict[str, Any], chunk_prices: Array, cfg: SimConfig) -> dict[str, Array]:
    est, mem = _gradient_readouts(params, chunk_prices, cfg)
    k = P.k_from_params(params, mem)
    signal = _power_signal(est["gradient"], params, cfg, clip_one=True)
    return {"rule_outputs": momentum_form(k, signal), **est}


def _mean_reversion_channel(
    params: dict[str, Any], chunk_prices: Array, cfg: SimConfig
) -> dict[str, Array]:
    est, mem = _gradient_readouts(params, chunk_prices, cfg)
    g = est["gradient"]
    k = P.k_from_params(params, mem)
    width = P.squareplus(params["sp_width"])
    amplitude = P.squareplus(params["sp_amplitude"]) * mem
    envelope = jnp.exp(-(g**2) / (2.0 * width**2))
    x = jnp.pi * g / (3.0 * width)
    channel = -amplitude * envelope * (x - x**3 / 6.0) / _MRC_NORMALISER
    trend = (1.0 - envelope) * _power_signal(g, params, cfg, clip_one=False)
    return {"rule_outputs": momentum_form(k, channel + trend), **est}


def _difference_momentum(
    params: dict[str, Any], chunk_prices: Array, cfg: SimConfig
) -> dict[str, Array]:
    lamb1 = P.capped_lamb(params["logit_lamb"], cfg.chunk_period, cfg.max_memory_days)
    logit2 = params["logit_lamb"] + params["logit_delta_lamb"]
    lamb2 = P.capped_lamb(logit2, cfg.chunk_period, cfg.max_memory_days)
    mem1 = P.capped_memory_days(params["logit_lamb"], cfg.chunk_period, cfg.max_memory_days)
    mem2 = P.capped_memory_days(logit2, cfg.chunk_period, cfg.max_memory_days)
    ewma1 = ewma_path(chunk_prices, lamb1)
    ewma2 = ewma_path(chunk_prices, lamb2)
    k = P.k_from_params(params, jnp.maximum(mem1, mem2))
    signal = 1.0 - ewma2 / ewma1
    return {"rule_outputs": momentum_form(k, signal), "ewma": ewma1, "ewma_2": ewma2}


def _min_variance(params: dict[str, Any], chunk_prices: Array, cfg: SimConfig) -> dict[str, Array]:
    lamb = P.capped_lamb(params["logit_lamb"], cfg.chunk_period, cfg.max_memory_days)
    blend_logit = params["logit_lamb"] + params["logit_delta_lamb"]
    blend = P.capped_lamb(blend_logit, cfg.chunk_period, cfg.max_memory_days)
    var = ewma_return_variance(chunk_prices, lamb)
    inv = 1.0 / jnp.maximum(var, 1e-30)
    target = inv / jnp.sum(inv, axis=-1, keepdims=True)
    return {"rule_outputs": target, "variance": var, "blend": jnp.broadcast_to(blend, target.shape)}


@dataclass(frozen=True)
class RuleInfo:
    """A base rule: name, kind (static | hodl | delta | target), raw parameter names."""

    name: str
    kind: str
    param_names: tuple[str, ...]
    outputs: RuleFn | None = None


_MOMENTUM_PARAMS = ("initial_weights_logits", "log_k", "logit_delta_lamb", "logit_lamb")
_SP_PARAMS = ("initial_weights_logits", "logit_delta_lamb", "logit_lamb", "sp_k")

RULES: dict[str, RuleInfo] = {
    r.name: r
    for r in (
        RuleInfo("balancer", "static", ("initial_weights_logits",)),
        RuleInfo("hodl", "hodl", ("initial_weights_logits",)),
        RuleInfo("momentum", "delta", _MOMENTUM_PARAMS, _momentum),
        RuleInfo("anti_momentum", "delta", _MOMENTUM_PARAMS, _anti_momentum),
        RuleInfo(
            "power_channel",
            "delta",
            (*_SP_PARAMS, "sp_exponents", "sp_pre_exp_scaling"),
            _power_channel,
        ),
        RuleInfo(
            "mean_reversion_channel",
            "delta",
            (*_SP_PARAMS, "sp_amplitude", "sp_exponents", "sp_pre_exp_scaling", "sp_width"),
            _mean_reversion_channel,
        ),
        RuleInfo("difference_momentum", "delta", _MOMENTUM_PARAMS, _difference_momentum),
        RuleInfo(
            "min_variance",
            "target",
            ("initial_weights_logits", "logit_delta_lamb", "logit_lamb"),
            _min_variance,
        ),
    )
}

#: Hook prefixes: reserve model (``lvr``, ``rvr``) or extra parameters (``bounded``).
HOOKS: tuple[str, ...] = ("bounded", "lvr", "rvr")
BOUND_PARAMS: tuple[str, ...] = ("raw_gap_logits", "raw_min_budget", "raw_min_logits")


@dataclass(frozen=True)
class PoolSpec:
    """A parsed rule string: base rule plus hooks."""

    rule: str
    base: RuleInfo
    hooks: frozenset[str] = field(default_factory=frozenset)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Sorted raw parameter names the pool needs."""
        extra = BOUND_PARAMS if "bounded" in self.hooks else ()
        return tuple(sorted((*self.base.param_names, *extra)))

    @property
    def reserve_model(self) -> str:
        """``amm`` (arbitraged G3M), ``hodl``, ``lvr`` or ``rvr``."""
        if self.base.kind == "hodl":
            return "hodl"
        for hook in ("lvr", "rvr"):
            if hook in self.hooks:
                return hook
        return "amm"


def parse_rule(rule: str) -> PoolSpec:
    """Parse ``[hook__]*base``; raises :class:`ConfigError` on an unknown rule or hook."""
    parts = rule.split("__")
    base_name, hooks = parts[-1], parts[:-1]
    if base_name not in RULES:
        raise ConfigError(
            f"unknown rule {base_name!r}", key="rule", hint=f"use one of {sorted(RULES)}"
        )
    for hook in hooks:
        if hook not in HOOKS:
            raise ConfigError(f"unknown hook {hook!r}", key="rule", hint=f"use one of {HOOKS}")
    if "lvr" in hooks and "rvr" in hooks:
        raise ConfigError("lvr and rvr cannot be combined", key="rule")
    return PoolSpec(rule=rule, base=RULES[base_name], hooks=frozenset(hooks))


def weight_bounds(params: dict[str, Any]) -> tuple[Array, Array]:
    """Per-asset ``(min, max)`` bounds of the ``bounded`` hook.

    ``min = sigmoid(raw_min_budget) * softmax(raw_min_logits)``,
    ``max = (min + (1 - min) sigmoid(raw_gap_logits)) * max(1, 1 / sum(...))``.
    """
    budget = jax.nn.sigmoid(jnp.sum(params["raw_min_budget"]))
    lo = budget * jax.nn.softmax(params["raw_min_logits"])
    hi = lo + (1.0 - lo) * jax.nn.sigmoid(params["raw_gap_logits"])
    hi = hi * jnp.maximum(1.0, 1.0 / jnp.sum(hi))
    return lo, jnp.minimum(hi, 1.0)


__all__ = [
    "BOUND_PARAMS",
    "HOOKS",
    "RULES",
    "PoolSpec",
    "RuleInfo",
    "momentum_form",
    "parse_rule",
    "weight_bounds",
]
