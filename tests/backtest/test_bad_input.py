"""Bad backtest input raises typed errors with the row/column/key and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algotrader.backtest import CostModel, backtest_weights, transaction_costs
from algotrader.errors import ConfigError, DataError, ShapeError


def test_price_problems() -> None:
    p = np.ones((3, 2))
    p[1, 1] = np.nan
    with pytest.raises(DataError, match=r"prices must be finite and positive.*row=1, column=1"):
        backtest_weights(p, np.ones((3, 2)))
    with pytest.raises(ShapeError, match=r"prices must have shape \(T, A\)"):
        backtest_weights(np.ones(3), np.ones(3))


def test_decision_problems() -> None:
    p = np.ones((3, 2))
    with pytest.raises(ShapeError, match=r"weights has shape \(3, 3\), prices have \(3, 2\)"):
        backtest_weights(p, np.ones((3, 3)))
    w = np.ones((3, 2))
    w[2, 0] = np.nan
    with pytest.raises(DataError, match=r"partly NaN.*row=2, column=0"):
        backtest_weights(p, w)
    with pytest.raises(DataError, match="lag must be a non-negative integer"):
        backtest_weights(p, np.ones((3, 2)), lag=-1)


def test_bankruptcy_is_reported() -> None:
    p = np.array([[1.0], [1.0], [0.01]])
    with pytest.raises(DataError, match=r"portfolio value fell to .* at row 2"):
        backtest_weights(p, np.full((3, 1), 5.0))


def test_cost_model_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Extra inputs.*key=bogus") as info:
        CostModel(bogus=1.0)  # type: ignore[call-arg]
    assert info.value.key == "bogus"
    f = tmp_path / "costs.yaml"
    f.write_text("proportional_bps: -3\n")
    with pytest.raises(
        ConfigError, match=r"invalid CostModel.*file=.*costs.yaml.*key=proportional_bps"
    ):
        CostModel.from_yaml(f)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        CostModel.from_yaml(f)
    f.write_text("proportional_bps: 5\nproportional_bps_by_asset: {ZZZ: 3}\n")
    model = CostModel.from_yaml(f)
    with pytest.raises(ConfigError, match="unknown asset 'ZZZ'"):
        backtest_weights(np.ones((2, 1)), np.ones((2, 1)), costs=model, asset_names=["A"])


def test_impact_needs_inputs() -> None:
    model = CostModel(impact_coef=1.0)
    with pytest.raises(ConfigError, match="impact_coef > 0 needs volatility and volume"):
        transaction_costs(np.array([1.0]), model)
    with pytest.raises(ConfigError, match="positive volume"):
        transaction_costs(np.array([1.0]), model, volatility=0.1, volume=0.0)
