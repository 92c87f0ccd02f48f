"""Fixtures for the training tests: toy problems and a tiny synthetic AMM market."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest

from algotrader.training import OptimisationSettings, TrainingProblem, quadratic_problem
from algotrader.training.problem import Evaluation

DAY = 1440


def settings(**kw: Any) -> OptimisationSettings:
    """Small, fast defaults for toy problems (metric ``score``)."""
    base: dict[str, Any] = {
        "optimiser": "adam",
        "base_lr": 0.1,
        "n_iterations": 60,
        "batch_size": 2,
        "n_parameter_sets": 2,
        "iterations_per_chunk": 20,
        "early_stopping": False,
        "early_stopping_metric": "score",
    }
    base.update(kw)
    return OptimisationSettings(**base)


def with_(s: OptimisationSettings, **kw: Any) -> OptimisationSettings:
    """A validated copy of ``s`` with fields changed."""
    return OptimisationSettings(**{**s.model_dump(), **kw})


def split_problem(
    train_target: float, val_target: float, test_target: float = 0.0
) -> TrainingProblem:
    """Training pulls ``x`` to ``train_target``; validation peaks at ``val_target``."""
    base = quadratic_problem(target=train_target)

    def evaluate(params: dict[str, Any], data: Any) -> Evaluation:
        x = params["x"]
        seg = {
            "train": {"score": -jnp.sum((x - train_target) ** 2)},
            "val": {"score": -jnp.sum((x - val_target) ** 2)},
            "test": {"score": -jnp.sum((x - data.test_target) ** 2)},
        }
        return Evaluation(
            seg, {"final_weights": jnp.ones(1), "daily_excess_returns": x + jnp.zeros(3)}
        )

    from dataclasses import replace

    return replace(
        base,
        evaluate=evaluate,
        data=base.data._replace(test_target=jnp.asarray(test_target)),
        description={"kind": "split", "targets": [train_target, val_target]},
    )


@pytest.fixture
def make_split_problem() -> Callable[..., TrainingProblem]:
    return split_problem


def trending_prices(days: int = 40, seed: int = 0) -> np.ndarray:
    """Two assets, minute rows: A drifts up 100%/yr with 10% vol, B is flat.

    On this market a momentum pool's returns rise with the memory length up to
    roughly 16-32 days (longer memory -> larger k -> faster move into A), so
    gradient ascent from the default 10 days must lengthen the memory.
    """
    n = days * DAY
    t = np.arange(n) / DAY
    noise = 0.1 / np.sqrt(365 * DAY) * np.cumsum(np.random.default_rng(seed).standard_normal(n))
    la = 1.0 / 365 * t + noise
    return np.stack([100 * np.exp(la), 100 * np.ones(n)], axis=1)


@pytest.fixture(scope="session")
def market() -> np.ndarray:
    return trending_prices()
