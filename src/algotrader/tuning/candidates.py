"""Candidate generation: Sobol per categorical stratum (spec ``pipeline.md`` section 5.2).

1. Categorical/bool params are ordered topologically by their ``when`` conditions (ties: config
   order). Strata start as ``[{}]``; each categorical expands every stratum where its ``when``
   holds by each of its values (config order); other strata pass through without it.
2. ``n_c`` = number of strata; ``num_samples`` must be ``n_c * per`` with ``per`` a power of two,
   else :class:`~algotrader.errors.ConfigError` before anything is sampled.
3. ``numpy.random.default_rng(seed).integers(0, 2**32 - 1, n_c)`` gives one sub-seed per stratum.
4. Per stratum, the continuous params whose ``when`` holds (config order) get
   ``scipy.stats.qmc.Sobol(d, scramble=True, seed=sub_seed).random(per)``, mapped by
   ``lo + u (hi - lo)`` (linear), ``exp(ln lo + u (ln hi - ln lo))`` (log) or the same in base 10
   (log10). Ints (ours, not the source's round-half-even): ``floor(lo + u (hi - lo + 1))`` clipped
   to ``[lo, hi]`` so both endpoints have the same probability. A stratum with no active
   continuous param is repeated ``per`` times.
5. Ids are ``0..N-1`` in stratum order then Sobol row order; an empty space gives one ``{}``.

The output depends only on (space, num_samples, seed) and the scipy version
(:data:`SCIPY_VERSION`, record it in the run manifest).

Example (the spec's golden case):
    >>> space = SearchSpace.model_validate({"params": [
    ...     {"path": "m", "type": "categorical", "values": ["a", "b"]},
    ...     {"path": "lr", "type": "float", "bounds": [1e-4, 1e-2], "transform": "log"}]})
    >>> cands = generate_candidates(space, num_samples=8, seed=0)
    >>> [round(c.params["lr"], 6) for c in cands[:4]]
    [0.009934, 0.000138, 0.000456, 0.00284]
    >>> [c.params["m"] for c in cands], [c.stratum for c in cands][3:5]
    (['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'], [0, 1])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy
from scipy.stats import qmc

from algotrader.errors import ConfigError
from algotrader.tuning.objective import Candidate
from algotrader.tuning.space import ParamSpec, SearchSpace

__all__ = ["SCIPY_VERSION", "build_strata", "generate_candidates", "stratum_seeds", "to_value"]

SCIPY_VERSION: str = scipy.__version__


def build_strata(space: SearchSpace) -> list[dict[str, Any]]:
    """The categorical strata (path -> value), in generation order.

    >>> space = SearchSpace.model_validate({"params": [
    ...     {"path": "k", "type": "categorical", "values": ["x", "y"]},
    ...     {"path": "b", "type": "bool", "values": [True, False], "when": {"k": "y"}}]})
    >>> build_strata(space)
    [{'k': 'x'}, {'k': 'y', 'b': True}, {'k': 'y', 'b': False}]
    """
    strata: list[dict[str, Any]] = [{}]
    for p in space.categorical_order():
        nxt: list[dict[str, Any]] = []
        for s in strata:
            if p.active(s):
                assert p.values is not None  # validated by ParamSpec
                nxt.extend({**s, p.path: v} for v in p.values)
            else:
                nxt.append(s)
        strata = nxt
    return strata


def stratum_seeds(seed: int, n_strata: int) -> list[int]:
    """One Sobol sub-seed per stratum: ``default_rng(seed).integers(0, 2**32 - 1, n)``.

    >>> stratum_seeds(0, 2)
    [3653403230, 2735729614]
    """
    if seed < 0:
        raise ConfigError(f"tuning seed must be >= 0, got {seed}", key="tuning.seed")
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**32 - 1, n_strata)]


def to_value(p: ParamSpec, u: float) -> float | int:
    """Map one unit-interval draw ``u`` to the value of the float/int parameter ``p``.

    >>> p = ParamSpec(path="n", type="int", bounds=(1, 3))
    >>> [to_value(p, u) for u in (0.0, 0.34, 0.999999)]
    [1, 2, 3]
    """
    assert p.bounds is not None
    lo, hi = p.bounds
    if p.type == "int":
        return int(min(hi, max(lo, math.floor(lo + u * (hi - lo + 1)))))
    if p.transform == "log":
        return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    if p.transform == "log10":
        return float(10 ** (math.log10(lo) + u * (math.log10(hi) - math.log10(lo))))
    return lo + u * (hi - lo)


def generate_candidates(space: SearchSpace, *, num_samples: int, seed: int) -> list[Candidate]:
    """Candidates ``0..N-1`` by the rule in the module docstring.

    Raises:
        ConfigError: ``num_samples`` is not (number of strata) x (a power of two), or the
            seed is negative.
    """
    if not space.params:
        return [Candidate(0, {}, 0)]
    strata = build_strata(space)
    n_c = len(strata)
    per = num_samples // n_c if num_samples > 0 else 0
    if num_samples <= 0 or num_samples % n_c or per & (per - 1):
        raise ConfigError(
            f"tuning.num_samples {num_samples} must be {n_c} strata x a power of two",
            key="tuning.num_samples",
            hint=f"use one of {[n_c * 2**i for i in range(6)]}",
        )
    subs = stratum_seeds(seed, n_c)
    out: list[Candidate] = []
    for si, stratum in enumerate(strata):
        active = [p for p in space.continuous if p.active(stratum)]
        if not active:
            out.extend(Candidate(len(out) + i, dict(stratum), si) for i in range(per))
            continue
        u = qmc.Sobol(len(active), scramble=True, seed=subs[si]).random(per)
        for row in u:
            params = dict(stratum)
            for j, p in enumerate(active):
                params[p.path] = to_value(p, float(row[j]))
            out.append(Candidate(len(out), params, si))
    return out
