"""Tuning shared by every family: a typed search space, candidates and the objective protocol.

Drivers (local, Optuna, Ray) evaluate a :class:`SplitObjective` over candidates and return one
per-(candidate, split) score table.
"""

from __future__ import annotations

from algotrader.tuning.objective import Candidate, SplitObjective
from algotrader.tuning.space import ParamSpec, SearchSpace, apply_candidate

__all__ = ["Candidate", "ParamSpec", "SearchSpace", "SplitObjective", "apply_candidate"]
