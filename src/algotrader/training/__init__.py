"""Training and tuning of differentiable strategies (AMM pools): gradient ascent,
Optuna search, best-params selection, walk-forward cycles, multi-period objectives.

Everything works against the small :class:`~algotrader.training.problem.TrainingProblem`
protocol; :mod:`algotrader.training.amm_problem` builds one from the AMM simulator.
JAX runs in float64 inside this package.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

from algotrader.training.data import AmmData, QuadraticData  # noqa: E402
from algotrader.training.problem import (  # noqa: E402
    Evaluation,
    TrainingProblem,
    quadratic_problem,
)
from algotrader.training.runs import (  # noqa: E402
    load_params,
    load_run,
    read_history,
    read_result,
    run_id,
)
from algotrader.training.selection import select_from_history  # noqa: E402
from algotrader.training.settings import (  # noqa: E402
    MultiPeriodSettings,
    OptimisationSettings,
    OptunaSettings,
    SearchRange,
    WalkForwardSettings,
)
from algotrader.training.trainer import (  # noqa: E402
    ChunkReport,
    TrainingInterrupted,
    TrainResult,
    train,
)

__all__ = [
    "AmmData",
    "ChunkReport",
    "Evaluation",
    "MultiPeriodSettings",
    "OptimisationSettings",
    "OptunaSettings",
    "QuadraticData",
    "SearchRange",
    "TrainResult",
    "TrainingInterrupted",
    "TrainingProblem",
    "WalkForwardSettings",
    "load_params",
    "load_run",
    "quadratic_problem",
    "read_history",
    "read_result",
    "run_id",
    "select_from_history",
    "train",
]
