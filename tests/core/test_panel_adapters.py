"""Each table-to-array adapter is a thin use of :class:`~algotrader.data.panel.Panel`.

For every adapter: its panel equals the panel built directly from the same table (dates,
assets, values, mask, content hash), and the adapter's arrays are the panel's values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.data.panel import Panel
from algotrader.errors import DataError


def _assert_same_panel(a: Panel, b: Panel) -> None:
    np.testing.assert_array_equal(a.dates, b.dates)
    assert a.assets == b.assets
    np.testing.assert_array_equal(a.values, b.values)  # NaN == NaN here
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.content_hash() == b.content_hash()


def _returns_frame() -> pl.DataFrame:
    stamps = [
        dt.datetime(2024, 1, 5, 21, tzinfo=dt.UTC) + dt.timedelta(days=7 * i) for i in range(4)
    ]
    return pl.DataFrame(
        {
            "timestamp": stamps,
            "AAA": [0.01, None, -0.02, 0.03],
            "BBB": [float("nan"), 0.02, 0.0, -0.01],
        }
    )


def test_return_tensor_is_a_view_of_its_panel() -> None:
    from algotrader.data.tensor import ReturnTensor, tensor_from_returns

    frame = _returns_frame()
    tensor = tensor_from_returns(frame, "simple")
    direct = Panel.from_wide(frame, date_col="timestamp", name="returns_simple")
    panel = tensor.to_panel()
    _assert_same_panel(panel, direct)
    assert panel.name == direct.name == "returns_simple"
    np.testing.assert_array_equal(tensor.missing, ~direct.mask)
    np.testing.assert_array_equal(tensor.timestamps, direct.dates)
    assert tensor.assets.tolist() == ["AAA", "BBB"]
    # from_panel shares the panel's arrays (no copy).
    view = ReturnTensor.from_panel(direct, "simple")
    assert np.shares_memory(view.values, direct.values)
    assert np.shares_memory(view.timestamps, direct.dates)
    # the numbers are those of the table (masked cells NaN).
    expected = frame.select("AAA", "BBB").to_numpy().astype(np.float64)
    np.testing.assert_array_equal(tensor.values, expected)


def test_wide_table_panel_equals_direct_panel(tmp_path: Path) -> None:
    from algotrader.backtest.tables import check_prices, read_wide_table

    f = tmp_path / "p.csv"
    f.write_text("date,B,A\n2024-01-01,1.0,2.0\n2024-01-02,1.5,\n2024-01-04,1.25,2.5\n")
    table = read_wide_table(f, "prices")
    direct = Panel.from_wide(pl.read_csv(f, try_parse_dates=True), source=str(f))
    _assert_same_panel(table.panel, direct)
    assert table.panel is table.panel  # built once
    assert table.assets == ["B", "A"] and table.panel.assets == ("B", "A")
    np.testing.assert_array_equal(table.values, table.panel.values)
    assert table.to_panel("close").name == "close"
    assert table.to_panel("close").content_hash() != direct.content_hash()  # name is hashed
    # the checks still read the table's own cells: the gap is named where it was.
    with pytest.raises(DataError) as info:
        check_prices(table)
    assert (info.value.file, info.value.row, info.value.column) == (str(f), 2, "A")


def test_optimiser_inputs_panels_equal_direct_panels() -> None:
    from algotrader.portfolio.frames import prepare_inputs

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(4)]
    px = pl.DataFrame({"date": days, "A": [1.0, None, 1.2, 1.3], "B": [2.0, 2.1, 2.2, 2.3]})
    mu = pl.DataFrame({"date": days, "B": [0.1, None, 0.3, 0.4], "A": [0.0, 0.1, 0.2, 0.3]})
    inputs = prepare_inputs(px, mu, max_nan_fraction=0.5)
    _assert_same_panel(inputs.panel, Panel.from_wide(px, name="prices"))
    _assert_same_panel(inputs.mu_panel, Panel.from_wide(mu, assets=["A", "B"], name="mu"))
    assert inputs.panel is inputs.panel
    np.testing.assert_array_equal(inputs.prices, inputs.panel.values)
    np.testing.assert_array_equal(inputs.mu, inputs.mu_panel.values)
    np.testing.assert_array_equal(np.isnan(inputs.prices), ~inputs.panel.mask)
    # the kernels' arrays stay writable and C-ordered (the panel's are read-only copies).
    assert inputs.prices.flags.writeable and inputs.prices.flags.c_contiguous
    assert not inputs.panel.values.flags.writeable


def test_optimiser_inputs_panel_needs_real_dates() -> None:
    from algotrader.portfolio.frames import prepare_inputs

    px = pl.DataFrame({"date": [1, 2], "A": [1.0, 1.1]})
    inputs = prepare_inputs(px, px, max_nan_fraction=0.5)
    with pytest.raises(DataError, match="not a date") as info:
        _ = inputs.panel
    assert info.value.column == "date"


def _minute_frame(n: int = 6) -> pl.DataFrame:
    unix = np.arange(n, dtype=np.int64) * 60_000 + 1_704_067_200_000  # 2024-01-01 00:00 UTC
    rng = np.random.default_rng(3)
    return pl.DataFrame(
        {
            "unix": unix,
            "close_ETH": 2000.0 + rng.standard_normal(n),
            "close_BTC": 40000.0 + rng.standard_normal(n),
        }
    )


def test_price_data_panel_equals_direct_panel(tmp_path: Path) -> None:
    from algotrader.amm.data import PriceData, load_prices

    frame = _minute_frame()
    f = tmp_path / "wide.csv"
    frame.write_csv(f)
    data = load_prices(f, ["ETH", "BTC"])
    wide = frame.select(
        pl.from_epoch("unix", time_unit="ms").alias("date"),
        pl.col("close_BTC").alias("BTC"),
        pl.col("close_ETH").alias("ETH"),
    )
    direct = Panel.from_wide(wide, name="close")
    _assert_same_panel(data.panel, direct)
    assert data.panel is data.panel
    np.testing.assert_array_equal(data.prices, data.panel.values)
    # and back: a panel gives the same PriceData, arrays equal.
    back = PriceData.from_panel(direct, source=str(f))
    assert back.tokens == data.tokens == ("BTC", "ETH")
    np.testing.assert_array_equal(back.unix, data.unix)
    np.testing.assert_array_equal(back.prices, data.prices)


def test_window_panel_is_the_kept_history() -> None:
    from algotrader.amm.data import PriceData, Window

    frame = _minute_frame(10)
    data = PriceData(
        unix=frame["unix"].to_numpy(),
        prices=frame.select("close_BTC", "close_ETH").to_numpy(),
        tokens=("BTC", "ETH"),
    )
    window = Window(data=data, start_index=2, bout_length=5)
    assert window.panel is data.panel
    assert window.panel.shape == (10, 2)


def test_price_data_from_panel_locates_bad_minutes() -> None:
    from algotrader.amm.data import PriceData

    frame = _minute_frame(5)
    wide = frame.select(
        pl.from_epoch("unix", time_unit="ms").alias("date"), pl.col("close_ETH").alias("ETH")
    )
    gap = Panel.from_wide(wide).take([0, 1, 3, 4])
    with pytest.raises(DataError, match="60000 ms") as info:
        PriceData.from_panel(gap, source="p.npz")
    assert (info.value.file, info.value.row, info.value.column) == ("p.npz", 3, "date")
    full = Panel.from_wide(wide)
    values = np.array(full.values)
    values[2, 0] = np.nan  # a masked (missing) price
    holed = Panel.from_arrays(full.dates, full.assets, values)
    with pytest.raises(DataError, match="finite and > 0") as info:
        PriceData.from_panel(holed, source="p.npz")
    assert (info.value.row, info.value.column) == (3, "ETH")


def test_saved_return_tensor_keeps_its_panel(tmp_path: Path) -> None:
    from algotrader.data.tensor import load_return_tensor, save_return_tensor, tensor_from_returns

    frame = _returns_frame()
    tensor = tensor_from_returns(frame, "log")
    loaded = load_return_tensor(save_return_tensor(tmp_path / "r.npz", tensor))
    direct = Panel.from_wide(frame, date_col="timestamp", name="returns_log")
    _assert_same_panel(loaded.to_panel(), direct)
    assert loaded.to_panel().content_hash() == tensor.to_panel().content_hash()
