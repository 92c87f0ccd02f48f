"""The one place for run ids, hashes, run manifests, atomic writes, ``.npz`` pytrees and result tables.

- :func:`run_id` hashes the *resolved* config (a pydantic model or a JSON-able mapping) and
  the inputs' content hashes into a stable 12-hex id; secrets never enter it (see
  :func:`redact`). :func:`config_hash` is the same hash of one config, full length.
- :class:`ContentHash` is the package's one hasher (SHA-256): every content hash (files,
  arrays, panels, lake inputs, fit fingerprints) feeds its parts to it;
  :func:`file_hash` and :func:`array_hash` are its two common uses. No other module
  imports :mod:`hashlib` (``tests/core/test_artifacts_single_source.py`` checks).
- :class:`RunManifest` / :func:`write_manifest` record what a run was: kind, id, resolved
  config, package versions, input hashes, seeds, host, start/end and timings.
- :func:`save_pytree` / :func:`load_pytree` store nested dicts of arrays in one ``.npz``
  (keys joined by ``/``), loaded with ``allow_pickle=False``.
- :class:`ResultsTable` is an append-only Parquet table (one immutable part file per append),
  so a killed run loses at most the part being written and a resumed run reads the rest.

Every write is atomic (temp file + rename) and byte-reproducible: the writers are
:mod:`algotrader.io`'s (one each for JSON, Parquet, ``.npz``, text, bytes), re-exported here.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> rid = run_id({"a": 1, "b": [1, 2]}, {"prices": "abc"})
    >>> rid == run_id({"b": [1, 2], "a": 1}, {"prices": "abc"}), len(rid)
    (True, 12)
    >>> p = save_pytree(d / "s.npz", {"w": {"x": [1.0, 2.0]}, "n": 3})
    >>> load_pytree(p)["w"]["x"].tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import re
import socket
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from algotrader.errors import StateError
from algotrader.io import (
    atomic_path,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from algotrader.io import (
    write_npz_deterministic as _write_npz,
)

__all__ = [
    "ContentHash",
    "ResultsTable",
    "RunManifest",
    "Timer",
    "array_hash",
    "atomic_path",
    "canonical_json",
    "config_hash",
    "file_hash",
    "json_ready",
    "load_pytree",
    "now_utc",
    "package_versions",
    "redact",
    "redacted_json",
    "run_id",
    "save_pytree",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_manifest",
    "write_parquet_atomic",
    "write_text_atomic",
]

#: A key is secret when one of its ``_``/``-``/``.``-separated words is one of these (so
#: ``api_token`` and ``client_secret`` are redacted, but ``tokens``, the AMM's asset list, is not).
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "secret", "token", "apikey", "credential", "credentials"}
)
_KEY_SPLIT = re.compile(r"[_.\-]+")


def _is_secret_key(key: str) -> bool:
    low = key.lower()
    if "api_key" in low or "apikey" in low:
        return True
    return any(part in _SECRET_WORDS for part in _KEY_SPLIT.split(low))


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@")
_PACKAGES = (
    "algotrader",
    "numpy",
    "scipy",
    "polars",
    "pydantic",
    "jax",
    "optax",
    "numpyro",
    "optuna",
)


# ----------------------------------------------------------------- JSON helpers
def json_ready(obj: Any) -> Any:
    """``obj`` as plain JSON types: models dumped, numpy scalars/arrays listed, NaN/inf -> None."""
    if isinstance(obj, BaseModel):
        return json_ready(obj.model_dump(mode="json"))
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        return json_ready(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    return obj


def canonical_json(obj: Any) -> str:
    """Deterministic compact JSON (sorted keys, NaN as null) used for hashing."""
    return json.dumps(json_ready(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with passwords in URLs and values of secret-named keys replaced.

    >>> redact({"storage": "postgresql://u:pw@h/db", "api_key": "x", "n": 1})
    {'storage': 'postgresql://u:***@h/db', 'api_key': '***', 'n': 1}
    >>> redact({"tokens": ["BTC", "ETH"], "ib_token": "t"})
    {'tokens': ['BTC', 'ETH'], 'ib_token': '***'}
    """
    if isinstance(obj, BaseModel):
        return redact(obj.model_dump(mode="json"))
    if isinstance(obj, Mapping):
        return {
            k: ("***" if _is_secret_key(str(k)) and v is not None else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", obj)
    return obj


class ContentHash:
    """Streaming SHA-256 of a content's parts: the package's one hasher.

    Feed bytes/text (:meth:`update`), arrays (:meth:`array`) and files (:meth:`file`) in a
    fixed order, then read :meth:`hexdigest`. Each method feeds exactly the bytes it names
    (no separators of its own), so a hash defined as "these bytes, then those" keeps its value
    when it moves onto this class.

    >>> a = ContentHash("x").array(np.arange(3)).hexdigest()
    >>> a == ContentHash().update(b"x").update(np.arange(3).tobytes()).hexdigest()
    True
    >>> len(ContentHash().hexdigest(16))
    16
    """

    __slots__ = ("_h",)

    def __init__(self, data: bytes | str = b"") -> None:
        self._h = hashlib.sha256()
        if data:
            self.update(data)

    def update(self, data: bytes | str) -> ContentHash:
        """Feed ``data`` (text as UTF-8)."""
        self._h.update(data.encode() if isinstance(data, str) else data)
        return self

    def array(self, a: Any, *, dtype: Any = None, header: bool = False) -> ContentHash:
        """Feed an array's C-order bytes (cast to ``dtype`` first if given); ``header``: its
        ``f"{dtype}{shape}"`` first (so equal bytes of another dtype/shape hash differently)."""
        arr = np.ascontiguousarray(a, dtype=dtype)
        if arr.dtype == object:
            raise StateError("cannot hash an object array (no stable bytes)")
        if header:
            self._h.update(f"{arr.dtype}{arr.shape}".encode())
        self._h.update(arr.reshape(-1).view(np.uint8).data)
        return self

    def file(self, path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> ContentHash:
        """Feed a file's bytes (read in chunks)."""
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                self._h.update(block)
        return self

    def hexdigest(self, length: int | None = None) -> str:
        """The hex digest (first ``length`` digits; all 64 when None)."""
        out = self._h.hexdigest()
        return out if length is None else out[:length]

    def digest(self) -> bytes:
        """The raw 32-byte digest."""
        return self._h.digest()


def config_hash(config: Any, *, length: int | None = None) -> str:
    """SHA-256 of a resolved config's canonical JSON, secrets redacted (:func:`redact`).

    Key order does not matter; models hash as their JSON dump.

    >>> config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    True
    """
    return ContentHash(canonical_json(redact(config))).hexdigest(length)


def run_id(config: Any, inputs: Mapping[str, str] | None = None, *, length: int = 12) -> str:
    """Stable id of a run: SHA-256 of the redacted resolved config and the inputs' hashes."""
    return config_hash({"config": config, "inputs": dict(inputs or {})}, length=length)


def file_hash(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    return ContentHash().file(path, chunk=chunk).hexdigest()


def array_hash(*arrays: Any, length: int | None = None) -> str:
    """SHA-256 of arrays, each as its dtype, shape and C-order bytes.

    >>> array_hash(np.ones(3)) == array_hash(np.ones(3)) != array_hash(np.ones((3, 1)))
    True
    """
    h = ContentHash()
    for a in arrays:
        h.array(a, header=True)
    return h.hexdigest(length)


def redacted_json(obj: Any) -> Any:
    """``obj`` as plain JSON types with secrets redacted: what run files and manifests hold.

    >>> redacted_json({"url": "redis://u:pw@h", "x": np.float64("nan")})
    {'url': 'redis://u:***@h', 'x': None}
    """
    return json_ready(redact(json_ready(obj)))


def package_versions(
    extra: Sequence[str] = (), *, only: Sequence[str] | None = None
) -> dict[str, str]:
    """Installed versions of the packages that shape results (absent ones omitted).

    ``only``: exactly these packages (no ``python`` entry unless named), for files that must
    not change when an unrelated package is upgraded.
    """
    if only is not None:
        names: Sequence[str] = only
        out: dict[str, str] = {}
    else:
        names = (*_PACKAGES, *extra)
        out = {"python": platform.python_version()}
    for name in names:
        if name == "python":
            out[name] = platform.python_version()
            continue
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


# --------------------------------------------------------------------- manifest
class RunManifest(BaseModel):
    """What a run was. Written as ``run_manifest.json`` (or the name the caller picks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="run kind: optimise, backtest, amm-run, simulate, ...")
    run_id: str
    config: dict[str, Any] = Field(default_factory=dict, description="resolved, redacted config")
    inputs: dict[str, str] = Field(default_factory=dict, description="input name -> sha256")
    seeds: dict[str, int] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=package_versions)
    host: str = Field(default_factory=socket.gethostname)
    started_at: str | None = None
    finished_at: str | None = None
    timings: dict[str, float] = Field(default_factory=dict, description="stage -> seconds")
    outputs: list[str] = Field(default_factory=list, description="files written, relative")
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def create(
        cls,
        kind: str,
        config: Any,
        inputs: Mapping[str, str] | None = None,
        *,
        id_config: Any = None,
        **fields: Any,
    ) -> RunManifest:
        """A manifest whose ``run_id`` and ``config`` come from the resolved ``config``.

        ``id_config``: what the id hashes when it is not the whole recorded config (a run
        whose folder id leaves out settings that never change results, e.g. the simulation's
        engine); the manifest's ``run_id`` is then the run folder's id.
        """
        cfg = redacted_json(config)
        return cls(
            kind=kind,
            run_id=run_id(config if id_config is None else id_config, inputs),
            config=cfg if isinstance(cfg, dict) else {"value": cfg},
            inputs=dict(inputs or {}),
            **fields,
        )


def write_manifest(
    folder: str | os.PathLike[str], manifest: BaseModel, name: str = "run_manifest.json"
) -> Path:
    """Write ``manifest`` (a :class:`RunManifest`, or a dataset manifest model such as
    :class:`algotrader.data.lake.LakeManifest`) atomically into ``folder`` as sorted JSON."""
    return write_json_atomic(Path(folder) / name, json_ready(manifest.model_dump(mode="json")))


def now_utc() -> str:
    """The current UTC time in ISO-8601 (seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Timer:
    """Collect stage timings: ``with timer("fit"): ...`` then ``timer.timings``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0


# ----------------------------------------------------------------------- tables
class ResultsTable:
    """An append-only Parquet table stored as numbered immutable parts in a folder.

    Each :meth:`append` writes one new part atomically; :meth:`read` concatenates them in
    order. A crash mid-append leaves no part (only a temp file, removed on the next open),
    so the rows already appended are exactly what a resumed run sees.

    >>> import tempfile
    >>> t = ResultsTable(tempfile.mkdtemp())
    >>> _ = t.append(pl.DataFrame({"k": [1], "score": [0.5]}))
    >>> _ = t.append(pl.DataFrame({"k": [2], "score": [0.7]}))
    >>> t.read()["k"].to_list()
    [1, 2]
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def parts(self) -> list[Path]:
        """The part files, in append order."""
        return sorted(self.folder.glob("part-*.parquet"))

    def append(self, rows: pl.DataFrame) -> Path:
        """Append ``rows`` as a new part; an empty frame writes nothing."""
        parts = self.parts()
        n = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        if parts:
            schema = pl.read_parquet_schema(parts[0])
            if dict(rows.schema) != dict(schema):
                raise StateError(
                    f"rows' schema {dict(rows.schema)} differs from the table's {dict(schema)}",
                    file=str(self.folder),
                )
        target = self.folder / f"part-{n:06d}.parquet"
        if rows.height:
            write_parquet_atomic(target, rows)
        return target

    def read(self) -> pl.DataFrame:
        """All rows appended so far (an empty frame when none)."""
        parts = self.parts()
        if not parts:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(p) for p in parts], how="vertical")


# ----------------------------------------------------------------------- pytrees
def _flatten(tree: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            key = str(k)
            if "/" in key or not key:
                raise StateError(
                    f"pytree key {key!r} must be non-empty and contain no '/'", key=key
                )
            _flatten(v, f"{prefix}{key}/", out)
        return
    arr = np.asarray(tree)
    if arr.dtype == object:
        raise StateError(
            f"pytree leaf {prefix[:-1]!r} is not a numeric/string array", key=prefix[:-1]
        )
    out[prefix[:-1]] = arr


def save_pytree(path: str | os.PathLike[str], tree: Mapping[str, Any]) -> Path:
    """Save a nested mapping of arrays to one uncompressed ``.npz`` (byte-reproducible)."""
    flat: dict[str, np.ndarray] = {}
    _flatten(tree, "", flat)
    _write_npz(path, {key: flat[key] for key in sorted(flat)})
    return Path(path)


def load_pytree(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a ``.npz`` written by :func:`save_pytree` into a nested dict (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            tree: dict[str, Any] = {}
            for key in z.files:
                node = tree
                *parents, leaf = key.split("/")
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = z[key]
            return tree
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StateError(f"cannot read array archive ({exc})", file=str(path)) from exc
