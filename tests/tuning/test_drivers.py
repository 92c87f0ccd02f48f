"""Local and Optuna drivers: same score table, pruning, resume, RDB storage."""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algotrader.errors import ConfigError
from algotrader.tuning import SearchSpace, choose_best, generate_candidates
from algotrader.tuning.drivers import run_local, run_optuna, split_order

from ._tuning_objectives import Quadratic

TESTS_DIR = str(Path(__file__).resolve().parents[1])  # spawn workers import tuning._tuning_...

SPACE = SearchSpace.model_validate(
    {"params": [{"path": "x", "type": "float", "bounds": [0.0, 1.0]}]}
)
CANDS = generate_candidates(SPACE, num_samples=8, seed=1)


def _scores(t: pl.DataFrame) -> pl.DataFrame:
    return t.drop("seconds")


def _expected() -> pl.DataFrame:
    rows = [(0, c.id, s, -((c.params["x"] - 0.3) ** 2) - 0.1 * s) for c in CANDS for s in range(4)]
    return pl.DataFrame(rows, schema=["fold", "candidate", "split", "score"], orient="row")


def test_local_sequential_is_the_closed_form() -> None:
    t = run_local(Quadratic(), CANDS, fold=0)
    assert_frame_equal(_scores(t), _expected(), check_dtypes=False)
    assert (t.get_column("seconds") >= 0).all()
    best = choose_best(t)
    xs = [c.params["x"] for c in CANDS]
    assert best.candidate == min(range(8), key=lambda i: abs(xs[i] - 0.3))


@pytest.mark.slow
def test_local_pool_equals_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(TESTS_DIR)
    a = run_local(Quadratic(), CANDS, workers=1)
    b = run_local(Quadratic(), CANDS, workers=2)
    assert_frame_equal(_scores(a), _scores(b))


def test_optuna_equals_local(tmp_path: Path) -> None:
    t = run_optuna(Quadratic(), CANDS, storage=tmp_path / "j.log", study_name="s")
    assert_frame_equal(_scores(t), _scores(run_local(Quadratic(), CANDS)))


def test_optuna_nan_candidate_kept_and_never_best(tmp_path: Path) -> None:
    obj = Quadratic(nan_above=0.5)
    t = run_optuna(obj, CANDS, storage=tmp_path / "j.log", study_name="s")
    nan_ids = {c.id for c in CANDS if c.params["x"] > 0.5}
    assert nan_ids
    got = set(t.filter(pl.col("score").is_nan()).get_column("candidate").to_list())
    assert got == nan_ids
    assert t.height == 32  # failed candidates keep their rows
    assert choose_best(t).candidate not in nan_ids


def test_optuna_resume_does_not_reevaluate(tmp_path: Path) -> None:
    store = tmp_path / "j.log"
    first = run_optuna(Quadratic(), CANDS[:5], storage=store, study_name="s")
    obj = Quadratic()
    second = run_optuna(obj, CANDS, storage=store, study_name="s")
    assert {c for c, _ in obj.calls} == {c.id for c in CANDS[5:]}
    assert_frame_equal(_scores(second.filter(pl.col("candidate") < 5)), _scores(first))
    assert second.height == 32


def test_pruning_keeps_completed_splits_and_shuffles(tmp_path: Path) -> None:
    obj = Quadratic(n_splits=6)
    cands = generate_candidates(SPACE, num_samples=32, seed=2)
    t = run_optuna(obj, cands, storage=tmp_path / "j.log", study_name="p", prune=True, seed=5)
    per = t.group_by("candidate").len()
    assert per.get_column("len").max() == 6
    assert per.get_column("len").min() < 6  # some candidates were pruned
    order = split_order(range(6), shuffle=True, seed=5)
    assert order != list(range(6))
    first_cand_splits = [s for c, s in obj.calls if c == cands[0].id]
    assert first_cand_splits == order
    best = choose_best(t, split_ids=list(range(6)))
    full = per.filter(pl.col("len") == 6).get_column("candidate").to_list()
    assert best.candidate in full


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        run_local(Quadratic(), CANDS, workers=0)
    with pytest.raises(ConfigError, match="candidate ids must be unique"):
        run_local(Quadratic(), [CANDS[0], CANDS[0]])


def _pg_url() -> str:
    url = os.environ.get("ALGOTRADER_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("ALGOTRADER_TEST_PG_URL must be set in CI")
        pytest.skip("ALGOTRADER_TEST_PG_URL not set (local run)")
    return url


@pytest.mark.slow
def test_postgres_storage_two_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(TESTS_DIR)
    url = _pg_url()
    name = f"algotrader-test-{os.getpid()}-{tmp_path.name}"
    t = run_optuna(Quadratic(), CANDS, storage=url, study_name=name, workers=2)
    assert_frame_equal(_scores(t), _scores(run_local(Quadratic(), CANDS)))
    assert not math.isnan(choose_best(t).score)
    import optuna

    optuna.delete_study(study_name=name, storage=url)


@pytest.mark.slow
def test_ray_driver_equals_local(monkeypatch: pytest.MonkeyPatch, ray_cluster_lock: None) -> None:
    import ray

    from algotrader.tuning.ray_driver import run_ray

    monkeypatch.syspath_prepend(TESTS_DIR)
    monkeypatch.setenv("PYTHONPATH", TESTS_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        t = run_ray(Quadratic(), CANDS)
    finally:
        ray.shutdown()
    assert_frame_equal(_scores(t), _scores(run_local(Quadratic(), CANDS)))
