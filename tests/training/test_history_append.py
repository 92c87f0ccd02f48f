"""Issue 16 items 11 and 14: the training history is appended per chunk (never rewritten
whole), and temporary files a killed run left behind are cleaned by the next run."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.errors import StateError
from algotrader.training import ChunkReport, TrainingInterrupted, train
from algotrader.training.runs import (
    RunPaths,
    append_history,
    clean_stale_temps,
    history_parts,
    read_history,
    truncate_history,
    write_history,
)

from .conftest import settings, split_problem


def _snapshot(run_dir: Path) -> dict[str, tuple[int, int]]:
    return {
        p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns)
        for p in history_parts(RunPaths(run_dir))
    }


def test_each_chunk_appends_one_part_and_never_rewrites_earlier_ones(tmp_path: Path) -> None:
    prob = split_problem(train_target=2.0, val_target=1.5)
    s = settings(n_iterations=50, iterations_per_chunk=10)
    snapshots: list[dict[str, tuple[int, int]]] = []

    def watch(rep: ChunkReport) -> None:
        (run_dir,) = list(tmp_path.iterdir())
        snapshots.append(_snapshot(run_dir))

    r = train(prob, s, tmp_path, callback=watch)
    run_dir = Path(r.run_dir or "")
    assert [len(s) for s in snapshots] == [1, 2, 3, 4, 5]
    # a part, once written, keeps its inode and mtime: later chunks only add new files
    for before, after in itertools.pairwise(snapshots):
        assert all(after[name] == stamp for name, stamp in before.items())
    assert [p.name for p in history_parts(RunPaths(run_dir))] == [
        f"part-{i:09d}.parquet" for i in (0, 10, 20, 30, 40)
    ]
    assert not (run_dir / "history.parquet").exists()
    assert read_history(RunPaths(run_dir)).equals(r.history)
    manifest = json.loads((run_dir / "run_manifest.json").read_text())
    assert manifest["kind"] == "train" and manifest["run_id"] == r.run_id
    assert manifest["finished_at"] is not None and "train" in manifest["timings"]


def test_killed_run_leftovers_are_cleaned_and_resume_is_exact(tmp_path: Path) -> None:
    prob = split_problem(train_target=2.0, val_target=1.5)
    s = settings(n_iterations=40, iterations_per_chunk=10)
    full = train(prob, s, tmp_path / "a")

    def stop(rep: ChunkReport) -> None:
        if rep.iteration >= 20:
            raise TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        train(prob, s, tmp_path / "b", callback=stop)
    (run_dir,) = list((tmp_path / "b").iterdir())
    paths = RunPaths(run_dir)
    # What a kill -9 leaves: half-written temps of every writer, and the next chunk's part
    # appended while its state.npz was never replaced.
    stale = [
        run_dir / ".history.parquet.k1ll3d.tmp",
        run_dir / ".state.npz.a8f0.tmp",
        paths.history_dir / ".part-000000020.parquet.x9.tmp",
    ]
    for p in stale:
        p.write_bytes(b"half written")
    extra = (
        read_history(paths).filter(pl.col("iteration") >= 10).with_columns(pl.col("iteration") + 10)
    )
    append_history(paths, extra)
    assert read_history(paths).height == 60

    resumed = train(prob, s, tmp_path / "b")
    assert not [p for p in stale if p.exists()]
    assert not list(run_dir.rglob("*.tmp"))
    assert resumed.history.equals(full.history)
    assert read_history(paths).equals(full.history)
    np.testing.assert_array_equal(resumed.best_params["x"], full.best_params["x"])


def test_truncate_history_drops_and_trims_parts(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    append_history(paths, pl.DataFrame({"iteration": [0, 1, 2], "v": [0.0, 1.0, 2.0]}))
    append_history(paths, pl.DataFrame({"iteration": [3, 4, 5], "v": [3.0, 4.0, 5.0]}))
    truncate_history(paths, 4)
    assert read_history(paths)["iteration"].to_list() == [0, 1, 2, 3]
    truncate_history(paths, 3)
    assert [p.name for p in history_parts(paths)] == ["part-000000000.parquet"]
    assert read_history(paths)["v"].to_list() == [0.0, 1.0, 2.0]


def test_legacy_single_file_history_is_still_read(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    pl.DataFrame({"iteration": [0, 1], "v": [0.5, 0.7]}).write_parquet(paths.history)
    append_history(paths, pl.DataFrame({"iteration": [2], "v": [0.9]}))
    assert read_history(paths)["iteration"].to_list() == [0, 1, 2]
    write_history(paths, pl.DataFrame({"iteration": [7], "v": [1.0]}))
    assert not paths.history.exists()
    assert read_history(paths)["iteration"].to_list() == [7]


def test_append_refuses_other_columns_and_rows_without_iteration(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    append_history(paths, pl.DataFrame({"iteration": [0], "v": [0.5]}))
    with pytest.raises(StateError, match="do not match"):
        append_history(paths, pl.DataFrame({"iteration": [1], "w": [0.5]}))
    with pytest.raises(StateError, match="iteration"):
        append_history(paths, pl.DataFrame({"v": [0.5]}))
    assert append_history(paths, pl.DataFrame()) is None


def test_clean_stale_temps_reports_what_it_removed(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    (tmp_path / ".result.json.1.tmp").write_text("x")
    (tmp_path / "keep.tmp").write_text("not ours")
    removed = clean_stale_temps(paths)
    assert [p.name for p in removed] == [".result.json.1.tmp"]
    assert (tmp_path / "keep.tmp").exists()
