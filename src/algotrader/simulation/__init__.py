"""Nested-CV simulation: outer walk-forward, inner purged CPCV tuning, for every family.

The family protocol (:mod:`algotrader.simulation.family`) is the one extension point: the
optimiser, AMM, baseline and forecast families all implement ``fit``/``decide``.
"""

from __future__ import annotations

from algotrader.simulation import families as _families  # noqa: F401  (registers built-ins)
from algotrader.simulation.config import SimulationConfig, load_simulation_config
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
from algotrader.simulation.runner import SimulationResult, run_simulation

__all__ = [
    "Decision",
    "Family",
    "FamilyContext",
    "FamilyFactory",
    "Scorer",
    "SimulationConfig",
    "SimulationData",
    "SimulationResult",
    "available_families",
    "get_family",
    "load_simulation_config",
    "register_family",
    "run_simulation",
]
