"""Ray Tune driver on a real local Ray cluster (2 CPUs): the local engine's table and choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from algotrader.tuning import SearchSpace, choose_best, generate_candidates
from algotrader.tuning.drivers import jobs_for, run_local

from ._tuning_objectives import Quadratic

TESTS_DIR = str(Path(__file__).resolve().parents[1])
SPACE = SearchSpace.model_validate(
    {"params": [{"path": "x", "type": "float", "bounds": [0.0, 1.0]}]}
)
CANDS = generate_candidates(SPACE, num_samples=8, seed=1)


@pytest.mark.slow
def test_tune_driver_equals_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ray_cluster_lock: None
) -> None:
    import ray

    from algotrader.tuning.tune_driver import run_tune_jobs

    monkeypatch.syspath_prepend(TESTS_DIR)
    monkeypatch.setenv("PYTHONPATH", TESTS_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    local_table = run_local(Quadratic(), CANDS)
    local = local_table.drop("seconds")
    jobs = jobs_for(Quadratic(), CANDS)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        full = run_tune_jobs({0: Quadratic()}, jobs, n_trials=4, storage_path=str(tmp_path / "a"))
        pruned = run_tune_jobs(
            {0: Quadratic()},
            jobs,
            n_trials=8,
            prune=True,
            grace_splits=1,
            storage_path=str(tmp_path / "b"),
        )
    finally:
        ray.shutdown()
    # 4 trials (chunks of 2 candidates), never one trial per (candidate, split)
    assert_frame_equal(full.drop("seconds"), local)
    assert choose_best(full).candidate == choose_best(local_table).candidate
    # median stopping: every row it kept is the local score; the choice is a complete candidate
    kept = pruned.drop("seconds").join(local, on=["fold", "candidate", "split"], how="inner")
    assert kept.height == pruned.height > 0
    assert (kept["score"] == kept["score_right"]).all()
    best = choose_best(pruned, split_ids=(0, 1, 2, 3))
    assert pruned.filter(pruned["candidate"] == best.candidate).height == 4
