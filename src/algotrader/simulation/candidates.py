"""Candidates (Sobol per categorical stratum, spec 5.2), aggregation and the one choice rule.

Both come from the shared tuning interface (:mod:`algotrader.tuning`); this module only adapts
them. The candidate rule:

1. strata: start with ``{}``; for each categorical/bool param in ``when``-topological order,
   every stratum where its ``when`` holds is expanded by each value (config order);
2. ``num_samples`` must be a multiple of the number of strata ``n_c`` with a power-of-two
   quotient ``per``;
3. ``default_rng(seed).integers(0, 2**32 - 1, n_c)`` gives one Sobol seed per stratum;
4. per stratum: the active continuous params get ``Sobol(d, scramble=True, seed).random(per)``
   mapped linearly / log / log10; ints by ``floor(lo + u (hi - lo + 1))`` clipped (uniform
   endpoints: ours, not the source's round-half-even).

Choice (:func:`choose_best`, :func:`algotrader.tuning.choose_best`): aggregate each candidate's split scores (mean | median |
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

from collections.abc import Mapping, Sequence

from algotrader.tuning import Candidate, SearchSpace, score_table
from algotrader.tuning import aggregate as _shared_aggregate
from algotrader.tuning import choose_best as _shared_choose
from algotrader.tuning import generate_candidates as _shared_generate
from algotrader.tuning.scores import AggregateMethod

__all__ = ["aggregate_scores", "choose_best", "generate_candidates"]


def generate_candidates(space: SearchSpace, *, num_samples: int, seed: int) -> list[Candidate]:
    """Candidates 0..N-1 from the shared tuning interface (an empty space gives ``{}``)."""
    return _shared_generate(space, num_samples=num_samples, seed=seed)


def aggregate_scores(
    scores: Sequence[float], method: AggregateMethod, penalty: float = 0.5
) -> float:
    """One candidate's aggregate (:func:`algotrader.tuning.aggregate`: NaN if any is NaN)."""
    return _shared_aggregate(scores, method, penalty)


def choose_best(
    table: Mapping[int, Mapping[int, float]],
    split_ids: Sequence[int],
    *,
    method: AggregateMethod,
    penalty: float = 0.5,
) -> tuple[int, dict[int, float]]:
    """Best candidate id and every candidate's aggregate from ``{cand: {split: score}}``.

    A thin adapter over :func:`algotrader.tuning.choose_best` (the one rule).

    Raises:
        ConfigError: no candidate has a finite aggregate over every split.
    """
    rows = [(0, c, s, float(v), 0.0) for c in sorted(table) for s, v in sorted(table[c].items())]
    best = _shared_choose(
        score_table(rows), method=method, penalty=penalty, fold=0, split_ids=list(split_ids)
    )
    return best.candidate, dict(best.aggregates)
