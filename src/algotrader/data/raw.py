"""The raw bar layout: ``DATA_SOURCE/<asset>/<YYYY>/hist_data_YYYY-MM.csv``.

Each file holds one asset's bars of one calendar month (UTC), columns
``timestamp,open,high,low,close,volume``. Assets are loaded in parallel by a thread pool
(polars releases the GIL) of ``max(1, cpu_count - 1)`` workers capped by the asset count.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> f = root / "EURUSD" / "2024" / "hist_data_2024-01.csv"
    >>> f.parent.mkdir(parents=True)
    >>> _ = f.write_text("timestamp,open,high,low,close,volume\\n"
    ...                  "2024-01-02T09:00:00Z,1.1,1.2,1.0,1.15,10\\n")
    >>> list_raw_assets(root)
    ['EURUSD']
    >>> read_raw_layout(root, start="2024-01").select("asset", "close").rows()
    [('EURUSD', 1.15)]
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from algotrader.data.frames import to_bars
from algotrader.data.schema import BAR_COLUMNS, FILE_COL, ROW_COL, empty_bars, require_columns
from algotrader.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^hist_data_(\d{4})-(\d{2})\.csv$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, *, key: str = "start") -> int:
    """Parse ``YYYY-MM`` into a month index ``year * 12 + month - 1``.

    Example:
        >>> parse_month("2024-01") - parse_month("2023-12")
        1
    """
    m = _MONTH_RE.match(text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"invalid month {text!r}", key=key, hint="use YYYY-MM, e.g. 2024-01")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def format_month(index: int) -> str:
    """Inverse of :func:`parse_month`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def n_workers(n_assets: int) -> int:
    """``max(1, cpu_count - 1)`` capped by ``n_assets`` (and at least 1)."""
    return max(1, min(max(1, (os.cpu_count() or 1) - 1), n_assets))


def list_raw_assets(root: str | os.PathLike[str]) -> list[str]:
    """Asset folders under ``root`` (sorted); hidden folders are ignored."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            "data source folder not found",
            file=str(root),
            hint="set DATA_SOURCE to the folder holding <asset>/<YYYY>/hist_data_YYYY-MM.csv",
        )
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def asset_months(root: Path, asset: str) -> dict[int, Path]:
    """Month index -> file for one asset; malformed or misplaced bar files raise."""
    out: dict[int, Path] = {}
    folder = root / asset
    for year_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for f in sorted(year_dir.iterdir()):
            if not f.name.startswith("hist_data_"):
                logger.debug("ignoring non-bar file %s", f)
                continue
            m = _FILE_RE.match(f.name)
            if m is None or not 1 <= int(m.group(2)) <= 12:
                raise DataError(
                    "bar file name is not hist_data_YYYY-MM.csv",
                    file=str(f),
                    hint="rename it to hist_data_YYYY-MM.csv",
                )
            if m.group(1) != year_dir.name:
                raise DataError(
                    f"bar file for {m.group(1)} is in the folder of year {year_dir.name}",
                    file=str(f),
                    hint="move it to <asset>/<YYYY>/ of its year",
                )
            out[int(m.group(1)) * 12 + int(m.group(2)) - 1] = f
    return out


def _month_index(ts: pl.Series) -> np.ndarray:
    return (ts.dt.year().cast(pl.Int32) * 12 + ts.dt.month().cast(pl.Int32) - 1).to_numpy()


def _check_months(
    bars: pl.DataFrame, files: Sequence[Path], months: Sequence[int], counts: Sequence[int]
) -> None:
    """Each bar must fall in the (UTC) month its file is named after.

    ``bars`` is already validated (strictly increasing time), so each file's rows are
    contiguous and checking its first and last row is enough; the offending row is then
    located inside that file only.
    """
    ends = np.cumsum(counts)
    starts = ends - np.asarray(counts)
    nonempty = np.asarray(counts) > 0
    ts = bars["timestamp"]
    first = _month_index(ts.gather(starts[nonempty]))
    last = _month_index(ts.gather(ends[nonempty] - 1))
    expected = np.asarray(months)[nonempty]
    bad = np.flatnonzero((first != expected) | (last != expected))
    if bad.size == 0:
        return
    i = int(np.flatnonzero(nonempty)[bad[0]])
    part = ts.slice(int(starts[i]), int(counts[i]))
    j = int(np.flatnonzero(_month_index(part) != months[i])[0])
    raise DataError(
        f"bar at {part[j]} is outside the month the file is named after",
        file=str(files[i]),
        row=j + 1,
        column="timestamp",
        hint="each hist_data_YYYY-MM.csv holds only bars of that UTC month",
    )


_SCHEMA = {c: (pl.String if c == "timestamp" else pl.Float64) for c in BAR_COLUMNS}


def _read_fast(files: Sequence[Path]) -> tuple[pl.DataFrame, list[int]] | None:
    """Fast path: one multi-file typed scan (polars reads the files in parallel).

    Returns ``None`` when any file has another header or does not parse as numbers, so
    that :func:`_read_slow` can explain the problem precisely.
    """
    expected = ",".join(BAR_COLUMNS)
    for f in files:
        with open(f, encoding="utf-8", newline="") as fh:
            if fh.readline().rstrip("\r\n") != expected:
                return None
    try:
        frame = pl.scan_csv(
            [str(f) for f in files], schema=_SCHEMA, include_file_paths=FILE_COL
        ).collect()
    except pl.exceptions.PolarsError:
        return None
    counts = dict(frame.group_by(FILE_COL).len().iter_rows())
    return frame.drop(FILE_COL), [int(counts.get(str(f), 0)) for f in files]


def _read_slow(files: Sequence[Path]) -> tuple[pl.DataFrame, list[int]]:
    """File by file, all text: precise errors (missing columns, non-numbers) per file."""
    frames = []
    for f in files:
        frame = pl.read_csv(f, infer_schema=False)
        require_columns(frame.columns, BAR_COLUMNS, file=str(f))
        frames.append(frame.select(BAR_COLUMNS))
    return pl.concat(frames, how="vertical"), [f.height for f in frames]


def _provenance(files: Sequence[Path], counts: list[int]) -> tuple[pl.Series, pl.Series]:
    """Per-row file name (an Enum, cheap) and 1-based data row within the file."""
    names = [str(f) for f in files]
    codes = np.repeat(np.arange(len(files), dtype=np.uint32), counts)
    file_col = pl.Series(FILE_COL, names, dtype=pl.Enum(names)).gather(codes)
    starts = np.repeat(np.cumsum([0, *counts[:-1]]), counts)
    rows = np.arange(1, sum(counts) + 1, dtype=np.int64) - starts
    return file_col, pl.Series(ROW_COL, rows)


def read_asset(
    root: Path,
    asset: str,
    months: Sequence[int],
    *,
    tz: str | None = None,
    table: dict[int, Path] | None = None,
) -> pl.DataFrame:
    """Read and validate one asset's monthly files for ``months`` (month indices).

    Provenance (file, row) columns are only built when a check fails, to name the file
    and row in the error; the happy path never pays for them.
    """
    if table is None:
        table = asset_months(root, asset)
    chosen = [m for m in sorted(months) if m in table]
    files = [table[m] for m in chosen]
    if not files:
        return empty_bars()
    fast = _read_fast(files)
    frame, counts = fast if fast is not None else _read_slow(files)
    logger.debug(
        "asset %s: %d files, %d rows (fast=%s)", asset, len(files), frame.height, fast is not None
    )
    try:
        bars = to_bars(frame, asset=asset, tz=tz)
    except DataError:
        file_col, row_col = _provenance(files, counts)
        to_bars(frame.with_columns(file_col, row_col), asset=asset, tz=tz)
        raise  # pragma: no cover - the precise error is raised just above
    _check_months(bars, files, chosen, counts)
    return bars


def read_raw_layout(
    root: str | os.PathLike[str],
    *,
    start: str | None = None,
    end: str | None = None,
    assets: Sequence[str] | None = None,
    tz: str | None = None,
    workers: int | None = None,
    on_asset: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Read the raw layout for ``assets`` and months ``start..end`` (inclusive, ``YYYY-MM``).

    Args:
        root: the ``DATA_SOURCE`` folder.
        start: first month; default the earliest available.
        end: last month; default the latest available.
        assets: asset folder names; default every folder. Unknown names raise.
        tz: zone of naive timestamps (``None`` refuses them).
        workers: thread count; default :func:`n_workers`.
        on_asset: called with each asset name when it is loaded (progress).

    Returns:
        Long bar table sorted by ``(asset, timestamp)``.
    """
    root = Path(root)
    available = list_raw_assets(root)
    chosen = sorted(set(assets)) if assets else available
    unknown = [a for a in chosen if a not in available]
    if unknown:
        raise ConfigError(
            f"unknown asset(s) {', '.join(unknown)} in {root}",
            key="assets",
            hint=f"available: {', '.join(available) or 'none'}",
        )
    if not chosen:
        raise DataError("no asset folders", file=str(root), hint="add <asset>/<YYYY>/ folders")
    months_by_asset = {a: asset_months(root, a) for a in chosen}
    all_months = sorted({m for t in months_by_asset.values() for m in t})
    if not all_months:
        raise DataError("no hist_data_YYYY-MM.csv files", file=str(root))
    lo = parse_month(start, key="start") if start else all_months[0]
    hi = parse_month(end, key="end") if end else all_months[-1]
    if lo > hi:
        raise ConfigError(f"start {format_month(lo)} is after end {format_month(hi)}", key="start")
    wanted = [m for m in all_months if lo <= m <= hi]
    if not wanted:
        raise DataError(
            f"no bar files between {format_month(lo)} and {format_month(hi)}",
            file=str(root),
            hint=f"data covers {format_month(all_months[0])}..{format_month(all_months[-1])}",
        )

    def load(asset: str) -> pl.DataFrame:
        out = read_asset(root, asset, wanted, tz=tz, table=months_by_asset[asset])
        if on_asset is not None:
            on_asset(asset)
        return out

    n = workers or n_workers(len(chosen))
    with ThreadPoolExecutor(max_workers=n) as pool:
        frames = list(pool.map(load, chosen))
    frames = [f for f in frames if f.height]
    if not frames:
        raise DataError("no bars in the selected months", file=str(root))
    # assets in sorted order, each strictly increasing in time: already sorted
    return pl.concat(frames, how="vertical", rechunk=False)


__all__ = [
    "asset_months",
    "format_month",
    "list_raw_assets",
    "n_workers",
    "parse_month",
    "read_asset",
    "read_raw_layout",
]
