"""The lake tables the feature groups read, as aligned numpy arrays.

:class:`LakeInputs` holds the weekly OHLC (T, A) and daily OHLC (D, A) of one data-lake
version, with NaN where the lake has no bar (nothing filled), the weekly labels
``timestamps`` (the lake's week label tau_t, UTC), the Monday of each week, the daily
dates and, for each daily row, the index of its week.

Example:
    >>> import numpy as np
    >>> x = synthetic_inputs(n_weeks=3, n_assets=2, seed=0)
    >>> x.weekly_close.shape, x.daily_close.shape, x.day_week[:6].tolist()
    ((3, 2), (15, 2), [0, 0, 0, 0, 0, 1])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from algotrader.artifacts import ContentHash
from algotrader.errors import DataError

F64 = NDArray[np.float64]
LAKE_TABLES: tuple[str, ...] = ("daily_ohlc", "weekly_ohlc")


@dataclass(frozen=True, eq=False)
class LakeInputs:
    """Weekly and daily OHLC of one lake version as arrays.

    Attributes:
        timestamps: ``datetime64[us]`` (T,), the lake's weekly labels (UTC).
        week_start: ``datetime64[D]`` (T,), the Monday of each week.
        assets: asset names (A,), sorted.
        weekly_open, weekly_high, weekly_low, weekly_close: float64 (T, A), NaN = no bar.
        days: ``datetime64[D]`` (D,), weekday dates of the daily table.
        day_week: int64 (D,), index into the weeks of each daily row.
        daily_open, daily_high, daily_low, daily_close: float64 (D, A), NaN = no bar.
        version: the lake version label (``YYYY-WW``) or ``"memory"``.
        lake_hash: SHA-256 of the lake tables read (``""`` for in-memory inputs).
    """

    timestamps: NDArray[np.datetime64]
    week_start: NDArray[np.datetime64]
    assets: tuple[str, ...]
    weekly_open: F64
    weekly_high: F64
    weekly_low: F64
    weekly_close: F64
    days: NDArray[np.datetime64]
    day_week: NDArray[np.int64]
    daily_open: F64
    daily_high: F64
    daily_low: F64
    daily_close: F64
    version: str = "memory"
    lake_hash: str = ""

    @property
    def n_weeks(self) -> int:
        """T."""
        return int(self.timestamps.shape[0])

    @property
    def n_assets(self) -> int:
        """A."""
        return len(self.assets)


def _grid(frame: pl.DataFrame, period: str, source: str) -> tuple[pl.DataFrame, list[str], int]:
    frame = frame.sort(period, "asset")
    assets = sorted(frame["asset"].unique().to_list())
    n_periods = frame[period].n_unique()
    if frame.height != n_periods * len(assets):
        raise DataError(
            f"lake table is not a complete {period} x asset grid "
            f"({frame.height} rows for {n_periods} periods x {len(assets)} assets)",
            file=source,
            hint="re-run data-cleaning; lake tables keep one row per period and asset",
        )
    return frame, assets, n_periods


def _block(frame: pl.DataFrame, col: str, n: int, a: int) -> F64:
    return np.ascontiguousarray(
        frame[col].cast(pl.Float64).fill_null(np.nan).to_numpy().reshape(n, a), dtype=np.float64
    )


def inputs_from_frames(
    daily: pl.DataFrame,
    weekly: pl.DataFrame,
    *,
    version: str = "memory",
    lake_hash: str = "",
    source: str = "lake",
) -> LakeInputs:
    """Arrays from the lake's long daily and weekly tables (see ``algotrader.data.cleaning``)."""
    for name, frame, period in (
        ("weekly_ohlc", weekly, "week_start"),
        ("daily_ohlc", daily, "date"),
    ):
        need = {"timestamp", period, "asset", "open", "high", "low", "close"}
        missing = sorted(need - set(frame.columns))
        if missing:
            raise DataError(
                f"lake table {name} lacks column {missing[0]!r}",
                file=f"{source}/{name}",
                column=missing[0],
                hint="re-run data-cleaning",
            )
    weekly, assets, n_w = _grid(weekly, "week_start", f"{source}/weekly_ohlc")
    daily, d_assets, n_d = _grid(daily, "date", f"{source}/daily_ohlc")
    if d_assets != assets:
        raise DataError(
            "daily and weekly lake tables have different assets",
            file=source,
            column=str(sorted(set(assets) ^ set(d_assets))[:3]),
        )
    a = len(assets)
    wk = weekly.select("timestamp", "week_start").unique(maintain_order=True)
    ts = wk["timestamp"]
    if isinstance(ts.dtype, pl.Datetime) and ts.dtype.time_zone is not None:
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    timestamps = ts.dt.cast_time_unit("us").to_numpy().astype("datetime64[us]")
    week_start = wk["week_start"].to_numpy().astype("datetime64[D]")
    days = daily["date"].unique(maintain_order=True).to_numpy().astype("datetime64[D]")
    monday = days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    day_week = np.searchsorted(week_start, monday).astype(np.int64)
    if days.size and (
        day_week.max() >= week_start.size
        or (week_start[np.minimum(day_week, n_w - 1)] != monday).any()
    ):
        raise DataError("daily rows fall in weeks absent from the weekly table", file=source)
    return LakeInputs(
        timestamps=timestamps,
        week_start=week_start,
        assets=tuple(assets),
        weekly_open=_block(weekly, "open", n_w, a),
        weekly_high=_block(weekly, "high", n_w, a),
        weekly_low=_block(weekly, "low", n_w, a),
        weekly_close=_block(weekly, "close", n_w, a),
        days=days,
        day_week=day_week,
        daily_open=_block(daily, "open", n_d, a),
        daily_high=_block(daily, "high", n_d, a),
        daily_low=_block(daily, "low", n_d, a),
        daily_close=_block(daily, "close", n_d, a),
        version=version,
        lake_hash=lake_hash,
    )


def lake_hash(folder: str | os.PathLike[str]) -> str:
    """SHA-256 over the Parquet lake tables the features read (name + NUL + bytes, in
    :data:`LAKE_TABLES` order; :class:`algotrader.artifacts.ContentHash`)."""
    h = ContentHash()
    for name in LAKE_TABLES:
        h.update(name.encode() + b"\0").file(Path(folder) / f"{name}.parquet")
    return h.hexdigest()


def load_lake_inputs(folder: str | os.PathLike[str]) -> LakeInputs:
    """Read ``daily_ohlc`` and ``weekly_ohlc`` of a lake version folder ``DATA_LAKE/YYYY-WW``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            "data lake version folder not found",
            file=str(folder),
            hint="run `algotrader data-cleaning` first or pass --version of an existing lake",
        )
    for name in LAKE_TABLES:
        if not (folder / f"{name}.parquet").is_file():
            raise DataError(
                f"lake table {name} not found",
                file=str(folder / f"{name}.parquet"),
                hint="re-run data-cleaning",
            )
    daily = pl.read_parquet(folder / "daily_ohlc.parquet")
    weekly = pl.read_parquet(folder / "weekly_ohlc.parquet")
    return inputs_from_frames(
        daily, weekly, version=folder.name, lake_hash=lake_hash(folder), source=str(folder)
    )


def synthetic_inputs(
    n_weeks: int, n_assets: int, *, seed: int = 0, vol: float = 0.01
) -> LakeInputs:
    """Seeded random-walk OHLC: 5 weekdays per week, no gaps (tests and benchmarks)."""
    rng = np.random.default_rng(seed)
    d = n_weeks * 5
    r = rng.normal(0.0002, vol, size=(d, n_assets))
    close = 100.0 * np.exp(np.cumsum(r, axis=0))
    open_ = close * np.exp(rng.normal(0, vol / 3, size=close.shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, size=close.shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, size=close.shape)))
    return inputs_from_arrays(
        open_, high, low, close, assets=[f"A{i:03d}" for i in range(n_assets)]
    )


def inputs_from_arrays(
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    *,
    assets: list[str] | None = None,
    start: str = "2000-01-03",
) -> LakeInputs:
    """Inputs from daily OHLC arrays of shape (D, A), D a multiple of 5 (Mon..Fri per week);
    weekly bars are aggregated as the lake does (first open, max high, min low, last close
    over the week's days with a bar)."""
    d, n_assets = close.shape
    if d % 5:
        raise DataError(f"daily rows ({d}) must be whole weeks of 5 weekdays")
    n_weeks = d // 5
    monday0 = np.datetime64(start, "D")
    week_start = monday0 + 7 * np.arange(n_weeks).astype("timedelta64[D]")
    days = (week_start[:, None] + np.arange(5).astype("timedelta64[D]")).ravel()
    day_week = np.repeat(np.arange(n_weeks, dtype=np.int64), 5)
    valid = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)

    def agg(x: F64, how: str) -> F64:
        blk = np.where(valid, x, np.nan).reshape(n_weeks, 5, n_assets)
        ok = valid.reshape(n_weeks, 5, n_assets)
        out = np.full((n_weeks, n_assets), np.nan)
        anyv = ok.any(axis=1)
        if how == "first":
            idx = np.argmax(ok, axis=1)
        elif how == "last":
            idx = 4 - np.argmax(ok[:, ::-1, :], axis=1)
        else:
            with np.errstate(all="ignore"):
                red = np.nanmax(blk, axis=1) if how == "max" else np.nanmin(blk, axis=1)
            return np.where(anyv, red, np.nan)
        vals = np.take_along_axis(blk, idx[:, None, :], axis=1)[:, 0, :]
        out[anyv] = vals[anyv]
        return out

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wo, wh, wl, wc = agg(open_, "first"), agg(high, "max"), agg(low, "min"), agg(close, "last")
    stamps = (days.astype("datetime64[us]") + np.timedelta64(21, "h")).reshape(n_weeks, 5)[:, -1]
    return LakeInputs(
        timestamps=stamps,
        week_start=week_start,
        assets=tuple(assets or [f"A{i:03d}" for i in range(n_assets)]),
        weekly_open=wo,
        weekly_high=wh,
        weekly_low=wl,
        weekly_close=wc,
        days=days,
        day_week=day_week,
        daily_open=np.where(valid, open_, np.nan).astype(np.float64),
        daily_high=np.where(valid, high, np.nan).astype(np.float64),
        daily_low=np.where(valid, low, np.nan).astype(np.float64),
        daily_close=np.where(valid, close, np.nan).astype(np.float64),
    )


__all__ = [
    "LAKE_TABLES",
    "LakeInputs",
    "inputs_from_arrays",
    "inputs_from_frames",
    "lake_hash",
    "load_lake_inputs",
    "synthetic_inputs",
]
