"""Files in and out of the optimiser: wide CSV/Parquet inputs, position tables, summary.

Inputs: a ``date`` column then one numeric column per asset (``""``, ``NaN``, ``NA`` and
``null`` read as missing; see the NaN policy in :mod:`algotrader.portfolio.frames`). Every
input error names the file, the 1-based data row (row 1 = the first data row below the
header) and the column as written. Outputs in ``out_dir``: ``cash_position``,
``risk_position``, ``vola`` (``date`` + one column per asset) and ``status``
(``date,status,missing_price``: the solve status and the assets without a price on that
row), each as ``.csv`` and ``.parquet``; ``position_currency`` (the cash positions in
currency); and the three files every family writes, from the one evaluation path
(:func:`evaluate_positions`, :func:`algotrader.backtest.evaluate_weights`):
``returns.parquet`` (``date``, ``gross_return``, ``net_return``, ``turnover``, ``costs`` and
the HODL / uniform-HODL / equal-weight benchmarks' returns), ``metrics.json`` (every metric
with its definition and ``periods_per_year``; the manifest is the CLI's), plus
``weights.parquet`` (the realised weights of that backtest) and ``summary.json`` (config,
fingerprint, status counts, missing prices, NAV status, the book's evaluation settings,
``performance`` = the ``metrics.json`` document, signal quality, timings). All writes are
atomic.

The evaluation (the same as the default pipeline's optimiser family): the cash position
decided at the close of row ``t`` becomes the target weight ``cash x position_scale / aum``
of the book's value, traded at the close of ``t + 1`` (``lag = 1``) with
``CostModel(proportional_bps = cost_per_unit x 1e4)``, from ``aum`` in cash. A missing price
is carried forward for the evaluation (the optimiser holds no position there, so it earns
nothing across the gap). A book whose value reaches zero is evaluated up to the row before
(``summary["nav_status"]`` names the row).

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.artifacts import json_ready, package_versions
from algotrader.backtest.costs import CostModel
from algotrader.backtest.evaluate import (
    Evaluation,
    evaluate_weights,
    metrics_document,
    write_evaluation,
)
from algotrader.errors import ConfigError, DataError, ShapeError, data_row
from algotrader.io import write_csv_atomic, write_json_atomic, write_parquet_atomic
from algotrader.portfolio.analytics import filled_prices
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


#: Execution lag of the evaluation: decided at the close of ``t``, traded at ``t + 1``.
EVALUATION_LAG = 1

_NAV_HINT = (
    "position_scale x positions exceed aum: lower position_scale (currency per unit of cash "
    "position) or raise aum"
)


@dataclass(frozen=True)
class PositionsEvaluation:
    """The shared evaluation of a run's cash positions.

    Attributes:
        evaluation: the :class:`~algotrader.backtest.evaluate.Evaluation` (value in
            currency from ``aum``), or None when there is nothing to evaluate (see ``note``).
        weights: ``(T, N)`` target weights handed to the backtest.
        cost_model: the one cost model used.
        nav_status: ``{"status": "ok"}``, or ``nav_crossed_zero`` with the 1-based row and
            date where the book's value first reached zero (the evaluation ends the row
            before).
        unpriced_position_cells: positions on a cell without a price (not taken).
        note: why ``evaluation`` is None, else None.
    """

    evaluation: Evaluation | None
    weights: np.ndarray
    cost_model: CostModel
    nav_status: dict[str, Any]
    unpriced_position_cells: int
    note: str | None = None

    def book(self, cfg: OptimiserConfig) -> dict[str, Any]:
        """How the positions were evaluated (``summary["book"]``): rule, lag, costs, value."""
        ev = self.evaluation
        return {
            "weights": "cash_position x position_scale / aum, of the book's value",
            "lag": EVALUATION_LAG,
            "initial_value": cfg.aum,
            "cost_model": self.cost_model.model_dump(mode="json"),
            "final_value": None if ev is None else float(ev.values[-1]),
            "rows_evaluated": 0 if ev is None else int(ev.values.shape[0]),
            "unpriced_position_cells": self.unpriced_position_cells,
            "note": self.note,
        }


def evaluate_positions(
    tables: PositionTables, prices: np.ndarray, cfg: OptimiserConfig
) -> PositionsEvaluation:
    """Evaluate ``tables.cash`` on ``prices`` (T, N) through the one evaluation path.

    See the module docstring for the rule; the benchmarks are the shared path's (HODL of
    the book's first holdings, uniform HODL, equal weight rebalanced; same lag and costs).
    """
    from algotrader.data.panel import Panel, dates_from_series

    cash = np.asarray(tables.cash, dtype=np.float64)
    px = np.asarray(prices, dtype=np.float64)
    priced = np.isfinite(px) & (px > 0)
    held = np.nan_to_num(cash, nan=0.0) * cfg.position_scale
    unpriced = int(np.sum((held != 0) & ~priced))
    weights = np.where(priced, held, 0.0) / cfg.aum
    model = CostModel(proportional_bps=cfg.cost_per_unit * 1e4)
    ok: dict[str, Any] = {"status": "ok"}

    def empty(note: str, nav: dict[str, Any] = ok) -> PositionsEvaluation:
        logger.warning("optimiser evaluation skipped: %s", note)
        return PositionsEvaluation(None, weights, model, nav, unpriced, note)

    if not tables.dates.dtype.is_temporal():
        return empty(
            f"the date column is {tables.dates.dtype}, not dates: periods_per_year needs a calendar"
        )
    if cash.shape[0] < 2:
        return empty("fewer than two rows: no return to evaluate")
    panel = Panel.from_arrays(
        dates_from_series(tables.dates), tables.assets, filled_prices(px), name="close"
    )
    kw: dict[str, Any] = {"lag": EVALUATION_LAG, "name": "optimiser", "initial_value": cfg.aum}
    try:
        ev = evaluate_weights(panel, weights, model, **kw)
    except DataError as exc:
        if exc.key != "values" or exc.row is None:
            raise
        t = int(exc.row)  # 0-based row where the book's value first reached zero
        nav = {
            "status": "nav_crossed_zero",
            "row": data_row(t),
            "date": str(tables.dates[t]),
            "hint": _NAV_HINT,
        }
        logger.warning("the book's value reaches zero at row %d (%s)", data_row(t), nav["date"])
        if t < 2:
            return empty("the book's value reached zero before a second row", nav)
        ev = evaluate_weights(panel.take(np.arange(t)), weights[:t], model, **kw)
        return PositionsEvaluation(ev, weights, model, nav, unpriced)
    return PositionsEvaluation(ev, weights, model, ok, unpriced)


def run_summary(
    tables: PositionTables,
    prices: np.ndarray,
    mu: np.ndarray,
    cfg: OptimiserConfig,
    evaluated: PositionsEvaluation | None = None,
) -> dict[str, Any]:
    """Status counts, the shared evaluation's metrics document, the NAV status and the
    signal quality of a run (``evaluated`` is computed when not given)."""
    if evaluated is None:
        evaluated = evaluate_positions(tables, prices, cfg)
    quality = SignalQuality.from_series(*information_coefficients(prices, mu, 1))
    ev = evaluated.evaluation
    return {
        "nav_status": evaluated.nav_status,
        "rows": int(tables.cash.shape[0]),
        "assets": list(tables.assets),
        "status_counts": tables.status_counts(),
        "book": evaluated.book(cfg),
        "performance": None if ev is None else metrics_document(ev),
        "signal_quality_h1": quality.__dict__,
    }


@dataclass(frozen=True)
class OptimiseRun:
    """What :func:`run_optimise` wrote: the summary, the position tables and the evaluation."""

    summary: dict[str, Any]
    tables: PositionTables
    evaluated: PositionsEvaluation


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
    """Read inputs, run the optimiser (batch or stream), write every file; the summary."""
    return run_optimise(
        prices_path,
        signal_path,
        config_path,
        out_dir,
        mode=mode,
        warmup_rows=warmup_rows,
        progress=progress,
    ).summary


def run_optimise(
    prices_path: str | Path,
    signal_path: str | Path,
    config_path: str | Path,
    out_dir: str | Path,
    *,
    mode: str = "batch",
    warmup_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> OptimiseRun:
    """:func:`optimise_files` returning the tables and the evaluation too (for the CLI's plot)."""
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
    missing = _report_missing(inputs, str(prices_path))
    elapsed = time.perf_counter() - start
    out = Path(out_dir)
    artifacts = write_tables(tables, out, position_scale=cfg.position_scale)
    t_eval = time.perf_counter()
    evaluated = evaluate_positions(tables, inputs.prices, cfg)
    evaluate_s = time.perf_counter() - t_eval
    ev = evaluated.evaluation
    if ev is not None and ev.backtest is not None:
        artifacts += write_evaluation(out, ev)
        realised = ev.backtest.weights
        frame = pl.DataFrame(
            {
                DATE: tables.dates[: realised.shape[0]],
                **{a: realised[:, j] for j, a in enumerate(tables.assets)},
            }
        )
        artifacts.append(write_parquet_atomic(out / "weights.parquet", frame))
    summary = {
        "position_scale": cfg.position_scale,
        "mode": mode,
        "warmup_rows": warmup_rows,
        "config": cfg.model_dump(mode="json"),
        "config_fingerprint": cfg.fingerprint(),
        "inputs": {"prices": str(prices_path), "signal": str(signal_path)},
        **run_summary(tables, inputs.prices, inputs.mu, cfg, evaluated),
        "missing": missing,
        "timings_s": {"optimise": round(elapsed, 4), "evaluate": round(evaluate_s, 4)},
        "versions": package_versions(only=("python", "algotrader", "numpy", "scipy", "polars")),
        "artifacts": [p.name for p in artifacts],
    }
    summary = json_ready(summary)
    write_json_atomic(out / "summary.json", summary)
    return OptimiseRun(summary, tables, evaluated)


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


__all__ = [
    "EVALUATION_LAG",
    "OptimiseRun",
    "PositionTables",
    "PositionsEvaluation",
    "evaluate_positions",
    "optimise_files",
    "read_frame",
    "run_optimise",
    "run_stream_tables",
    "run_summary",
    "tables_from_result",
    "write_tables",
]
