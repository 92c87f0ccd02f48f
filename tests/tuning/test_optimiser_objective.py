"""The optimiser tuned through the generic interface (walk-forward, backtest + CostModel)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algotrader.backtest import CostModel
from algotrader.errors import ConfigError
from algotrader.tuning import Candidate, SearchSpace, choose_best, generate_candidates
from algotrader.tuning.drivers import run_local, run_optuna
from algotrader.tuning.optimiser_objective import OptimiserObjective, walk_forward_windows

BASE = {"vola": 8, "corr": 16, "clip": 4.0, "shrink": 0.5, "aum": 1e6}
SPACE = SearchSpace.model_validate(
    {
        "params": [
            {"path": "vola", "type": "int", "bounds": [4, 12]},
            {"path": "corr", "type": "int", "bounds": [12, 30]},
            {"path": "shrink", "type": "float", "bounds": [0.1, 0.9]},
        ]
    }
)


def _frames(t: int = 240, a: int = 4, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0003, 0.01, (t, a))
    px = 100 * np.exp(np.cumsum(r, axis=0))
    mom = np.vstack([np.zeros((1, a)), np.tanh(np.cumsum(r, axis=0)[:-1] * 5)])
    names = [f"A{i}" for i in range(a)]
    dates = list(range(t))
    prices = pl.DataFrame({"date": dates, **{n: px[:, i] for i, n in enumerate(names)}})
    mu = pl.DataFrame({"date": dates, **{n: mom[:, i] for i, n in enumerate(names)}})
    return prices, mu


def _objective(prices: pl.DataFrame, mu: pl.DataFrame, bps: float = 5.0) -> OptimiserObjective:
    return OptimiserObjective(
        prices,
        mu,
        BASE,
        walk_forward_windows(prices.height, n_splits=3, min_train=60),
        costs=CostModel(proportional_bps=bps),
        periods_per_year=252,
    )


def test_walk_forward_windows() -> None:
    assert walk_forward_windows(100, n_splits=3, min_train=40) == ((40, 60), (60, 80), (80, 100))
    assert walk_forward_windows(101, n_splits=3, min_train=40)[-1] == (81, 101)
    with pytest.raises(ConfigError, match="cannot cut 5 walk-forward windows from 10 rows"):
        walk_forward_windows(10, n_splits=5, min_train=8)


def test_score_is_sharpe_of_net_returns_and_costs_lower_it() -> None:
    prices, mu = _frames()
    cand = Candidate(0, {"vola": 6, "corr": 20, "shrink": 0.4})
    free, costly = _objective(prices, mu, 0.0), _objective(prices, mu, 50.0)
    r_free, r_cost = free.net_returns(cand, 1), costly.net_returns(cand, 1)
    assert r_free.shape == (60,)
    assert (r_cost <= r_free + 1e-15).all() and (r_cost < r_free).any()
    want = math.sqrt(252) * r_cost.mean() / r_cost.std(ddof=1)
    assert costly.evaluate(cand, 1) == pytest.approx(want, rel=1e-12)


def test_no_look_ahead() -> None:
    prices, mu = _frames()
    obj = _objective(prices, mu)
    cand = Candidate(0, {"vola": 6, "corr": 20, "shrink": 0.4})
    before = [obj.evaluate(cand, s) for s in (0, 1)]
    end = obj.windows[1][1]
    cols = [c for c in prices.columns if c != "date"]
    future = pl.int_range(pl.len()) >= end
    bad_px = prices.with_columns(
        [pl.when(future).then(pl.col(c) * 3).otherwise(pl.col(c)) for c in cols]
    )
    bad_mu = mu.with_columns([pl.when(future).then(-pl.col(c)).otherwise(pl.col(c)) for c in cols])
    after = _objective(bad_px, bad_mu)
    assert [after.evaluate(cand, s) for s in (0, 1)] == before
    assert after.evaluate(cand, 2) != obj.evaluate(cand, 2)


def test_invalid_candidate_scores_nan() -> None:
    prices, mu = _frames()
    obj = _objective(prices, mu)
    assert math.isnan(obj.evaluate(Candidate(0, {"shrink": 2.0}), 0))
    with pytest.raises(ConfigError):
        OptimiserObjective(prices, mu, BASE, [(0, 10)], costs=CostModel(), periods_per_year=252)


@pytest.mark.slow
def test_optuna_tunes_vola_corr_shrink_on_walk_forward(tmp_path: Path) -> None:
    prices, mu = _frames()
    obj = _objective(prices, mu)
    cands = generate_candidates(SPACE, num_samples=8, seed=0)
    t_opt = run_optuna(obj, cands, storage=tmp_path / "opt.log", study_name="optimiser")
    t_loc = run_local(obj, cands)
    assert_frame_equal(t_opt.drop("seconds"), t_loc.drop("seconds"))
    assert t_opt.height == 8 * 3 and t_opt.get_column("score").is_finite().all()
    best = choose_best(t_opt)
    means = t_loc.group_by("candidate").agg(pl.col("score").mean()).sort("candidate")
    assert best.candidate == int(np.argmax(means.get_column("score").to_numpy()))
