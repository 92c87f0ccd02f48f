"""Minute prices for the pool simulator: loading, validation and windowing.

Accepted inputs (tokens are always sorted alphabetically):

* one *wide* file (Parquet or CSV): ``unix`` (int, milliseconds since the epoch, UTC)
  plus one ``close_<TOKEN>`` column per token (the reference's ``price_data`` form);
* one file per token (Parquet or CSV) with ``unix`` and ``close`` columns, named
  ``<TOKEN>_USD.<ext>`` or ``<TOKEN>.<ext>`` (the reference's data folder), joined on
  ``unix`` (rows missing from any token are reported, never silently dropped);
* a daily table (a ``date`` column and one column per token, e.g. the bundled
  ``daily_close``) via :func:`daily_to_minutes`: every row (trading day) becomes 1440
  simulated minutes holding that row's close (a step-constant price path) on a
  gap-free *trading-day clock* that starts the day after the first date; with
  weekends/holidays absent the clock's dates run ahead of the calendar.

Validation: token names are safe names (:mod:`algotrader.data.names`: no path separator,
no ``..``, no leading dot), checked before any file name is built from them, so a token
such as ``../SECRET`` can never make the loader look outside its folder; ``unix`` strictly
increasing with 60,000 ms spacing (gap-free minutes), prices finite and positive.
Violations raise :class:`DataError` naming the file, the 1-based data row (row 1 = the
first data row below the header) and the column as written (``close_ETH`` in a wide file,
``close`` in a per-token file, ``unix``).

Windowing (:func:`make_window`, as the reference's loader):

* ``startDateString`` and ``endDateString`` must be minutes present in ``unix``;
* ``end_idx = idx(end) + 1`` (end date inclusive), ``bout_length = end_idx - start_idx``
  and the simulation writes ``bout_length - 1`` rows (the end minute itself is the
  exclusive boundary of the last row);
* burn-in: up to ``ceil(max_memory_days)`` days before the start are kept (fewer if
  the data start later) and the estimators run from the first kept row; the kept
  history starts at a multiple of ``chunk_period`` before ``start_idx`` so chunk
  boundaries stay aligned with the start;
* with ``endTestDateString`` the arrays run to its minute (inclusive) and
  :attr:`Window.test_bout_length` covers ``[end, end_test]``.

Example:
    >>> import numpy as np
    >>> unix = np.arange(5) * 60_000
    >>> check_minutes(unix, "x.csv") is None
    True
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from algotrader.amm.config import RunConfig, parse_date
from algotrader.errors import DataError, SchemaError

if TYPE_CHECKING:
    from algotrader.data.panel import Panel

logger = logging.getLogger(__name__)

MINUTE_MS = 60_000
DAY_MINUTES = 1440


@dataclass(frozen=True)
class PriceData:
    """Gap-free minute prices: ``unix (N,)`` ms, ``prices (N, n)``, sorted ``tokens``.

    A thin use of the shared :class:`~algotrader.data.panel.Panel`: construction builds
    :attr:`panel` (one row per minute, UTC, assets = ``tokens``, name ``"close"``; its
    constructor checks shapes, names and increasing dates) and ``prices`` *is* the panel's
    (read-only) value array, so the simulator reads its prices from the panel. The located
    minute-clock and price checks (:func:`check_minutes`, :func:`check_price_cells`) run on
    the files before construction, naming the columns as written; :meth:`from_panel` goes
    the other way.
    """

    unix: np.ndarray
    prices: np.ndarray
    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        from algotrader.data.panel import Panel  # (algotrader.data is heavy to import)

        unix = np.asarray(self.unix, dtype=np.int64)
        panel = Panel.from_arrays(
            unix.astype("datetime64[ms]"), tuple(self.tokens), self.prices, name="close"
        )
        object.__setattr__(self, "unix", unix)
        object.__setattr__(self, "tokens", panel.assets)
        object.__setattr__(self, "prices", panel.values)
        object.__setattr__(self, "_panel", panel)

    @property
    def panel(self) -> Panel:
        """The prices as a 2-d panel named ``"close"`` (minute dates, UTC)."""
        panel: Panel = self.__dict__["_panel"]
        return panel

    @classmethod
    def from_panel(cls, panel: Panel, *, source: str = "panel") -> PriceData:
        """Minute prices from a 2-d price ``panel`` (assets = tokens, sorted here).

        Raises:
            DataError: the dates are not gap-free minutes, or a price is missing,
                non-finite or not positive (row and token named; ``file=source``).
        """
        if panel.values.ndim != 2:
            raise DataError(f"price panel must be 2-d, got shape {panel.shape}", file=source)
        toks = tuple(sorted(panel.assets))
        check_tokens(toks, source)
        sub = panel.select_assets(toks)
        unix = sub.dates.astype("datetime64[ms]").astype(np.int64)
        check_minutes(unix, source, column="date")
        check_price_cells(sub.values, toks, source)
        return cls(unix=unix, prices=sub.values, tokens=toks)


@dataclass(frozen=True)
class Window:
    """A simulation window: kept history ``prices (N, n)`` and where the pool starts."""

    data: PriceData
    start_index: int
    bout_length: int
    test_bout_length: int | None = None

    @property
    def n_steps(self) -> int:
        return self.bout_length - 1

    @property
    def panel(self) -> Panel:
        """The kept history (burn-in included) as a :class:`~algotrader.data.panel.Panel`."""
        return self.data.panel


def _read(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise DataError("price file not found", file=str(path), hint="check the path")
    try:
        if path.suffix == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"cannot read prices: {exc}", file=str(path)) from exc


def check_minutes(unix: np.ndarray, source: str | None, *, column: str = "unix") -> None:
    """Raise :class:`DataError` unless ``unix`` is gap-free minutes (60,000 ms steps).

    The error names the first row (1-based data row) whose step from the row before is
    not one minute (:func:`algotrader.data.panel.check_steps`).
    """
    from algotrader.data.panel import check_steps

    if np.asarray(unix).size < 2:
        raise DataError("need at least two price rows", file=source)
    check_steps(
        unix,
        MINUTE_MS,
        file=source,
        column=column,
        hint="supply gap-free minute bars (fill gaps explicitly upstream)",
    )


def check_price_cells(
    prices: np.ndarray, columns: tuple[str, ...] | list[str], source: str | None
) -> None:
    """Every price finite and > 0; the error names ``columns[j]`` (the header as written).

    The check is :func:`algotrader.data.panel.check_cells` (the first bad cell, row-major).
    """
    from algotrader.data.panel import check_cells

    text = "price must be finite and > 0, got {value} at row {row}"
    check_cells(
        prices,
        columns,
        refuse=[["missing", "infinite", "not_positive"]],
        messages=dict.fromkeys(("missing", "infinite", "not_positive"), text),
        file=source,
        hint="remove or correct the bar",
    )


def check_tokens(tokens: tuple[str, ...] | list[str], source: str | None) -> None:
    """Refuse an unsafe token name (before any path is built from it); ``key=tokens``."""
    from algotrader.data.names import check_name  # (algotrader.data is heavy to import)

    for t in tokens:
        check_name(t, file=source, key="tokens", what="token")


def _frame_to_data(frame: pl.DataFrame, tokens: tuple[str, ...], source: str) -> PriceData:
    if "unix" not in frame.columns:
        raise SchemaError("missing 'unix' column (ms since epoch)", file=source, column="unix")
    missing = [t for t in tokens if f"close_{t}" not in frame.columns]
    if missing:
        raise SchemaError(
            f"missing price columns {[f'close_{t}' for t in missing]}",
            file=source,
            column=f"close_{missing[0]}",
            hint="wide files need one close_<TOKEN> column per token",
        )
    unix = frame["unix"].cast(pl.Int64).to_numpy()
    prices = frame.select([pl.col(f"close_{t}").cast(pl.Float64) for t in tokens]).to_numpy()
    check_minutes(unix, source)
    check_price_cells(prices, [f"close_{t}" for t in tokens], source)
    return PriceData(unix=unix, prices=np.ascontiguousarray(prices), tokens=tokens)


def _token_file(path: Path, tokens: tuple[str, ...]) -> str:
    stem = path.stem.removesuffix("_USD")
    if stem not in tokens:
        raise DataError(
            f"file name does not name a token of {list(tokens)}",
            file=str(path),
            hint="name per-token files <TOKEN>_USD.parquet or <TOKEN>.csv",
        )
    return stem


def load_prices(paths: list[Path] | Path, tokens: tuple[str, ...] | list[str]) -> PriceData:
    """Load minute prices for ``tokens`` from one wide file, per-token files or a folder."""
    toks = tuple(sorted(tokens))
    items = [paths] if isinstance(paths, Path | str) else list(paths)
    items = [Path(p) for p in items]
    check_tokens(toks, ", ".join(str(p) for p in items))
    if len(items) == 1 and items[0].is_dir():
        folder = items[0]
        items = []
        for t in toks:
            found = [
                folder / f"{t}{suffix}"
                for suffix in ("_USD.parquet", "_USD.csv", ".parquet", ".csv")
            ]
            existing = [p for p in found if p.exists()]
            if not existing:
                raise DataError(f"no price file for token {t}", file=str(folder), column=t)
            items.append(existing[0])
    if len(items) == 1:
        return _frame_to_data(_read(items[0]), toks, str(items[0]))
    frames: dict[str, pl.DataFrame] = {}
    for path in items:
        token = _token_file(path, toks)
        frame = _read(path)
        for col in ("unix", "close"):
            if col not in frame.columns:
                raise SchemaError(f"missing {col!r} column", file=str(path), column=col)
        # Checked per file, so rows are the file's own rows (the join renumbers them).
        check_minutes(frame["unix"].cast(pl.Int64).to_numpy(), str(path))
        check_price_cells(
            frame.select(pl.col("close").cast(pl.Float64)).to_numpy(), ["close"], str(path)
        )
        frames[token] = frame.select(
            pl.col("unix").cast(pl.Int64), pl.col("close").cast(pl.Float64).alias(f"close_{token}")
        )
    absent = [t for t in toks if t not in frames]
    if absent:
        raise DataError(f"no price file for tokens {absent}", column=absent[0])
    joined = frames[toks[0]]
    for t in toks[1:]:
        joined = joined.join(frames[t], on="unix", how="inner")
    joined = joined.sort("unix")
    lost = max(len(f) for f in frames.values()) - len(joined)
    if lost:
        logger.info("joined per-token files on unix: %d minutes not present in every file", lost)
    return _frame_to_data(joined, toks, ", ".join(str(p) for p in items))


def daily_to_minutes(
    frame: pl.DataFrame, tokens: list[str] | tuple[str, ...], *, file: str | None = None
) -> PriceData:
    """Step-constant minute prices from a daily ``date`` + per-token close table.

    Row ``i`` (its close is known once its day has ended) is held for the 1440 minutes
    of clock day ``i``, the clock starting at the first date + 1 day, 00:00 UTC.
    Missing or non-positive closes raise :class:`DataError` naming ``file``, the 1-based
    data row and the token's column.
    """
    toks = tuple(sorted(tokens))
    check_tokens(toks, file)
    for t in ("date", *toks):
        if t not in frame.columns:
            raise SchemaError(f"missing column {t!r}", file=file, column=t)
    from algotrader.data.panel import check_dates

    days = frame["date"].cast(pl.Date).to_numpy().astype("datetime64[D]")
    check_dates(days, file=file, what="daily closes")
    closes = frame.select([pl.col(t).cast(pl.Float64) for t in toks]).to_numpy()
    check_price_cells(closes, toks, file)
    first_ms = (days[0] + np.timedelta64(1, "D")).astype("datetime64[ms]").astype(np.int64)
    prices = np.repeat(closes, DAY_MINUTES, axis=0)
    unix = first_ms + np.arange(prices.shape[0], dtype=np.int64) * MINUTE_MS
    return PriceData(unix=unix, prices=prices, tokens=toks)


def _date_ms(text: str, key: str) -> int:
    return int(parse_date(text, key).replace(tzinfo=UTC).timestamp() * 1000)


def _index_of(data: PriceData, text: str, key: str) -> int:
    ms = _date_ms(text, key)
    idx = int(np.searchsorted(data.unix, ms))
    if idx >= data.unix.size or data.unix[idx] != ms:
        first = datetime.fromtimestamp(data.unix[0] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        last = datetime.fromtimestamp(data.unix[-1] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        raise DataError(
            f"{key} {text!r} is not a minute of the price data ({first} .. {last})",
            key=key,
            hint="choose dates inside the data",
        )
    return idx


def make_window(data: PriceData, cfg: RunConfig) -> Window:
    """Cut ``data`` to the configured window plus burn-in (see the module docstring)."""
    if tuple(cfg.tokens) != data.tokens:
        raise DataError(
            f"price tokens {list(data.tokens)} differ from config tokens {list(cfg.tokens)}",
            key="tokens",
        )
    start = _index_of(data, cfg.startDateString, "startDateString")
    end_idx = _index_of(data, cfg.endDateString, "endDateString") + 1
    last = end_idx
    test_len = None
    if cfg.endTestDateString is not None:
        last = _index_of(data, cfg.endTestDateString, "endTestDateString") + 1
        test_len = last - (end_idx - 1)
    burn = min(start, math.ceil(cfg.max_memory_days) * DAY_MINUTES)
    first = start - (burn // cfg.chunk_period) * cfg.chunk_period
    if start - first < cfg.chunk_period:
        logger.warning("no burn-in before %s: estimators start cold", cfg.startDateString)
    kept = PriceData(unix=data.unix[first:last], prices=data.prices[first:last], tokens=data.tokens)
    return Window(
        data=kept,
        start_index=start - first,
        bout_length=end_idx - start,
        test_bout_length=test_len,
    )


__all__ = [
    "PriceData",
    "Window",
    "check_minutes",
    "check_price_cells",
    "check_tokens",
    "daily_to_minutes",
    "load_prices",
    "make_window",
]
