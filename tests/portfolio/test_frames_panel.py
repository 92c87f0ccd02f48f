"""``OptimiserInputs`` is a thin use of the shared ``Panel``: one buffer, two views."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from algotrader.data.panel import Panel
from algotrader.errors import DataError
from algotrader.portfolio.frames import prepare_inputs


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(5)]
    px = pl.DataFrame(
        {"date": days, "A": [1.0, None, 1.2, 1.3, 1.4], "B": [2.0, 2.1, 2.2, 2.3, 2.4]}
    )
    mu = pl.DataFrame(
        {"date": days, "B": [0.1, None, 0.3, 0.4, 0.5], "A": [0.0, 0.1, 0.2, 0.3, 0.4]}
    )
    return px, mu


def test_prices_and_mu_are_the_panels_memory() -> None:
    px, mu = _frames()
    inputs = prepare_inputs(px, mu, max_nan_fraction=0.5)
    assert isinstance(inputs.panel, Panel) and isinstance(inputs.mu_panel, Panel)
    assert np.shares_memory(inputs.prices, inputs.panel.values)
    assert np.shares_memory(inputs.mu, inputs.mu_panel.values)
    assert inputs.panel.assets == inputs.mu_panel.assets == inputs.assets == ("A", "B")
    np.testing.assert_array_equal(inputs.panel.dates, inputs.mu_panel.dates)
    assert inputs.panel.dates[0] == np.datetime64("2024-01-01T00:00", "us")
    # the signal is aligned to the price columns (its file order was B, A)
    assert inputs.mu_panel.values[2].tolist() == [0.2, 0.3]
    assert inputs.panel.mask.tolist()[1] == [False, True]
    assert inputs.mu_panel.mask.tolist()[1] == [True, False]
    # the panels are read-only; the kernels' arrays stay writable C-ordered float64
    assert not inputs.panel.values.flags.writeable and not inputs.mu_panel.values.flags.writeable
    for arr in (inputs.prices, inputs.mu):
        assert arr.flags.writeable and arr.flags.c_contiguous and arr.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        inputs.panel.values[0, 0] = 5.0


def test_panel_is_built_once_at_construction() -> None:
    px, mu = _frames()
    inputs = prepare_inputs(px, mu, max_nan_fraction=0.5)
    assert inputs.panel is inputs.panel and inputs.mu_panel is inputs.mu_panel
    assert inputs.panel.content_hash() == Panel.from_wide(px, name="prices").content_hash()


def test_integer_dates_work_without_a_panel() -> None:
    px = pl.DataFrame({"date": [1, 2, 5], "A": [1.0, 1.1, 1.2]})
    inputs = prepare_inputs(px, px, max_nan_fraction=0.5)
    assert inputs.prices.shape == (3, 1) and inputs.dates.to_list() == [1, 2, 5]
    with pytest.raises(DataError) as info:
        _ = inputs.mu_panel
    assert info.value.column == "date"
