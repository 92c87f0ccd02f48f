"""Issue 16 items 1-3: lake versions identify their content, are written whole, re-run identically."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrader.data.lake import (
    ROW_GROUP_SIZE,
    clean_bars,
    clean_stale_tmp,
    latest_lake,
    read_lake_table,
    write_lake,
    write_parquet_deterministic,
)
from algotrader.data.service import CleaningOptions, run_cleaning
from algotrader.errors import StateError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bars(assets: list[str], days: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2018, 1, 1, 16, tzinfo=UTC)
    stamps = [start + timedelta(days=i) for i in range(days)]
    frames = []
    for a in assets:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
        frames.append(
            pl.DataFrame(
                {
                    "timestamp": stamps,
                    "asset": a,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "volume": 1.0,
                },
                schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
            )
        )
    return pl.concat(frames)


def test_two_datasets_same_week_do_not_overwrite_silently(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    opts = CleaningOptions(start="2018-01")
    first, _ = run_cleaning(opts, lake_root=lake, dataset="sp500_index_ohlcv")
    before = (first / "daily_ohlc.parquet").read_bytes()
    with pytest.raises(StateError) as info:
        run_cleaning(opts, lake_root=lake, dataset="nasdaq_index_ohlcv")
    assert info.value.file == str(first)
    assert "--force" in str(info.value)
    assert (first / "daily_ohlc.parquet").read_bytes() == before
    # the same dataset again is a re-run: allowed, byte-identical
    again, _ = run_cleaning(opts, lake_root=lake, dataset="sp500_index_ohlcv")
    assert again == first and (first / "daily_ohlc.parquet").read_bytes() == before
    # --force replaces
    forced, res = run_cleaning(opts, lake_root=lake, dataset="nasdaq_index_ohlcv", force=True)
    assert forced == first
    manifest = json.loads((forced / "manifest.json").read_text())
    assert manifest["assets"] == res.manifest["assets"]
    assert manifest["source"]["name"] == "nasdaq_index_ohlcv"


def test_version_written_whole_and_manifest_verified(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    small = clean_bars(_bars(["A", "B"], 60), source={"kind": "test", "n": 2})
    folder = write_lake(small, lake)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in folder.iterdir() if p.name != "manifest.json"}
    for name, digest in manifest["files"].items():
        assert _sha(folder / name) == digest
    # simulate the old in-place writer killed mid-way: one file from another run
    big = clean_bars(_bars([f"X{i}" for i in range(30)], 60), source={"kind": "test", "n": 30})
    other = tmp_path / "other"
    write_lake(big, other)
    (folder / "daily_ohlc.parquet").write_bytes(
        (other / folder.name / "daily_ohlc.parquet").read_bytes()
    )
    assert latest_lake(lake) == folder
    with pytest.raises(StateError) as info:
        read_lake_table(folder, "daily_ohlc")
    assert info.value.file == str(folder / "daily_ohlc.parquet")
    assert read_lake_table(folder, "returns").columns == ["timestamp", "A", "B"]


_KILL_SCRIPT = """
import os, sys, polars as pl
from algotrader.data import lake
res = lake.clean_bars(pl.read_parquet(sys.argv[2]), source={"kind": "test", "n": 30})
real = lake.write_table
def dying(folder, name, frame):
    out = real(folder, name, frame)
    if name == "daily_ohlc":
        os.kill(os.getpid(), 9)
    return out
lake.write_table = dying
lake.write_lake(res, sys.argv[1], force=True)
"""


def test_kill_9_mid_write_leaves_old_version_intact_and_tmp_is_cleaned(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    folder = write_lake(clean_bars(_bars(["A", "B"], 60), source={"kind": "test", "n": 2}), lake)
    before = {p.name: _sha(p) for p in folder.iterdir()}
    bars_file = tmp_path / "big.parquet"
    _bars([f"X{i}" for i in range(30)], 60).write_parquet(bars_file)
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(lake), str(bars_file)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    assert {p.name: _sha(p) for p in folder.iterdir()} == before
    stale = [p for p in lake.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].name.startswith(f".{folder.name}.")
    assert latest_lake(lake) == folder
    assert read_lake_table(folder, "returns").columns == ["timestamp", "A", "B"]
    # a stray file-level temp from an older writer inside the folder
    (folder / ".daily_ohlc.parquet.abc.tmp").write_bytes(b"x")
    removed = clean_stale_tmp(lake)
    assert sorted(p.name for p in removed) == sorted([stale[0].name, ".daily_ohlc.parquet.abc.tmp"])
    assert not [p for p in lake.rglob("*.tmp")]


def test_parquet_bytes_do_not_depend_on_chunking(tmp_path: Path) -> None:
    frame = _bars(["A", "B", "C"], 100_000)
    chunked = pl.concat(
        [frame.slice(i, 7_777) for i in range(0, frame.height, 7_777)], rechunk=False
    )
    assert chunked.n_chunks() > 1
    a = write_parquet_deterministic(tmp_path / "a.parquet", frame)
    b = write_parquet_deterministic(tmp_path / "b.parquet", chunked)
    assert a.read_bytes() == b.read_bytes()
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(a).metadata
    assert meta.num_row_groups == -(-frame.height // ROW_GROUP_SIZE)
    assert pl.read_parquet(a).equals(frame)


@pytest.mark.slow
def test_large_input_reruns_are_byte_identical(tmp_path: Path) -> None:
    """~800k daily bars (300 assets x 2,600 days), cleaned three times."""
    bars = _bars([f"S{i:03d}" for i in range(300)], 2_600)
    assert bars.height == 780_000
    digests = []
    for run in range(3):
        folder = write_lake(clean_bars(bars, source={"kind": "test"}), tmp_path / f"l{run}")
        digests.append({p.name: _sha(p) for p in folder.iterdir()})
    assert digests[0] == digests[1] == digests[2]
