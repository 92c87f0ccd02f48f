"""One implementation of each artefact primitive (issue 10 item 2).

* No module but :mod:`algotrader.artifacts` imports :mod:`hashlib`; no module but
  :mod:`algotrader.io` writes Parquet or ``.npz`` itself (source scan, short justified lists).
* Every content hash that moved onto :class:`algotrader.artifacts.ContentHash` keeps its value:
  each is compared with a verbatim copy of the implementation it replaced (``_old_*``).
* Manifests: a training run's, a CLI run's and a lake version's validate as their typed model.
* Run ids: same config -> same id, key order irrelevant, any changed field -> new id, secrets
  redacted (RunConfig, OptimiserConfig, the training run id).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import algotrader
from algotrader.amm.config import RunConfig
from algotrader.artifacts import (
    ContentHash,
    RunManifest,
    array_hash,
    canonical_json,
    config_hash,
    file_hash,
    run_id,
)
from algotrader.data.lake import LakeManifest, clean_bars, verify_lake_file, write_lake
from algotrader.data.panel import Panel
from algotrader.errors import StateError
from algotrader.features.config import FeatureConfig
from algotrader.features.inputs import LAKE_TABLES, lake_hash
from algotrader.forecasting import nested
from algotrader.portfolio import OptimiserConfig
from algotrader.simulation.family import SimulationData
from algotrader.simulation.inputs import _lake_hash, data_from_prices
from algotrader.training.runs import RunPaths, array_signature, write_run_manifest
from algotrader.training.runs import run_id as training_run_id

SRC = Path(algotrader.__file__).parent

# ----------------------------------------------------------------------------- source scan
#: Modules allowed to import hashlib, each with the reason.
HASHLIB_ALLOWED = {"artifacts.py": "the package's one hasher (ContentHash)"}
#: Modules allowed to write Parquet / .npz without algotrader.io, each with the reason.
WRITER_ALLOWED = {
    "io.py": "the one writer per format",
    "reporting/__init__.py": "a doctest building a user's input file",
}
_HASHLIB = re.compile(r"^\s*(import hashlib|from hashlib import)|hashlib\.", re.M)
_WRITER = re.compile(r"\.write_parquet\(|pq\.write_table\(|np\.savez|zipfile\.ZipFile\(")


def _modules_matching(pattern: re.Pattern[str]) -> set[str]:
    return {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    }


def test_one_hasher() -> None:
    found = _modules_matching(_HASHLIB)
    unexpected = found - set(HASHLIB_ALLOWED)
    assert not unexpected, (
        f"{sorted(unexpected)} hash with hashlib: use algotrader.artifacts "
        "(config_hash / run_id / file_hash / array_hash / ContentHash)"
    )
    assert "artifacts.py" in found  # the scan itself finds the one implementation


def test_one_parquet_and_npz_writer() -> None:
    found = _modules_matching(_WRITER)
    unexpected = found - set(WRITER_ALLOWED)
    assert not unexpected, (
        f"{sorted(unexpected)} write Parquet/.npz themselves: use algotrader.io "
        "(write_parquet_atomic / write_npz_deterministic)"
    )
    assert "io.py" in found


def test_scan_catches_a_second_implementation(tmp_path: Path) -> None:
    """The patterns match the forms a re-implementation takes."""
    for text in (
        "import hashlib\n",
        "    from hashlib import sha256\n",
        "h = hashlib.sha256()",
    ):
        assert _HASHLIB.search(text)
    for text in ("df.write_parquet(p)", "pq.write_table(t, p)", "np.savez(f, x=x)"):
        assert _WRITER.search(text)
    assert not _HASHLIB.search("from algotrader.artifacts import file_hash")


_PARQUET_SCRIPT = """
import sys, numpy as np, polars as pl
from algotrader.io import write_parquet_atomic
n = 200_003
f = pl.DataFrame({f"f{i}": np.random.default_rng(i).normal(size=n) for i in range(4)})
f = f.with_columns(pl.Series("asset", np.array(["A", "BB", "C"])[np.arange(n) % 3]))
step = int(sys.argv[2])
parts = [f.slice(i, step) for i in range(0, n, step)]
write_parquet_atomic(sys.argv[1], pl.concat(parts, rechunk=False))
"""


def test_parquet_bytes_independent_of_threads_and_chunks(tmp_path: Path) -> None:
    """The one Parquet writer: same bytes with 1 or 4 polars threads and any chunking."""
    import os
    import subprocess
    import sys

    out = []
    for threads, step in (("1", 7_777), ("4", 100_000), ("4", 200_003)):
        path = tmp_path / f"{threads}_{step}.parquet"
        env = {**os.environ, "POLARS_MAX_THREADS": threads}
        subprocess.run(
            [sys.executable, "-c", _PARQUET_SCRIPT, str(path), str(step)],
            check=True,
            env=env,
            timeout=120,
        )
        out.append(path.read_bytes())
    assert out[0] == out[1] == out[2]
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(tmp_path / "1_7777.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [65_536] * 3 + [
        200_003 - 3 * 65_536
    ]


# ------------------------------------------------------- old implementations (verbatim)
def _old_array_signature(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _old_feature_config_hash(cfg: FeatureConfig) -> str:
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _old_lake_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name in LAKE_TABLES:
        path = Path(folder) / f"{name}.parquet"
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _old_panel_hash(p: Panel) -> str:
    h = hashlib.sha256()
    h.update(p.name.encode())
    h.update(b"\0".join(a.encode() for a in p.assets))
    h.update(b"|")
    h.update(b"\0".join(f.encode() for f in (p.features or ())))
    h.update(str(p.values.shape).encode())
    h.update(p.dates.astype("datetime64[us]").astype(np.int64).tobytes())
    h.update(np.where(p.mask, p.values, 0.0).tobytes())
    h.update(np.packbits(p.mask).tobytes())
    return h.hexdigest()


def _old_simulation_hash(d: SimulationData) -> str:
    h = hashlib.sha256()
    h.update(d.dates.astype(np.int64).tobytes())
    h.update("\x1f".join(d.assets).encode())
    for arr in (d.y, d.y_mask, d.X, d.x_mask, d.prices):
        h.update(b"|" if arr is None else np.ascontiguousarray(arr).tobytes())
    for key in sorted(d.extra):
        value = d.extra[key]
        if isinstance(value, np.ndarray):
            h.update(key.encode() + np.ascontiguousarray(value).tobytes())
    h.update(f"{d.horizon}|{d.periods_per_year}|{d.target_kind}".encode())
    if d.features:
        h.update("\x1f".join(d.features).encode())
    return h.hexdigest()


def _old_sim_lake_hash(lake: Any) -> str:
    h = hashlib.sha256()
    h.update(lake.timestamps.astype(np.int64).tobytes())
    h.update("\x1f".join(lake.assets).encode())
    for arr in (
        lake.weekly_open,
        lake.weekly_high,
        lake.weekly_low,
        lake.weekly_close,
        lake.days.astype(np.int64),
        lake.daily_open,
        lake.daily_high,
        lake.daily_low,
        lake.daily_close,
    ):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _old_fingerprint(params: dict[str, Any], seed: int, idx: np.ndarray, data: Any) -> str:
    from algotrader.artifacts import json_ready

    model = {k: v for k, v in params.items() if k not in nested.HOOK_KEYS}
    h = hashlib.sha256()
    h.update(json.dumps(json_ready(model), sort_keys=True, default=str).encode())
    h.update(f"|{int(seed)}|".encode())
    h.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
    h.update(data.content_hash().encode())
    return h.hexdigest()


def _old_record_key(fit_fp: str, test_idx: np.ndarray, num_samples: int) -> str:
    h = hashlib.sha256(fit_fp.encode())
    h.update(np.ascontiguousarray(test_idx, dtype=np.int64).tobytes())
    h.update(f"|{int(num_samples)}".encode())
    return h.hexdigest()


def _old_file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------- differential
_DTYPES = st.sampled_from(["float64", "float32", "int64", "int8", "bool", "uint16"])


@settings(max_examples=60, deadline=None)
@given(
    dtype=_DTYPES,
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    seed=st.integers(0, 2**16),
    transpose=st.booleans(),
)
def test_array_hash_equals_the_former_signature(
    dtype: str, shape: list[int], seed: int, transpose: bool
) -> None:
    a = (np.random.default_rng(seed).normal(size=shape) * 10).astype(dtype)
    if transpose:
        a = a.T  # non-contiguous input
    b = np.arange(3, dtype=np.int64)
    assert array_signature(a, b) == _old_array_signature(a, b) == array_hash(a, b, length=16)
    assert array_hash(a) != array_hash(a.astype("complex128"))  # dtype is part of the hash


def test_array_hash_refuses_object_arrays() -> None:
    with pytest.raises(StateError, match="object array"):
        array_hash(np.array([object()], dtype=object))


def _panel(seed: int, t: int = 9, a: int = 3, f: int | None = None) -> Panel:
    rng = np.random.default_rng(seed)
    shape = (t, a) if f is None else (t, a, f)
    values = rng.normal(size=shape)
    values[rng.random(shape) < 0.2] = np.nan
    dates = np.datetime64("2024-01-05T21:00", "us") + np.arange(t) * np.timedelta64(7, "D")
    feats = None if f is None else [f"f{i}" for i in range(f)]
    return Panel.from_arrays(dates, [f"S{i}" for i in range(a)], values, features=feats)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("f", [None, 2])
def test_panel_content_hash_unchanged(seed: int, f: int | None) -> None:
    p = _panel(seed, f=f)
    assert p.content_hash() == _old_panel_hash(p)
    assert _panel(0, t=0).content_hash() == _old_panel_hash(_panel(0, t=0))


@pytest.mark.parametrize("with_x", [False, True])
def test_simulation_data_hash_and_fingerprints_unchanged(with_x: bool) -> None:
    rng = np.random.default_rng(3)
    t, a = 40, 3
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (t, a)), axis=0))
    dates = np.datetime64("2020-01-03", "us") + np.arange(t) * np.timedelta64(7, "D")
    x = rng.normal(size=(t, a, 2)) if with_x else None
    data = data_from_prices(
        dates,
        ("A", "B", "C"),
        prices,
        periods_per_year=52.0,
        X=x,
        features=("f0", "f1") if with_x else None,
    )
    assert data.content_hash() == _old_simulation_hash(data)
    params = {"model": "normal", "scale": 0.5, "nested": {"k": [1, 2]}}
    idx = np.arange(5, 25)
    fp = nested.fingerprint(params, 7, idx, data)
    assert fp == _old_fingerprint(params, 7, idx, data)
    assert nested.record_key(fp, np.arange(30, 34), 64) == _old_record_key(
        fp, np.arange(30, 34), 64
    )
    assert nested.fingerprint(params, 8, idx, data) != fp  # the seed is hashed


def test_feature_config_and_lake_hashes_unchanged(tmp_path: Path) -> None:
    from algotrader.features.inputs import synthetic_inputs

    for cfg in (FeatureConfig(), FeatureConfig(degenerate_policy="eps")):
        assert cfg.config_hash() == _old_feature_config_hash(cfg) == config_hash(cfg)
    for name in LAKE_TABLES:
        (tmp_path / f"{name}.parquet").write_bytes(name.encode() * 1000)
    assert lake_hash(tmp_path) == _old_lake_hash(tmp_path)
    lake = synthetic_inputs(12, 3, seed=1)
    assert _lake_hash(lake) == _old_sim_lake_hash(lake)


def test_file_hash_equals_sha256_of_bytes_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(np.random.default_rng(0).bytes(3 * 1024 + 17))
    assert file_hash(path) == _old_file_hash(path) == file_hash(path, chunk=1000)


# -------------------------------------------------------------------------- manifests


def test_lake_manifest_is_typed_and_byte_compatible(
    tmp_path: Path, two_asset_bars: pl.DataFrame
) -> None:
    from algotrader.artifacts import json_ready
    from algotrader.io import write_json_atomic

    result = clean_bars(two_asset_bars, source={"test": 1})
    folder = write_lake(result, tmp_path / "lake")
    m = LakeManifest.read(folder)
    assert m.assets == ["AAA", "BBB"] and m.lake_version == result.manifest["lake_version"]
    assert set(m.files) == {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert all(file_hash(folder / n) == h for n, h in m.files.items())
    assert m.version_id == run_id(m.identity(), m.files, length=16)
    # the same bytes the untyped writer produced (json_ready dict, sorted, indent 2)
    old = tmp_path / "old.json"
    write_json_atomic(
        old,
        json_ready({**result.manifest, "files": m.files, "version_id": m.version_id}),
    )
    assert (folder / "manifest.json").read_bytes() == old.read_bytes()
    # a manifest from before files/version_id existed still reads
    legacy = {k: v for k, v in json.loads(old.read_text()).items() if k in m.identity()}
    (folder / "manifest.json").write_text(json.dumps({**legacy, "rows": {}}))
    assert LakeManifest.read(folder).files == {} and LakeManifest.read(folder).version_id is None


def test_lake_manifest_bad_content_is_a_state_error(
    tmp_path: Path, two_asset_bars: pl.DataFrame
) -> None:
    folder = write_lake(clean_bars(two_asset_bars), tmp_path / "lake")
    path = folder / "manifest.json"
    good = json.loads(path.read_text())
    path.write_text("{not json")
    with pytest.raises(StateError, match="unreadable") as exc:
        verify_lake_file(folder / "returns.parquet")
    assert exc.value.file == str(path)
    path.write_text(json.dumps({**good, "filez": {}}))
    with pytest.raises(StateError, match="invalid") as exc:
        LakeManifest.read(folder)
    assert exc.value.key == "filez"
    path.write_text(json.dumps({**good, "files": {"returns.parquet": "0" * 64}}))
    with pytest.raises(StateError, match="does not match its manifest"):
        verify_lake_file(folder / "returns.parquet")


def test_training_run_manifest_validates(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    cfg = {"optimisation_settings": {"storage": "postgresql://u:pw@h/db"}, "n": np.int64(3)}
    write_run_manifest(paths, "amm-train", training_run_id(cfg), cfg, timings={"fit": 1.0})
    m = RunManifest.model_validate_json(paths.manifest.read_bytes())
    assert m.kind == "amm-train" and m.run_id == training_run_id(cfg)
    assert m.config == {"optimisation_settings": {"storage": "postgresql://u:***@h/db"}, "n": 3}
    assert "pw@" not in paths.manifest.read_text()


def test_cli_run_manifest_validates(tmp_path: Path) -> None:
    from algotrader.cli._runs import write_cli_manifest

    (tmp_path / "in.csv").write_text("x\n1\n")
    (tmp_path / "out.parquet").write_bytes(b"x")
    p = write_cli_manifest(tmp_path, "backtest", {"lag": 1}, {"weights": tmp_path / "in.csv"})
    m = RunManifest.model_validate_json(p.read_bytes())
    assert m.inputs == {"weights": file_hash(tmp_path / "in.csv")}
    assert m.run_id == run_id({"lag": 1}, m.inputs)
    assert m.outputs == ["in.csv", "out.parquet"]


def test_evaluation_run_manifest_validates(tmp_path: Path) -> None:
    from algotrader.backtest.costs import CostModel
    from algotrader.backtest.evaluate import evaluate_weights, write_evaluation

    p = _panel(5, t=40)
    prices = Panel.from_arrays(p.dates, p.assets, 100 * np.exp(np.nan_to_num(p.values) * 0.01))
    ev = evaluate_weights(prices, np.full((40, 3), 1 / 3), CostModel(proportional_bps=5))
    inputs = {"prices": prices.content_hash()}
    man = RunManifest.create("evaluate", {"family": "ew"}, inputs, seeds={"run": 1})
    write_evaluation(tmp_path, ev, man)
    m = RunManifest.model_validate_json((tmp_path / "run_manifest.json").read_bytes())
    assert m == man and m.run_id == run_id({"family": "ew"}, inputs)


def test_simulation_manifest_validates_and_names_the_run_folder(tmp_path: Path) -> None:
    """The manifest's run_id is the folder's id (the config minus engine settings)."""
    from algotrader.simulation.config import config_from_mapping
    from algotrader.simulation.runner import run_simulation

    raw: dict[str, Any] = {
        "family": "optimiser",
        "data": {"start": "2000-01-01", "end": "2004-12-31", "output_root": str(tmp_path)},
        "cv": {"warmup_len": 26, "group_len": 26, "q": 2, "embargo_len": 1, "max_inner_combos": 6},
        "outer": {"last_n": 2},
        "model": {"params": {"lookback": 12, "vola": 10, "corr": 20}},
        "tuning": {
            "num_samples": 4,
            "space": [{"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]}],
        },
        "stop_after": "inputs",
    }
    res = run_simulation(config_from_mapping(raw))
    m = RunManifest.model_validate_json((res.run_dir / "run_manifest.json").read_bytes())
    assert m.kind == "simulate" and res.run_dir.name == f"optimiser_{m.run_id}"
    assert m.extra["config_hash"] == m.run_id and m.inputs["data"]
    # an engine setting changes neither the folder nor the manifest's id
    other = {**raw, "tuning": {**raw["tuning"], "workers": 2}}
    res2 = run_simulation(config_from_mapping(other), resume=True)
    m2 = RunManifest.model_validate_json((res2.run_dir / "run_manifest.json").read_bytes())
    assert res2.run_dir == res.run_dir and m2.run_id == m.run_id


# ---------------------------------------------------------------------------- run ids
def test_run_config_id_stable_order_free_and_sensitive() -> None:
    raw = {
        "tokens": ["ETH", "BTC"],
        "rule": "momentum",
        "fees": 0.003,
        "chunk_period": 60,
        "weight_interpolation_period": 60,
    }
    a = RunConfig.from_mapping(raw)
    b = RunConfig.from_mapping(dict(reversed(list(raw.items()))))
    assert a.run_id == b.run_id == RunConfig(**raw).run_id
    assert a.run_id == run_id(a, length=16)
    changes: dict[str, Any] = {
        "fees": 0.004,
        "chunk_period": 120,
        "weight_interpolation_period": 30,
        "tokens": ["BTC", "SOL"],
        "rule": "anti_momentum",
        "do_arb": False,
        "endDateString": "2023-07-01 00:00:00",
        "optimisation_settings": {"n_iterations": 7},
        "multi_period": {"n_periods": 3},
    }
    seen = {a.run_id}
    for key, value in changes.items():
        other = RunConfig.from_mapping({**raw, key: value})
        assert other.run_id not in seen, key
        seen.add(other.run_id)
    # the resolved defaults of a typed section are hashed: spelling a default out is the same run
    spelled = RunConfig.from_mapping(
        {**raw, "optimisation_settings": a.optimisation_settings.model_dump(mode="json")}
    )
    assert spelled.run_id == a.run_id


def test_run_config_id_redacts_the_storage_password() -> None:
    def cfg(pw: str) -> RunConfig:
        return RunConfig.from_mapping(
            {
                "tokens": ["A", "B"],
                "rule": "momentum",
                "optimisation_settings": {
                    "optuna_settings": {"storage": f"postgresql://u:{pw}@h/db"}
                },
            }
        )

    assert cfg("one").run_id == cfg("two").run_id
    other_host = RunConfig.from_mapping(
        {
            "tokens": ["A", "B"],
            "rule": "momentum",
            "optimisation_settings": {"optuna_settings": {"storage": "postgresql://u:one@h2/db"}},
        }
    )
    assert other_host.run_id != cfg("one").run_id


def _bumped(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 if value > 0 else value + 0.25
    return None


def test_optimiser_fingerprint_every_field_counts() -> None:
    base = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.8, aum=1.0)
    dump = base.model_dump()
    assert base.fingerprint() == OptimiserConfig(**dict(reversed(list(dump.items())))).fingerprint()
    seen = {base.fingerprint()}
    for key, value in dump.items():
        new = _bumped(value)
        if key == "max_turnover":
            new = 0.5
        if key == "solver":
            new = "cg"
        if key == "covariance_config":
            new = {"covariance_mode": "sliding_window", "window": 20, "n_factors": 2}
        assert new is not None, key
        other = OptimiserConfig(**{**dump, key: new})
        assert other.fingerprint() not in seen, key
        seen.add(other.fingerprint())
    assert len(seen) == len(dump) + 1


def test_training_run_id_canonical() -> None:
    cfg = {"b": {"y": 1.0, "x": [1, 2]}, "a": "s", "api_token": "t1"}
    same = {"a": "s", "api_token": "t2", "b": {"x": [1, 2], "y": 1.0}}
    assert training_run_id(cfg) == training_run_id(same)
    assert training_run_id(cfg) != training_run_id({**cfg, "a": "t"})
    assert training_run_id(cfg) == config_hash({"config": cfg, "inputs": {}}, length=16)
    assert canonical_json({"x": float("nan")}) == '{"x":null}'


def test_content_hash_parts_are_streamed() -> None:
    """Feeding parts one by one equals feeding their concatenation (what keeps the moved
    hashes' values)."""
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    one = ContentHash().update("a").array(x).array(x.T).update(b"z").hexdigest()
    cat = hashlib.sha256(b"a" + x.tobytes() + np.ascontiguousarray(x.T).tobytes() + b"z")
    assert one == cat.hexdigest()
    dates = np.array(["2024-01-01"], dtype="datetime64[us]")
    assert ContentHash().array(dates).hexdigest() == hashlib.sha256(dates.tobytes()).hexdigest()
