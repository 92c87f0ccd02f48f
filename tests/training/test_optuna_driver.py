"""One Optuna driver (issue 10 item 4): algotrader.tuning.drivers.run_optuna_sampler tunes the
optimiser on walk-forward splits and the AMM pool through the same interface, and the AMM
search is that driver."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.amm import SimConfig
from algotrader.backtest import CostModel
from algotrader.training import quadratic_problem
from algotrader.training.amm_problem import SpanLayout, amm_problem, default_base_params
from algotrader.training.optuna_search import optuna_search
from algotrader.tuning import SearchSpace
from algotrader.tuning.drivers import run_optuna_sampler
from algotrader.tuning.optimiser_objective import OptimiserObjective, walk_forward_windows
from algotrader.tuning.problem_objective import ProblemObjective, space_from_problem

from .conftest import settings, trending_prices

DAY = 1440


def _optimiser_objective() -> OptimiserObjective:
    rng = np.random.default_rng(0)
    t, a = 240, 4
    r = rng.normal(0.0003, 0.01, (t, a))
    px = 100 * np.exp(np.cumsum(r, axis=0))
    mom = np.vstack([np.zeros((1, a)), np.tanh(np.cumsum(r, axis=0)[:-1] * 5)])
    names = [f"A{i}" for i in range(a)]
    prices = pl.DataFrame({"date": list(range(t)), **{n: px[:, i] for i, n in enumerate(names)}})
    mu = pl.DataFrame({"date": list(range(t)), **{n: mom[:, i] for i, n in enumerate(names)}})
    return OptimiserObjective(
        prices,
        mu,
        {"vola": 8, "corr": 16, "clip": 4.0, "shrink": 0.5, "aum": 1e6},
        walk_forward_windows(t, n_splits=3, min_train=60),
        costs=CostModel(proportional_bps=5.0),
        periods_per_year=252,
    )


OPT_SPACE = SearchSpace.model_validate(
    {
        "params": [
            {"path": "vola", "type": "int", "bounds": [4, 12]},
            {"path": "corr", "type": "int", "bounds": [12, 30]},
            {"path": "shrink", "type": "float", "bounds": [0.1, 0.9]},
        ]
    }
)


def test_the_driver_tunes_the_optimiser_on_walk_forward_splits(tmp_path: Path) -> None:
    obj = _optimiser_objective()
    run = run_optuna_sampler(
        obj, OPT_SPACE, n_trials=6, study_name="opt", storage=tmp_path / "opt.journal", seed=1
    )
    assert run.n_run == 6
    table = run.scores
    # every split of each complete trial is the objective's own walk-forward score
    best = run.study.best_trial
    cand_rows = table.filter(pl.col("candidate") == best.number).sort("split")
    from algotrader.tuning import Candidate

    want = [obj.evaluate(Candidate(best.number, best.params), s) for s in obj.split_ids]
    np.testing.assert_allclose(cand_rows["score"].to_numpy(), want, rtol=1e-12)
    assert best.value == pytest.approx(float(np.mean(want)))
    assert {"vola", "corr", "shrink"} == set(best.params)
    # resume: the same study runs nothing more
    again = run_optuna_sampler(
        obj, OPT_SPACE, n_trials=6, study_name="opt", storage=tmp_path / "opt.journal", seed=1
    )
    assert again.n_run == 0 and again.scores.equals(table)


@pytest.mark.slow
def test_the_same_driver_tunes_the_amm_pool(tmp_path: Path) -> None:
    cfg = SimConfig(
        rule="momentum", n_assets=2, bout_length=10, return_val="returns", scan_unroll=1
    )
    layout = SpanLayout(
        start=5 * DAY, bout_length=30 * DAY, test_length=5 * DAY, bout_offset=DAY, val_fraction=0.2
    )
    problem = amm_problem(
        trending_prices(),
        cfg,
        layout,
        base_params=default_base_params("momentum", 2, 1440, k_per_day=1.0),
        trainable=["logit_lamb"],
        metric_names=("returns", "daily_sharpe"),
    )
    obj = ProblemObjective(problem, n_report_steps=2, n_evaluation_points=4)
    run = run_optuna_sampler(
        obj, space_from_problem(problem), n_trials=4, study_name="amm", storage=tmp_path / "a.log"
    )
    assert run.n_run == 4
    assert run.scores.height == 8 and run.scores.get_column("score").is_finite().all()
    # the AMM search is this driver: same trial values for the same seeded study (no penalty)
    s = settings(
        method="optuna",
        early_stopping_metric="returns",
        optuna_settings={
            "n_trials": 4,
            "n_report_steps": 2,
            "n_evaluation_points": 4,
            "overfitting_penalty": 0.0,
        },
    )
    res = optuna_search(problem, s)
    np.testing.assert_allclose(
        res.trials["value_0"].to_numpy(), [t.value for t in run.study.trials], rtol=1e-12
    )


def test_the_amm_search_is_the_shared_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    import algotrader.training.optuna_search as mod

    calls: list[str] = []
    real = mod.run_optuna_sampler

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs["study_name"]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mod, "run_optuna_sampler", spy)
    r = optuna_search(
        quadratic_problem(target=1.0), settings(method="optuna", optuna_settings={"n_trials": 3})
    )
    assert calls == [f"algotrader-{r.run_id}"] and r.n_complete + r.n_pruned == 3
