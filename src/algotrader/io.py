"""Atomic file writes shared by every artifact writer: the package's one writer per format.

A write goes to a temporary file in the destination folder and is renamed
over the target only once complete, so a crash never leaves a half-written
file that a later run would trust. The same content gives the same bytes:
JSON with sorted keys, Parquet in a layout fixed by the data alone
(:func:`write_parquet_atomic`), ``.npz`` with fixed entry times
(:func:`write_npz_deterministic`). :mod:`algotrader.artifacts` re-exports them;
``tests/core/test_artifacts_single_source.py`` checks that no other module writes
Parquet or ``.npz`` itself.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> p = write_json_atomic(d / "x.json", {"a": 1})
    >>> json.loads(p.read_text())
    {'a': 1}
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the artifact the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_with(target: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return _write_with(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    return _write_with(target, lambda p: p.write_bytes(data))


def write_json_atomic(target: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (sorted keys, so re-runs give identical bytes)."""
    text = json.dumps(obj, indent=indent, sort_keys=True, default=_json_default) + "\n"
    return write_text_atomic(target, text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def write_csv_atomic(target: str | os.PathLike[str], frame: pl.DataFrame) -> Path:
    """Write a polars frame as CSV atomically."""
    return _write_with(target, lambda p: frame.write_csv(p))


#: Rows per Parquet row group: fixed, so a file's layout never depends on threads or chunks.
ROW_GROUP_SIZE = 65_536
ParquetCompression = Literal["zstd", "snappy", "lz4", "gzip", "uncompressed"]


def write_parquet_atomic(
    target: str | os.PathLike[str],
    frame: pl.DataFrame,
    *,
    compression: ParquetCompression = "zstd",
) -> Path:
    """Write a polars frame as Parquet atomically, in a layout fixed by the data alone.

    The frame is made one contiguous chunk and written in row groups of
    :data:`ROW_GROUP_SIZE` rows with column statistics, so the bytes depend neither on how
    polars chunked the frame nor on the thread count (a rerun is byte-identical).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> f = pl.DataFrame({"a": [1, 2]})
        >>> a = write_parquet_atomic(d / "a.parquet", f)
        >>> b = write_parquet_atomic(d / "b.parquet", pl.concat([f[:1], f[1:]], rechunk=False))
        >>> a.read_bytes() == b.read_bytes()
        True
    """
    whole = frame.rechunk()
    return _write_with(
        target,
        lambda p: whole.write_parquet(
            p, compression=compression, statistics=True, row_group_size=ROW_GROUP_SIZE
        ),
    )


def write_npz_atomic(target: str | os.PathLike[str], **arrays: Any) -> Path:
    """Write arrays to an uncompressed ``.npz`` atomically (load with ``allow_pickle=False``).

    Keyword form of :func:`write_npz_deterministic` (same bytes for the same arrays).
    """
    return write_npz_deterministic(target, {k: np.asarray(v) for k, v in arrays.items()})


def write_png_atomic(target: str | os.PathLike[str], figure: Any, *, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    return _write_with(target, lambda p: figure.savefig(p, format="png", dpi=dpi))


__all__ = [
    "ROW_GROUP_SIZE",
    "atomic_path",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_json_atomic",
    "write_npz_atomic",
    "write_npz_deterministic",
    "write_parquet_atomic",
    "write_png_atomic",
    "write_text_atomic",
]


def write_npz_deterministic(
    target: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` atomically and byte-reproducibly.

    Entries are written in the mapping's order with fixed entry times and modes, and no
    pickled objects (load with ``np.load(path, allow_pickle=False)``).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> p = write_npz_deterministic(d / "a.npz", {"x": np.arange(3)})
        >>> np.load(p, allow_pickle=False)["x"].tolist()
        [0, 1, 2]
    """
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            a = np.asarray(arr)
            if a.ndim and not a.flags.c_contiguous:  # (0-d arrays stay 0-d)
                a = np.ascontiguousarray(a)
            header = _io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, np.lib.format.header_data_from_array_1_0(a)
            )
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            # the entry's size known up front (as writestr does: same zip64 choice, same
            # bytes), the array streamed in without an in-memory copy of the whole .npy
            info.file_size = len(header.getvalue()) + a.nbytes
            with zf.open(info, "w") as out:
                np.lib.format.write_array(out, a, allow_pickle=False)
    return Path(target)
