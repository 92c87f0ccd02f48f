"""The feature store: ``FEATURE_STORE_SOURCE/<lake version>/<group>/``.

| file | content |
|---|---|
| ``features.parquet`` | long table: ``timestamp`` (UTC week label of the lake), ``asset``, one Float64 column per feature in the group's order (null = not ok) |
| ``features.npz`` | ``values`` (T, A, F) float64 (NaN = not ok), ``mask`` (T, A, F) bool (**True = observed**, the :class:`~algotrader.data.panel.Panel` convention), ``status`` (T, A, F) int8 (0 ok, 1 warmup, 2 degenerate, 3 missing), ``timestamps`` datetime64[us], ``assets``, ``features``; read with ``allow_pickle=False`` |
| ``metadata.json`` | feature names and definitions, input lake version and hash, config hash, status counts, missing by asset, file hashes, package versions |

Every file is written atomically; ``metadata.json`` is written last and holds the SHA-256 of
the two data files, so a reader can tell a complete group from a torn one. The same lake and
configuration give byte-identical files (no clock, host or path inside).

Example:
    >>> import tempfile
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.engine import compute_group
    >>> x = synthetic_inputs(30, 2)
    >>> folder = write_group(tempfile.mkdtemp(), compute_group(x, "breakout"), x)
    >>> g = read_group(folder)
    >>> g.features, g.values.shape
    (('brk_up_4w', 'brk_dn_4w', 'brk_up_26w', 'brk_dn_26w'), (30, 2, 4))
"""

from __future__ import annotations

import json
import os
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from algotrader.artifacts import file_hash, package_versions
from algotrader.errors import StateError
from algotrader.features.common import EPS, STATUS_NAMES, GroupResult
from algotrader.features.config import FeatureConfig
from algotrader.features.inputs import LakeInputs
from algotrader.features.registry import get_group
from algotrader.io import write_json_atomic, write_parquet_atomic
from algotrader.io import write_npz_deterministic as _write_npz

STORE_FORMAT = 1
#: Parquet codec of ``features.parquet``: feature values are float64 that barely compress
#: (zstd saves ~7 % on random-walk features and takes ~2x as long to write); snappy is the
#: codec every Parquet reader has.
PARQUET_COMPRESSION: Literal["snappy"] = "snappy"
NPZ_KEYS: tuple[str, ...] = ("values", "mask", "status", "timestamps", "assets", "features")


#: Packages whose versions ``metadata.json`` records (only these: a rerun after an unrelated
#: upgrade stays byte-identical).
VERSION_PACKAGES: tuple[str, ...] = ("algotrader", "numpy", "polars", "numba")


def write_npz_deterministic(path: str | os.PathLike[str], arrays: dict[str, NDArray[Any]]) -> Path:
    """Uncompressed ``.npz`` with fixed entry times (byte-identical reruns), atomically:
    :func:`algotrader.io.write_npz_deterministic`."""
    return _write_npz(path, arrays)


_KEYS: weakref.WeakKeyDictionary[LakeInputs, tuple[pl.Series, pl.Series]] = (
    weakref.WeakKeyDictionary()
)


def _key_columns(inputs: LakeInputs) -> tuple[pl.Series, pl.Series]:
    """The ``timestamp`` and ``asset`` columns of the long tables, built once per inputs
    (every group of a run shares them)."""
    keys = _KEYS.get(inputs)
    if keys is None:
        n_t, n_a = inputs.n_weeks, inputs.n_assets
        ts = pl.Series("timestamp", np.repeat(inputs.timestamps, n_a)).dt.replace_time_zone("UTC")
        assets = pl.Series("asset", list(inputs.assets), dtype=pl.String)
        keys = (ts, assets.gather(np.tile(np.arange(n_a, dtype=np.int64), n_t)))
        _KEYS[inputs] = keys
    return keys


def long_table(result: GroupResult, inputs: LakeInputs) -> pl.DataFrame:
    """The group's long table (T * A rows, sorted by timestamp then asset)."""
    ts, assets = _key_columns(inputs)
    cols = [ts, assets]
    for j, name in enumerate(result.features):
        cols.append(pl.Series(name, result.values[:, :, j].ravel(), nan_to_null=True))
    return pl.DataFrame(cols)


def group_metadata(
    result: GroupResult, inputs: LakeInputs, config: FeatureConfig
) -> dict[str, Any]:
    """The JSON-able metadata of a group (no clock or host: reruns are byte-identical)."""
    spec = get_group(result.group)
    defs = {f.name: f for f in spec.features}
    missing = (~np.isfinite(result.values)).sum(axis=0)  # (A, F)
    totals = missing.sum(axis=1)
    return {
        "format": STORE_FORMAT,
        "group": result.group,
        "input": spec.input,
        "input_frequency": "weekly" if spec.weekly_input else "daily",
        "lake_version": inputs.version,
        "lake_hash": inputs.lake_hash,
        "config_hash": config.config_hash(),
        "config": config.model_dump(mode="json"),
        "degenerate_policy": config.degenerate_policy,
        "degenerate_floor": config.degenerate_floor,
        "eps": EPS,
        "return_type": "log",
        "feature_names": list(result.features),
        "features": [
            {
                "name": n,
                "key": defs[n].key,
                "formula": defs[n].formula,
                "window": defs[n].window,
                "input": defs[n].input,
                "warmup": defs[n].warmup,
            }
            for n in result.features
        ],
        "rows": int(result.values.shape[0]),
        "assets": list(inputs.assets),
        "first_timestamp": str(inputs.timestamps[0]) + "Z" if inputs.n_weeks else None,
        "last_timestamp": str(inputs.timestamps[-1]) + "Z" if inputs.n_weeks else None,
        "tensor": {
            "dtype": "float64",
            "tz": "UTC",
            "mask": "True = observed",
            "status_codes": list(STATUS_NAMES),
        },
        "status_counts": result.status_counts(),
        "missing_by_asset": {
            a: {
                "total": int(totals[i]),
                "by_feature": dict(zip(result.features, missing[i].tolist(), strict=True)),
            }
            for i, a in enumerate(inputs.assets)
        },
        "versions": package_versions(only=VERSION_PACKAGES),
    }


def write_group(
    root: str | os.PathLike[str],
    result: GroupResult,
    inputs: LakeInputs,
    config: FeatureConfig | None = None,
) -> Path:
    """Write one group under ``root/<lake version>/<group>/`` and return that folder."""
    config = config or FeatureConfig()
    folder = Path(root) / inputs.version / result.group
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").unlink(
        missing_ok=True
    )  # a reader never pairs old meta with new data
    table = long_table(result, inputs)
    write_parquet_atomic(folder / "features.parquet", table, compression=PARQUET_COMPRESSION)
    del table
    write_npz_deterministic(
        folder / "features.npz",
        {
            "values": result.values,
            "mask": np.isfinite(result.values),
            "status": result.status,
            "timestamps": inputs.timestamps.astype("datetime64[us]"),
            "assets": np.array(inputs.assets, dtype=np.str_),
            "features": np.array(result.features, dtype=np.str_),
        },
    )
    meta = group_metadata(result, inputs, config)
    meta["files"] = {n: file_hash(folder / n) for n in ("features.parquet", "features.npz")}
    write_json_atomic(folder / "metadata.json", meta)
    return folder


@dataclass(frozen=True, eq=False)
class StoredGroup:
    """A group read back from the store."""

    group: str
    features: tuple[str, ...]
    timestamps: NDArray[np.datetime64]
    assets: tuple[str, ...]
    values: NDArray[np.float64]
    mask: NDArray[np.bool_]
    status: NDArray[np.int8]
    metadata: dict[str, Any]


def read_group(folder: str | os.PathLike[str], *, verify: bool = True) -> StoredGroup:
    """Read ``features.npz`` + ``metadata.json`` of a group folder (hashes checked)."""
    folder = Path(folder)
    meta_path, npz_path = folder / "metadata.json", folder / "features.npz"
    if not meta_path.is_file() or not npz_path.is_file():
        which = "metadata.json" if not meta_path.is_file() else "features.npz"
        raise StateError(
            f"feature group folder lacks {which}",
            file=str(folder),
            hint="re-run `algotrader feature-engineering` for this group",
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if verify:
        for name, digest in meta.get("files", {}).items():
            if file_hash(folder / name) != digest:
                raise StateError(
                    f"{name} does not match the hash in metadata.json (torn or edited write)",
                    file=str(folder / name),
                    hint="re-run `algotrader feature-engineering`",
                )
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            missing = [k for k in NPZ_KEYS if k not in z.files]
            if missing:
                raise StateError(
                    f"features.npz lacks {missing[0]!r}", file=str(npz_path), key=missing[0]
                )
            arrays = {k: z[k] for k in NPZ_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StateError(f"cannot read features.npz ({exc})", file=str(npz_path)) from exc
    values = arrays["values"]
    if arrays["mask"].shape != values.shape or arrays["status"].shape != values.shape:
        raise StateError("features.npz mask/status shape differs from values", file=str(npz_path))
    return StoredGroup(
        group=str(meta["group"]),
        features=tuple(str(f) for f in arrays["features"]),
        timestamps=arrays["timestamps"].astype("datetime64[us]"),
        assets=tuple(str(a) for a in arrays["assets"]),
        values=values,
        mask=arrays["mask"].astype(bool),
        status=arrays["status"],
        metadata=meta,
    )


def store_groups(root: str | os.PathLike[str], version: str) -> list[str]:
    """Group folders under ``root/version`` that hold metadata and tensor, sorted by name;
    a folder with one but not the other is an error; empty folders are ignored."""
    base = Path(root) / version
    if not base.is_dir():
        raise StateError(
            "feature store version not found",
            file=str(base),
            hint="run `algotrader feature-engineering` first",
        )
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        has = [(d / n).is_file() for n in ("metadata.json", "features.npz")]
        if all(has):
            out.append(d.name)
        elif any(has):
            raise StateError(
                "feature group folder is incomplete", file=str(d), hint="re-run feature-engineering"
            )
    return out


__all__ = [
    "NPZ_KEYS",
    "STORE_FORMAT",
    "VERSION_PACKAGES",
    "StoredGroup",
    "group_metadata",
    "long_table",
    "read_group",
    "store_groups",
    "write_group",
    "write_npz_deterministic",
]
