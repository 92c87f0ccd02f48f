"""Nested-CV simulation: outer walk-forward, inner purged CPCV tuning, for every family.

The family protocol (:mod:`algotrader.simulation.family`) is the one extension point: the
optimiser, AMM, baseline and forecast families all implement ``fit``/``decide``.
"""

from __future__ import annotations

from algotrader.simulation.family import (
    Decision,
    Family,
    FamilyContext,
    FamilyFactory,
    Scorer,
    SimulationData,
    available_families,
    get_family,
    register_family,
)

__all__ = [
    "Decision",
    "Family",
    "FamilyContext",
    "FamilyFactory",
    "Scorer",
    "SimulationData",
    "available_families",
    "get_family",
    "register_family",
]
