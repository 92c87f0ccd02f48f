"""The objective protocol every tunable family implements: candidate -> per-split scores.

A :class:`Candidate` is an id and a mapping of dot paths to values (see
:mod:`algotrader.tuning.space`). A :class:`SplitObjective` knows its splits (for example the
inner CPCV splits of one outer fold, or walk-forward windows) and scores one candidate on one
split, higher is better. Drivers (local loop, process pool, Ray, Optuna) only ever call
``evaluate(candidate, split)``, so they all produce the same score table and the best
candidate is chosen by one pure function.

Causality: ``evaluate`` must fit only on the split's training indices and score only on its
test indices; the objective owns the data, drivers never see it.

Example:
    >>> class Quadratic:
    ...     split_ids = (0, 1)
    ...     def evaluate(self, candidate, split):
    ...         return -(candidate.params["x"] - split) ** 2
    >>> obj = Quadratic()
    >>> isinstance(obj, SplitObjective)
    True
    >>> [obj.evaluate(Candidate(0, {"x": 0.5}), s) for s in obj.split_ids]
    [-0.25, -0.25]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Candidate", "SplitObjective"]


@dataclass(frozen=True)
class Candidate:
    """One point of a search space.

    Attributes:
        id: 0-based candidate id (stable for a given space, num_samples and seed).
        params: dot path -> value.
        stratum: index of the categorical stratum it was drawn in (0 when none).
    """

    id: int
    params: Mapping[str, Any] = field(default_factory=dict)
    stratum: int = 0


@runtime_checkable
class SplitObjective(Protocol):
    """Scores a candidate on one split; higher is better; NaN means "failed", never best."""

    @property
    def split_ids(self) -> Sequence[int]:
        """The split ids this objective scores on, in evaluation order."""
        ...

    def evaluate(self, candidate: Candidate, split: int) -> float:
        """Fit on the split's training rows with ``candidate`` applied; score its test rows."""
        ...
