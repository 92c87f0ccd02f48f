"""Dynamic-weight AMM pool simulator (temporal-function market making) in JAX.

Importing this package enables float64 in JAX (``jax_enable_x64``).

Public API (see ``docs/amm.md`` for the maths, timing and error conventions):

* :class:`SimConfig` -- static simulation settings (compile key).
* :func:`forward_pass`, :func:`objective`, :func:`batched_forward` -- the pure,
  jittable, differentiable simulator (one parameter set, dynamic window start).
* :func:`parse_rule`, :data:`RULES` -- the rule registry.
* parameter maps: :func:`lamb_from_memory_days`, :func:`memory_days`, :func:`squareplus`...
* :class:`RunConfig` -- the validated run configuration (reference keys/defaults).
* :func:`init_params`, :func:`describe_params` -- human values <-> raw parameters.
* :func:`metric_value`, :data:`METRICS`.

Example:
    >>> import jax
    >>> import algotrader.amm
    >>> bool(jax.config.jax_enable_x64)
    True
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

from algotrader.amm.config import RunConfig  # noqa: E402
from algotrader.amm.forward import (  # noqa: E402
    DynamicInputs,
    batched_forward,
    check_window,
    forward_pass,
    jit_forward_pass,
    jit_objective,
    objective,
    rule_outputs,
)
from algotrader.amm.metrics import METRICS, all_metrics, metric_value  # noqa: E402
from algotrader.amm.param_init import describe_params, init_params  # noqa: E402
from algotrader.amm.params import (  # noqa: E402
    capped_lamb,
    capped_memory_days,
    initial_weights,
    inverse_squareplus,
    lamb_from_memory_days,
    logit_lamb_from_memory_days,
    memory_days,
    squareplus,
)
from algotrader.amm.rules import RULES, PoolSpec, parse_rule  # noqa: E402
from algotrader.amm.static import SimConfig  # noqa: E402

__all__ = [
    "METRICS",
    "RULES",
    "DynamicInputs",
    "PoolSpec",
    "RunConfig",
    "SimConfig",
    "all_metrics",
    "batched_forward",
    "capped_lamb",
    "capped_memory_days",
    "check_window",
    "describe_params",
    "forward_pass",
    "init_params",
    "initial_weights",
    "inverse_squareplus",
    "jit_forward_pass",
    "jit_objective",
    "lamb_from_memory_days",
    "logit_lamb_from_memory_days",
    "memory_days",
    "metric_value",
    "objective",
    "parse_rule",
    "rule_outputs",
    "squareplus",
]
