"""Resumable month-by-month downloads into ``DATA_SOURCE/<asset>/<YYYY>/hist_data_YYYY-MM.csv``.

For each instrument and month in ``[start, end]`` the downloader requests the month's bars
(one :class:`~.base.BarRequest` per month, so a failure costs one month), validates them with
our bar schema and writes the file atomically. A month whose file already exists and is
complete is skipped unless ``force``; the month still running (its end is after ``now``) is
always fetched again and marked ``partial``. Transient errors are retried with backoff and
jitter; other errors are recorded for that symbol (auth errors stop the run). An explicit
"no data" answer is recorded as ``no_data`` (no file is written, nothing is filled).

The download manifest ``DATA_SOURCE/.downloads/<provider>.json`` keeps, per asset and month,
the status, row count, request time and seconds; it is rewritten atomically after every month.
Files are written deterministically (UTC ISO-8601 times, shortest float repr), so a rerun after
an interruption yields byte-identical files.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from algotrader.data.providers.base import (
    BarRequest,
    BarSize,
    NoDataError,
    Provider,
    ProviderAuthError,
)
from algotrader.data.providers.pacing import Clock, SystemClock
from algotrader.data.providers.retry import RetryPolicy, with_retries
from algotrader.data.providers.tickers import Instrument
from algotrader.data.raw import format_month, parse_month
from algotrader.data.schema import validate_bars
from algotrader.errors import ConfigError, DataError, ProviderError
from algotrader.io import write_bytes_atomic, write_json_atomic

__all__ = ["DownloadReport", "MonthResult", "download_history", "month_file", "month_interval"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonthResult:
    """What happened to one (asset, month)."""

    asset: str
    month: str
    status: str  # downloaded | partial | skipped | no_data | failed
    rows: int = 0
    requested_at: str | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class DownloadReport:
    """Every month's result, in order."""

    provider: str
    results: list[MonthResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many months ended with ``status``."""
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[MonthResult]:
        """The failed months."""
        return [r for r in self.results if r.status == "failed"]


def month_interval(month: int) -> tuple[dt.datetime, dt.datetime]:
    """``[first instant, first instant of next month)`` in UTC for a month index."""
    year, mon = divmod(month, 12)
    start = dt.datetime(year, mon + 1, 1, tzinfo=dt.UTC)
    days = calendar.monthrange(year, mon + 1)[1]
    return start, start + dt.timedelta(days=days)


def month_file(root: Path, asset: str, month: int) -> Path:
    """``root/<asset>/<YYYY>/hist_data_YYYY-MM.csv``."""
    label = format_month(month)
    return root / asset / label[:4] / f"hist_data_{label}.csv"


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    out = frame.select(
        pl.col("timestamp").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "open",
        "high",
        "low",
        "close",
        "volume",
    )
    return out.write_csv().encode()


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"months": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"download manifest is unreadable ({exc})",
            file=str(path),
            hint="delete it; completed month files are re-detected",
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("months"), dict):
        raise DataError("download manifest has no 'months' mapping", file=str(path))
    return data


def _complete_file(path: Path, entry: dict[str, Any] | None) -> bool:
    if not path.exists():
        return False
    return entry is None or entry.get("status") == "downloaded"


def download_history(
    provider: Provider,
    instruments: Sequence[Instrument],
    *,
    start: str,
    end: str,
    root: str | Path,
    bar_size: BarSize,
    force: bool = False,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    now: dt.datetime | None = None,
    seed: int = 0,
    on_month: Callable[[MonthResult], None] | None = None,
) -> DownloadReport:
    """Download every (instrument, month) in ``[start, end]`` (``YYYY-MM``) into ``root``.

    Raises:
        ConfigError: ``end`` before ``start``.
        ProviderAuthError: credentials refused (no point trying the other symbols).
    """
    first, last = parse_month(start, key="start"), parse_month(end, key="end")
    if last < first:
        raise ConfigError(f"end {end} is before start {start}", key="end")
    root = Path(root)
    clock = clock or SystemClock()
    now = now or dt.datetime.now(dt.UTC)
    retry = retry or RetryPolicy()
    manifest_path = root / ".downloads" / f"{provider.name}.json"
    manifest = _load_manifest(manifest_path)
    manifest.update(provider=provider.name, bar_size=f"{bar_size.count} {bar_size.unit}")
    report = DownloadReport(provider.name)
    for inst in instruments:
        months = manifest["months"].setdefault(inst.asset, {})
        for m in range(first, last + 1):
            result = _one_month(
                provider, inst, m, root, bar_size, force, retry, clock, now, seed, months
            )
            months[format_month(m)] = {
                k: v for k, v in asdict(result).items() if k not in ("asset", "month")
            }
            write_json_atomic(manifest_path, manifest)
            report.results.append(result)
            if on_month is not None:
                on_month(result)
            if result.status == "failed" and result.error and result.error.startswith("auth:"):
                raise ProviderAuthError(result.error[5:], column=inst.asset)
    return report


def _one_month(
    provider: Provider,
    inst: Instrument,
    m: int,
    root: Path,
    bar_size: BarSize,
    force: bool,
    retry: RetryPolicy,
    clock: Clock,
    now: dt.datetime,
    seed: int,
    months: dict[str, Any],
) -> MonthResult:
    label = format_month(m)
    path = month_file(root, inst.asset, m)
    start, stop = month_interval(m)
    if start >= now:
        return MonthResult(inst.asset, label, "no_data", error="month has not started")
    if not force and _complete_file(path, months.get(label)):
        return MonthResult(
            inst.asset, label, "skipped", rows=int(months.get(label, {}).get("rows", 0))
        )
    request = BarRequest(inst.asset, start, min(stop, now), bar_size, inst.what_to_show)
    t0 = time.perf_counter()
    requested_at = now.isoformat(timespec="seconds")
    try:
        frame = with_retries(
            lambda: provider.fetch_bars(request),
            retry,
            clock=clock,
            seed=seed + m,
            what=f"{provider.name} {inst.asset} {label}",
        )
    except NoDataError as exc:
        return MonthResult(
            inst.asset, label, "no_data", requested_at=requested_at, error=exc.message
        )
    except ProviderAuthError as exc:
        return MonthResult(inst.asset, label, "failed", error=f"auth:{exc.message}")
    except ProviderError as exc:
        logger.error("%s %s: %s", inst.asset, label, exc)
        return MonthResult(
            inst.asset, label, "failed", requested_at=requested_at, error=exc.message
        )
    if frame.height == 0:
        return MonthResult(
            inst.asset, label, "no_data", requested_at=requested_at, error="provider sent no bars"
        )
    validate_bars(frame, file=str(path))
    write_bytes_atomic(path, _csv_bytes(frame))
    status = "partial" if stop > now else "downloaded"
    return MonthResult(
        inst.asset, label, status, frame.height, requested_at, round(time.perf_counter() - t0, 3)
    )
