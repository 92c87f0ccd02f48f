"""Issue 16 items 10 and 11 through the real CLI: one convention for error locations.

Every case runs ``algotrader ...`` as a user does (:func:`algotrader.cli.main` with
``sys.argv``) on a small bad input and must exit with code 2, print no traceback, and name
the location per the convention of ``docs/errors.md``:

* ``file=`` the file as given on the command line (always, when the problem is in a file);
* ``row=N``: the 1-based data row, row 1 = the first data row below the header, so data
  row N of a CSV file is its line N + 1 (checked against the file's text);
* ``column=`` the column as written: the asset's column of a wide file (never ``open``),
  ``date``/``unix`` for the time column;
* ``key=`` the configuration key or option.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from .conftest import RunMain

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC in ms


def _set_cell(path: Path, row: int, column: str, text: str) -> None:
    """Write ``text`` into data row ``row`` (1-based) of ``column`` of a CSV file."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = text
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def _optimiser_files(d: Path) -> None:
    rng = np.random.default_rng(0)
    n = 60
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 2)), axis=0))
    dates = pl.date_range(
        pl.date(2021, 1, 1), pl.date(2021, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": dates, "A": px[:, 0], "B": px[:, 1]})
    mu = prices.with_columns(pl.lit(1.0).alias("A"), pl.lit(-1.0).alias("B"))
    prices.write_csv(d / "prices.csv")
    mu.write_csv(d / "mu.csv")
    (d / "opt.yml").write_text(
        "vola: 5\ncorr: 10\nclip: 3.0\nshrink: 0.5\naum: 1000000\nposition_scale: 1000\n"
    )
    pl.concat([prices.head(5), prices.slice(4, 1), prices.slice(5)]).write_csv(d / "p_dup.csv")
    for name, (row, col, text) in {
        "p_neg": (10, "A", "-1.0"),
        "p_text": (3, "B", "abc"),
        "p_nan": (8, "B", "NaN"),
    }.items():
        prices.write_csv(d / f"{name}.csv")
        _set_cell(d / f"{name}.csv", row, col, text)
    prices.with_columns(pl.lit(None, dtype=pl.Float64).alias("B")).write_csv(d / "p_empty.csv")
    pl.concat([mu.head(5), mu.slice(6)]).write_csv(d / "mu_gap.csv")
    prices.rename({"B": "../../x"}).write_csv(d / "p_name.csv")
    mu.rename({"B": "../../x"}).write_csv(d / "mu_name.csv")
    weights = prices.with_columns(pl.lit(0.5).alias("A"), pl.lit(0.5).alias("B"))
    weights.write_csv(d / "w.csv")
    weights.write_csv(d / "w_partial.csv")
    _set_cell(d / "w_partial.csv", 4, "B", "")
    weights.with_columns(pl.lit(50.0).alias("A")).write_csv(d / "w_lev.csv")


def _cleaning_files(d: Path) -> None:
    days = [f"2024-01-{i:02d}" for i in range(2, 12)]
    wide = pl.DataFrame({"date": days, "AAA": [1.0] * 10, "BBB": [2.0] * 10})
    wide.write_csv(d / "wide_nan.csv")
    _set_cell(d / "wide_nan.csv", 5, "BBB", "NaN")
    pl.concat([wide.head(3), wide.slice(2, 1), wide.slice(3)]).write_csv(d / "wide_dup.csv")
    wide.rename({"BBB": "a/b"}).write_csv(d / "wide_name.csv")
    (d / "long_name.csv").write_text(
        "timestamp,asset,open,high,low,close,volume\n"
        "2024-01-02T15:00:00Z,OK,1,1,1,1,1\n"
        "2024-01-02T15:00:00Z,../../x,1,1,1,1,1\n"
    )


def _amm_files(d: Path) -> None:
    n = 4 * 1440
    rng = np.random.default_rng(1)
    px = np.exp(np.cumsum(0.002 * rng.standard_normal((n, 2)), axis=0)) * [100.0, 2000.0]
    unix = T0 + np.arange(n, dtype=np.int64) * 60_000
    frame = pl.DataFrame({"unix": unix, "close_ETH": px[:, 1], "close_BTC": px[:, 0]})
    frame.write_parquet(d / "amm.parquet")
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 100)
        .then(np.nan)
        .otherwise("close_ETH")
        .alias("close_ETH")
    ).write_parquet(d / "amm_nan.parquet")
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) >= 200).then(pl.col("unix") + 60_000).otherwise("unix")
    ).write_parquet(d / "amm_gap.parquet")
    (d / "tok").mkdir()
    for j, tok in enumerate(("BTC", "ETH")):
        pl.DataFrame({"unix": unix, "close": px[:, j]}).write_parquet(
            d / "tok" / f"{tok}_USD.parquet"
        )
    (d / "SECRET_USD.csv").write_text("unix,close\n0,1\n")  # must never be found
    base = (
        "tokens: [ETH, BTC]\nrule: momentum\nstartDateString: '2022-01-02 00:00:00'\n"
        "endDateString: '2022-01-04 00:00:00'\nmax_memory_days: 1\nchunk_period: 60\n"
        "weight_interpolation_period: 60\nfees: 0.003\n"
    )
    (d / "run.yml").write_text(base)
    (d / "run_bout.yml").write_text(base + "bout_offset: 100000\n")
    (d / "run_wf_bout.yml").write_text(
        base.replace("2022-01-04", "2022-01-03")
        + "endTestDateString: '2022-01-04 00:00:00'\nbout_offset: 100000\n"
    )
    (d / "run_secret.yml").write_text(base.replace("[ETH, BTC]", "[ETH, ../SECRET]"))
    params = {
        "initial_weights_logits": [0.0, 0.0],
        "log_k": [4.3, 4.3],
        "logit_delta_lamb": [0.0, 0.0],
        "logit_lamb": [2.0, 2.0],
    }
    (d / "params.json").write_text(json.dumps(params))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("locations")
    _optimiser_files(d)
    _cleaning_files(d)
    _amm_files(d)
    return d


@dataclass(frozen=True)
class Case:
    """One bad input: argv (with ``{d}`` for the input folder) and the expected location."""

    id: str
    argv: str
    file: str | None = None  # file name inside the folder (or "tok" for the folder)
    row: int | None = None
    column: str | None = None
    key: str | None = None
    text: str = ""  # also in the message
    line_has: str | None = None  # data row N of ``file`` (its line N + 1) holds this text
    extra: dict[str, str] = field(default_factory=dict)


def _opt(prices: str, signal: str = "mu.csv") -> str:
    return f"optimise --prices {{d}}/{prices} --signal {{d}}/{signal} --config {{d}}/opt.yml --out {{d}}/o_{prices}"


def _bt(weights: str, prices: str = "prices.csv") -> str:
    return f"backtest --weights {{d}}/{weights} --prices {{d}}/{prices} --out {{d}}/b_{weights}"


def _clean(name: str) -> str:
    return f"data-cleaning --input {{d}}/{name} --start 2024-01 --lake {{d}}/lake_{name}"


def _amm_run(prices: str, config: str = "run.yml") -> str:
    return (
        f"amm run --config {{d}}/{config} --prices {{d}}/{prices} --params {{d}}/params.json "
        f"--out {{d}}/a_{config}_{prices}"
    )


CASES = [
    # optimise: a duplicate date is a duplicate date at its row of its file (not a row count)
    Case("optimise-duplicate-date", _opt("p_dup.csv"), "p_dup.csv", 6, "date",
         text="duplicate date 2021-01-05 at row 6 of the prices", line_has="2021-01-05"),
    Case("optimise-negative-price", _opt("p_neg.csv"), "p_neg.csv", 10, "A",
         text="price must be positive", line_has="-1.0"),
    Case("optimise-text-cell", _opt("p_text.csv"), "p_text.csv", 3, "B",
         text="'abc' at row 3 is not a number", line_has="abc"),
    Case("optimise-empty-price-column", _opt("p_empty.csv"), "p_empty.csv", None, "B",
         text="100.0% of the prices are missing"),
    Case("optimise-signal-lacks-a-date", _opt("prices.csv", "mu_gap.csv"), "mu_gap.csv", 6,
         "date", text="signal date 2021-01-07 at row 6 where the prices have 2021-01-06",
         line_has="2021-01-07"),
    Case("optimise-unsafe-asset-name", _opt("p_name.csv", "mu_name.csv"), "p_name.csv", None,
         "../../x", text="unsafe asset name '../../x'"),
    # backtest: the file and the asset column (was column=0/1 and no file)
    Case("backtest-missing-price", _bt("w.csv", "p_nan.csv"), "p_nan.csv", 8, "B",
         text="price of B is missing at row 8", line_has="NaN"),
    Case("backtest-partly-empty-weights", _bt("w_partial.csv"), "w_partial.csv", 4, "B",
         text="weights of B is empty"),
    Case("backtest-value-crosses-zero", _bt("w_lev.csv"), "w_lev.csv", None, None, "values",
         text="portfolio value fell to"),
    # data-cleaning: a wide file names the asset column (was column=open) and the date column
    Case("clean-wide-nan", _clean("wide_nan.csv"), "wide_nan.csv", 5, "BBB",
         text="price nan of BBB is not finite", line_has="NaN"),
    Case("clean-wide-duplicate-date", _clean("wide_dup.csv"), "wide_dup.csv", 4, "date",
         text="duplicate date 2024-01-04 at row 4", line_has="2024-01-04"),
    Case("clean-wide-unsafe-header", _clean("wide_name.csv"), "wide_name.csv", None, "a/b",
         text="unsafe asset name 'a/b'"),
    Case("clean-long-unsafe-asset", _clean("long_name.csv"), "long_name.csv", 2, "asset",
         text="unsafe asset name '../../x'", line_has="../../x"),
    # amm: 1-based rows, the column as written, tokens refused before any path is built
    Case("amm-run-nan-price", _amm_run("amm_nan.parquet"), "amm_nan.parquet", 101,
         "close_ETH", text="got nan at row 101"),
    Case("amm-run-minute-gap", _amm_run("amm_gap.parquet"), "amm_gap.parquet", 201, "unix",
         text="row 201 is 120000 ms after row 200"),
    Case("amm-run-unsafe-token", _amm_run("tok", "run_secret.yml"), "run_secret.yml", None, None,
         "tokens", text="unsafe token name '../SECRET'"),
    Case("amm-train-bout-offset", "amm train --config {d}/run_bout.yml --prices "
         "{d}/amm.parquet --out {d}/t_bout", "run_bout.yml", None, None, "bout_offset",
         text="bout_offset 100000"),
    Case("amm-walk-forward-bout-offset", "amm walk-forward --config {d}/run_wf_bout.yml --prices "
         "{d}/amm.parquet --out {d}/wf_bout --cycles 1", "run_wf_bout.yml", None, None,
         "bout_offset", text="bout_offset"),
    Case("amm-walk-forward-too-many-cycles", "amm walk-forward --config {d}/run_wf_bout.yml "
         "--prices {d}/amm.parquet --out {d}/wf_cycles --cycles 2", None, None, None, "--cycles",
         text="walk-forward segments"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_is_located_per_the_convention(
    case: Case, inputs: Path, run_main: RunMain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGOTRADER_HOME", str(inputs / "home"))
    argv = case.argv.format(d=inputs).split()
    code, text = run_main(["--quiet", *argv])
    text = text.replace("\n", "")
    assert code == 2, text
    assert "Traceback" not in text and "error:" in text, text
    assert case.text in text, text
    where: list[str] = []
    if case.file is not None:
        where.append(f"file={inputs / case.file}")
    if case.row is not None:
        where.append(f"row={case.row}")
    if case.column is not None:
        where.append(f"column={case.column}")
    if case.key is not None:
        where.append(f"key={case.key}")
    located = text[text.index("[") : text.index("]") + 1]
    for part in where:
        assert part in located, (part, text)
    if case.row is not None and case.file is not None:
        assert "row 1 is the first data row below the header" in text
    if case.line_has is not None:
        assert case.file is not None and case.row is not None
        lines = (inputs / case.file).read_text().splitlines()
        assert case.line_has in lines[case.row], (case.row, lines[case.row])  # line N + 1
    assert "column=open" not in text and "column=0" not in text


def test_missing_prices_in_optimise_are_a_visible_status(inputs: Path, run_main: RunMain) -> None:
    """NaN policy: a missing price is a gap, shown in the summary table and per row."""
    out = inputs / "o_nan_status"
    code, text = run_main(["--quiet", *_opt("p_nan.csv").format(d=inputs).split()[:-2],
                           "--out", str(out)])  # fmt: skip
    assert code == 0, text
    assert "missing prices" in text and "row 8, column B" in text, text
    status = pl.read_csv(out / "status.csv")
    assert status["missing_price"][7] == "B"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["missing"]["first_price"] == {
        "file": str(inputs / "p_nan.csv"),
        "row": 8,
        "date": "2021-01-08",
        "column": "B",
    }
