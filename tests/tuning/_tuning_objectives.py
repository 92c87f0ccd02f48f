"""Picklable test objectives (module-level so spawn workers can import them)."""

from __future__ import annotations

from algotrader.tuning import Candidate


class Quadratic:
    """Score -(x - target)^2 - 0.1 * split; NaN for x above ``nan_above``."""

    def __init__(self, n_splits: int = 4, nan_above: float = 2.0) -> None:
        self.split_ids = tuple(range(n_splits))
        self.nan_above = nan_above
        self.calls: list[tuple[int, int]] = []

    def evaluate(self, candidate: Candidate, split: int) -> float:
        self.calls.append((candidate.id, split))
        x = float(candidate.params["x"])
        if x > self.nan_above:
            return float("nan")
        return -((x - 0.3) ** 2) - 0.1 * split
