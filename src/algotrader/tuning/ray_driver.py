"""Ray driver: the objective is ``ray.put`` once, one task per candidate (``num_cpus`` each, BLAS
pinned to one thread inside the task), results streamed back with ``ray.wait``; the same score
table as :func:`~algotrader.tuning.drivers.run_local`.

``address=None`` starts (or reuses) a local cluster with ``num_cpus`` CPUs; ``"auto"`` or
``"ip:port"`` joins an existing one (the objective must then be importable on the workers). The
nested-CV simulation has its own Ray engine over the same rows (``simulation.engines``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import polars as pl

from algotrader.errors import ConfigError
from algotrader.tuning.objective import Candidate, SplitObjective
from algotrader.tuning.scores import score_table

__all__ = ["run_ray"]

logger = logging.getLogger(__name__)


def _task(objective: SplitObjective, cand: Candidate, fold: int) -> list[tuple[Any, ...]]:
    from algotrader.tuning.drivers import _candidate_rows, pin_blas

    pin_blas()
    return _candidate_rows(objective, cand, fold)


def run_ray(
    objective: SplitObjective,
    candidates: Sequence[Candidate],
    *,
    fold: int = 0,
    address: str | None = None,
    num_cpus: int | None = None,
    task_cpus: float = 1.0,
) -> pl.DataFrame:
    """Every candidate on every split as Ray tasks; returns the score table."""
    import ray

    if task_cpus <= 0:
        raise ConfigError(f"task_cpus must be > 0, got {task_cpus}", key="tuning.ray.num_cpus")
    if len({c.id for c in candidates}) != len(candidates):
        raise ConfigError("candidate ids must be unique", key="tuning.candidates")
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
        )
    remote = ray.remote(num_cpus=task_cpus)(_task)
    ref = ray.put(objective)
    pending = [remote.remote(ref, c, fold) for c in candidates]
    rows: list[tuple[Any, ...]] = []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for part in ray.get(done):
            rows.extend(part)
    logger.info("ray driver: %d candidates, %d rows", len(candidates), len(rows))
    return score_table(rows)
