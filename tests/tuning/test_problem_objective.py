"""The AMM (a TrainingProblem) tuned through the generic interface: same drivers, same table."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algotrader.errors import ConfigError
from algotrader.training import quadratic_problem
from algotrader.training.problem import Evaluation, TrainingProblem
from algotrader.training.settings import SearchRange
from algotrader.tuning import (
    Candidate,
    choose_balanced,
    choose_best,
    generate_candidates,
    score_table,
)
from algotrader.tuning.drivers import run_local, run_optuna
from algotrader.tuning.problem_objective import (
    ProblemObjective,
    choose_penalised,
    space_from_problem,
)

DAY = 1440


def _split_problem(train_target: float, val_target: float) -> TrainingProblem:
    base = quadratic_problem(target=train_target)

    def evaluate(params: dict[str, Any], data: Any) -> Evaluation:
        x = params["x"]
        seg = {
            "train": {"score": -jnp.sum((x - train_target) ** 2)},
            "val": {"score": -jnp.sum((x - val_target) ** 2)},
            "test": {"score": -jnp.sum((x - 99.0) ** 2)},
        }
        return Evaluation(seg, {"final_weights": jnp.ones(1)})

    return replace(base, evaluate=evaluate)


def test_split_scores_are_the_closed_form() -> None:
    obj = ProblemObjective(quadratic_problem(target=[1.0, -2.0]), n_report_steps=2)
    c = Candidate(0, {"x.0": 0.0, "x.1": 0.0})
    assert obj.evaluate(c, 0) == pytest.approx(-(1.0 + 4.0))
    assert obj.params(Candidate(1, {"x": 3.0}))["x"].tolist() == [3.0, 3.0]
    with pytest.raises(ConfigError, match="'y' is not a parameter"):
        obj.params(Candidate(2, {"y": 1.0}))


def test_space_from_problem_uses_the_amm_range_rules() -> None:
    p = quadratic_problem(target=[1.0, 2.0])
    s = space_from_problem(p, {"x": SearchRange(low=0.5, high=0.5)}, expand_around=True)
    assert [(q.path, q.bounds) for q in s.params] == [("x.0", (-0.5, 0.5)), ("x.1", (-0.5, 0.5))]
    s = space_from_problem(p, {"x": SearchRange(low=1e-3, high=1.0, log_scale=True, scalar=True)})
    assert [(q.path, q.transform) for q in s.params] == [("x", "log")]
    with pytest.raises(ConfigError, match="'z' is not a trainable parameter"):
        space_from_problem(p, {"z": SearchRange(low=0, high=1)})


def test_optuna_and_local_agree_and_find_the_optimum(tmp_path: Path) -> None:
    p = quadratic_problem(target=[1.0, -2.0])
    obj = ProblemObjective(p, n_report_steps=2)
    cands = generate_candidates(space_from_problem(p), num_samples=32, seed=0)
    t = run_optuna(obj, cands, storage=tmp_path / "j.log", study_name="amm")
    assert_frame_equal(t.drop("seconds"), run_local(obj, cands).drop("seconds"))
    best = cands[choose_best(t).candidate].params
    dist = [math.dist((c.params["x.0"], c.params["x.1"]), (1.0, -2.0)) for c in cands]
    assert math.dist((best["x.0"], best["x.1"]), (1.0, -2.0)) == min(dist)


def test_pruning_and_resume(tmp_path: Path) -> None:
    p = quadratic_problem(target=[1.0, -2.0], n_starts=16)
    obj = ProblemObjective(p, n_report_steps=4, n_evaluation_points=16)
    cands = generate_candidates(space_from_problem(p), num_samples=32, seed=1)
    store = tmp_path / "j.log"
    t = run_optuna(obj, cands, storage=store, study_name="amm", prune=True, seed=3)
    lens = t.group_by("candidate").len().get_column("len")
    assert lens.max() == 4 and lens.min() < 4
    again = run_optuna(obj, cands, storage=store, study_name="amm", prune=True, seed=3)
    assert_frame_equal(again, t)  # resumed: read back, nothing re-run (same seconds too)


def test_overfitting_penalty_pulls_towards_validation_and_test_never_steers() -> None:
    p = _split_problem(2.0, 1.0)
    obj = ProblemObjective(p, n_report_steps=2)
    cands = [Candidate(i, {"x": x}) for i, x in enumerate(np.linspace(0.0, 3.0, 13))]
    table = run_local(obj, cands)
    val = {c.id: obj.validation(c) for c in cands}
    free = cands[choose_penalised(table, val, penalty=0.0).candidate].params["x"]
    pen = cands[choose_penalised(table, val, penalty=5.0).candidate].params["x"]
    assert free == pytest.approx(2.0)
    # closed form: maximise -(x-2)^2 - 5 * max(0, (x-1)^2 - (x-2)^2) -> x = 1 + 1/12 on the grid
    assert abs(pen - 1.0) < abs(free - 1.0)
    grid = np.linspace(0.0, 3.0, 13)
    want = grid[
        np.argmax(-((grid - 2) ** 2) - 5 * np.maximum(0, (grid - 1) ** 2 - (grid - 2) ** 2))
    ]
    assert pen == pytest.approx(want)


def test_choose_balanced_matches_the_amm_rule() -> None:
    from algotrader.training.optuna_search import best_balanced

    rng = np.random.default_rng(0)
    grid = rng.normal(size=(7, 5))
    rows = [(0, c, s, float(grid[c, s]), 0.0) for c in range(7) for s in range(5)]
    vals = np.stack([grid.mean(1), grid.min(1), -grid.std(1)], axis=1)
    assert choose_balanced(score_table(rows)).candidate == best_balanced(vals)


@pytest.mark.slow
def test_real_amm_pool_through_the_optuna_driver(tmp_path: Path) -> None:
    from algotrader.amm import SimConfig
    from algotrader.training.amm_problem import SpanLayout, amm_problem, default_base_params

    n = 40 * DAY
    t = np.arange(n) / DAY
    noise = 0.1 / np.sqrt(365 * DAY) * np.cumsum(np.random.default_rng(0).standard_normal(n))
    prices = np.stack([100 * np.exp(t / 365 + noise), 100 * np.ones(n)], axis=1)
    cfg = SimConfig(
        rule="momentum", n_assets=2, bout_length=10, return_val="returns", scan_unroll=1
    )
    layout = SpanLayout(
        start=5 * DAY, bout_length=30 * DAY, test_length=5 * DAY, bout_offset=DAY, val_fraction=0.2
    )
    base = default_base_params("momentum", 2, 1440, k_per_day=1.0)
    problem = amm_problem(
        prices,
        cfg,
        layout,
        base_params=base,
        trainable=["logit_lamb"],
        metric_names=("returns", "daily_sharpe"),
    )
    obj = ProblemObjective(problem, n_report_steps=2, n_evaluation_points=4)
    space = space_from_problem(problem)
    cands = generate_candidates(space, num_samples=4, seed=0)
    table = run_optuna(obj, cands, storage=tmp_path / "amm.log", study_name="amm", prune=True)
    assert table.height == 8 and table.get_column("score").is_finite().all()
    best = choose_best(table)
    val = {c.id: obj.validation(c) for c in cands}
    assert all(math.isfinite(v) for v in val.values())
    pen = choose_penalised(table, val, penalty=0.5)
    assert best.candidate in range(4) and pen.candidate in range(4)
    assert isinstance(table, pl.DataFrame)
