"""Candidates (Sobol per categorical stratum, spec 5.2), aggregation and the one choice rule.

Uses ``algotrader.tuning.candidates.generate_candidates`` when the tuning package provides
it; otherwise the fallback here implements the same rule:

1. strata: start with ``{}``; for each categorical/bool param in ``when``-topological order,
   every stratum where its ``when`` holds is expanded by each value (config order);
2. ``num_samples`` must be a multiple of the number of strata ``n_c`` with a power-of-two
   quotient ``per``;
3. ``default_rng(seed).integers(0, 2**32 - 1, n_c)`` gives one Sobol seed per stratum;
4. per stratum: the active continuous params get ``Sobol(d, scramble=True, seed).random(per)``
   mapped linearly / log / log10; ints by ``floor(lo + u (hi - lo + 1))`` clipped (uniform
   endpoints: ours, not the source's round-half-even).

Choice (:func:`choose_best`): aggregate each candidate's split scores (mean | median |
mean - lambda * population std), NaN or missing splits make the candidate ineligible; the
highest aggregate wins, ties to the lowest id. All engines call this one pure function.

Example:
    >>> from algotrader.tuning import SearchSpace
    >>> space = SearchSpace.model_validate({"params": [
    ...     {"path": "m", "type": "categorical", "values": ["a", "b"]},
    ...     {"path": "lr", "type": "float", "bounds": [1e-4, 1e-2], "transform": "log"}]})
    >>> cands = generate_candidates(space, num_samples=8, seed=0)
    >>> [round(c.params["lr"], 6) for c in cands[:4]]
    [0.009934, 0.000138, 0.000456, 0.00284]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

from algotrader.errors import ConfigError
from algotrader.tuning import Candidate, SearchSpace

__all__ = ["aggregate_scores", "choose_best", "generate_candidates"]


def _fallback_candidates(space: SearchSpace, num_samples: int, seed: int) -> list[Candidate]:
    strata: list[dict[str, Any]] = [{}]
    for p in space.categorical_order():
        nxt: list[dict[str, Any]] = []
        for s in strata:
            if p.active(s):
                assert p.values is not None
                nxt.extend({**s, p.path: v} for v in p.values)
            else:
                nxt.append(s)
        strata = nxt
    n_c = len(strata)
    per = num_samples // n_c
    if num_samples % n_c or per < 1 or per & (per - 1):
        raise ConfigError(
            f"tuning.num_samples {num_samples} must be {n_c} strata x a power of two",
            key="tuning.num_samples",
            hint=f"use one of {[n_c * 2**i for i in range(6)]}",
        )
    sub = np.random.default_rng(seed).integers(0, 2**32 - 1, n_c)
    out: list[Candidate] = []
    for si, stratum in enumerate(strata):
        active = [p for p in space.continuous if p.active(stratum)]
        if not active:
            for _ in range(per):
                out.append(Candidate(len(out), dict(stratum), si))
            continue
        u = qmc.Sobol(len(active), scramble=True, seed=int(sub[si])).random(per)
        for row in u:
            params = dict(stratum)
            for j, p in enumerate(active):
                assert p.bounds is not None
                lo, hi = p.bounds
                x = float(row[j])
                if p.type == "int":
                    params[p.path] = int(min(hi, max(lo, math.floor(lo + x * (hi - lo + 1)))))
                    continue
                if p.transform == "log":
                    v = math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo)))
                elif p.transform == "log10":
                    v = 10 ** (math.log10(lo) + x * (math.log10(hi) - math.log10(lo)))
                else:
                    v = lo + x * (hi - lo)
                params[p.path] = v
            out.append(Candidate(len(out), params, si))
    return out


def generate_candidates(space: SearchSpace, *, num_samples: int, seed: int) -> list[Candidate]:
    """Candidates 0..N-1 (an empty space gives one candidate ``{}``)."""
    if not space.params:
        return [Candidate(0, {}, 0)]
    return _fallback_candidates(space, num_samples, seed)


def aggregate_scores(scores: Sequence[float], method: str, penalty: float = 0.5) -> float:
    """One candidate's aggregate; any NaN or no score gives NaN (never chosen)."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0 or not np.isfinite(arr).all():
        return float("nan")
    if method == "mean":
        return float(arr.mean())
    if method == "median":
        return float(np.median(arr))
    if method == "mean_minus_std":
        return float(arr.mean() - penalty * arr.std())
    raise ConfigError(f"unknown aggregate method {method!r}", key="tuning.aggregate.method")


def choose_best(
    table: Mapping[int, Mapping[int, float]],
    split_ids: Sequence[int],
    *,
    method: str,
    penalty: float = 0.5,
) -> tuple[int, dict[int, float]]:
    """Best candidate id and every candidate's aggregate from ``{cand: {split: score}}``.

    Raises:
        ConfigError: no candidate has a finite aggregate over every split.
    """
    agg: dict[int, float] = {}
    for cid in sorted(table):
        row = table[cid]
        if any(s not in row for s in split_ids):
            agg[cid] = float("nan")
            continue
        agg[cid] = aggregate_scores([row[s] for s in split_ids], method, penalty)
    finite = [(v, -c) for c, v in agg.items() if math.isfinite(v)]
    if not finite:
        raise ConfigError(
            "no candidate has a finite score on every inner split",
            key="scoring.metric_name",
            hint="check the family and the scorer on a small config (simulation_mode stub)",
        )
    best = -max(finite)[1]
    return best, agg
