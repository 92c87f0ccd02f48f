"""The shared located validators of :mod:`algotrader.data.panel` and the adapters on them.

* each validator's errors (type, message, file, 1-based row, column) on hand-made cases;
* differential, old vs new: on generated tables (bad dates, missing / infinite /
  non-positive cells anywhere) the backtest tables, the optimiser frames and the AMM
  minute prices name the same first bad cell as their own checks did before they
  delegated (``tests/core/_adapters_reference.py``), and accept the same tables;
* the backtest and AMM paths read their arrays from the panel (same memory).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.core import _adapters_reference as ref

from algotrader.data.panel import Panel, check_cells, check_dates, check_steps
from algotrader.errors import DataError, StateError

# ----------------------------------------------------------------------------- validators


def _days(n: int) -> np.ndarray:
    return np.datetime64("2024-01-01", "D") + np.arange(n)


@pytest.mark.parametrize(
    ("dates", "what", "row", "text"),
    [
        (
            np.array(["2024-01-02", "2024-01-02"], "datetime64[D]"),
            None,
            2,
            "duplicate date 2024-01-02 at row 2 (also at row 1): dates must be strictly increasing",
        ),
        (
            np.array(["2024-01-03", "2024-01-04", "2024-01-02"], "datetime64[D]"),
            "prices",
            3,
            "prices dates are not strictly increasing: 2024-01-02 at row 3 is earlier than "
            "2024-01-04 at row 2",
        ),
        (
            np.array(["2024-01-01T09:30", "2024-01-01T09:00"], "datetime64[m]"),
            None,
            2,
            "2024-01-01T09:00 at row 2 is earlier than 2024-01-01T09:30 at row 1",
        ),
        (
            np.array(["2024-01-01", "NaT"], "datetime64[D]"),
            "weights",
            2,
            "missing date at row 2 of the weights: the row has a null date",
        ),
        (pl.Series("date", [3, 1]), "mu", 2, "mu dates are not strictly increasing: 1 at row 2"),
        (pl.Series("date", [1, None, 3]), "prices", 2, "missing date at row 2 of the prices"),
        (
            pl.Series("date", [dt.date(2024, 1, 1)] * 2),
            "prices",
            2,
            "duplicate date 2024-01-01 at row 2 of the prices (also at row 1)",
        ),
    ],
)
def test_check_dates_names_the_first_bad_row(
    dates: object, what: str | None, row: int, text: str
) -> None:
    with pytest.raises(DataError) as info:
        check_dates(dates, file="t.csv", what=what)  # type: ignore[arg-type]
    assert text in info.value.message
    assert (info.value.file, info.value.row, info.value.column) == ("t.csv", row, "date")


def test_check_dates_accepts_increasing_and_short() -> None:
    check_dates(_days(5))
    check_dates(_days(1))
    check_dates(np.array([], "datetime64[D]"))
    check_dates(pl.Series("date", [1, 2, 10]))


def test_check_steps() -> None:
    check_steps([0, 60_000, 120_000], 60_000)
    with pytest.raises(DataError, match="row 4 is 0 ms after row 3") as info:
        check_steps([0, 60_000, 120_000, 120_000], 60_000, file="m.csv", column="unix")
    assert (info.value.file, info.value.row, info.value.column) == ("m.csv", 4, "unix")


def test_check_cells_groups_order_where_and_hints() -> None:
    v = np.array([[1.0, np.nan], [-1.0, 2.0], [np.inf, 1.0]])
    msgs = {
        "missing": "gap {column} r{row}",
        "infinite": "inf {column} r{row}",
        "not_positive": "neg {column} {value} r{row}",
    }
    # one group: the first bad cell in row-major order, whatever its problem
    with pytest.raises(DataError, match="gap B r1") as info:
        check_cells(
            v, ["A", "B"], refuse=[["missing", "infinite", "not_positive"]], messages=msgs, file="f"
        )
    assert (info.value.row, info.value.column) == (1, "B")
    # groups in order: any infinite cell before any non-positive one
    with pytest.raises(DataError, match="inf A r3") as info:
        check_cells(
            v,
            ["A", "B"],
            refuse=[["infinite"], ["not_positive"]],
            messages=msgs,
            hint={"infinite": "fix inf", "not_positive": "fix neg"},
        )
    assert info.value.hint == "fix inf"
    # where: only the cells marked are judged
    keep = np.ones_like(v, dtype=bool)
    keep[0, 1] = keep[1, 0] = False
    with pytest.raises(DataError, match="inf A r3"):
        check_cells(
            v,
            ["A", "B"],
            refuse=[["missing", "infinite", "not_positive"]],
            messages=msgs,
            where=keep,
        )
    check_cells(v, ["A", "B"], refuse=[["missing"]], messages=msgs, where=~np.isnan(v))
    with pytest.raises(StateError, match="unknown cell problem"):
        check_cells(v, ["A", "B"], refuse=[["negative"]], messages=msgs)


def test_panel_constructor_uses_the_validators() -> None:
    with pytest.raises(DataError, match="dates are not strictly increasing") as info:
        Panel.from_arrays(_days(3)[[0, 2, 1]], ["A"], np.ones((3, 1)))
    assert info.value.row == 3
    with pytest.raises(DataError, match="marked observed at row 2") as info:
        Panel(_days(2), ("A", "B"), np.array([[1.0, 1.0], [1.0, np.inf]]), np.ones((2, 2), bool))
    assert info.value.column == "B"
    cube = np.ones((2, 2, 3))
    cube[1, 0, 2] = np.nan
    with pytest.raises(DataError, match="marked observed") as info:
        Panel(_days(2), ("A", "B"), cube, np.ones(cube.shape, bool), ("f", "g", "h"))
    assert (info.value.row, info.value.column) == (2, "A")


# ----------------------------------------------------------------- generated bad tables

CELL = st.sampled_from([1.0, 2.5, 3.0, 4.0, np.nan, np.inf, -np.inf, 0.0, -1.0])
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    t = draw(st.integers(2, 6))
    a = draw(st.integers(1, 3))
    good = draw(st.booleans())
    values = np.array(
        [
            [draw(st.sampled_from([1.0, 2.0, 3.5]) if good else CELL) for _ in range(a)]
            for _ in range(t)
        ]
    )
    offsets = np.arange(t) * 2
    fault = draw(st.sampled_from(["none", "none", "dup", "swap"]))
    if fault != "none":
        i = draw(st.integers(1, t - 1))
        offsets[i] = offsets[i - 1] if fault == "dup" else offsets[i - 1] - 1
    return np.datetime64("2024-01-01", "D") + offsets, values


def _where(exc: DataError) -> tuple[int | None, str | None]:
    return exc.row, exc.column


@SETTINGS
@given(table=tables(), prices=st.booleans())
def test_backtest_tables_name_the_same_cell_as_before(
    tmp_path: Path, table: tuple[np.ndarray, np.ndarray], prices: bool
) -> None:
    from algotrader.backtest.tables import check_decisions, check_prices, read_wide_table

    days, values = table
    assets = [f"A{j}" for j in range(values.shape[1])]
    f = tmp_path / "t.parquet"
    pl.DataFrame({"date": days, **{a: values[:, j] for j, a in enumerate(assets)}}).write_parquet(f)
    keys = days.astype(np.int64)
    old = ref.dates_error(keys, np.zeros(keys.shape, bool)) or (
        ref.tables_prices_error(values, assets)
        if prices
        else ref.tables_decisions_error(values, assets)
    )
    name = "prices" if prices else "weights"
    try:
        tab = read_wide_table(f, name)
        check_prices(tab) if prices else check_decisions(tab, name)
    except DataError as exc:
        assert old is not None, exc
        assert _where(exc) == old[1:]
        assert exc.file == str(f)
        if old[0] == "partial":
            assert "is empty while the row has other values" in exc.message
        elif old[0] == "infinite":
            assert "is infinite" in exc.message
        elif old[0] == "order":
            assert "strictly increasing" in exc.message
        return
    assert old is None
    # accepted: the table's arrays are its panel's
    assert tab.values is tab.panel.values
    np.testing.assert_array_equal(tab.values, values)


@SETTINGS
@given(table=tables())
def test_optimiser_frames_name_the_same_cell_as_before(
    table: tuple[np.ndarray, np.ndarray],
) -> None:
    from algotrader.portfolio.frames import prepare_inputs

    days, values = table
    ints = (days - days[0]).astype(np.int64)  # the optimiser takes integer dates too
    assets = [f"A{j}" for j in range(values.shape[1])]
    px = pl.DataFrame({"date": ints, **{a: values[:, j] for j, a in enumerate(assets)}})
    mu = px.with_columns(pl.col(a).fill_nan(0.0).clip(-1.0, 1.0) for a in assets)
    old = ref.dates_error(ints, np.zeros(ints.shape, bool)) or ref.frames_prices_error(
        values, assets
    )
    try:
        inputs = prepare_inputs(px, mu, max_nan_fraction=1.0, prices_file="p.csv")
    except DataError as exc:
        assert old is not None, exc
        assert _where(exc) == old[1:]
        assert exc.file == "p.csv"
        return
    assert old is None
    np.testing.assert_array_equal(inputs.prices, values)


@SETTINGS
@given(table=tables(), gap=st.integers(0, 5))
def test_amm_minute_prices_name_the_same_cell_as_before(
    tmp_path: Path, table: tuple[np.ndarray, np.ndarray], gap: int
) -> None:
    from algotrader.amm.data import load_prices

    _, values = table
    tokens = ["BTC", "ETH", "SOL"][: values.shape[1]]
    unix = np.arange(values.shape[0], dtype=np.int64) * 60_000
    if 0 < gap < unix.size:
        unix[gap:] += 60_000  # a missing minute before row gap + 1
    f = tmp_path / "wide.parquet"
    pl.DataFrame(
        {"unix": unix, **{f"close_{t}": values[:, j] for j, t in enumerate(tokens)}}
    ).write_parquet(f)
    cols = [f"close_{t}" for t in tokens]
    old = ref.amm_minutes_error(unix) or ref.amm_prices_error(values, cols)
    try:
        data = load_prices(f, tokens)
    except DataError as exc:
        assert old is not None, exc
        assert _where(exc) == old[1:]
        assert exc.file == str(f)
        return
    assert old is None
    assert data.prices is data.panel.values  # the simulator's prices are the panel's
    np.testing.assert_array_equal(data.prices, values)


# ------------------------------------------------------------------ reading the panel


def test_backtest_reads_the_panel_and_gives_the_same_result(tmp_path: Path) -> None:
    from algotrader.backtest import CostModel, run_backtest
    from algotrader.backtest.tables import align_decisions, read_wide_table

    rng = np.random.default_rng(5)
    days = _days(30)
    px = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (30, 3)), axis=0))
    w = rng.dirichlet(np.ones(3), 30) * 0.9
    cols = ["A", "B", "C"]
    pl.DataFrame({"date": days, **{c: px[:, j] for j, c in enumerate(cols)}}).write_csv(
        tmp_path / "p.csv"
    )
    pl.DataFrame({"date": days, **{c: w[:, j] for j, c in enumerate(cols[::-1])}}).write_csv(
        tmp_path / "w.csv"
    )
    p_tab = read_wide_table(tmp_path / "p.csv", "prices")
    d_tab = read_wide_table(tmp_path / "w.csv", "weights")
    assert not p_tab.values.flags.writeable and p_tab.values is p_tab.panel.values
    aligned = align_decisions(p_tab, d_tab)
    np.testing.assert_allclose(aligned, w[:, ::-1], rtol=1e-15)
    costs = CostModel(proportional_bps=5)
    res = run_backtest(p_tab.values, aligned, costs=costs, lag=1)
    copy = run_backtest(np.array(px), np.array(w[:, ::-1]), costs=costs, lag=1)
    np.testing.assert_allclose(res.values, copy.values, rtol=1e-13)
    # dates compared as the panels' UTC instants: an aware decision table aligns
    aware = pl.read_csv(tmp_path / "w.csv", try_parse_dates=True).with_columns(
        pl.col("date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    aware.write_parquet(tmp_path / "w_utc.parquet")
    np.testing.assert_array_equal(
        align_decisions(p_tab, read_wide_table(tmp_path / "w_utc.parquet", "weights")), aligned
    )


def test_wide_table_refuses_integer_dates(tmp_path: Path) -> None:
    from algotrader.backtest.tables import read_wide_table

    pl.DataFrame({"date": [1, 2], "A": [1.0, 2.0]}).write_parquet(tmp_path / "i.parquet")
    with pytest.raises(DataError, match="not a date") as info:
        read_wide_table(tmp_path / "i.parquet", "prices")
    assert (info.value.file, info.value.column) == (str(tmp_path / "i.parquet"), "date")


def test_amm_window_reads_the_panel() -> None:
    from algotrader.amm.config import RunConfig
    from algotrader.amm.data import PriceData, make_window

    n = 4 * 1440
    unix = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 60_000  # 2024-01-01 UTC
    prices = np.column_stack([np.linspace(1, 2, n), np.linspace(3, 2, n)])
    data = PriceData(unix=unix, prices=prices, tokens=("A", "B"))
    assert data.prices is data.panel.values and not data.prices.flags.writeable
    np.testing.assert_array_equal(data.prices, prices)
    cfg = RunConfig(
        tokens=["A", "B"],
        rule="momentum",
        startDateString="2024-01-02 00:00:00",
        endDateString="2024-01-03 00:00:00",
        max_memory_days=1.0,
    )
    window = make_window(data, cfg)
    assert window.data.prices is window.panel.values
    np.testing.assert_array_equal(window.panel.dates[0], np.datetime64("2024-01-01T00:00"))
    np.testing.assert_array_equal(window.data.prices, prices[: window.data.unix.size])
    with pytest.raises(DataError, match="strictly increasing"):
        PriceData(unix=unix[::-1].copy(), prices=prices, tokens=("A", "B"))


def test_panel_with_no_rows_builds() -> None:
    """A zero-row panel (e.g. a lake with one bar has no returns) is valid, 2-d and 3-d."""
    empty = np.empty((0,), dtype="datetime64[us]")
    p2 = Panel(dates=empty, assets=("A", "B"), values=np.empty((0, 2)), mask=np.empty((0, 2), bool))
    assert p2.values.shape == (0, 2)
    p3 = Panel(
        dates=empty,
        assets=("A",),
        values=np.empty((0, 1, 2)),
        mask=np.empty((0, 1, 2), bool),
        features=("f0", "f1"),
    )
    assert p3.values.shape == (0, 1, 2)
