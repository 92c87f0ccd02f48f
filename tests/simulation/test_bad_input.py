"""Typed errors with the key named, for the data container, decisions and the registry."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.errors import ConfigError, DataError, ShapeError
from algotrader.simulation import Decision, SimulationData, get_family, register_family
from algotrader.simulation.inputs import data_from_prices


def test_simulation_data_shapes_are_checked() -> None:
    with pytest.raises(ShapeError) as exc:
        SimulationData.from_arrays(np.zeros((3, 2)), prices=np.ones((3, 3)))
    assert exc.value.key == "prices"
    with pytest.raises(ShapeError) as exc:
        SimulationData.from_arrays(np.zeros((3, 2)), X=np.zeros((3, 2)))
    assert exc.value.key == "X"
    with pytest.raises(ShapeError, match="asset names"):
        SimulationData.from_arrays(np.zeros((3, 2)), assets=("A",))
    d = SimulationData.from_arrays(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        d.y[0, 0] = 1.0  # read-only
    assert d.truncate(2).n_dates == 2 and d.truncate(2).content_hash() != d.content_hash()


def test_decision_rows_must_be_complete_or_all_nan() -> None:
    with pytest.raises(ShapeError, match="entirely NaN") as exc:
        Decision(np.array([[0.5, np.nan]]))
    assert exc.value.key == "weights"
    assert Decision(np.array([[np.nan, np.nan]])).weights.shape == (1, 2)
    with pytest.raises(ShapeError, match="expected"):
        Decision(np.zeros((2, 2))).check(3, 2, "x")
    with pytest.raises(ShapeError) as exc:
        Decision(np.zeros((2, 2)), samples=np.zeros((4, 2, 3)))
    assert exc.value.key == "samples"


def test_family_registry_errors() -> None:
    with pytest.raises(ConfigError, match="unknown family") as exc:
        get_family("no-such-family")
    assert "optimiser" in str(exc.value) and exc.value.key == "family"
    with pytest.raises(ConfigError, match="already registered"):
        register_family("optimiser", object)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alphanumeric"):
        register_family("bad name", object, replace=True)  # type: ignore[arg-type]


def test_prices_must_be_positive() -> None:
    p = np.ones((4, 2))
    p[2, 1] = -1.0
    with pytest.raises(DataError, match="positive") as exc:
        data_from_prices(np.arange(4).astype("datetime64[W]"), ("A", "B"), p, periods_per_year=52)
    assert exc.value.column == "B" and exc.value.row == 2


def test_optimiser_params_are_validated() -> None:
    fam = get_family("optimiser")
    d = data_from_prices(
        np.arange(40).astype("datetime64[W]"),
        ("A", "B"),
        np.ones((40, 2)) + np.arange(40)[:, None],
        periods_per_year=52,
    )
    from algotrader.simulation import FamilyContext

    with pytest.raises(ConfigError, match="lookback") as exc:
        fam.fit(d, np.arange(20), {"lookback": 0}, FamilyContext())
    assert exc.value.key == "lookback"
