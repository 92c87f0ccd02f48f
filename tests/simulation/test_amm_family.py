"""The amm family: the JAX pool simulator on the trading days between weekly rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algotrader.errors import ConfigError
from algotrader.simulation import FamilyContext, SimulationData, get_family
from algotrader.simulation.amm_family import prepare_inputs, step_prices
from algotrader.simulation.config import DataConfig, config_from_mapping
from algotrader.simulation.inputs import load_inputs
from algotrader.simulation.runner import run_simulation

ASSETS = ("AAPL", "CVX", "HD")


def _bundled(end: str = "2003-12-31") -> tuple[SimulationData, DataConfig]:
    cfg = DataConfig(start="2001-01-01", end=end, assets=ASSETS)
    return prepare_inputs(load_inputs(cfg), cfg), cfg


def test_days_after_are_the_trading_days_of_each_target_period() -> None:
    data, _ = _bundled()
    days = data.extra["days_after"]
    counts = np.isfinite(days).all(axis=2).sum(axis=1)
    assert days.shape[0] == data.n_dates and counts.min() >= 1 and counts.max() <= 5
    steps, ends = step_prices(data)
    assert data.prices is not None
    # the close of every row is a step, and the step after a period is the next row's close
    np.testing.assert_array_equal(steps[ends[:-1]], data.prices)
    # the last day of period t closes at price p[t] * (1 + y[t]) (the target's close)
    np.testing.assert_allclose(steps[ends[1:]], data.prices * (1 + data.y), rtol=1e-12)


def test_days_after_of_earlier_rows_do_not_depend_on_data_end() -> None:
    long, _ = _bundled("2003-12-31")
    short, _ = _bundled("2002-12-31")
    n = short.n_dates
    np.testing.assert_array_equal(
        long.extra["days_after"][:n, : short.extra["days_after"].shape[1]],
        short.extra["days_after"],
    )


def test_constant_weights_pool_is_the_geometric_mean_of_price_relatives() -> None:
    # k ~ 0: weights stay 1/A; an arbitraged zero-fee G3M pool then earns prod_i (p1/p0)^(1/A)
    data, _ = _bundled()
    fam = get_family("amm")
    idx = np.arange(10, 60)
    dec = fam.decide(None, data, idx, {"k": 1e-12, "memory": 10.0}, FamilyContext())
    assert dec.returns is not None and data.prices is not None
    rel = (1 + data.y[idx]) ** (1 / 3)
    np.testing.assert_allclose(dec.returns, rel.prod(axis=1) - 1, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dec.weights, 1 / 3, atol=1e-6)


def test_momentum_pool_tilts_weights_and_differs_from_rebalancing() -> None:
    data, _ = _bundled()
    fam = get_family("amm")
    idx = np.arange(20, data.n_dates)
    dec = fam.decide(None, data, idx, {"k": 20.0, "memory": 10.0}, FamilyContext())
    assert dec.returns is not None
    assert np.abs(dec.weights - 1 / 3).max() > 0.02  # the rule moved the weights
    assert (dec.weights >= 0.1 / 3 - 1e-9).all()  # above the minimum weight
    np.testing.assert_allclose(dec.weights.sum(axis=1), 1.0, rtol=1e-12)
    anti = fam.decide(
        None, data, idx, {"k": 20.0, "memory": 10.0, "rule": "anti_momentum"}, FamilyContext()
    )
    assert not np.allclose(anti.weights, dec.weights)


def test_bad_parameters_are_config_errors() -> None:
    data, _ = _bundled()
    fam = get_family("amm")
    for bad in ({"memory": -1.0}, {"k": 0.0}, {"rule": "nope"}, {"w_min": 0.5}):
        with pytest.raises(ConfigError):
            fam.decide(None, data, np.arange(5), bad, FamilyContext())


@pytest.mark.slow  # compiles the pool once per shape (a few seconds on a loaded machine)
def test_nested_run_scores_and_reports_the_pools_own_returns(make_config: Any) -> None:
    raw = make_config("amm", family="amm")
    raw["data"]["assets"] = list(ASSETS)
    raw["model"] = {"params": {"memory": 10.0, "k": 8.0}}
    raw["tuning"]["space"] = [
        {"path": "model.params.memory", "type": "float", "bounds": [5.0, 60.0], "transform": "log"},
        {"path": "model.params.k", "type": "float", "bounds": [1.0, 50.0], "transform": "log"},
    ]
    cfg = config_from_mapping(raw)
    res = run_simulation(cfg)
    assert res.phase == "results"
    data = prepare_inputs(load_inputs(cfg.data), cfg.data)  # the run's own inputs
    for f in res.folds:
        got = json.loads(
            (Path(res.run_dir) / "outer" / f"outer_{f['outer_k']}" / "result.json").read_text()
        )
        cand = res.run_dir / "cv" / "candidates.json"
        params = json.loads(cand.read_text())[str(f["candidate_id"])]["params"]
        p = {"memory": 10.0, "k": 8.0, **{k.split(".")[-1]: v for k, v in params.items()}}
        first = np.flatnonzero(data.dates == np.datetime64(got["first_date"]))[0]
        idx = np.arange(first, first + len(got["returns"]))
        want = get_family("amm").decide(None, data, idx, p, FamilyContext())
        np.testing.assert_allclose(got["returns"], want.returns, rtol=1e-12)
        assert f["metrics"]["total_costs"] == 0.0
