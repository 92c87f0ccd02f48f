"""artifacts: run ids, redaction, manifests, pytrees, results table (crash safety)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from algotrader.artifacts import (
    ResultsTable,
    RunManifest,
    Timer,
    canonical_json,
    file_hash,
    json_ready,
    load_pytree,
    redact,
    run_id,
    save_pytree,
    write_manifest,
    write_parquet_atomic,
)
from algotrader.errors import StateError


class _Cfg(BaseModel):
    a: int = 1
    url: str = "postgresql://user:hunter2@host/db"
    api_key: str = "sekrit"


def test_run_id_stable_and_sensitive() -> None:
    rid = run_id({"a": 1, "b": [1, 2]}, {"prices": "h1"})
    assert rid == run_id({"b": [1, 2], "a": 1}, {"prices": "h1"})
    assert len(rid) == 12 and all(c in "0123456789abcdef" for c in rid)
    assert rid != run_id({"a": 2, "b": [1, 2]}, {"prices": "h1"})
    assert rid != run_id({"a": 1, "b": [1, 2]}, {"prices": "h2"})
    assert run_id(_Cfg()) == run_id(_Cfg().model_dump())
    assert len(run_id({}, length=20)) == 20


def test_run_id_ignores_secrets() -> None:
    a = run_id({"url": "postgresql://u:pw1@h/db", "token": "x"})
    b = run_id({"url": "postgresql://u:pw2@h/db", "token": "y"})
    assert a == b


def test_run_id_keeps_non_secret_keys_that_contain_a_secret_word() -> None:
    # ``tokens`` (the AMM's asset list) must reach the hash: two asset sets, two ids.
    assert run_id({"tokens": ["BTC", "ETH"]}) != run_id({"tokens": ["BTC", "SOL"]})
    assert redact({"tokens": ["A"], "n_tokens": 2}) == {"tokens": ["A"], "n_tokens": 2}
    assert redact({"ib_token": "t", "client_secret": "s", "db_password": "p"}) == {
        "ib_token": "***",
        "client_secret": "***",
        "db_password": "***",
    }


def test_redact() -> None:
    r = redact(_Cfg())
    assert r == {"a": 1, "url": "postgresql://user:***@host/db", "api_key": "***"}
    assert redact({"nested": [{"password": "p", "x": None}]}) == {
        "nested": [{"password": "***", "x": None}]
    }
    assert redact({"password": None}) == {"password": None}


def test_json_ready_nan_and_types() -> None:
    out = json_ready({"x": math.nan, "y": np.float64(np.inf), "z": np.arange(2), "p": Path("a")})
    assert out == {"x": None, "y": None, "z": [0, 1], "p": "a"}
    assert "NaN" not in canonical_json({"v": [math.nan, 1.0]})
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_manifest_fields_and_write(tmp_path: Path) -> None:
    timer = Timer()
    with timer("fit"):
        pass
    with timer("fit"):
        pass
    m = RunManifest.create(
        "optimise", _Cfg(), {"prices": "abc"}, seeds={"numpy": 7}, timings=timer.timings
    )
    assert m.run_id == run_id(_Cfg(), {"prices": "abc"})
    assert m.config["api_key"] == "***" and "hunter2" not in m.model_dump_json()
    assert {"python", "numpy"} <= set(m.versions)
    assert m.timings["fit"] >= 0
    path = write_manifest(tmp_path, m)
    doc = json.loads(path.read_text())
    assert doc["kind"] == "optimise" and doc["seeds"] == {"numpy": 7} and doc["host"]
    with pytest.raises(ValueError, match="extra"):
        RunManifest(kind="x", run_id="y", bogus=1)  # type: ignore[call-arg]
    first = path.read_bytes()
    write_manifest(tmp_path, m)
    assert path.read_bytes() == first


def test_parquet_rewrite_byte_identical(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000)})
    p1 = write_parquet_atomic(tmp_path / "x.parquet", df)
    h1 = file_hash(p1)
    write_parquet_atomic(tmp_path / "x.parquet", df)
    assert file_hash(p1) == h1
    assert pl.read_parquet(p1).equals(df)
    assert not list(tmp_path.glob(".*.tmp"))


def test_pytree_round_trip_and_bytes(tmp_path: Path) -> None:
    tree = {"w": {"x": np.array([1.0, 2.0]), "y": np.int64(3)}, "names": np.array(["a", "b"])}
    p = save_pytree(tmp_path / "t.npz", tree)
    back = load_pytree(p)
    np.testing.assert_array_equal(back["w"]["x"], [1.0, 2.0])
    assert back["w"]["y"] == 3 and back["names"].tolist() == ["a", "b"]
    q = save_pytree(tmp_path / "u.npz", {"names": tree["names"], "w": tree["w"]})
    assert p.read_bytes() == q.read_bytes()  # key order does not matter


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.text("abcxyz_", min_size=1, max_size=5),
        st.lists(st.floats(allow_nan=False, width=64), max_size=6),
        min_size=1,
        max_size=4,
    )
)
def test_pytree_property(tmp_path_factory: pytest.TempPathFactory, tree: dict) -> None:  # type: ignore[type-arg]
    d = tmp_path_factory.mktemp("pt")
    back = load_pytree(save_pytree(d / "t.npz", {"g": tree}))
    assert set(back["g"]) == set(tree)
    for k, v in tree.items():
        np.testing.assert_array_equal(back["g"][k], np.asarray(v, dtype=np.float64))


def test_pytree_bad_input(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="contain no '/'"):
        save_pytree(tmp_path / "a.npz", {"a/b": 1})
    with pytest.raises(StateError, match="not a numeric"):
        save_pytree(tmp_path / "a.npz", {"a": [{"x": 1}, 2]})
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(StateError, match="cannot read array archive"):
        load_pytree(obj)["x"]  # allow_pickle=False refuses object arrays
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"junk")
    with pytest.raises(StateError, match="cannot read array archive"):
        load_pytree(junk)


def test_results_table_append_read_schema(tmp_path: Path) -> None:
    t = ResultsTable(tmp_path / "r")
    assert t.read().height == 0
    t.append(pl.DataFrame({"k": [1], "s": [0.5]}))
    t.append(pl.DataFrame({"k": [], "s": []}, schema={"k": pl.Int64, "s": pl.Float64}))
    t.append(pl.DataFrame({"k": [2, 3], "s": [0.7, 0.9]}))
    assert t.read()["k"].to_list() == [1, 2, 3] and len(t.parts()) == 2
    with pytest.raises(StateError, match="schema"):
        t.append(pl.DataFrame({"k": [4], "other": [1.0]}))
    assert ResultsTable(tmp_path / "r").read()["k"].to_list() == [1, 2, 3]


def test_results_table_crash_mid_append(tmp_path: Path) -> None:
    """A process killed while writing a part leaves the appended rows intact for resume."""
    folder = tmp_path / "r"
    ResultsTable(folder).append(pl.DataFrame({"k": [1]}))
    script = textwrap.dedent(
        f"""
        import os, polars as pl
        import algotrader.artifacts as art
        import algotrader.io as aio
        from algotrader.io import atomic_path
        class Dying:
            def __init__(self, target):
                self.cm = atomic_path(target)
            def __enter__(self):
                tmp = self.cm.__enter__()
                open(tmp, "wb").write(b"partial")
                os._exit(9)
            def __exit__(self, *a):
                return False
        aio.atomic_path = Dying  # the one Parquet writer (algotrader.io) dies mid-write
        art.ResultsTable({str(folder)!r}).append(pl.DataFrame({{"k": [2]}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert proc.returncode == 9
    stale = [p for p in os.listdir(folder) if p.endswith(".tmp")]
    assert stale and stale[0].startswith(".part-000001.parquet.")  # the half-written part
    t = ResultsTable(folder)  # reopening removes the stale temp file
    assert t.read()["k"].to_list() == [1]
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]
    t.append(pl.DataFrame({"k": [2]}))
    assert t.read()["k"].to_list() == [1, 2]
