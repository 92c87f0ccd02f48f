"""The data lake: cleaned tables of one run in ``DATA_LAKE_SOURCE/YYYY-WW/``.

``YYYY-WW`` is the ISO year and week of the last data point. Files (all written atomically;
the same inputs give byte-identical files):

| file | content |
|---|---|
| ``daily_ohlc.csv`` / ``.parquet`` | long daily OHLC (see :mod:`algotrader.data.cleaning`) |
| ``daily_ohlc_meta.json`` | coverage and missing days per asset |
| ``weekly_ohlc.csv`` / ``.parquet`` | long weekly OHLC |
| ``weekly_ohlc_meta.json`` | coverage, missing weeks, weeks without Monday/Friday |
| ``returns.csv`` / ``.parquet`` | wide weekly returns: ``timestamp`` + one column per asset |
| ``return_tensor.npz`` | values (T, A), timestamps, assets, missing mask, return type |
| ``manifest.json`` | :class:`LakeManifest`: options, source description, row counts, every file's SHA-256, ``version_id`` (:func:`algotrader.artifacts.run_id` of the identity and the file hashes) |

CSV timestamps are ISO-8601 UTC (``2024-01-05T21:00:00Z``), empty cells are missing values.

A version is written whole: every file goes into a hidden temporary folder
``.YYYY-WW.<pid>.<random>.tmp`` beside it, which is renamed into place only when
complete, so a reader never sees a folder mixing two runs. ``manifest.json`` lists
the SHA-256 of every file and :func:`read_lake_table` checks it. A folder whose
manifest describes other content (other assets, source or options) is **refused**
unless ``force=True`` (``--force`` on the CLI); re-running the same inputs
replaces it with byte-identical files. Temporary folders and files left by a
killed writer (whose process is gone) are removed by the next write.

``manifest.json`` is a *dataset* manifest (:class:`LakeManifest`), not a
:class:`~algotrader.artifacts.RunManifest`: it describes content only (no host, clock or
package versions), so the same inputs give a byte-identical folder. It goes through the
shared pieces: the typed model (unknown keys refused), :func:`algotrader.artifacts.write_manifest`
(atomic sorted JSON), :func:`algotrader.artifacts.file_hash` and
:func:`algotrader.artifacts.run_id`. Parquet files are :func:`algotrader.io.write_parquet_atomic`'s
(the package's one deterministic layout).

Example:
    >>> import polars as pl, tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> t = [datetime(2024, 1, d, 15, tzinfo=timezone.utc) for d in (1, 8, 15)]
    >>> bars = pl.DataFrame({"timestamp": t, "asset": "A", "open": [1.0, 2, 4],
    ...     "high": [1.0, 2, 4], "low": [1.0, 2, 4], "close": [1.0, 2, 4], "volume": 1.0})
    >>> result = clean_bars(bars)
    >>> folder = write_lake(result, pathlib.Path(tempfile.mkdtemp()))
    >>> folder.name, result.returns["A"].to_list()
    ('2024-03', [1.0, 1.0])
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algotrader.artifacts import file_hash, json_ready, run_id, write_manifest
from algotrader.data.cleaning import ReturnType, daily_ohlc, weekly_ohlc, weekly_returns
from algotrader.data.meta import ISO_FORMAT, daily_meta, weekly_meta
from algotrader.data.tensor import ReturnTensor, save_return_tensor, tensor_from_returns
from algotrader.errors import DataError, StateError
from algotrader.io import ROW_GROUP_SIZE, write_csv_atomic, write_json_atomic, write_parquet_atomic

logger = logging.getLogger(__name__)

LAKE_VERSION = 1
_WEEK_DIR = re.compile(r"^\d{4}-\d{2}$")
_TMP_DIR = re.compile(r"^\.(\d{4}-\d{2})\.(\d+)\.[0-9a-f]+(\.old)?\.tmp$")
#: Manifest keys that identify a version's content (a folder differing in one is refused).
_IDENTITY_KEYS = ("lake_version", "return_type", "source", "assets")


@dataclass(frozen=True)
class CleanResult:
    """Everything one cleaning run produces (in memory)."""

    daily: pl.DataFrame
    daily_meta: dict[str, Any]
    weekly: pl.DataFrame
    weekly_meta: dict[str, Any]
    returns: pl.DataFrame
    tensor: ReturnTensor
    return_type: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def week_label(self) -> str:
        """ISO ``YYYY-WW`` of the last data point."""
        last = self.weekly["timestamp"].max()
        year, week, _ = last.isocalendar()  # type: ignore[union-attr]
        return f"{year:04d}-{week:02d}"


def clean_bars(
    bars: pl.DataFrame, *, return_type: ReturnType = "simple", source: dict[str, Any] | None = None
) -> CleanResult:
    """Clean a validated long bar table into daily/weekly OHLC, returns and the tensor.

    Args:
        bars: long bar table sorted by ``(asset, timestamp)`` (a reader's output), n rows.
        return_type: ``"simple"`` or ``"log"``.
        source: JSON-able description of where the bars came from (for the manifest).
    """
    if bars.is_empty():
        raise DataError(
            "no bars to clean", hint="check the input selection (--start/--end/--assets)"
        )
    daily = daily_ohlc(bars)
    if daily.is_empty():
        raise DataError("no weekday bars to clean", hint="the input holds only weekend bars")
    weekly = weekly_ohlc(daily)
    returns = weekly_returns(weekly, return_type)
    tensor = tensor_from_returns(returns, return_type)
    manifest = {
        "lake_version": LAKE_VERSION,
        "return_type": return_type,
        "source": source or {},
        "assets": sorted(bars["asset"].unique().to_list()),
        "rows": {
            "bars": bars.height,
            "daily_ohlc": daily.height,
            "weekly_ohlc": weekly.height,
            "returns": returns.height,
        },
    }
    return CleanResult(
        daily=daily,
        daily_meta=daily_meta(bars, daily),
        weekly=weekly,
        weekly_meta=weekly_meta(weekly),
        returns=returns,
        tensor=tensor,
        return_type=return_type,
        manifest=manifest,
    )


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as ISO-8601 UTC strings, dates as ISO dates."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(ISO_FORMAT), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


def write_parquet_deterministic(path: str | os.PathLike[str], frame: pl.DataFrame) -> Path:
    """Write ``frame`` as Parquet atomically with a layout fixed by the data alone (zstd,
    :data:`ROW_GROUP_SIZE`-row groups): :func:`algotrader.io.write_parquet_atomic`."""
    return write_parquet_atomic(path, frame)


def write_table(folder: Path, name: str, frame: pl.DataFrame) -> list[Path]:
    """Write ``name.csv`` and ``name.parquet`` atomically (deterministic bytes)."""
    return [
        write_csv_atomic(folder / f"{name}.csv", _csv_ready(frame)),
        write_parquet_deterministic(folder / f"{name}.parquet", frame),
    ]


class LakeManifest(BaseModel):
    """``manifest.json`` of a lake version: a dataset manifest (content only, reproducible).

    Written by :func:`write_lake` through :func:`algotrader.artifacts.write_manifest`; read
    back with :meth:`read`. ``files`` and ``version_id`` are absent from folders written
    before they existed (read as ``{}`` / ``None``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lake_version: int
    return_type: str
    source: dict[str, Any] = Field(default_factory=dict, description="where the bars came from")
    assets: list[str]
    rows: dict[str, int] = Field(default_factory=dict, description="table -> row count")
    files: dict[str, str] = Field(default_factory=dict, description="file name -> SHA-256")
    version_id: str | None = Field(
        default=None, description="artifacts.run_id of the identity and the file hashes"
    )

    def identity(self) -> dict[str, Any]:
        """What identifies the version's content (a folder differing here is refused)."""
        return _identity(self.model_dump(mode="json"))

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> LakeManifest:
        """The manifest of a version folder.

        Raises:
            StateError: missing, not JSON, or not a lake manifest (the key is named).
        """
        path = Path(folder) / "manifest.json"
        try:
            return cls.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise StateError(
                f"lake manifest unreadable: {exc}",
                file=str(path),
                hint="re-run data-cleaning for this folder",
            ) from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or None
            what = "unreadable" if err["type"] == "json_invalid" else "invalid"
            raise StateError(
                f"lake manifest {what}: {err['msg']}",
                file=str(path),
                key=key,
                hint="re-run data-cleaning for this folder",
            ) from exc


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(root: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary lake folders/files left by writers that no longer run.

    Hidden ``.YYYY-WW.<pid>.<hex>.tmp`` folders of a dead process under ``root`` and
    ``.*.tmp`` files inside the version folders are removed; returns what was removed.
    """
    root = Path(root)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        match = _TMP_DIR.match(entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        elif entry.is_dir() and _WEEK_DIR.match(entry.name):
            for tmp in entry.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    for path in removed:
        logger.warning("removed stale temporary lake entry %s", path)
    return removed


def _identity(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: manifest.get(k) for k in _IDENTITY_KEYS}


def _check_replace(folder: Path, manifest: dict[str, Any], force: bool) -> None:
    if not folder.exists() or force:
        return
    try:
        old: dict[str, Any] | None = LakeManifest.read(folder).model_dump(mode="json")
    except StateError:
        old = None
    if old is not None and _identity(old) == _identity(manifest):
        return
    what = "a folder without a readable manifest"
    if old is not None:
        diff = [k for k in _IDENTITY_KEYS if old.get(k) != manifest.get(k)]
        what = f"another version (differs in {', '.join(diff)}; assets {old.get('assets')})"
    raise StateError(
        f"lake folder {folder.name} already holds {what}",
        file=str(folder),
        hint="use another --lake root for this dataset, or pass --force to replace it",
    )


def write_lake(result: CleanResult, root: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``result`` into ``root/YYYY-WW/`` whole and return that folder.

    Raises:
        StateError: the folder exists with a manifest describing other content and
            ``force`` is false.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(root)
    folder = root / result.week_label
    _check_replace(folder, result.manifest, force)
    tag = f"{os.getpid()}.{secrets.token_hex(4)}"
    tmp = root / f".{result.week_label}.{tag}.tmp"
    tmp.mkdir()
    try:
        paths = write_table(tmp, "daily_ohlc", result.daily)
        paths += write_table(tmp, "weekly_ohlc", result.weekly)
        paths += write_table(tmp, "returns", result.returns)
        paths.append(write_json_atomic(tmp / "daily_ohlc_meta.json", result.daily_meta))
        paths.append(write_json_atomic(tmp / "weekly_ohlc_meta.json", result.weekly_meta))
        paths.append(save_return_tensor(tmp / "return_tensor.npz", result.tensor))
        files = {p.name: file_hash(p) for p in sorted(paths)}
        # the version's id: artifacts.run_id of what identifies it and of every file's hash
        version_id = run_id(_identity(result.manifest), files, length=16)
        manifest = LakeManifest.model_validate(
            json_ready({**result.manifest, "files": files, "version_id": version_id})
        )
        write_manifest(tmp, manifest, "manifest.json")
        if folder.exists():
            old = root / f".{result.week_label}.{tag}.old.tmp"
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %d lake files to %s", len(paths) + 1, folder)
    return folder


def latest_lake(root: str | os.PathLike[str]) -> Path:
    """The ``YYYY-WW`` folder under ``root`` with the latest label."""
    root = Path(root)
    folders = sorted(p for p in root.glob("*") if p.is_dir() and _WEEK_DIR.match(p.name))
    if not folders:
        raise DataError(
            "no data lake folder (YYYY-WW)",
            file=str(root),
            hint="run `algotrader data-cleaning --start YYYY-MM` first",
        )
    return folders[-1]


def read_lake_table(folder: str | os.PathLike[str], name: str) -> pl.DataFrame:
    """Read ``name`` (``daily_ohlc``, ``weekly_ohlc`` or ``returns``) from its Parquet twin."""
    path = Path(folder) / f"{name}.parquet"
    if not path.is_file():
        raise DataError(f"lake table {name} not found", file=str(path), hint="re-run data-cleaning")
    verify_lake_file(path)
    return pl.read_parquet(path)


def verify_lake_file(path: str | os.PathLike[str]) -> None:
    """Check ``path`` against the SHA-256 its folder's manifest lists (if it lists one).

    Raises:
        StateError: the file differs from the manifest (a mixed or tampered folder).
    """
    path = Path(path)
    want = LakeManifest.read(path.parent).files.get(path.name)
    if want is not None and file_hash(path) != want:
        raise StateError(
            "lake file does not match its manifest (folder mixes two runs)",
            file=str(path),
            hint="re-run data-cleaning with --force for this folder",
        )


__all__ = [
    "LAKE_VERSION",
    "ROW_GROUP_SIZE",
    "CleanResult",
    "LakeManifest",
    "clean_bars",
    "clean_stale_tmp",
    "latest_lake",
    "read_lake_table",
    "verify_lake_file",
    "write_lake",
    "write_parquet_deterministic",
    "write_table",
]
