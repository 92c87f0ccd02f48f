"""Issue 16 items 10 and 11: optimiser input errors are located; the NaN policy is applied.

Locations: the file, the 1-based data row (row 1 = the first data row below the header, so
data row N is line N + 1 of a CSV file) and the asset column. NaN policy: a missing price
is a gap (no position for that asset on that row and the next), listed per row in the
status table's ``missing_price`` and counted in ``summary.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.errors import DataError, SchemaError, ShapeError
from algotrader.portfolio import OptimiserConfig, run_batch
from algotrader.portfolio.frames import missing_price_rows, missing_summary, prepare_inputs
from algotrader.portfolio.io import optimise_files, read_frame

CFG = OptimiserConfig(vola=3, corr=5, clip=3.0, shrink=0.5, aum=1e6)


def _frames(t_len: int = 40) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(3)
    p = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((t_len, 2)), axis=0))
    d = pl.date_range(
        pl.date(2021, 1, 1), pl.date(2021, 1, 1) + pl.duration(days=t_len - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "A": p[:, 0], "B": p[:, 1]})
    mu = prices.with_columns(pl.lit(1.0).alias("A"), pl.lit(-0.5).alias("B"))
    return prices, mu


def _line_of(path: Path, row: int) -> str:
    """The text of data row ``row`` (1-based, header excluded) of a CSV file."""
    return path.read_text().splitlines()[row]


def test_duplicate_date_names_the_row_and_the_file(tmp_path: Path) -> None:
    prices, mu = _frames()
    dup = pl.concat([prices.head(5), prices.slice(4, 1), prices.slice(5)])
    f = tmp_path / "prices.csv"
    dup.write_csv(f)
    with pytest.raises(DataError) as info:
        prepare_inputs(read_frame(f), mu, max_nan_fraction=0.9, prices_file=str(f))
    err = info.value
    assert "duplicate date 2021-01-05 at row 6 of the prices (also at row 5)" in str(err)
    assert (err.file, err.row, err.column) == (str(f), 6, "date")
    assert _line_of(f, err.row).startswith("2021-01-05")  # row N is line N + 1 of the file
    assert "rows but mu has" not in str(err)


def test_signal_dates_name_the_first_difference() -> None:
    prices, mu = _frames()
    short = pl.concat([mu.head(6), mu.slice(7)])  # 2021-01-07 missing from the signal
    with pytest.raises(DataError) as info:
        prepare_inputs(prices, short, max_nan_fraction=0.9, signal_file="mu.csv")
    assert (info.value.file, info.value.row, info.value.column) == ("mu.csv", 7, "date")
    assert "signal date 2021-01-08 at row 7 where the prices have 2021-01-07" in str(info.value)
    with pytest.raises(ShapeError, match=r"no row for date 2021-02-09 \(price row 40\)") as info2:
        prepare_inputs(prices, mu.head(39), max_nan_fraction=0.9, signal_file="mu.csv")
    assert info2.value.file == "mu.csv" and info2.value.row == 40


@pytest.mark.parametrize(
    ("cell", "row", "message"),
    [
        (-1.0, 9, r"price must be positive, got -1\.0"),
        (np.inf, 9, r"price is infinite"),
    ],
)
def test_value_errors_are_one_based_with_file_and_asset(
    cell: float, row: int, message: str
) -> None:
    prices, mu = _frames()
    bad = prices.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 1).then(cell).otherwise(pl.col("B")).alias("B")
    )
    with pytest.raises(DataError, match=message) as info:
        prepare_inputs(bad, mu, max_nan_fraction=0.9, prices_file="p.csv")
    assert (info.value.file, info.value.row, info.value.column) == ("p.csv", row, "B")


def test_text_cell_and_unsafe_name_are_located(tmp_path: Path) -> None:
    prices, mu = _frames()
    f = tmp_path / "p.csv"
    prices.with_columns(pl.col("A").cast(pl.String)).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("n/a")).otherwise(pl.col("A")).alias("A")
    ).write_csv(f)
    with pytest.raises(SchemaError, match=r"'n/a' at row 3 is not a number") as info:
        prepare_inputs(read_frame(f), mu, max_nan_fraction=0.9, prices_file=str(f))
    assert (info.value.file, info.value.row, info.value.column) == (str(f), 3, "A")
    g = tmp_path / "bad_name.csv"
    prices.rename({"B": "../../x"}).write_csv(g)
    with pytest.raises(DataError, match=r"unsafe asset name '\.\./\.\./x'") as info:
        read_frame(g)
    assert (info.value.file, info.value.column) == (str(g), "../../x")


def test_unparseable_and_missing_dates_in_a_file(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("date,A\n2021-01-01,1\n2021-13-01,2\n")
    with pytest.raises(DataError, match=r"unparseable date '2021-13-01' at row 2") as info:
        read_frame(f)
    assert (info.value.file, info.value.row, info.value.column) == (str(f), 2, "date")
    f.write_text("date,A\n2021-01-01,1\n,2\n")
    with pytest.raises(DataError, match=r"missing date at row 2") as info:
        read_frame(f)
    assert info.value.row == 2


def test_an_empty_price_column_is_refused_naming_file_and_asset(tmp_path: Path) -> None:
    prices, mu = _frames()
    f = tmp_path / "p.csv"
    prices.with_columns(pl.lit(None, dtype=pl.Float64).alias("B")).write_csv(f)
    with pytest.raises(DataError, match=r"100\.0% of the prices are missing") as info:
        prepare_inputs(read_frame(f), mu, max_nan_fraction=0.9, prices_file=str(f))
    assert (info.value.file, info.value.column) == (str(f), "B")


# --- NaN policy -----------------------------------------------------------------------------


def test_missing_price_is_a_gap_listed_per_row() -> None:
    prices, mu = _frames()
    gap = prices.with_columns(
        pl.when(pl.int_range(pl.len()) == 20).then(None).otherwise(pl.col("B")).alias("B")
    )
    res = run_batch(gap, mu, CFG)
    cash = res.cash
    # no position for B on the gap row and the next (no return across the gap) ...
    assert np.isnan(cash[20, 1]) and np.isnan(cash[21, 1]) and np.isfinite(cash[22, 1])
    # ... A is solved as usual on those rows
    assert np.isfinite(cash[20:22, 0]).all()
    rows = missing_price_rows(res.inputs)
    assert rows[20] == "B" and all(r is None for i, r in enumerate(rows) if i != 20)
    summary = missing_summary(res.inputs, "p.csv")
    assert summary["price_cells"] == 1 and summary["price_by_asset"] == {"B": 1}
    assert summary["first_price"] == {
        "file": "p.csv",
        "row": 21,
        "date": "2021-01-21",
        "column": "B",
    }


def test_optimise_files_reports_missing_prices(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prices, mu = _frames()
    f = tmp_path / "prices.csv"
    text = prices.write_csv().splitlines()
    cells = text[12].split(",")
    cells[2] = "NaN"  # data row 12, asset B
    text[12] = ",".join(cells)
    f.write_text("\n".join(text) + "\n")
    mu.write_csv(tmp_path / "mu.csv")
    (tmp_path / "cfg.yml").write_text("vola: 3\ncorr: 5\nclip: 3.0\nshrink: 0.5\naum: 1e6\n")
    with caplog.at_level("WARNING", logger="algotrader"):
        summary = optimise_files(f, tmp_path / "mu.csv", tmp_path / "cfg.yml", tmp_path / "o")
    assert summary["missing"]["first_price"]["row"] == 12
    assert summary["missing"]["first_price"]["column"] == "B"
    status = pl.read_csv(tmp_path / "o" / "status.csv")
    assert status["missing_price"].to_list()[11] == "B"
    assert status["missing_price"].null_count() == status.height - 1
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["missing"]["price_cells"] == 1
    assert any("row 12" in r.getMessage() and str(f) in r.getMessage() for r in caplog.records)
