"""Training runs as artefacts: run ids, checkpoints, history and saved results.

A run folder ``<out>/<run_id>/`` (``run_id`` = hash of the resolved
configuration and the data signature) holds, each written atomically:

| file | content |
|---|---|
| ``config.json`` | resolved configuration, data signature, versions, host |
| ``run_manifest.json`` | the shared :class:`algotrader.artifacts.RunManifest` (kind, id, config, versions, timings) |
| ``state.npz`` | the full training state after the last finished chunk |
| ``history/part-<first iteration>.parquet`` | one part per chunk, rows (iteration, set): objective, lr, metrics |
| ``params_best.npz`` / ``params_last.npz`` | selected / last parameter set |
| ``result.json`` | selection, metrics, final weights, timings |

Starting the same run again continues from ``state.npz``; the chunk boundaries
and the carried PRNG key make the result identical to an uninterrupted run.

The history is **appended**: each chunk writes one new immutable part (atomically), so
the cost per chunk does not grow with the run. On resume, parts at or after the
checkpoint's iteration (written by a chunk whose state was never saved) are removed, and
temporary files a killed writer left in the run folder (``.<name>.*.tmp``) are deleted by
:func:`clean_stale_temps`. A run folder from an older version with one
``history.parquet`` is still read.

Run ids are :func:`algotrader.artifacts.run_id` (16 hex digits here; the same hash and
redaction as every other run in the package); data signatures are
:func:`algotrader.artifacts.array_hash`; every file is written by :mod:`algotrader.io`'s
one writer of its format, and config/result/manifest JSON goes through
:func:`algotrader.artifacts.redacted_json`.

Example:
    >>> run_id({"b": 1, "a": [1.0, 2.0]}) == run_id({"a": [1.0, 2.0], "b": 1})
    True
    >>> len(run_id({"a": 1}))
    16
"""

from __future__ import annotations

import json
import logging
import platform
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np
import polars as pl

from algotrader.artifacts import (
    RunManifest,
    array_hash,
    package_versions,
    redact,
    redacted_json,
    write_manifest,
)
from algotrader.artifacts import run_id as _artifact_run_id
from algotrader.errors import StateError
from algotrader.io import write_json_atomic, write_npz_atomic, write_parquet_atomic
from algotrader.training.problem import SEGMENTS

logger = logging.getLogger(__name__)

T = TypeVar("T")


def redact_url(text: str) -> str:
    """``text`` with any URL password replaced by ``***`` (:func:`algotrader.artifacts.redact`).

    >>> redact_url("postgresql://me:s3cret@db:5432/optuna")
    'postgresql://me:***@db:5432/optuna'
    """
    out: str = redact(text)
    return out


def run_id(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a configuration (key order does not matter).

    :func:`algotrader.artifacts.run_id` of the configuration (no separate inputs: the
    training configuration already carries the data signature).
    """
    return _artifact_run_id(config, length=16)


def array_signature(*arrays: np.ndarray) -> str:
    """SHA-256 (first 16 hex digits) of arrays' dtype, shape and bytes
    (:func:`algotrader.artifacts.array_hash`).

    Example:
        >>> array_signature(np.ones(3)) == array_signature(np.ones(3))
        True
    """
    return array_hash(*arrays, length=16)


def provenance() -> dict[str, str]:
    """Versions (:func:`algotrader.artifacts.package_versions`), host and platform recorded
    with every run."""
    return {
        **package_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
    }


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def state(self) -> Path:
        return self.root / "state.npz"

    @property
    def history(self) -> Path:
        """The single-file history of runs written before the history was appended."""
        return self.root / "history.parquet"

    @property
    def history_dir(self) -> Path:
        """The appended history: one ``part-<first iteration>.parquet`` per chunk."""
        return self.root / "history"

    @property
    def manifest(self) -> Path:
        return self.root / "run_manifest.json"

    @property
    def params_best(self) -> Path:
        return self.root / "params_best.npz"

    @property
    def params_last(self) -> Path:
        return self.root / "params_last.npz"

    @property
    def result(self) -> Path:
        return self.root / "result.json"


def _leaf_names(tree: Any) -> tuple[list[str], list[Any], Any]:
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [jax.tree_util.keystr(path) for path, _ in flat]
    return names, [leaf for _, leaf in flat], treedef


def save_tree(path: Path, tree: Any, **meta: np.ndarray) -> Path:
    """Save a pytree of arrays to ``.npz`` (names from the tree paths)."""
    names, leaves, _ = _leaf_names(tree)
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["__names__"] = np.asarray(names, dtype=np.str_)
    arrays.update({f"meta_{k}": v for k, v in meta.items()})
    return write_npz_atomic(path, **arrays)


def load_tree(path: Path, template: T) -> tuple[T, dict[str, np.ndarray]]:
    """Load a tree saved by :func:`save_tree` into ``template``'s structure.

    Raises :class:`StateError` when the names, shapes or dtypes do not match
    (the checkpoint belongs to another configuration).
    """
    names, leaves, treedef = _leaf_names(template)
    with np.load(path, allow_pickle=False) as data:
        saved_names = [str(n) for n in data["__names__"]]
        if saved_names != names:
            raise StateError(
                "checkpoint structure does not match this configuration",
                file=str(path),
                hint="delete the run folder or use the configuration that wrote it",
            )
        out = []
        for i, (name, ref) in enumerate(zip(names, leaves, strict=True)):
            arr = data[f"leaf_{i:04d}"]
            if arr.shape != tuple(ref.shape) or arr.dtype != np.dtype(ref.dtype):
                raise StateError(
                    f"checkpoint leaf {name} has shape {arr.shape} {arr.dtype}, "
                    f"expected {tuple(ref.shape)} {ref.dtype}",
                    file=str(path),
                    key=name,
                    hint="delete the run folder or use the configuration that wrote it",
                )
            out.append(jax.numpy.asarray(arr))
        meta = {k[5:]: data[k] for k in data.files if k.startswith("meta_")}
    return jax.tree_util.tree_unflatten(treedef, out), meta


def save_params(path: Path, params: Mapping[str, Any]) -> Path:
    """Save one parameter set (name -> array) as ``.npz``."""
    return write_npz_atomic(path, **{k: np.asarray(v, dtype=np.float64) for k, v in params.items()})


def load_params(path: str | Path) -> dict[str, np.ndarray]:
    """Load a parameter ``.npz`` (no pickle); :class:`StateError` if unreadable."""
    p = Path(path)
    if not p.is_file():
        raise StateError("parameter file not found", file=str(p), hint="check the run folder")
    with np.load(p, allow_pickle=False) as data:
        return {k: np.asarray(data[k]) for k in data.files}


def history_frame(outputs: Sequence[Any], metric_names: Sequence[str]) -> pl.DataFrame:
    """Rows (iteration, set) of the active iterations of stacked ``StepOutput`` chunks."""
    frames = []
    for out in outputs:
        active = np.asarray(out.active)
        if not active.any():
            continue
        obj = np.asarray(out.objective)[active]
        n_it, n_sets = obj.shape
        cols: dict[str, Any] = {
            "iteration": np.repeat(np.asarray(out.iteration)[active], n_sets).astype(np.int64),
            "set": np.tile(np.arange(n_sets, dtype=np.int64), n_it),
            "objective": obj.ravel(),
            "lr": np.asarray(out.lr)[active].ravel(),
            "reinit": np.asarray(out.reinit)[active].ravel(),
        }
        for seg in SEGMENTS:
            for m in metric_names:
                cols[f"{seg}_{m}"] = np.asarray(out.metrics[seg][m], dtype=np.float64)[
                    active
                ].ravel()
        for name, value in sorted(out.params.items()):
            flat = np.asarray(value, dtype=np.float64)[active].reshape(n_it * n_sets, -1)
            for j in range(flat.shape[1]):
                cols[f"param_{name}_{j}"] = flat[:, j]
        frames.append(pl.DataFrame(cols))
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames)


def params_from_history(
    history: pl.DataFrame, iteration: int, set_index: int, template: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Parameters of ``(iteration, set)`` from the ``param_<key>_<j>`` history columns.

    Keys absent from the history (never trained, e.g. ``initial_weights_logits``)
    are taken from ``template`` (e.g. ``params_best.npz``).
    """
    row = history.filter((pl.col("iteration") == iteration) & (pl.col("set") == set_index))
    if row.height != 1:
        raise StateError(
            f"no history row for iteration {iteration}, set {set_index}", key="iteration"
        )
    out = {}
    for name, ref in template.items():
        cols = [c for c in history.columns if c.startswith(f"param_{name}_")]
        if not cols:
            out[name] = np.asarray(ref)
            continue
        cols.sort(key=lambda c: int(c.rsplit("_", 1)[1]))
        out[name] = np.asarray([row[c][0] for c in cols], dtype=np.float64).reshape(np.shape(ref))
    return out


def load_run(
    run_dir: str | Path,
    method: str = "best_val",
    metric: str = "daily_log_sharpe",
    threshold: float = 0.0,
) -> tuple[dict[str, np.ndarray], int, int]:
    """Parameters of a saved run chosen by any selection method: ``(params, iteration, set)``.

    ``method`` is one of :data:`algotrader.training.selection.POST_HOC_METHODS`
    (``best_test`` / ``best_train_min_test`` read the test period: analysis only).
    """
    from algotrader.training.selection import select_from_history

    paths = RunPaths(Path(run_dir))
    history = read_history(paths)
    template = load_params(paths.params_best if paths.params_best.is_file() else paths.params_last)
    it, st = select_from_history(history, method, metric, threshold)
    return params_from_history(history, it, st, template), it, st


def clean_stale_temps(paths: RunPaths) -> list[Path]:
    """Delete temporary files a killed writer left in the run folder and its history.

    Atomic writes go through ``.<name>.<random>.tmp`` beside the target
    (:func:`algotrader.io.atomic_path`); a process killed mid-write leaves one behind.
    Called when a run starts (one process per run folder), so nothing is writing them.
    """
    removed: list[Path] = []
    for folder in (paths.root, paths.history_dir):
        if not folder.is_dir():
            continue
        for stale in folder.glob(".*.tmp"):
            if stale.is_file():
                stale.unlink(missing_ok=True)
                removed.append(stale)
    if removed:
        logger.info(
            "removed %d temporary file(s) left by an interrupted run in %s",
            len(removed),
            paths.root,
        )
    return removed


def _part_start(part: Path) -> int:
    return int(part.stem.split("-", 1)[1])


def history_parts(paths: RunPaths) -> list[Path]:
    """The history part files in iteration order."""
    if not paths.history_dir.is_dir():
        return []
    return sorted(paths.history_dir.glob("part-*.parquet"), key=_part_start)


def append_history(paths: RunPaths, rows: pl.DataFrame) -> Path | None:
    """Append one chunk's rows as a new part (atomic); an empty frame writes nothing.

    The part is named by the chunk's first iteration, so a chunk that is re-run after a
    resume replaces exactly its own part.

    Raises:
        StateError: ``rows`` has no ``iteration`` column, or its columns differ from the
            parts already written (a different configuration wrote this folder).
    """
    if rows.height == 0:
        return None
    if "iteration" not in rows.columns:
        raise StateError("history rows need an 'iteration' column", file=str(paths.history_dir))
    parts = history_parts(paths)
    if parts:
        schema = dict(pl.read_parquet_schema(parts[0]))
        if schema != dict(rows.schema):
            raise StateError(
                "history rows do not match the run's existing history columns",
                file=str(parts[0]),
                hint="delete the run folder or use the configuration that wrote it",
            )
    first = int(rows["iteration"].min())  # type: ignore[arg-type]
    paths.history_dir.mkdir(parents=True, exist_ok=True)
    return write_parquet_atomic(paths.history_dir / f"part-{first:09d}.parquet", rows)


def truncate_history(paths: RunPaths, iteration: int) -> None:
    """Drop history rows at or after ``iteration`` (chunks whose state was never saved)."""
    for part in history_parts(paths):
        if _part_start(part) >= iteration:
            part.unlink()
            continue
        frame = pl.read_parquet(part)
        if frame.height and int(frame["iteration"].max()) >= iteration:  # type: ignore[arg-type]
            write_parquet_atomic(part, frame.filter(pl.col("iteration") < iteration))
    if paths.history.is_file():
        legacy = pl.read_parquet(paths.history)
        if legacy.height and int(legacy["iteration"].max()) >= iteration:  # type: ignore[arg-type]
            write_parquet_atomic(paths.history, legacy.filter(pl.col("iteration") < iteration))


def write_history(paths: RunPaths, history: pl.DataFrame) -> None:
    """Replace the whole history with ``history`` (one part); stale temps are removed.

    Training appends with :func:`append_history`; this is for tools that rewrite a
    run's history deliberately.
    """
    clean_stale_temps(paths)
    for part in history_parts(paths):
        part.unlink()
    paths.history.unlink(missing_ok=True)
    append_history(paths, history)


def read_history(paths: RunPaths) -> pl.DataFrame:
    """Read a run's history (the legacy single file first, then the parts in order);
    an empty frame if none yet."""
    frames = [pl.read_parquet(paths.history)] if paths.history.is_file() else []
    frames += [pl.read_parquet(p) for p in history_parts(paths)]
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical")


def write_config(paths: RunPaths, config: Mapping[str, Any]) -> None:
    """Write the resolved configuration and provenance."""
    write_json_atomic(paths.config, redacted_json({**config, "provenance": provenance()}))


def write_run_manifest(
    paths: RunPaths,
    kind: str,
    rid: str,
    config: Mapping[str, Any],
    **fields: Any,
) -> Path:
    """Write ``run_manifest.json`` with the shared :class:`~algotrader.artifacts.RunManifest`.

    ``rid`` is the run's id (the folder name); ``fields`` are further manifest fields
    (``started_at``, ``finished_at``, ``timings``, ``seeds``, ``outputs``, ``extra``).
    """
    cfg = redacted_json(config)
    manifest = RunManifest(kind=kind, run_id=rid, config=cfg, **fields)
    return write_manifest(paths.root, manifest)


def write_result(paths: RunPaths, result: Mapping[str, Any]) -> None:
    """Write ``result.json``."""
    write_json_atomic(paths.result, redacted_json(result))


def read_result(run_dir: str | Path) -> dict[str, Any]:
    """Read ``result.json`` of a finished run (:class:`StateError` if missing)."""
    p = RunPaths(Path(run_dir)).result
    if not p.is_file():
        raise StateError("run has no result.json (not finished?)", file=str(p))
    out: dict[str, Any] = json.loads(p.read_text())
    return out


__all__ = [
    "RunPaths",
    "append_history",
    "array_signature",
    "clean_stale_temps",
    "history_frame",
    "history_parts",
    "load_params",
    "load_run",
    "load_tree",
    "params_from_history",
    "provenance",
    "read_history",
    "read_result",
    "run_id",
    "save_params",
    "save_tree",
    "truncate_history",
    "write_config",
    "write_history",
    "write_result",
    "write_run_manifest",
]
