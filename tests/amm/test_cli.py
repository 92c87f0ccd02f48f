"""The ``algotrader amm run`` command, directly supplied coarse weights and the pipeline step."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import polars as pl
from typer.testing import CliRunner, Result

import algotrader.amm as amm
from algotrader.amm.forward import _window_rows
from algotrader.amm.weights import weights_from_coarse, window_fine_weights
from algotrader.cli import app
from algotrader.pipeline import PipelineContext
from algotrader.pipeline.amm_step import run as amm_step_run
from algotrader.settings import Settings

from .conftest import gbm_prices

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    n = 4 * 1440
    prices = gbm_prices(n, 2, seed=11, sigma=0.002)
    unix = T0 + np.arange(n, dtype=np.int64) * 60_000
    prices_path = tmp_path / "prices.parquet"
    pl.DataFrame(
        {"unix": unix, "close_ETH": prices[:, 1], "close_BTC": prices[:, 0]}
    ).write_parquet(prices_path)
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(
        "tokens: [ETH, BTC]\nrule: momentum\nstartDateString: '2022-01-02 00:00:00'\n"
        "endDateString: '2022-01-04 00:00:00'\nmax_memory_days: 1\nchunk_period: 60\n"
        "weight_interpolation_period: 60\nfees: 0.003\n"
    )
    params = {
        k: v[0].tolist()
        for k, v in amm.init_params("momentum", 2, chunk_period=60, memory_days=0.2).items()
    }
    params_path = tmp_path / "params.json"
    params_path.write_text(json.dumps(params))
    return cfg_path, prices_path, params_path


def _run(cfg: Path, prices: Path, params: Path, out: Path, *extra: str) -> Result:
    """``algotrader --quiet amm run`` with the three inputs, the output folder and ``extra``."""
    args = ["--config", str(cfg), "--prices", str(prices), "--params", str(params)]
    return CliRunner().invoke(app, ["--quiet", "amm", "run", *args, "--out", str(out), *extra])


def test_amm_run_writes_tables_and_metrics(tmp_path: Path) -> None:
    cfg, prices, params = _setup(tmp_path)
    out = tmp_path / "out"
    res = _run(cfg, prices, params, out)
    assert res.exit_code == 0, res.output
    assert "final value" in res.output
    per_step = pl.read_parquet(out / "per_step.parquet")
    assert per_step.height == 2 * 1440
    assert per_step.columns[:3] == ["unix", "price_BTC", "price_ETH"]
    assert pl.read_csv(out / "daily.csv").height == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final_value"] == per_step["value"][-1]  # run facts beside the metrics
    np.testing.assert_allclose(
        (
            per_step.select("reserve_BTC", "reserve_ETH").to_numpy()
            * per_step.select("price_BTC", "price_ETH").to_numpy()
        ).sum(1),
        per_step["value"].to_numpy(),
        rtol=1e-12,
    )


def test_amm_run_bad_params_exit_code_2(tmp_path: Path) -> None:
    cfg, prices, params = _setup(tmp_path)
    params.write_text(json.dumps({"log_k": [1, 2]}))
    res = _run(cfg, prices, params, tmp_path)
    assert res.exit_code != 0


def test_coarse_weights_cli_and_equivalence(tmp_path: Path) -> None:
    cfg, prices, params = _setup(tmp_path)
    unix = T0 + 1440 * 60_000 + np.arange(48, dtype=np.int64) * 60 * 60_000
    w = np.linspace(0.3, 0.7, 48)
    coarse = tmp_path / "coarse.csv"
    pl.DataFrame({"unix": unix, "weight_BTC": w, "weight_ETH": 1 - w}).write_csv(coarse)
    out = tmp_path / "out"
    res = _run(cfg, prices, params, out, "--coarse-weights", str(coarse))
    assert res.exit_code == 0, res.output
    got = pl.read_parquet(out / "per_step.parquet")["weight_BTC"].to_numpy()
    assert got[0] == 0.3 and got[-1] > 0.69
    # supplying a rule's own coarse path reproduces its fine weights
    sim = amm.SimConfig(
        rule="momentum",
        n_assets=2,
        bout_length=2881,
        chunk_period=60,
        weight_interpolation_period=60,
        max_memory_days=1.0,
    )
    p = {
        k: jnp.asarray(v[0])
        for k, v in amm.init_params("momentum", 2, chunk_period=60, memory_days=0.2).items()
    }
    px = jnp.asarray(gbm_prices(4 * 1440, 2, seed=11, sigma=0.002))
    rows = _window_rows(amm.rule_outputs(p, px, sim)["rule_outputs"], 1440, sim)
    fine, coarse_path = window_fine_weights(rows, amm.initial_weights(p), sim, "delta")
    np.testing.assert_allclose(
        np.asarray(weights_from_coarse(coarse_path, sim)), np.asarray(fine), atol=1e-14
    )


def test_pipeline_step_reports_value_vs_hodl(tmp_path: Path) -> None:
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(90)]
    px = gbm_prices(90, 3, seed=12, sigma=0.02)
    frame = pl.DataFrame(
        {"date": days, "AAPL": px[:, 0], "CVX": px[:, 1], "HD": px[:, 2], "XOM": px[:, 0]}
    )
    ctx = PipelineContext(
        settings=Settings.from_env(), out_dir=tmp_path, results={"daily_close": frame}
    )
    report = amm_step_run(ctx)
    s = report.summary
    assert s["trading_days"] == 90 - 60 - 1
    hodl_final = s["final_value"] / (1 + s["return_over_hodl"])
    assert np.isfinite(hodl_final) and hodl_final > 0
    assert (tmp_path / "amm_daily.parquet").exists()
    assert report.tables and report.tables[0][2][0][0] == "pool return"
