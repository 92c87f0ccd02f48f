"""``optimise`` (batch and stream) and ``amm run`` write what every family writes.

Each command must leave ``returns.parquet`` (date, gross and net return ...),
``metrics.json`` (each metric with its registry definition and ``periods_per_year``) and
``run_manifest.json`` in the same layout as the default pipeline's families
(:func:`algotrader.backtest.write_evaluation`), and the numbers must be those of the shared
path recomputed here from the command's own position / value tables:
:func:`algotrader.backtest.evaluate_weights` for the optimiser (weights ``cash x
position_scale / aum``, lag 1, ``CostModel(proportional_bps = cost_per_unit x 1e4)``) and
:func:`algotrader.backtest.evaluate_value_series` for the pool. A look-ahead check corrupts
the prices after row k: the optimiser's returns up to row k do not move.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from algotrader.artifacts import file_hash
from algotrader.backtest import CostModel
from algotrader.backtest.evaluate import (
    BENCHMARKS,
    PERIODS_RULE,
    Evaluation,
    evaluate_value_series,
    evaluate_weights,
    periods_per_year,
    write_evaluation,
)
from algotrader.cli import app
from algotrader.data.panel import Panel
from algotrader.metrics.registry import REGISTRY, compute_metrics

from ._amm_inputs import amm_prices_and_config

CONFIG = """\
vola: 16
corr: 32
clip: 3.5
shrink: 0.5
aum: 1.0e6
position_scale: 1000.0
cost_per_unit: 0.001
"""
AUM, SCALE, COST = 1e6, 1000.0, 0.001


def _invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, ["-q", *args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def _weekday_prices(n: int = 260, seed: int = 3) -> pl.DataFrame:
    """Weekday closes (a trading calendar: about 261 rows a year, not 365)."""
    rng = np.random.default_rng(seed)
    days = pl.date_range(pl.date(2021, 1, 4), pl.date(2023, 1, 1), eager=True)
    days = days.filter(days.dt.weekday() <= 5).head(n)
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 3)) + 0.0003, axis=0))
    return pl.DataFrame({"date": days, "AAA": px[:, 0], "BBB": px[:, 1], "CCC": px[:, 2]})


def _write_inputs(tmp: Path, prices: pl.DataFrame, name: str = "prices.csv") -> tuple[Path, Path]:
    mom = {a: (pl.col(a) / pl.col(a).shift(20) - 1).fill_null(0.0) for a in ("AAA", "BBB", "CCC")}
    prices.write_csv(tmp / name)
    mu = tmp / "mu.csv"
    if not mu.exists():
        prices.with_columns(**mom).write_csv(mu)
    cfg = tmp / "cfg.yml"
    cfg.write_text(CONFIG)
    return tmp / name, mu


def _optimise(tmp: Path, prices: Path, mu: Path, out: str, *extra: str) -> Path:
    folder = tmp / out
    _invoke(["optimise", "--prices", str(prices), "--signal", str(mu), "--config",
             str(tmp / "cfg.yml"), "--out", str(folder), *extra])  # fmt: skip
    return folder


def _independent(folder: Path, prices: Path) -> Evaluation:
    """The shared path on the command's own cash positions, computed here."""
    cash = pl.read_parquet(folder / "cash_position.parquet")
    px = pl.read_csv(prices, try_parse_dates=True)
    assets = [c for c in cash.columns if c != "date"]
    weights = np.nan_to_num(cash.select(assets).to_numpy().astype(np.float64)) * SCALE / AUM
    panel = Panel.from_wide(px.select("date", *assets), name="close")
    return evaluate_weights(
        panel,
        weights,
        CostModel(proportional_bps=COST * 1e4),
        lag=1,
        name="optimiser",
        initial_value=AUM,
    )


def _pipeline_layout(ev: Evaluation, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The files the default pipeline's ``record`` writes for ``ev`` (returns schema, doc)."""
    write_evaluation(tmp, ev)
    return dict(pl.read_parquet(tmp / "returns.parquet").schema), json.loads(
        (tmp / "metrics.json").read_text()
    )


def _check_layout(folder: Path, ev: Evaluation, tmp: Path, kind: str) -> dict[str, Any]:
    schema, ref_doc = _pipeline_layout(ev, tmp)
    returns = pl.read_parquet(folder / "returns.parquet")
    assert dict(returns.schema) == schema
    assert returns.columns[:3] == ["date", "gross_return", "net_return"]
    doc = json.loads((folder / "metrics.json").read_text())
    assert set(ref_doc) <= set(doc)
    assert doc["periods_per_year_rule"] == PERIODS_RULE
    assert set(doc["metrics"]) == set(ref_doc["metrics"])
    assert set(doc["benchmarks"]) == set(BENCHMARKS)
    for name, entry in doc["metrics"].items():
        assert entry["definition"] == REGISTRY[name].definition
    manifest = json.loads((folder / "run_manifest.json").read_text())
    assert manifest["kind"] == kind
    assert {"returns.parquet", "metrics.json"} <= set(manifest["outputs"])
    assert manifest["extra"]["periods_per_year"] == doc["periods_per_year"]
    return doc


def _same_numbers(doc: dict[str, Any], ev: Evaluation, returns: pl.DataFrame) -> None:
    assert doc["periods_per_year"] == pytest.approx(ev.periods_per_year, rel=1e-15)
    for name, value in ev.metrics.items():
        got = doc["metrics"][name]["value"]
        if not np.isfinite(value):
            assert got is None, name
        else:
            assert got == pytest.approx(value, rel=1e-12, abs=1e-15), name
    for bench, ms in ev.benchmark_metrics.items():
        for name, value in ms.items():
            got = doc["benchmarks"][bench][name]["value"]
            assert (got is None) if not np.isfinite(value) else got == pytest.approx(value), name
    assert returns.height == ev.net_returns.shape[0]
    np.testing.assert_allclose(returns["net_return"].to_numpy(), ev.net_returns, rtol=1e-13)
    np.testing.assert_allclose(returns["gross_return"].to_numpy(), ev.gross_returns, rtol=1e-13)
    got_dates = returns["date"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    np.testing.assert_array_equal(got_dates, ev.dates[1:].astype("datetime64[us]"))


@pytest.fixture(scope="module")
def optimiser_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("opt")
    frame = _weekday_prices()
    prices, mu = _write_inputs(tmp, frame)
    batch = _optimise(tmp, prices, mu, "batch")
    stream = _optimise(tmp, prices, mu, "stream", "--mode", "stream", "--warmup-rows", "120")
    return {"tmp": tmp, "frame": frame, "prices": prices, "mu": mu, "batch": batch,
            "stream": stream}  # fmt: skip


@pytest.mark.parametrize("mode", ["batch", "stream"])
def test_optimise_writes_the_shared_files(
    optimiser_runs: dict[str, Any], mode: str, tmp_path: Path
) -> None:
    folder, prices = optimiser_runs[mode], optimiser_runs["prices"]
    ev = _independent(folder, prices)
    doc = _check_layout(folder, ev, tmp_path, "optimise")
    returns = pl.read_parquet(folder / "returns.parquet")
    _same_numbers(doc, ev, returns)
    # one calendar rule: weekday rows are ~261 a year (not 252 by fiat, not 365)
    assert 255 < doc["periods_per_year"] < 265
    assert doc["periods_per_year"] == pytest.approx(
        periods_per_year(optimiser_runs["frame"]["date"]), rel=1e-15
    )
    assert doc["total_costs"] > 0 and doc["metrics"]["annualised_turnover"]["value"] > 0
    # the summary's performance block is the metrics.json document itself
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["performance"] == {k: doc[k] for k in summary["performance"]}
    assert summary["mode"] == mode and summary["nav_status"] == {"status": "ok"}
    assert summary["book"]["final_value"] == pytest.approx(ev.values[-1], rel=1e-12)
    assert summary["book"]["lag"] == 1
    # the users' tables are still there
    for name in ("cash_position", "risk_position", "vola", "status", "position_currency"):
        assert (folder / f"{name}.csv").is_file() and (folder / f"{name}.parquet").is_file()
    weights = pl.read_parquet(folder / "weights.parquet")
    assert ev.backtest is not None
    np.testing.assert_allclose(weights.drop("date").to_numpy(), ev.backtest.weights, rtol=1e-12)
    manifest = json.loads((folder / "run_manifest.json").read_text())
    assert manifest["inputs"]["prices"] == file_hash(prices)


def test_stream_equals_batch_metrics(optimiser_runs: dict[str, Any]) -> None:
    a = json.loads((optimiser_runs["batch"] / "metrics.json").read_text())
    b = json.loads((optimiser_runs["stream"] / "metrics.json").read_text())
    assert a == b
    ra = pl.read_parquet(optimiser_runs["batch"] / "returns.parquet")
    rb = pl.read_parquet(optimiser_runs["stream"] / "returns.parquet")
    assert ra.equals(rb)


def test_optimise_no_look_ahead(optimiser_runs: dict[str, Any]) -> None:
    """Prices after row k corrupted (signal unchanged): returns up to row k are unchanged."""
    tmp, frame, mu = optimiser_runs["tmp"], optimiser_runs["frame"], optimiser_runs["mu"]
    k = 150
    rng = np.random.default_rng(9)
    shock = np.ones((frame.height, 3))
    shock[k + 1 :] = np.exp(rng.normal(0.0, 0.2, (frame.height - k - 1, 3)))
    bad = frame.with_columns(
        *(
            pl.Series(a, frame[a].to_numpy() * shock[:, j])
            for j, a in enumerate(["AAA", "BBB", "CCC"])
        )
    )
    prices, _ = _write_inputs(tmp, bad, name="prices_bad.csv")
    folder = _optimise(tmp, prices, mu, "lookahead")
    good = pl.read_parquet(optimiser_runs["batch"] / "returns.parquet")
    moved = pl.read_parquet(folder / "returns.parquet")
    # returns.parquet row i is the return ending at price row i + 1
    assert good.head(k).equals(moved.head(k))
    assert not np.allclose(good["net_return"][k:].to_numpy(), moved["net_return"][k:].to_numpy())


@pytest.fixture(scope="module")
def amm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import yaml

    tmp = tmp_path_factory.mktemp("amm")
    prices, base = amm_prices_and_config(tmp)
    cfg = tmp / "run.yaml"
    cfg.write_text(yaml.safe_dump({**base, "fees": 0.003}))
    params = tmp / "params.json"
    params.write_text(json.dumps({"initial_weights_logits": [0.0, 0.0], "log_k": [4.3, 4.3],
                                  "logit_delta_lamb": [0.0, 0.0], "logit_lamb": [2.0, 2.0]}))  # fmt: skip
    out = tmp / "run"
    text = _invoke(["amm", "run", "--config", str(cfg), "--prices", str(prices), "--params",
                    str(params), "--out", str(out)])  # fmt: skip
    assert "P/yr" in text.replace("\n", "")
    return out


def test_amm_run_writes_the_shared_files(amm_run: Path, tmp_path: Path) -> None:
    per_step = pl.read_parquet(amm_run / "per_step.parquet")
    tokens = ("AAA", "BBB")
    n = per_step.height
    rows = np.unique(np.r_[np.arange(0, n, 1440), n - 1])
    minutes = per_step["unix"].to_numpy().astype("datetime64[ms]")
    value = per_step["value"].to_numpy()
    px = per_step.select([f"price_{t}" for t in tokens]).to_numpy()
    res0 = per_step.select([f"reserve_{t}" for t in tokens]).to_numpy()[0]
    v0 = value[0]
    p = px[rows]
    bench = {  # independent of pipeline.amm_step: the closed forms of the three benchmarks
        "hodl": p @ res0,
        "uniform_hodl": v0 * (p / p[0]).mean(axis=1),
        "equal_weight_rebalanced": v0 * np.r_[1.0, np.cumprod((p[1:] / p[:-1]).mean(axis=1))],
    }
    ev = evaluate_value_series(minutes[rows], value[rows], bench, name="amm")
    doc = _check_layout(amm_run, ev, tmp_path, "amm-run")
    returns = pl.read_parquet(amm_run / "returns.parquet")
    _same_numbers(doc, ev, returns)
    # the whole window's return, on a 24/7 day clock (~365 a year), fees inside: gross = net
    assert doc["metrics"]["total_return"]["value"] == pytest.approx(value[-1] / value[0] - 1)
    assert 360 < doc["periods_per_year"] < 370
    np.testing.assert_array_equal(returns["gross_return"], returns["net_return"])
    assert doc["total_costs"] == 0.0
    # the reference simulator's amm.* metrics: the registry's definitions on the minute path
    ref = compute_metrics(value, periods_per_year=525_960.0, prices=px, family="amm")
    assert set(doc["reference"]) == set(ref)
    for name, entry in doc["reference"].items():
        assert entry["definition"] == REGISTRY[name].definition
        want = float(ref[name])
        if not np.isfinite(want):
            assert entry["value"] is None, name  # strict JSON: undefined is null
        else:
            assert entry["value"] == pytest.approx(want, rel=1e-12, abs=1e-15), name
    assert sum(e["value"] is not None for e in doc["reference"].values()) >= 10
    # run facts beside the metrics
    assert doc["final_value"] == value[-1] and doc["rows"] == n
    assert doc["params"]["sha256"] == file_hash(Path(doc["params"]["file"]))


def test_run_facts_never_replace_metrics(tmp_path: Path) -> None:
    """``write_evaluation(context=)`` refuses a key of the metrics document; a reference
    metric must be a registered one (its definition is written beside it)."""
    from algotrader.errors import ShapeError

    d = np.arange("2024-01-01", "2024-01-05", dtype="datetime64[D]")
    ev = evaluate_value_series(d, [1.0, 1.1, 1.0, 1.2], {"hodl": [1.0, 1.0, 1.0, 1.0]})
    with pytest.raises(ShapeError) as info:
        write_evaluation(tmp_path, ev, context={"metrics": {"sharpe": 9.0}})
    assert info.value.key == "metrics"
    assert not (tmp_path / "metrics.json").exists()
    with pytest.raises(ShapeError, match="not in the registry"):
        write_evaluation(tmp_path, ev, reference={"my_sharpe": 1.0})
    write_evaluation(tmp_path, ev, reference={"amm.returns": 0.2}, context={"run_id": "x"})
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["run_id"] == "x" and doc["reference"]["amm.returns"]["value"] == 0.2
    assert doc["metrics"]["total_return"]["value"] == pytest.approx(0.2)


def test_benchmark_reaching_zero_gives_nan_not_an_error() -> None:
    """The HODL of a leveraged long/short book can reach zero: its metrics are undefined
    (NaN, null in metrics.json), the strategy's own metrics are not affected."""
    d = np.arange("2024-01-01", "2024-01-06", dtype="datetime64[D]")
    value = [1.0, 1.1, 1.0, 1.2, 1.3]
    bust = {"hodl": [1.0, 0.5, -0.2, 0.1, 0.3], "uniform_hodl": [1.0, 1.0, 1.1, 1.2, 1.2]}
    ev = evaluate_value_series(d, value, bust)
    ok = evaluate_value_series(d, value, {"uniform_hodl": bust["uniform_hodl"]})
    assert set(ev.benchmark_metrics["hodl"]) == set(ev.benchmark_metrics["uniform_hodl"])
    assert all(np.isnan(v) for v in ev.benchmark_metrics["hodl"].values())
    assert np.isnan(ev.metrics["returns_over_hodl"])
    assert ev.metrics["returns_over_uniform_hodl"] == pytest.approx(1.3 / 1.2 - 1)
    for name, v in ok.metrics.items():
        assert ev.metrics[name] == v, name
