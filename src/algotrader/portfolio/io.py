"""Files in and out of the optimiser: wide CSV/Parquet inputs, position tables, summary.

Inputs: a ``date`` column then one numeric column per asset (``""``, ``NaN``, ``NA`` and
``null`` read as missing; see the NaN policy in :mod:`algotrader.portfolio.frames`). Every
input error names the file, the 1-based data row (row 1 = the first data row below the
header) and the column as written. Outputs in ``out_dir``: ``cash_position``,
``risk_position``, ``vola`` (``date`` + one column per asset) and ``status``
(``date,status,missing_price``: the solve status and the assets without a price on that
row), each as ``.csv`` and ``.parquet``, plus ``summary.json`` (config, fingerprint, status
counts, missing prices, performance and signal-quality figures, timings). All writes are
atomic.

Example:
    >>> import numpy as np, polars as pl, tempfile, pathlib
    >>> rng = np.random.default_rng(0)
    >>> px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((40, 2)), axis=0))
    >>> d = pl.date_range(pl.date(2021, 1, 1), pl.date(2021, 2, 9), eager=True)
    >>> prices = pl.DataFrame({"date": d, "A": px[:, 0], "B": px[:, 1]})
    >>> mu = prices.with_columns(pl.lit(1.0).alias("A"), pl.lit(-1.0).alias("B"))
    >>> cfg = OptimiserConfig(vola=5, corr=10, clip=3.0, shrink=0.5, aum=1e6)
    >>> batch = tables_from_result(run_batch(prices, mu, cfg))
    >>> stream = run_stream_tables(prices, mu, cfg, warmup_rows=20)
    >>> bool(np.array_equal(batch.cash, stream.cash, equal_nan=True))
    True
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> sorted(p.name for p in write_tables(batch, out))[:3]
    ['cash_position.csv', 'cash_position.parquet', 'risk_position.csv']
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import ConfigError, DataError, ShapeError, data_row
from algotrader.io import write_csv_atomic, write_json_atomic, write_parquet_atomic
from algotrader.portfolio.analytics import analyse, periods_per_year_from_dates
from algotrader.portfolio.config import OptimiserConfig, load_config
from algotrader.portfolio.engine import OptimiserResult, run_batch
from algotrader.portfolio.frames import (
    DATE,
    OptimiserInputs,
    missing_price_rows,
    missing_summary,
    prepare_inputs,
)
from algotrader.portfolio.signal_quality import SignalQuality, information_coefficients
from algotrader.portfolio.stream import OptimiserStream

logger = logging.getLogger(__name__)

NULL_VALUES = ["", "NaN", "nan", "NA", "null"]


def _check_date_column(frame: pl.DataFrame, file: str) -> None:
    """A null or unparseable date, named by its 1-based data row."""
    dates = frame[DATE]
    if dates.null_count():
        i = int(dates.is_null().arg_true()[0])
        raise DataError(
            f"missing date at row {data_row(i)}",
            file=file,
            row=data_row(i),
            column=DATE,
            hint="give every row a date",
        )
    if dates.dtype == pl.String:  # the CSV reader could not parse every value as a date
        text = dates.str.strip_chars()
        ok = (
            text.str.to_date(strict=False).is_not_null()
            | text.str.to_datetime(strict=False).is_not_null()
        )
        if ok.all():
            raise DataError(
                f"the date column mixes formats (row 1: {dates[0]!r})",
                file=file,
                column=DATE,
                hint="write every date in one format (YYYY-MM-DD or one date-time format)",
            )
        i = int((~ok).arg_true()[0])
        raise DataError(
            f"unparseable date {dates[i]!r} at row {data_row(i)}",
            file=file,
            row=data_row(i),
            column=DATE,
            hint="write ISO dates (YYYY-MM-DD) or date-times, one format in the whole column",
        )


def read_frame(path: str | Path) -> pl.DataFrame:
    """Read a wide ``.csv``/``.csv.gz``/``.parquet`` file (ISO dates parsed).

    Raises:
        DataError: the file is missing, unreadable or of another type; it has no ``date``
            column, a missing or unparseable date (its 1-based data row), or an unsafe
            asset name (see :mod:`algotrader.data.names`). Values are checked by
            :func:`~algotrader.portfolio.frames.prepare_inputs`.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("file not found", file=str(p), hint="check the path")
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pl.read_parquet(p)
        elif name.endswith((".csv", ".csv.gz")):
            frame = pl.read_csv(
                p, try_parse_dates=True, null_values=NULL_VALUES, infer_schema_length=None
            )
        else:
            raise DataError(
                f"unsupported file type {p.suffix!r}", file=str(p), hint="use .csv or .parquet"
            )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read the file: {exc}", file=str(p)) from exc
    if DATE not in frame.columns:
        raise DataError(
            f"no '{DATE}' column (found {frame.columns[:5]})",
            file=str(p),
            column=DATE,
            hint="name the first column 'date'",
        )
    _check_date_column(frame, str(p))
    from algotrader.data.names import check_names  # (algotrader.data is heavy to import)

    check_names([c for c in frame.columns if c != DATE], file=str(p))
    return frame


@dataclass(frozen=True)
class PositionTables:
    """Row outputs of a run: ``cash``/``vola`` (T, N), ``status`` (T,) and, per row, the
    assets without a price (``missing_price``, ``";"``-joined; null when none)."""

    dates: pl.Series
    assets: tuple[str, ...]
    cash: np.ndarray
    vola: np.ndarray
    status: np.ndarray
    missing_price: tuple[str | None, ...] | None = None

    def _frame(self, values: np.ndarray) -> pl.DataFrame:
        cols = {a: values[:, i] for i, a in enumerate(self.assets)}
        return pl.DataFrame({DATE: self.dates, **cols}).with_columns(
            pl.col(self.assets).fill_nan(None)
        )

    def frames(self) -> dict[str, pl.DataFrame]:
        """``cash_position``, ``risk_position``, ``vola`` and ``status`` frames."""
        return {
            "cash_position": self._frame(self.cash),
            "risk_position": self._frame(self.cash * self.vola),
            "vola": self._frame(self.vola),
            "status": self._status_frame(),
        }

    def _status_frame(self) -> pl.DataFrame:
        frame = pl.DataFrame({DATE: self.dates, "status": self.status.astype(str)})
        if self.missing_price is not None:
            frame = frame.with_columns(
                pl.Series("missing_price", list(self.missing_price), dtype=pl.String)
            )
        return frame

    def status_counts(self) -> dict[str, int]:
        """Rows per status."""
        values, counts = np.unique(self.status.astype(str), return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def tables_from_result(result: OptimiserResult) -> PositionTables:
    """The position tables of a batch run."""
    return PositionTables(
        result.inputs.dates,
        result.assets,
        result.cash,
        result.vola,
        result.status,
        tuple(missing_price_rows(result.inputs)),
    )


def run_stream_tables(
    prices: pl.DataFrame,
    mu: pl.DataFrame,
    cfg: OptimiserConfig,
    *,
    warmup_rows: int,
    progress: Callable[[int], None] | None = None,
) -> PositionTables:
    """Rows ``< warmup_rows`` from ``from_warmup`` (batch outputs), later rows from ``step``."""
    inputs = prepare_inputs(prices, mu, max_nan_fraction=cfg.max_nan_fraction)
    t_len = inputs.prices.shape[0]
    if not 1 <= warmup_rows <= t_len:
        raise ShapeError(
            f"warmup_rows must be in [1, {t_len}]; got {warmup_rows}",
            key="warmup_rows",
            hint="pass --warmup-rows between 1 and the number of rows",
        )
    stream, warm = OptimiserStream.from_warmup_with_result(
        prices.head(warmup_rows), mu.head(warmup_rows), cfg
    )
    cash = np.full_like(inputs.prices, np.nan)
    vola = np.full_like(inputs.prices, np.nan)
    status = np.empty(t_len, dtype=object)
    cash[:warmup_rows], vola[:warmup_rows] = warm.cash, warm.vola
    status[:warmup_rows] = warm.status
    for t in range(warmup_rows, t_len):
        out = stream.step(inputs.prices[t], inputs.mu[t], inputs.dates[t])
        cash[t], vola[t], status[t] = out.cash_position, out.vola, str(out.status)
        if progress is not None:
            progress(1)
    return PositionTables(
        inputs.dates, inputs.assets, cash, vola, status, tuple(missing_price_rows(inputs))
    )


def write_tables(
    tables: PositionTables, out_dir: str | Path, *, position_scale: float | None = None
) -> list[Path]:
    """Write the four tables as CSV and Parquet into ``out_dir`` (created if needed).

    With ``position_scale`` also ``position_currency`` (``cash_position x position_scale``,
    currency per asset): the table ``algotrader backtest --positions`` takes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    frames = tables.frames()
    if position_scale is not None:
        frames["position_currency"] = tables._frame(tables.cash * position_scale)
    for name, frame in frames.items():
        paths.append(write_csv_atomic(out / f"{name}.csv", frame))
        paths.append(write_parquet_atomic(out / f"{name}.parquet", frame))
    return paths


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("algotrader", "numpy", "scipy", "polars"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def run_summary(
    tables: PositionTables, prices: np.ndarray, mu: np.ndarray, cfg: OptimiserConfig
) -> dict[str, Any]:
    """Status counts, performance figures (analytics) and signal quality of a run."""
    ppy = periods_per_year_from_dates(tables.dates)
    perf = analyse(
        tables.cash,
        prices,
        aum=cfg.aum,
        position_scale=cfg.position_scale,
        cost_per_unit=cfg.cost_per_unit,
        periods_per_year=ppy,
    )
    quality = SignalQuality.from_series(*information_coefficients(prices, mu, 1))
    nav = np.asarray(perf.nav, dtype=np.float64)
    bad = np.flatnonzero(~(nav > 0))
    nav_status: dict[str, Any] = {"status": "ok"}
    if bad.size:
        first = int(bad[0])
        nav_status = {
            "status": "nav_crossed_zero",
            "row": first + 1,
            "date": str(tables.dates[first]),
            "min_nav": float(np.nanmin(nav)) if np.isfinite(nav).any() else None,
            "hint": "position_scale x positions exceed aum: lower position_scale (currency per "
            "unit of cash position) or raise aum",
        }
    return {
        "nav_status": nav_status,
        "rows": int(tables.cash.shape[0]),
        "assets": list(tables.assets),
        "status_counts": tables.status_counts(),
        "performance": perf.summary,
        "signal_quality_h1": quality.__dict__,
    }


def optimise_files(
    prices_path: str | Path,
    signal_path: str | Path,
    config_path: str | Path,
    out_dir: str | Path,
    *,
    mode: str = "batch",
    warmup_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Read inputs, run the optimiser (batch or stream), write tables and ``summary.json``."""
    start = time.perf_counter()
    cfg = load_config(config_path)
    prices, mu = read_frame(prices_path), read_frame(signal_path)
    # Validate with the files named (the engines re-check the frames without them).
    inputs = prepare_inputs(
        prices,
        mu,
        max_nan_fraction=cfg.max_nan_fraction,
        prices_file=str(prices_path),
        signal_file=str(signal_path),
    )
    if mode in ("batch", "stream") and cfg.warmup_rows >= prices.height:
        raise ConfigError(
            f"the warm-up ({cfg.warmup_rows} rows) covers every one of the {prices.height} "
            f"rows of {prices_path}: no row would get a position",
            file=str(config_path),
            key="corr",
            hint=f"use corr (or the window) below {prices.height}, or give a longer history",
        )
    if mode == "batch":
        result = run_batch(prices, mu, cfg)
        tables = tables_from_result(result)
    elif mode == "stream":
        k = warmup_rows if warmup_rows is not None else cfg.warmup_rows + 1
        tables = run_stream_tables(prices, mu, cfg, warmup_rows=k, progress=progress)
    else:
        raise ShapeError(f"unknown mode {mode!r}", key="mode", hint="use batch or stream")
    p_arr, m_arr = inputs.prices, inputs.mu
    missing = _report_missing(inputs, str(prices_path))
    elapsed = time.perf_counter() - start
    artifacts = write_tables(tables, out_dir, position_scale=cfg.position_scale)
    summary = {
        "position_scale": cfg.position_scale,
        "mode": mode,
        "warmup_rows": warmup_rows,
        "config": cfg.model_dump(mode="json"),
        "config_fingerprint": cfg.fingerprint(),
        "inputs": {"prices": str(prices_path), "signal": str(signal_path)},
        **run_summary(tables, p_arr, m_arr, cfg),
        "missing": missing,
        "timings_s": {"optimise": round(elapsed, 4)},
        "versions": _versions(),
        "artifacts": [p.name for p in artifacts],
    }
    summary = _json_safe(summary)
    write_json_atomic(Path(out_dir) / "summary.json", summary)
    return summary


def _report_missing(inputs: OptimiserInputs, file: str) -> dict[str, Any]:
    """The missing-price summary of a run, and a warning naming the first gap."""
    missing = missing_summary(inputs, file)
    first = missing["first_price"]
    if isinstance(first, dict):
        logger.warning(
            "%d missing prices in %s (%d rows; first: row %d, %s, column %s): those assets "
            "hold no position on that row and the next (see the status table's missing_price)",
            missing["price_cells"],
            file,
            missing["price_rows"],
            first["row"],
            first["date"],
            first["column"],
        )
    return missing


def _json_safe(obj: Any) -> Any:
    """Non-finite floats become None (strict JSON); containers are walked."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


__all__ = [
    "PositionTables",
    "optimise_files",
    "read_frame",
    "run_stream_tables",
    "run_summary",
    "tables_from_result",
    "write_tables",
]
