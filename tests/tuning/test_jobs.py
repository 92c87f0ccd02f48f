"""Job-level driver API: many folds in one call, streamed rows, the pool threshold, packing."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

from algotrader.errors import ConfigError
from algotrader.tuning import Candidate
from algotrader.tuning.drivers import Job, jobs_for, run_jobs, run_local
from algotrader.tuning.ray_driver import pack_jobs

from ._tuning_objectives import Quadratic

CANDS = [Candidate(i, {"x": x}) for i, x in enumerate([0.0, 0.3, 0.9])]


def test_two_folds_in_one_call_equal_two_run_local_calls() -> None:
    objs = {0: Quadratic(n_splits=2), 5: Quadratic(n_splits=3)}
    jobs = [j for k, o in objs.items() for j in jobs_for(o, CANDS, k)]
    seen: list[int] = []
    t = run_jobs(objs, jobs, sink=lambda rows: seen.append(len(rows)))
    assert seen == [2, 2, 2, 3, 3, 3]  # one sink call per job, in job order
    for k, o in objs.items():
        one = run_local(o, CANDS, fold=k)
        assert_frame_equal(t.filter(t["fold"] == k).drop("seconds"), one.drop("seconds"))


def test_partial_jobs_and_bad_input() -> None:
    obj = Quadratic()
    t = run_jobs({0: obj}, [Job(0, CANDS[1], (3,))])
    assert t.height == 1 and t.row(0)[:3] == (0, 1, 3)
    assert obj.calls == [(1, 3)]  # only the pending split is evaluated
    with pytest.raises(ConfigError, match="twice"):
        run_jobs({0: obj}, [Job(0, CANDS[0], (1,)), Job(0, CANDS[0], (1,))])
    with pytest.raises(ConfigError, match="no objective"):
        run_jobs({0: obj}, [Job(1, CANDS[0], (0,))])
    with pytest.raises(ConfigError, match="workers"):
        run_jobs({0: obj}, [], workers=0)


def test_small_work_stays_sequential_below_min_parallel_seconds() -> None:
    # workers=2 but the work is tiny: no pool is started (an unpicklable objective proves it)
    obj = Quadratic()
    obj.unpicklable = lambda: None  # type: ignore[attr-defined]
    t = run_jobs({0: obj}, jobs_for(obj, CANDS), workers=2, min_parallel_seconds=60.0)
    assert_frame_equal(t.drop("seconds"), run_local(Quadratic(), CANDS).drop("seconds"))


def test_pack_jobs_keeps_candidates_together_and_balances() -> None:
    jobs = [Job(f, Candidate(c), (0, 1, 2)) for f in range(3) for c in range(4)]
    tasks = pack_jobs(jobs, n_tasks=4, max_task_evals=100)
    assert [len(t) for t in tasks] == [3, 3, 3, 3]
    assert all(len({j.candidate.id for j in t}) == 1 for t in tasks)
    assert sorted((j.fold, j.candidate.id) for t in tasks for j in t) == sorted(
        (j.fold, j.candidate.id) for j in jobs
    )
    assert max(sum(len(j.splits) for j in t) for t in pack_jobs(jobs, 1, 7)) <= 9
    assert pack_jobs([], 2, 10) == []
