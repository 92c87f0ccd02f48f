"""End-to-end runs: artifacts, modes, truncation invariance, engines agree, resume checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from algotrader.errors import ConfigError, StateError
from algotrader.simulation.config import config_from_mapping
from algotrader.simulation.inputs import load_inputs
from algotrader.simulation.runner import run_simulation


def _run(raw: dict[str, Any], **kw: Any) -> Any:
    return run_simulation(config_from_mapping(raw), **kw)


def test_full_run_writes_every_artifact(make_config: Any) -> None:
    res = _run(make_config("full"))
    run = res.run_dir
    assert res.phase == "results"
    for rel in (
        "run_manifest.json",
        "inputs/panel.npz",
        "cv/cv_structure.json",
        "cv/timestamps_cv.csv",
        "cv/candidates.json",
        "cv/summary.json",
        "outer/returns.parquet",
        "outer/candidate_returns.parquet",
        "outer/metrics.json",
    ):
        assert (run / rel).is_file(), rel
    folds = sorted(res.chosen)
    assert len(folds) == 2
    for k in folds:
        for rel in ("splits.json", "scores.parquet", "best_config.json"):
            assert (run / "inner" / f"outer_{k}" / rel).is_file()
        best = json.loads((run / "inner" / f"outer_{k}" / "best_config.json").read_text())
        assert best["candidate_id"] == res.chosen[k]
        result = json.loads((run / "outer" / f"outer_{k}" / "result.json").read_text())
        assert len(result["returns"]) == 26 and len(result["weights"]) == 26
    ret = pl.read_parquet(run / "outer" / "returns.parquet")
    assert ret.columns == ["date", "outer_k", "chosen", "equal_weight", "hodl"]
    assert ret.height == 52
    m = json.loads((run / "outer" / "metrics.json").read_text())
    assert m["n_candidates"] == 4 and m["dsr_n_trials"] == 4
    assert 0.0 <= m["psr"] <= 1.0 and 0.0 <= m["pbo"]["pbo"] <= 1.0
    assert set(m["wfe_by_fold"]) == {str(k) for k in folds}
    # the chosen returns are the chosen candidate's outer returns (same backtest path)
    cand = pl.read_parquet(run / "outer" / "candidate_returns.parquet")
    for k in folds:
        rows = ret.filter(pl.col("outer_k") == k)["chosen"].to_numpy()
        col = cand.filter(pl.col("outer_k") == k)[f"c{res.chosen[k]}"].to_numpy()
        np.testing.assert_array_equal(rows, col)
    manifest = json.loads((run / "run_manifest.json").read_text())
    assert manifest["kind"] == "simulate" and manifest["inputs"]["data"]
    # the score table has one row per (fold, candidate, split)
    assert res.scores.height == 2 * 4 * 6


def test_truncating_after_a_fold_leaves_it_bit_identical(make_config: Any) -> None:
    full_raw = make_config("long", outer={"last_n": 3})
    data = load_inputs(config_from_mapping(full_raw).data)
    # the decision row one group (26 weeks) before the end: its close is the last price
    end = str(data.dates[data.n_dates - 26])[:10]
    short_raw = make_config("short", outer={"last_n": 2})
    short_raw["data"]["end"] = end
    full, short = _run(full_raw), _run(short_raw)
    common = sorted(short.chosen)
    assert common == sorted(full.chosen)[:2]
    for k in common:
        assert full.chosen[k] == short.chosen[k]
        a = full.scores.filter(pl.col("fold") == k).drop("seconds")
        b = short.scores.filter(pl.col("fold") == k).drop("seconds")
        assert a.equals(b)
    ra = pl.read_parquet(full.run_dir / "outer" / "returns.parquet")
    rb = pl.read_parquet(short.run_dir / "outer" / "returns.parquet")
    assert ra.filter(pl.col("outer_k").is_in(common)).equals(rb)


def test_modes_and_stop_after(make_config: Any) -> None:
    dry = _run(make_config("dry", simulation_mode="dry_run"))
    assert dry.phase == "cv" and not (dry.run_dir / "inner").exists()
    assert (dry.run_dir / "cv" / "summary.json").is_file()
    inputs = _run(make_config("inp", stop_after="inputs"))
    assert inputs.phase == "inputs" and not (inputs.run_dir / "cv" / "cv_structure.json").exists()
    stub = _run(make_config("stub", simulation_mode="stub", stop_after="inner"))
    assert stub.phase == "inner" and (stub.scores["score"] == 0.0).all()
    assert not (stub.run_dir / "outer").exists()
    assert stub.chosen == {k: 0 for k in stub.chosen}  # ties -> lowest id
    outer = _run(make_config("outer", stop_after="outer"))
    assert outer.phase == "outer" and (outer.run_dir / "outer" / "returns.parquet").is_file()
    assert not (outer.run_dir / "outer" / "metrics.json").exists()


def test_resume_refuses_changed_config_or_existing_folder(make_config: Any) -> None:
    raw = make_config("same", stop_after="cv")
    _run(raw)
    with pytest.raises(StateError, match="already exists") as exc:
        _run(raw)
    assert "--resume" in str(exc.value)
    assert _run(raw, resume=True).phase == "cv"
    changed = make_config("same", stop_after="cv", cost={"proportional_bps": 9.0})
    with pytest.raises(StateError, match="config changed"):
        _run(changed, resume=True)
    other_data = make_config("same", stop_after="cv")
    other_data["data"]["end"] = "2004-06-30"
    with pytest.raises(StateError, match="inputs changed"):
        _run(other_data, resume=True)


def test_bad_configs_are_refused_with_the_key(make_config: Any) -> None:
    raw = make_config("bad")
    del raw["cv"]["group_len"]
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw)
    assert exc.value.key == "cv.group_len"
    raw = make_config("bad", simulation_mode="dry_run", stop_after="inner")
    with pytest.raises(ConfigError, match="dry_run"):
        config_from_mapping(raw)
    raw = make_config("bad")
    raw["cv"]["unknown"] = 1
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw)
    assert exc.value.key == "cv.unknown"
    with pytest.raises(ConfigError, match="unknown family"):
        _run(make_config("bad2", family="nope"))
    raw = make_config("bad3")
    raw["tuning"]["space"][0]["path"] = "cost.proportional_bps"
    with pytest.raises(ConfigError, match=r"model\.params"):
        config_from_mapping(raw)


@pytest.mark.slow  # spawns 2 pool workers and 2 optuna worker processes
def test_engines_agree_local_pool_optuna(make_config: Any, tmp_path: Path) -> None:
    tables = {}
    chosen = {}
    for label, tuning in (
        ("seq", {}),  # 6 splits per candidate: enough for a default MedianPruner to prune
        ("pool", {"workers": 2, "parallel_min_seconds": None}),  # force the pool
        ("optuna", {"engine": "optuna"}),
        ("optuna2", {"engine": "optuna", "workers": 2}),
        ("auto", {"workers": 2}),  # small work: sequential below parallel_min_seconds
    ):
        raw = make_config(label, stop_after="inner")
        raw["tuning"].update(tuning)
        raw["tuning"]["num_samples"] = 8
        res = _run(raw)
        tables[label] = res.scores.drop("seconds")
        chosen[label] = res.chosen
    for label in ("pool", "optuna", "optuna2", "auto"):
        assert tables[label].equals(tables["seq"]), label
        assert chosen[label] == chosen["seq"]
    assert (tmp_path / "optuna" / "artifacts" / "optuna" / "journal.log").is_file()


@pytest.mark.slow
def test_ray_engine_real_local_cluster_agrees(make_config: Any, ray_cluster_lock: None) -> None:
    import ray  # installed test dependency: missing it must fail, not skip

    seq = _run(make_config("seq", stop_after="inner"))
    raw = make_config("ray", stop_after="inner")
    raw["tuning"].update({"engine": "ray", "ray": {"init_num_cpus": 2, "chunk_splits": True}})
    try:
        res = _run(raw)
    finally:
        ray.shutdown()
    assert res.scores.drop("seconds").equals(seq.scores.drop("seconds"))
    assert res.chosen == seq.chosen


def test_pipeline_preprocessing_is_fitted_on_train_rows_only(make_config: Any) -> None:
    from algotrader.simulation import FamilyContext, SimulationData
    from algotrader.simulation.evaluate import Evaluator
    from algotrader.simulation.structure import build_structure

    rng = np.random.default_rng(0)
    base = load_inputs(config_from_mapping(make_config("x")).data)
    x = rng.normal(size=(base.n_dates, base.n_assets, 3))
    data = SimulationData(
        dates=base.dates,
        assets=base.assets,
        y=base.y,
        y_mask=base.y_mask,
        X=x,
        features=("a", "b", "c"),
        prices=base.prices,
        periods_per_year=52.0,
    )
    raw = make_config("pp")
    raw["preprocessing"] = {"method": "pipeline"}
    cfg = config_from_mapping(raw)
    s = build_structure(data.n_dates, cfg.cv, cfg.outer)
    ev = Evaluator(cfg, data, s, [], token="t")
    split = s.folds[0].splits[0]
    a = ev.preprocessed(split.train)
    # corrupt every row outside the split's train rows: the fitted transform must not move
    x2 = x.copy()
    outside = np.setdiff1d(np.arange(data.n_dates), split.train)
    x2[outside] = 1e6
    ev2 = Evaluator(
        cfg,
        SimulationData(
            dates=base.dates,
            assets=base.assets,
            y=base.y,
            y_mask=base.y_mask,
            X=x2,
            features=("a", "b", "c"),
            prices=base.prices,
            periods_per_year=52.0,
        ),
        s,
        [],
        token="t",
    )
    b = ev2.preprocessed(split.train)
    assert a.X is not None and b.X is not None
    np.testing.assert_array_equal(a.X[split.train], b.X[split.train])
    assert np.abs(a.X).max() <= 10.0 and a.features is not None
    assert isinstance(FamilyContext(), FamilyContext)
    # and a full run goes through the pipeline on every split
    assert run_simulation(cfg, data=data).phase == "results"
