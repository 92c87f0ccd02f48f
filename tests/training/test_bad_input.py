"""Each documented configuration or input error is raised with a message naming the fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.amm import SimConfig
from algotrader.errors import ConfigError, ShapeError, StateError
from algotrader.training import OptimisationSettings, WalkForwardSettings, quadratic_problem, train
from algotrader.training.amm_problem import SpanLayout, amm_problem, default_base_params
from algotrader.training.multi_period import aggregate, period_specs
from algotrader.training.optuna_search import optuna_search, resolve_space
from algotrader.training.runs import load_params
from algotrader.training.sampling import sample_offsets
from algotrader.training.selection import select_from_history, selection_score
from algotrader.training.settings import SearchRange
from algotrader.training.walk_forward import cycle_metric, cycle_spans

from .conftest import settings, with_

DAY = 1440


def test_unknown_settings_key_is_named() -> None:
    with pytest.raises(
        ConfigError, match=r"Extra inputs are not permitted \(n_iteration\)"
    ) as info:
        OptimisationSettings.from_mapping({"n_iteration": 3}, source="run.yaml")
    assert info.value.key == "n_iteration" and info.value.file == "run.yaml"
    with pytest.raises(ConfigError, match="n_trial") as info:
        OptimisationSettings(optuna_settings={"n_trial": 3})
    assert info.value.key == "optuna_settings.n_trial"


def test_out_of_range_setting() -> None:
    with pytest.raises(ConfigError, match="val_fraction"):
        OptimisationSettings.from_mapping({"val_fraction": 1.5})
    with pytest.raises(ConfigError, match="mode"):
        WalkForwardSettings.from_mapping({"mode": "sliding"})


def test_early_stopping_without_validation_is_refused() -> None:
    with pytest.raises(ConfigError, match="early_stopping needs a validation holdout"):
        OptimisationSettings.from_mapping({"val_fraction": 0.0, "selection_method": "best_train"})
    with pytest.raises(ConfigError, match="needs a validation holdout"):
        OptimisationSettings.from_mapping({"val_fraction": 0.0, "early_stopping": False})


def test_batch_larger_than_window_starts() -> None:
    with pytest.raises(ConfigError, match="batch_size=5 distinct windows requested but only 4"):
        train(quadratic_problem(n_starts=4), settings(batch_size=5))
    import jax

    with pytest.raises(ConfigError, match="unknown sample_method"):
        sample_offsets(jax.random.PRNGKey(0), "gaussian", n_starts=4, batch_size=2)


def test_unknown_selection_metric() -> None:
    with pytest.raises(ConfigError, match="early_stopping_metric 'sharpe' is not a metric"):
        train(quadratic_problem(), settings(early_stopping_metric="sharpe"))


def test_warmup_longer_than_training() -> None:
    with pytest.raises(ConfigError, match="warmup_steps=100 must be below n_iterations=60"):
        train(quadratic_problem(), settings(lr_schedule_type="warmup_cosine"))


def test_test_based_selection_is_refused_while_training() -> None:
    with pytest.raises(ConfigError, match="cannot be used while training"):
        selection_score({"train": {}, "val": {}}, "best_test", "score", 0.0)


def test_checkpoint_of_another_configuration_is_refused(tmp_path: Path) -> None:
    s = settings(n_iterations=20, iterations_per_chunk=10)
    r = train(quadratic_problem(target=1.0), s, tmp_path)
    state = Path(r.run_dir or "") / "state.npz"
    # a checkpoint written with two parameter sets cannot feed a 3-set run of the same id
    other = train(quadratic_problem(target=1.0), with_(s, n_parameter_sets=3), tmp_path)
    other_state = Path(other.run_dir or "") / "state.npz"
    other_state.write_bytes(state.read_bytes())
    with pytest.raises(StateError, match=r"checkpoint leaf .* has shape"):
        train(quadratic_problem(target=1.0), with_(s, n_parameter_sets=3), tmp_path)


def test_missing_params_file() -> None:
    with pytest.raises(StateError, match="parameter file not found"):
        load_params("/nonexistent/params.npz")


def test_history_selection_errors() -> None:
    h = pl.DataFrame(
        {"iteration": [0, 1], "set": [0, 0], "train_s": [1.0, 2.0], "val_s": [-1.0, -2.0]}
    )
    with pytest.raises(ConfigError, match="unknown selection method 'best'"):
        select_from_history(h, "best", "s")
    with pytest.raises(ConfigError, match="metric 'q' has no train column"):
        select_from_history(h, "best_train", "q")
    with pytest.raises(ConfigError, match=r"no iteration has a val s of at least 0\.0"):
        select_from_history(h, "best_train_min_val", "s", 0.0)
    with pytest.raises(ConfigError, match="no history"):
        select_from_history(pl.DataFrame(), "best_val", "s")


def test_invalid_search_ranges_fail_before_any_trial(tmp_path: Path) -> None:
    prob = quadratic_problem(target=1.0)
    bad = {"x": SearchRange(low=2.0, high=1.0)}
    with pytest.raises(
        ConfigError, match=r"search range for x_0 is empty or invalid: \[2.0, 1.0\]"
    ):
        resolve_space(prob, bad, expand_around=False)
    with pytest.raises(ConfigError, match="offsets below/above the initial value"):
        resolve_space(prob, {"x": SearchRange(low=-1.0, high=-0.5)}, expand_around=True)
    with pytest.raises(ConfigError, match="log_scale range for x_0 must be positive"):
        resolve_space(
            prob, {"x": SearchRange(low=0.0, high=1.0, log_scale=True)}, expand_around=False
        )
    with pytest.raises(ConfigError, match="'y' is not a trainable parameter"):
        resolve_space(prob, {"y": SearchRange(low=0.0, high=1.0)}, expand_around=False)
    s = settings(
        method="optuna",
        optuna_settings={"n_trials": 3, "parameter_config": {"x": {"low": 1, "high": 0}}},
    )
    with pytest.raises(ConfigError, match="empty or invalid"):
        optuna_search(prob, s, tmp_path)
    assert not list(tmp_path.rglob("optuna.journal"))  # nothing ran
    with pytest.raises(ConfigError, match="empty Optuna search space"):
        resolve_space(replace(prob, search_space={}), {}, expand_around=False)


def test_amm_layout_errors() -> None:
    prices = np.ones((20 * DAY, 2)) * 100.0
    cfg = SimConfig(rule="momentum", n_assets=2, bout_length=10)
    with pytest.raises(ShapeError, match="does not fit in 28800 price rows"):
        amm_problem(
            prices,
            cfg,
            SpanLayout(
                start=5 * DAY,
                bout_length=15 * DAY,
                test_length=5 * DAY,
                bout_offset=DAY,
                val_fraction=0.2,
            ),
        )
    with pytest.raises(ConfigError, match=r"training windows of .* minutes are too short"):
        amm_problem(
            prices,
            cfg,
            SpanLayout(
                start=DAY,
                bout_length=5 * DAY,
                test_length=DAY,
                bout_offset=3 * DAY,
                val_fraction=0.2,
            ),
        )
    with pytest.raises(ConfigError, match=r"validation holdout of .* is under two days"):
        amm_problem(
            prices,
            cfg,
            SpanLayout(
                start=DAY, bout_length=10 * DAY, test_length=DAY, bout_offset=DAY, val_fraction=0.1
            ),
        )
    with pytest.raises(ShapeError, match=r"prices must be \(N, 2\)"):
        amm_problem(prices[:, :1], cfg, SpanLayout(DAY, 10 * DAY, DAY, DAY, 0.2))
    with pytest.raises(ConfigError, match="unknown metric 'sharp'"):
        amm_problem(prices, cfg, SpanLayout(DAY, 10 * DAY, DAY, DAY, 0.2), metric_names=["sharp"])
    with pytest.raises(ConfigError, match="'log_kk' is not a parameter of rule 'momentum'"):
        default_base_params("momentum", 2, 1440, overrides={"log_kk": 1.0})
    with pytest.raises(ConfigError, match="initial weights must be 2 positive numbers"):
        default_base_params("momentum", 2, 1440, initial_weights=[1.0, 0.0])


def test_multi_period_and_walk_forward_errors() -> None:
    with pytest.raises(ConfigError, match="overlap_fraction must be in"):
        period_specs(3, 100, overlap_fraction=1.0)
    with pytest.raises(ConfigError, match="do not fit"):
        period_specs(200, 100)
    import jax.numpy as jnp

    with pytest.raises(ConfigError, match="softmin temperature must be > 0"):
        aggregate(jnp.ones(2), "softmin", 0.0)
    with pytest.raises(ConfigError, match="unknown aggregation 'median'"):
        aggregate(jnp.ones(2), "median")
    with pytest.raises(ConfigError, match="cannot be split into 4 walk-forward segments"):
        cycle_spans(0, 3 * DAY, 3, "rolling")
    with pytest.raises(ConfigError, match="unknown walk-forward mode"):
        cycle_spans(0, 30 * DAY, 3, "sliding")
    from algotrader.training.walk_forward import CycleEvaluation, CycleSpan

    c = CycleEvaluation(
        CycleSpan(0, 0, 1, 1, 2), {"s": 1.0}, {"s": 0.5}, 0.5, 0.5, 0.0, 0.1, 1, 0, {}
    )
    with pytest.raises(ConfigError, match="unknown cycle metric 'oos_q'"):
        cycle_metric([c], "mean_oos_q")
