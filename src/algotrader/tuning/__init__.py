"""Tuning shared by every family: a typed search space, candidates and the objective protocol.

Drivers (local, Optuna, Ray) evaluate a :class:`SplitObjective` over candidates and return one
per-(fold, candidate, split) score table; :func:`choose_best` picks the winner, whatever the
driver. See ``docs/tuning.md``.
"""

from __future__ import annotations

from algotrader.tuning.candidates import generate_candidates
from algotrader.tuning.objective import Candidate, SplitObjective
from algotrader.tuning.scores import (
    SCORE_SCHEMA,
    BestCandidate,
    NoValidCandidateError,
    aggregate,
    choose_balanced,
    choose_best,
    score_table,
)
from algotrader.tuning.space import ParamSpec, SearchSpace, apply_candidate

__all__ = [
    "SCORE_SCHEMA",
    "BestCandidate",
    "Candidate",
    "NoValidCandidateError",
    "ParamSpec",
    "SearchSpace",
    "SplitObjective",
    "aggregate",
    "apply_candidate",
    "choose_balanced",
    "choose_best",
    "generate_candidates",
    "score_table",
]
