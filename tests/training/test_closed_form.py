"""Closed-form checks of the gradient trainer on toy problems with known optima."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import polars as pl
import pytest

from algotrader.training import (
    ChunkReport,
    TrainingInterrupted,
    load_run,
    quadratic_problem,
    select_from_history,
    train,
)
from algotrader.training.multi_period import aggregate, multi_period_objective, period_specs
from algotrader.training.optimiser import make_schedule
from algotrader.training.runs import RunPaths, read_history
from algotrader.training.walk_forward import (
    adjusted_sharpe,
    rademacher_complexity,
    walk_forward_efficiency,
)

from .conftest import settings, split_problem, with_


@pytest.mark.parametrize("optimiser,lr", [("adam", 0.1), ("adamw", 0.1), ("sgd", 0.1)])
def test_every_optimiser_ascends_to_the_maximum(optimiser: str, lr: float) -> None:
    s = settings(
        optimiser=optimiser, base_lr=lr, weight_decay=0.0, n_iterations=200, iterations_per_chunk=50
    )
    r = train(quadratic_problem(target=[1.5, -0.5]), s)
    np.testing.assert_allclose(r.best_params["x"], [1.5, -0.5], atol=1e-2)
    assert r.best_metrics["train"]["score"] > -1e-3
    assert r.compile_count == 1


def test_schedules_hit_their_closed_form_values() -> None:
    base = {"base_lr": 1.0, "lr_decay_ratio": 100.0, "n_iterations": 100, "warmup_steps": 10}
    const = make_schedule(settings(lr_schedule_type="constant", **base))
    cos = make_schedule(settings(lr_schedule_type="cosine", **base))
    exp = make_schedule(settings(lr_schedule_type="exponential", **base))
    warm = make_schedule(settings(lr_schedule_type="warmup_cosine", **base))
    assert float(const(57)) == 1.0
    assert float(cos(0)) == pytest.approx(1.0) and float(cos(100)) == pytest.approx(0.01)
    assert float(cos(50)) == pytest.approx(0.01 + 0.99 * 0.5)
    assert float(exp(50)) == pytest.approx(0.1) and float(exp(100)) == pytest.approx(0.01)
    assert float(warm(0)) == pytest.approx(0.01) and float(warm(10)) == pytest.approx(1.0)
    assert float(warm(100)) == pytest.approx(0.01)


def test_selection_uses_validation_and_early_stopping_fires() -> None:
    # Training pulls x from 0 to 2; validation peaks at x = 1: best_val must stop near 1.
    prob = split_problem(train_target=2.0, val_target=1.0)
    s = settings(
        base_lr=0.05,
        n_iterations=400,
        early_stopping=True,
        early_stopping_patience=15,
        iterations_per_chunk=10,
        n_parameter_sets=1,
        noise_scale=0.0,
    )
    r = train(prob, s)
    assert abs(float(r.best_params["x"][0]) - 1.0) < 0.06
    assert r.stopped_early and r.iterations_run < 400
    best_row = r.history.filter(pl.col("iteration") == r.best_iteration)
    assert best_row["val_score"].to_numpy().max() == pytest.approx(r.best_metrics["val"]["score"])
    # no iteration has a higher validation score
    assert r.history["val_score"].to_numpy().max() == pytest.approx(r.best_metrics["val"]["score"])
    # patience iterations ran past the best before stopping
    assert r.iterations_run - 1 - r.best_iteration == 15
    # best_train picks the training optimum instead
    r2 = train(
        prob, with_(s, selection_method="best_train", early_stopping=False, n_iterations=200)
    )
    assert abs(float(r2.best_params["x"][0]) - 2.0) < 0.05


def test_best_train_min_val_and_last_selection() -> None:
    prob = split_problem(train_target=2.0, val_target=1.0)
    s = settings(
        base_lr=0.05,
        n_iterations=120,
        n_parameter_sets=1,
        noise_scale=0.0,
        selection_method="best_train_min_val",
        selection_threshold=-0.25,
    )
    r = train(prob, s)
    x = float(r.best_params["x"][0])
    # the highest-train iterate whose validation score is >= -0.25, i.e. x <= 1.5
    assert x <= 1.5 + 1e-9 and x > 1.4
    last = train(prob, with_(s, selection_method="last"))
    assert last.best_iteration == 119
    assert last.best_metrics == last.last_metrics


def test_plateau_decay_shrinks_the_step_for_adam() -> None:
    # Validation never improves after iteration 0 (val target far below the path).
    prob = split_problem(train_target=2.0, val_target=-5.0)
    s = settings(
        optimiser="adam",
        base_lr=0.1,
        n_iterations=40,
        n_parameter_sets=1,
        iterations_per_chunk=10,
        use_plateau_decay=True,
        decay_lr_plateau=10,
        decay_lr_ratio=0.5,
        min_lr=0.02,
    )
    r = train(prob, s)
    lr = r.history.sort("iteration")["lr"].to_numpy()
    assert lr[0] == pytest.approx(0.1)
    assert lr[11] == pytest.approx(0.05)  # decayed after 10 iterations without improvement
    assert lr[21] == pytest.approx(0.025)
    assert lr[31] == pytest.approx(0.02)  # floored at min_lr


def test_nan_parameter_sets_are_reinitialised() -> None:
    base = quadratic_problem(target=5.0)

    def objective(params: dict[str, Any], start: Any, data: Any) -> Any:
        x = params["x"]
        # past x = 1 the objective and its gradient are NaN (a simulator blowing up)
        return jnp.sum(-((x - 5.0) ** 2) + jnp.where(x > 1.0, jnp.nan * x, 0.0))

    prob = replace(base, objective=objective, description={"kind": "nan-trap"})
    s = settings(
        base_lr=0.5, n_iterations=20, iterations_per_chunk=10, selection_method="best_train"
    )
    r = train(prob, s)
    assert r.history["reinit"].any()
    assert int(r.n_reinit.sum()) > 0
    assert np.isfinite(r.last_params["x"]).all()


def test_swa_average_is_evaluated() -> None:
    s = settings(
        n_iterations=100, use_swa=True, swa_start_frac=0.5, swa_freq=5, iterations_per_chunk=25
    )
    r = train(quadratic_problem(target=1.0), s)
    assert r.swa_params is not None and r.swa_metrics is not None
    assert abs(float(r.swa_params["x"][0]) - 1.0) < 0.1
    assert r.swa_metrics["val"]["score"] == pytest.approx(-float((r.swa_params["x"][0] - 1.0) ** 2))


def test_same_seed_same_result_other_seed_differs() -> None:
    s = settings(
        n_iterations=30, iterations_per_chunk=10, noise_scale=0.5, sample_method="exponential"
    )
    a = train(quadratic_problem(target=1.0, n_starts=8), s)
    b = train(quadratic_problem(target=1.0, n_starts=8), s)
    c = train(quadratic_problem(target=1.0, n_starts=8), with_(s, initial_random_key=1))
    assert a.history.equals(b.history)
    np.testing.assert_array_equal(a.best_params["x"], b.best_params["x"])
    assert not a.history.equals(c.history)


def test_resume_after_interruption_equals_uninterrupted(tmp_path: Path) -> None:
    prob = split_problem(train_target=2.0, val_target=1.5)
    s = settings(
        n_iterations=50,
        iterations_per_chunk=10,
        noise_scale=0.3,
        early_stopping=True,
        early_stopping_patience=30,
        use_plateau_decay=True,
        decay_lr_plateau=5,
    )
    full = train(prob, s, tmp_path / "a")

    seen: list[int] = []

    def stop_after_two(rep: ChunkReport) -> None:
        seen.append(rep.iteration)
        if rep.iteration >= 20:
            raise TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        train(prob, s, tmp_path / "b", callback=stop_after_two)
    assert seen == [10, 20]
    (run_dir,) = list((tmp_path / "b").iterdir())
    assert (run_dir / "state.npz").is_file() and not (run_dir / "result.json").exists()
    assert read_history(RunPaths(run_dir)).height == 40
    resumed = train(prob, s, tmp_path / "b")
    assert resumed.run_id == full.run_id
    assert resumed.history.equals(full.history)
    np.testing.assert_array_equal(resumed.best_params["x"], full.best_params["x"])
    assert resumed.best_iteration == full.best_iteration
    assert (run_dir / "result.json").is_file() and (run_dir / "params_best.npz").is_file()


def test_saved_run_selection_matches_tracker(tmp_path: Path) -> None:
    prob = split_problem(train_target=2.0, val_target=1.0)
    s = settings(base_lr=0.05, n_iterations=80, iterations_per_chunk=20)
    r = train(prob, s, tmp_path)
    hist = read_history(RunPaths(Path(r.run_dir or "")))
    it, st = select_from_history(hist, "best_val", "score")
    assert (it, st) == (r.best_iteration, r.best_set)
    it2, _ = select_from_history(hist, "best_train", "score")
    assert it2 >= it
    it3, _ = select_from_history(hist, "last", "score")
    assert it3 == 79
    params, it4, st4 = load_run(Path(r.run_dir or ""), "best_val", "score")
    assert (it4, st4) == (r.best_iteration, r.best_set)
    np.testing.assert_array_equal(params["x"], r.best_params["x"])
    bt, it5, _ = load_run(Path(r.run_dir or ""), "best_train", "score")
    assert it5 == it2 and abs(float(bt["x"][0]) - 2.0) < abs(float(params["x"][0]) - 2.0)


def test_multi_period_aggregations_closed_form() -> None:
    specs = period_specs(3, 300)
    assert [(p.rel_start, p.rel_end, p.length) for p in specs] == [
        (0, 100, 100),
        (100, 200, 100),
        (200, 300, 100),
    ]
    v = jnp.array([1.0, 2.0, 4.0])
    assert float(aggregate(v, "mean")) == pytest.approx(7 / 3)
    assert float(aggregate(v, "sum")) == 7.0
    assert float(aggregate(v, "min")) == 1.0
    w = np.exp(-np.array([1.0, 2.0, 4.0]) / 2.0)
    assert float(aggregate(v, "softmin", 2.0)) == pytest.approx(
        float((w / w.sum()) @ np.array([1.0, 2.0, 4.0]))
    )

    def path(params: Any, start: Any, data: Any) -> dict[str, Any]:
        return {"value": jnp.arange(300.0) * params["x"][0]}

    obj = multi_period_objective(path, lambda out, a, b: out["value"][b - 1], specs, "min")
    assert float(obj({"x": jnp.array([2.0])}, jnp.asarray(0), {})) == pytest.approx(2 * 99.0)


def test_walk_forward_statistics_closed_form() -> None:
    assert walk_forward_efficiency(2.0, 1.0) == 0.5
    assert np.isnan(walk_forward_efficiency(-1.0, 1.0)) and np.isnan(
        walk_forward_efficiency(0.0, 1.0)
    )
    rng = np.random.default_rng(0)
    # identical strategies: max over s is the single path; E[sigma . x] = 0
    same = np.tile(rng.normal(0, 0.01, 500), (2, 1))
    assert abs(rademacher_complexity(same, n_draws=4000)) < 3 / np.sqrt(500 * 4000) * 3
    # a path and its negation (standardised +-1): E|mean(sigma x)| ~ sqrt(2 / (pi T))
    alt = np.array([0.01, -0.01] * 200)
    opp = np.stack([alt, -alt])
    sd = alt.std(ddof=1)
    expected = np.sqrt(2 / (np.pi * 400)) * 0.01 / sd
    assert rademacher_complexity(opp, n_draws=4000) == pytest.approx(expected, rel=0.1)
    assert np.isnan(rademacher_complexity(np.ones((2, 10))))  # constant paths: undefined
    assert np.isnan(rademacher_complexity(np.ones((1, 10))))
    daily = np.array([0.01, -0.005, 0.02, 0.0, 0.004])
    sharpe = np.sqrt(365) * daily.mean() / daily.std()
    haircut = 2 * 0.001 + 3 * np.sqrt(2 * np.log(2 / 0.05) / 100)
    assert adjusted_sharpe(daily, 0.001, 100, 0.05) == pytest.approx(
        sharpe - np.sqrt(365) * haircut
    )
