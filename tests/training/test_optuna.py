"""Optuna path: defaults complete trials, pruning works, studies resume, test never steers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from algotrader.training import quadratic_problem
from algotrader.training.optuna_search import optuna_search

from .conftest import settings, split_problem


def test_default_settings_complete_trials_and_find_the_optimum(tmp_path: Path) -> None:
    s = settings(method="optuna", optuna_settings={"n_trials": 30})
    r = optuna_search(quadratic_problem(target=[1.0, -2.0]), s, tmp_path)
    assert r.n_complete >= 10
    assert r.n_complete + r.n_pruned == 30
    np.testing.assert_allclose(r.best_params["x"], [1.0, -2.0], atol=1.0)
    run = tmp_path / r.run_id
    assert (run / "optuna.journal").is_file() and (run / "trials.parquet").is_file()
    assert (run / "params_best.npz").is_file() and (run / "result.json").is_file()


def test_intermediate_values_are_reported_so_the_pruner_prunes(tmp_path: Path) -> None:
    s = settings(method="optuna", optuna_settings={"n_trials": 30, "n_report_steps": 4})
    r = optuna_search(quadratic_problem(target=[1.0, -2.0]), s, tmp_path)
    assert r.n_pruned > 0
    assert set(r.trials["state"].to_list()) <= {"COMPLETE", "PRUNED"}


def test_study_resumes_and_runs_only_missing_trials(tmp_path: Path) -> None:
    s6 = settings(method="optuna", optuna_settings={"n_trials": 6})
    first = optuna_search(quadratic_problem(target=1.0), s6, tmp_path)
    again = optuna_search(quadratic_problem(target=1.0), s6, tmp_path)
    assert again.trials.height == first.trials.height == 6
    assert again.best_trial == first.best_trial


def test_seeded_search_is_deterministic(tmp_path: Path) -> None:
    s = settings(method="optuna", optuna_settings={"n_trials": 12})
    a = optuna_search(quadratic_problem(target=1.0), s)
    b = optuna_search(quadratic_problem(target=1.0), s)
    assert a.trials["param_x_0"].to_list() == b.trials["param_x_0"].to_list()


def test_multi_objective_returns_a_balanced_pareto_trial() -> None:
    s = settings(method="optuna", optuna_settings={"n_trials": 12, "multi_objective": True})
    r = optuna_search(quadratic_problem(target=1.0), s)
    assert len(r.best_values) == 3
    assert r.best_values[2] == pytest.approx(0.0)  # -std over identical windows


def test_overfitting_penalty_and_test_never_steers() -> None:
    # train optimum x=2, validation optimum x=1: the penalty pulls the pick towards 1
    s = settings(method="optuna", optuna_settings={"n_trials": 25, "overfitting_penalty": 5.0})
    pen = optuna_search(split_problem(2.0, 1.0), s)
    s0 = settings(method="optuna", optuna_settings={"n_trials": 25, "overfitting_penalty": 0.0})
    free = optuna_search(split_problem(2.0, 1.0), s0)
    assert (
        abs(float(pen.best_params["x"][0]) - 1.0)
        < abs(float(free.best_params["x"][0]) - 1.0) + 1e-9
    )
    # a different test period changes only the reported test metrics
    other = optuna_search(split_problem(2.0, 1.0, test_target=-4.0), s)
    assert other.trials["value_0"].to_list() == pen.trials["value_0"].to_list()
    assert other.best_trial == pen.best_trial
    assert other.best_test_metrics != pen.best_test_metrics


def test_journal_storage_is_loadable_by_optuna(tmp_path: Path) -> None:
    from optuna.storages.journal import JournalFileBackend

    s = settings(method="optuna", optuna_settings={"n_trials": 3})
    r = optuna_search(quadratic_problem(target=1.0), s, tmp_path)
    storage = optuna.storages.JournalStorage(
        JournalFileBackend(str(tmp_path / r.run_id / "optuna.journal"))
    )
    study = optuna.load_study(study_name=f"algotrader-{r.run_id}", storage=storage)
    assert len(study.trials) == 3


def test_rdb_storage_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    s = settings(method="optuna", optuna_settings={"n_trials": 3, "storage": url})
    r = optuna_search(quadratic_problem(target=1.0), s, tmp_path)
    study = optuna.load_study(study_name=f"algotrader-{r.run_id}", storage=url)
    assert len(study.trials) == 3
