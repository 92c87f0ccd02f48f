"""End-to-end training of a real AMM pool (algotrader.amm) on tiny synthetic markets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algotrader.amm import SimConfig
from algotrader.amm.params import memory_days
from algotrader.training import OptimisationSettings, train
from algotrader.training.amm_cycles import AmmCycles
from algotrader.training.amm_problem import SpanLayout, amm_problem, default_base_params
from algotrader.training.multi_period import amm_multi_period_problem, period_specs
from algotrader.training.optuna_search import optuna_search
from algotrader.training.settings import WalkForwardSettings
from algotrader.training.walk_forward import cycle_spans, walk_forward

DAY = 1440
CFG = SimConfig(rule="momentum", n_assets=2, bout_length=10, return_val="returns", scan_unroll=1)
LAYOUT = SpanLayout(
    start=5 * DAY, bout_length=30 * DAY, test_length=5 * DAY, bout_offset=DAY, val_fraction=0.2
)
METRICS = ("returns", "daily_sharpe")


def _problem(prices: np.ndarray, **kw: Any) -> Any:
    base = default_base_params("momentum", 2, 1440, k_per_day=1.0)
    return amm_problem(
        prices, CFG, LAYOUT, base_params=base, trainable=["logit_lamb"], metric_names=METRICS, **kw
    )


def _settings(**kw: Any) -> OptimisationSettings:
    base: dict[str, Any] = {
        "optimiser": "adam",
        "base_lr": 0.1,
        "n_iterations": 30,
        "batch_size": 2,
        "n_parameter_sets": 2,
        "iterations_per_chunk": 10,
        "early_stopping": False,
        "early_stopping_metric": "returns",
        "noise_scale": 0.05,
    }
    base.update(kw)
    return OptimisationSettings(**base)


def _mem(logit: np.ndarray) -> np.ndarray:
    return np.asarray(memory_days(jax.nn.sigmoid(jnp.asarray(logit)), 1440))


@pytest.mark.slow
def test_training_lengthens_memory_on_a_trending_market(market: np.ndarray) -> None:
    r = train(_problem(market), _settings())
    assert r.compile_count == 1  # three chunks, one compilation
    first = r.history.filter(r.history["iteration"] == 0)["train_returns"].to_numpy().max()
    assert r.best_metrics["train"]["returns"] > first
    # the trending asset's memory moves from 10 days towards the 16-32 day optimum
    mem = _mem(r.best_params["logit_lamb"])
    assert mem[0] > 12.0
    assert np.isfinite(r.best_aux["final_weights"]).all()
    assert r.best_aux["final_weights"].sum() == pytest.approx(1.0)


@pytest.mark.slow
def test_corrupting_the_test_period_leaves_training_and_selection_unchanged(
    market: np.ndarray,
) -> None:
    s = _settings(n_iterations=10)
    clean = train(_problem(market), s)
    bad = market.copy()
    test_rows = slice(
        LAYOUT.start + LAYOUT.bout_length, LAYOUT.start + LAYOUT.bout_length + LAYOUT.test_length
    )
    bad[test_rows] *= np.exp(np.random.default_rng(3).normal(0, 0.3, bad[test_rows].shape))
    dirty = train(_problem(bad), s)
    for col in ("objective", "train_returns", "val_returns", "val_daily_sharpe"):
        np.testing.assert_array_equal(clean.history[col].to_numpy(), dirty.history[col].to_numpy())
    np.testing.assert_array_equal(clean.best_params["logit_lamb"], dirty.best_params["logit_lamb"])
    assert (clean.best_iteration, clean.best_set) == (dirty.best_iteration, dirty.best_set)
    assert not np.array_equal(
        clean.history["test_returns"].to_numpy(), dirty.history["test_returns"].to_numpy()
    )


@pytest.mark.slow
def test_optuna_defaults_complete_trials_on_the_amm(market: np.ndarray, tmp_path: Path) -> None:
    s = _settings(
        method="optuna",
        optuna_settings={"n_trials": 4, "n_startup_trials": 2, "n_evaluation_points": 4},
    )
    r = optuna_search(_problem(market), s, tmp_path)
    assert r.n_complete + r.n_pruned == 4 and r.n_complete >= 1
    assert np.isfinite(r.best_values).all()
    assert (tmp_path / r.run_id / "optuna.journal").is_file()
    assert "returns" in r.best_test_metrics


@pytest.mark.slow
def test_multi_period_objective_is_the_aggregate_of_period_metrics(market: np.ndarray) -> None:
    from algotrader.amm import forward_pass, metric_value
    from algotrader.training.amm_problem import _segment_out

    base = _problem(market)
    prob = amm_multi_period_problem(base, CFG, LAYOUT, n_periods=3, aggregation="min")
    params = {k: jnp.asarray(v) for k, v in base.base_params.items()}
    got = float(jax.jit(prob.objective)(params, jnp.asarray(LAYOUT.start), prob.data))
    from dataclasses import replace

    span_cfg = replace(CFG, bout_length=LAYOUT.train_length + 1)
    out = forward_pass(
        params, LAYOUT.start, jnp.asarray(market[: LAYOUT.start + LAYOUT.train_length]), span_cfg
    )
    per = [
        float(metric_value(_segment_out(out, p.rel_start, p.rel_end), "returns"))
        for p in period_specs(3, LAYOUT.train_length)
    ]
    assert got == pytest.approx(min(per), rel=1e-12)
    r = train(prob, _settings(batch_size=1, n_iterations=6, iterations_per_chunk=3))
    assert r.iterations_run == 6 and np.isfinite(r.history["objective"].to_numpy()).all()


@pytest.mark.slow
def test_walk_forward_never_trains_on_its_test_segment(market: np.ndarray, tmp_path: Path) -> None:
    spans = cycle_spans(5 * DAY, market.shape[0], 2, "rolling")
    assert all(s.train_end == s.test_start and s.train_start >= 5 * DAY for s in spans)
    s = _settings(
        n_iterations=6, iterations_per_chunk=3, track_checkpoints=True, checkpoint_interval=2
    )
    wf = WalkForwardSettings(n_cycles=2, wfe_metric="daily_sharpe", rademacher_draws=50)
    base = default_base_params("momentum", 2, 1440, k_per_day=1.0)

    def run(prices: np.ndarray, out: Path) -> Any:
        hooks = AmmCycles(
            prices, CFG, bout_offset=DAY, val_fraction=0.2, base_params=base, metric_names=METRICS
        )
        for sp in spans:  # the problem's gradient data ends before the test segment
            assert hooks.problem(sp, None).data.train_prices.shape[0] <= sp.test_start
        return walk_forward(hooks, spans, s, wf, out)

    clean = run(market, tmp_path / "clean")
    bad = market.copy()
    last = spans[-1]
    bad[last.test_start : last.test_end] *= 1.5
    dirty = run(bad, tmp_path / "dirty")
    for a, b in zip(clean.cycles, dirty.cycles, strict=True):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
        np.testing.assert_equal(a.is_metrics, b.is_metrics)  # NaN-aware
    assert clean.cycles[-1].oos_metrics["returns"] != dirty.cycles[-1].oos_metrics["returns"]
    c = clean.cycles[0]
    assert np.isfinite(c.rademacher) and np.isfinite(c.adjusted_oos_sharpe)
    assert set(clean.summary) >= {"mean_wfe", "mean_oos_daily_sharpe", "worst_oos_daily_sharpe"}
    assert (tmp_path / "clean" / "walk_forward.json").is_file()
    # warm start: cycle 1 starts from cycle 0's selected parameters and final weights
    assert (
        clean.cycles[1].params["initial_weights_logits"].tolist()
        != base["initial_weights_logits"].tolist()
    )
