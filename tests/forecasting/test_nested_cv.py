"""The forecast family through the nested-CV runner: features from the feature store,
post-tune selection files, outer diagnostics, one compile per model and shape, and no
look-ahead across outer folds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from algotrader.cli import app
from algotrader.errors import ConfigError
from algotrader.forecasting import nested, svi
from algotrader.simulation.config import DataConfig, config_from_mapping
from algotrader.simulation.family import SimulationData
from algotrader.simulation.inputs import load_inputs
from algotrader.simulation.runner import run_simulation

FEATURES = {"groups": {"momentum": "all", "volatility": ["vol_cc_d", "atrp_d"]}}


def small_raw(root: Path, label: str, **model: Any) -> dict[str, Any]:
    """A nested-CV forecast config that runs in well under a minute on 2 cores."""
    return {
        "family": "forecast",
        "seed": 0,
        "data": {
            "source": "bundled",
            "frequency": "weekly",
            "features": FEATURES,
            "start": "2017-01-01",
            "end": "2022-12-28",
            "output_root": str(root),
            "simulation_output_path": label,
        },
        "cv": {"warmup_len": 26, "group_len": 52, "embargo_len": 1, "q": 1, "max_inner_combos": 2},
        "outer": {"last_n": 2},
        "preprocessing": {"method": "pipeline"},
        "predictive": {"num_samples_inner": 24, "num_samples_outer": 32},
        "scoring": {"metric_name": "energy_score"},
        "model": {
            "params": {
                "model": "factor_model_v1",
                "guide": "factor_guide_v1",
                "num_steps": 15,
                "lr": 0.01,
                **model,
            }
        },
        "tuning": {
            "num_samples": 2,
            "space": [
                {
                    "path": "model.params.lr",
                    "type": "float",
                    "bounds": [0.003, 0.03],
                    "transform": "log",
                }
            ],
        },
    }


@pytest.mark.slow
def test_features_from_the_store_are_aligned_and_causal(tmp_path: Path) -> None:
    cfg = DataConfig(start="2015-01-01", end="2018-12-28", features=FEATURES)
    d = load_inputs(cfg)
    assert d.X is not None and d.features is not None
    assert d.X.shape == (d.n_dates, d.n_assets, 8)
    assert d.features[0] == "momentum::z_mom_4w" and d.features[-1].startswith("volatility::")
    assert np.isfinite(d.X).mean() > 0.99  # history before data.start covers the warm-up
    # a shorter end reproduces every earlier row (features use past bars only)
    short = load_inputs(DataConfig(start="2015-01-01", end="2017-12-29", features=FEATURES))
    assert short.X is not None
    np.testing.assert_array_equal(short.X, d.X[: short.n_dates])
    # the store round trip: written once, then reused with identical values
    stored = DataConfig(
        start="2015-01-01", end="2018-12-28", features={**FEATURES, "store": str(tmp_path)}
    )
    a, b = load_inputs(stored), load_inputs(stored)
    assert a.X is not None and b.X is not None
    np.testing.assert_array_equal(a.X, d.X)
    np.testing.assert_array_equal(b.X, d.X)
    assert sorted(p.name for p in (tmp_path / "2018-52").iterdir()) == ["momentum", "volatility"]


def test_bad_feature_selection_names_the_key() -> None:
    cfg = DataConfig(end="2001-12-28", features={"groups": {"momentum": ["nope"]}})
    with pytest.raises(ConfigError) as exc:
        load_inputs(cfg)
    assert exc.value.key == "data.features.groups.momentum[0]"
    with pytest.raises(ConfigError):
        config_from_mapping(
            {
                "family": "forecast",
                "cv": {"group_len": 4, "q": 1},
                "data": {"source": "npz", "prices_npz": "x.npz", "features": {}},
            }
        )


@pytest.mark.slow
def test_cli_nested_cv_writes_selection_and_outer_diagnostics(tmp_path: Path) -> None:
    raw = small_raw(tmp_path, "cli")
    path = tmp_path / "f.yml"
    path.write_text(yaml.safe_dump(raw))
    svi._STEP_CACHE.clear()
    svi._PRED_CACHE.clear()
    svi.COMPILE_COUNTS.clear()
    res = CliRunner().invoke(app, ["--quiet", "simulate", "--config", str(path)])
    assert res.exit_code == 0, res.output
    run = tmp_path / "cli"
    # one compile of the update for the whole run (2 candidates with different lr, every
    # split and outer fit), one predictive per (sample count, row bucket): inner + outer
    assert svi.COMPILE_COUNTS == {
        "factor_model_v1/factor_guide_v1": 1,
        "factor_model_v1/factor_guide_v1/predict": 2,
    }
    folds = json.loads((run / "cv" / "cv_structure.json").read_text())["outer_folds"]
    ks = sorted(int(k) for k in folds)
    assert len(ks) == 2
    for k in ks:
        post = run / "inner" / f"outer_{k}" / "postprocessing"
        sel = json.loads((post / "selection.json").read_text())
        met = json.loads((post / "metrics.json").read_text())
        assert set(met) == {"0", "1"}
        assert set(met["0"]) == {"es_model", "se_es", "crps_model", "ql_model"}
        assert sel["best_candidate_id"] in sel["survivors_secondary"]
        assert set(sel["survivors_secondary"]) <= set(sel["survivors_es"])
        best = json.loads((run / "inner" / f"outer_{k}" / "best_config.json").read_text())
        assert str(best["candidate_id"]) == sel["best_candidate_id"]
        assert best["selected_by"] in ("aggregate", "post_tune")
        meta = json.loads((post / "metadata.json").read_text())
        assert meta["recomputed_payloads"] == 0  # local engine: records reused
    diag = run / "outer" / "diagnostics"
    names = {p.name for p in diag.iterdir()}
    for n in (
        "calibration.png",
        "pit_histogram.csv",
        "coverage_curve.csv",
        "energy_prerank.csv",
        "fan_quantiles.parquet",
        "summary.json",
        "fan_AAPL.png",
        *(f"svi_loss_outer_{k}.{ext}" for k in ks for ext in ("csv", "png")),
    ):
        assert n in names, n
    summary = json.loads((diag / "summary.json").read_text())
    assert summary["n_rows"] == 104 and summary["n_samples"] == 32
    assert 0.0 <= summary["pit_chi2_pvalue"] <= 1.0
    assert 0.0 <= summary["energy_prerank_chi2_pvalue"] <= 1.0
    assert int(pl.read_csv(diag / "energy_prerank.csv")["count"].sum()) == 104
    cov = pl.read_csv(diag / "coverage_curve.csv")
    assert cov["level"].to_list() == [0.5, 0.8, 0.9, 0.95]
    fan = pl.read_parquet(diag / "fan_quantiles.parquet")
    assert fan.height == 104 * 20 and (fan["q05"] <= fan["q95"]).all()
    # same outer table as every family: chosen + the two baselines
    rets = pl.read_parquet(run / "outer" / "returns.parquet")
    assert {"chosen", "equal_weight", "hodl"} <= set(rets.columns) and rets.height == 104
    metrics = json.loads((run / "outer" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"equal_weight", "hodl"}
    for k in ks:
        r = json.loads((run / "outer" / f"outer_{k}" / "result.json").read_text())
        assert np.isfinite(r["outer_score"])  # the energy score of the outer predictions


def _corrupt_after(data: SimulationData, last_row: int) -> SimulationData:
    """Targets, prices and features after ``last_row`` replaced by garbage."""
    rng = np.random.default_rng(1)
    y = np.array(data.y)
    y[last_row + 1 :] = rng.normal(0.5, 0.3, size=y[last_row + 1 :].shape)
    assert data.prices is not None and data.X is not None
    prices = np.array(data.prices)
    prices[last_row + 1 :] *= 7.0
    X = np.array(data.X)
    X[last_row + 1 :] = rng.normal(size=X[last_row + 1 :].shape) * 100
    return SimulationData(
        dates=data.dates,
        assets=data.assets,
        y=y,
        y_mask=np.isfinite(y),
        X=X,
        x_mask=np.isfinite(X),
        features=data.features,
        prices=prices,
        horizon=data.horizon,
        periods_per_year=data.periods_per_year,
        target_kind=data.target_kind,
    )


@pytest.mark.slow
def test_no_look_ahead_across_outer_folds(tmp_path: Path) -> None:
    """Corrupting everything after fold k's test block leaves fold k bit-identical."""
    cfg = config_from_mapping(small_raw(tmp_path, "clean"))
    data = load_inputs(cfg.data)
    clean = run_simulation(cfg, data=data)
    folds = json.loads((clean.run_dir / "cv" / "cv_structure.json").read_text())["outer_folds"]
    k, k2 = sorted(int(x) for x in folds)
    last = int(max(folds[str(k)]["test_idx"]))
    bad_cfg = config_from_mapping(small_raw(tmp_path, "corrupt"))
    nested.RECORDS.clear()  # nothing carried over between the two runs
    bad = run_simulation(bad_cfg, data=_corrupt_after(data, last))
    for rel in (
        f"inner/outer_{k}/postprocessing/selection.json",
        f"inner/outer_{k}/postprocessing/metrics.json",
        f"inner/outer_{k}/scores.parquet",
    ):
        assert (clean.run_dir / rel).read_bytes() == (bad.run_dir / rel).read_bytes(), rel
    a = json.loads((clean.run_dir / "outer" / f"outer_{k}" / "result.json").read_text())
    b = json.loads((bad.run_dir / "outer" / f"outer_{k}" / "result.json").read_text())
    for key in ("candidate_id", "weights", "returns", "outer_score"):
        assert a[key] == b[key], key
    # predictions (quantiles, mean), posterior params, losses, whitening: identical; only the
    # in-process record key differs (it hashes the whole data array, a cache key)
    pa, pb = a["payload"]["chunk_0"], b["payload"]["chunk_0"]
    assert pa.pop("record_key") != pb.pop("record_key")
    assert pa == pb
    # the control: the later fold did see the corruption
    a2 = json.loads((clean.run_dir / "outer" / f"outer_{k2}" / "result.json").read_text())
    b2 = json.loads((bad.run_dir / "outer" / f"outer_{k2}" / "result.json").read_text())
    assert a2["payload"] != b2["payload"]
