"""The one time-first panel every family reads: ``(T, A)`` or ``(T, A, F)`` values with a mask.

A :class:`Panel` holds UTC ``dates`` (strictly increasing), ``assets``, float64 ``values`` of
shape (T, A) or (T, A, F), a boolean ``mask`` of the same shape (True = observed and usable)
and, for 3-d panels, the ``features`` names. Arrays are read-only, so a strategy handed a
slice of the past cannot write into it.

NaN policy: where ``mask`` is True the value is finite (checked); where it is False the value
is NaN by convention and must never be read. Nothing is filled.

Causality: ``values[t]`` is information known after the close of ``dates[t]``. Slicing
(:meth:`Panel.take`, :meth:`Panel.until`) never looks past the rows it keeps.

Example:
    >>> import polars as pl, datetime as dt
    >>> df = pl.DataFrame({"date": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
    ...                    "A": [1.0, 2.0], "B": [3.0, None]})
    >>> p = Panel.from_wide(df)
    >>> p.shape, p.assets, p.mask.tolist()
    ((2, 2), ('A', 'B'), [[True, True], [True, False]])
    >>> p.take([1]).values.tolist()
    [[2.0, nan]]
    >>> len(p.content_hash())
    64
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from algotrader.artifacts import ContentHash
from algotrader.errors import DataError, StateError, data_row
from algotrader.io import write_npz_deterministic as _write_npz

__all__ = [
    "Panel",
    "check_cells",
    "check_dates",
    "check_steps",
    "dates_from_series",
    "load_panel_npz",
    "save_panel_npz",
]

_NPZ_KEYS = ("values", "mask", "dates", "assets", "features", "name")
_DATE_COLUMNS = ("date", "timestamp")


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _as_dates(dates: ArrayLike) -> NDArray[np.datetime64]:
    arr = np.asarray(dates)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")
    try:
        return np.asarray(arr, dtype="datetime64[us]")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"panel dates are not datetimes ({exc})", column="date", hint="pass UTC datetimes"
        ) from exc


# ------------------------------------------------------------------ shared validators
# The one place for the row/column checks every table adapter applies (the panel's own
# constructor, ``backtest.tables``, ``portfolio.frames``, ``amm.data``): each finds the first
# offending cell and raises a located error (file, 1-based data row, column as written);
# callers only choose the wording (``what``, message templates).

_DATE_HINT = "sort by date and keep one row per date"


def _date_keys(
    dates: pl.Series | ArrayLike,
) -> tuple[NDArray[Any], NDArray[np.bool_], Callable[[int], str]]:
    """Comparable keys, a null mask and a label per row of a date column."""
    if isinstance(dates, pl.Series):
        series = dates
        null = series.is_null().to_numpy()
        keys = series.to_physical().fill_null(0).to_numpy()
        return keys, null, lambda i: str(series[i])
    arr = np.asarray(dates)
    if arr.dtype.kind == "M":
        null = np.isnat(arr)
        day = arr.astype("datetime64[D]")
        whole_days = bool((arr[~null] == day[~null].astype(arr.dtype)).all())

        def label(i: int) -> str:
            return str(day[i]) if whole_days else str(arr[i])

        return arr.astype("datetime64[us]").astype(np.int64), null, label
    if arr.dtype.kind == "f":
        return arr, np.isnan(arr), lambda i: str(arr[i])
    return arr, np.zeros(arr.shape, dtype=bool), lambda i: str(arr[i])


def check_dates(
    dates: pl.Series | ArrayLike,
    *,
    file: str | None = None,
    column: str = "date",
    what: str | None = None,
    hint: str = _DATE_HINT,
) -> None:
    """No missing date and strictly increasing dates, else a located :class:`DataError`.

    ``dates`` is a polars series (any orderable dtype: the optimiser accepts integer dates)
    or a numpy array. ``what`` ("prices", "weights" ...) is named in the message. The error
    names the 1-based data row of the first offending date and ``column``.

    >>> import numpy as np
    >>> check_dates(np.array(["2024-01-02", "2024-01-02"], "datetime64[D]"), file="p.csv")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: duplicate date 2024-01-02 at row 2 (also at row 1): dates must be strictly increasing [file=p.csv, row=2, column=date] -- fix: sort by date and keep one row per date
    """
    keys, null, label = _date_keys(dates)
    of = f" of the {what}" if what else ""
    if null.any():
        i = int(np.flatnonzero(null)[0])
        raise DataError(
            f"missing date at row {data_row(i)}{of}: the row has a null date",
            file=file,
            row=data_row(i),
            column=column,
            hint="give every row a date",
        )
    if keys.size < 2:
        return
    bad = np.flatnonzero(~(np.diff(keys) > 0))
    if not bad.size:
        return
    i = int(bad[0]) + 1
    if keys[i] == keys[i - 1]:
        message = (
            f"duplicate date {label(i)} at row {data_row(i)}{of} (also at row {data_row(i - 1)})"
            ": dates must be strictly increasing"
        )
    else:
        message = (
            f"{what + ' ' if what else ''}dates are not strictly increasing: {label(i)} at row "
            f"{data_row(i)} is earlier than {label(i - 1)} at row {data_row(i - 1)}"
        )
    raise DataError(message, file=file, row=data_row(i), column=column, hint=hint)


def check_steps(
    keys: ArrayLike,
    step: int,
    *,
    file: str | None = None,
    column: str = "date",
    unit: str = "ms",
    hint: str = "supply a gap-free clock (fill gaps explicitly upstream)",
) -> None:
    """Every step ``keys[t] - keys[t-1]`` equals ``step`` (a gap-free clock), else located.

    The error names the first row (1-based data row) whose step from the row before differs.

    >>> check_steps([0, 60_000, 180_000], 60_000, column="unix")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: unix must increase by 60000 ms per row; row 3 is 120000 ms after row 2 [row=3, column=unix] -- fix: supply a gap-free clock (fill gaps explicitly upstream)
    """
    k = np.asarray(keys, dtype=np.int64)
    steps = np.diff(k)
    bad = np.flatnonzero(steps != step)
    if bad.size:
        row = data_row(int(bad[0]) + 1)
        raise DataError(
            f"{column} must increase by {step} {unit} per row; row {row} is "
            f"{int(steps[bad[0]])} {unit} after row {row - 1}",
            file=file,
            row=row,
            column=column,
            hint=hint,
        )


#: Cell problems :func:`check_cells` knows, in the order a combined check reports them.
CELL_PROBLEMS = ("missing", "infinite", "not_positive")


def _problem_mask(values: NDArray[np.float64], problem: str) -> NDArray[np.bool_]:
    if problem == "missing":
        return np.isnan(values)
    if problem == "infinite":
        return np.isinf(values)
    if problem == "not_positive":
        with np.errstate(invalid="ignore"):
            return np.asarray(values <= 0, dtype=bool)  # (NaN <= 0 is False)
    raise StateError(f"unknown cell problem {problem!r}; use one of {CELL_PROBLEMS}")


def check_cells(
    values: ArrayLike,
    columns: Sequence[str],
    *,
    refuse: Sequence[Sequence[str]],
    messages: Mapping[str, str],
    file: str | None = None,
    hint: str | Mapping[str, str] | None = None,
    where: ArrayLike | None = None,
) -> None:
    """Refuse missing / infinite / non-positive cells of a (T, A) array, located.

    ``refuse`` is a sequence of groups of :data:`CELL_PROBLEMS`; the groups are checked in
    order and, within a group, the first offending cell in row-major order is reported (so
    ``[["missing", "not_positive"]]`` names the earliest bad price whatever its problem,
    ``[["infinite"], ["not_positive"]]`` any infinite cell before any non-positive one).
    ``messages[problem]`` is the message template (``{column}``, ``{row}``, ``{value}``);
    ``hint`` one hint or one per problem; ``where`` restricts the check to those cells.
    The error names ``file``, the 1-based data row and ``columns[j]`` (the header as written).

    >>> import numpy as np
    >>> check_cells(np.array([[1.0], [-2.0]]), ["close_ETH"], refuse=[["not_positive"]],
    ...             messages={"not_positive": "price must be > 0, got {value}"}, file="x.csv")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: price must be > 0, got -2.0 [file=x.csv, row=2, column=close_ETH]
    """
    v = np.asarray(values, dtype=np.float64)
    keep = None if where is None else np.asarray(where, dtype=bool)
    masks: dict[str, NDArray[np.bool_]] = {}
    for group in refuse:
        for g in group:
            if g not in masks:
                masks[g] = _problem_mask(v, g)
        bad = np.zeros(v.shape, dtype=bool)
        for g in group:
            bad |= masks[g]
        if keep is not None:
            bad &= keep
        if not bad.any():
            continue
        r, c = (int(x) for x in np.argwhere(bad)[0])
        problem = next(g for g in group if masks[g][r, c])
        text = messages[problem].format(column=columns[c], row=data_row(r), value=float(v[r, c]))
        why = hint.get(problem) if isinstance(hint, Mapping) else hint
        raise DataError(text, file=file, row=data_row(r), column=columns[c], hint=why)


@dataclass(frozen=True, eq=False)
class Panel:
    """Aligned time x asset (x feature) values with an observation mask.

    Attributes:
        dates: ``datetime64[us]`` array of shape (T,), UTC (naive = UTC), strictly increasing.
        assets: asset names, length A, unique.
        values: float64 array of shape (T, A) or (T, A, F).
        mask: bool array of ``values``' shape; True where the value is observed.
        features: feature names (length F) for a 3-d panel, ``None`` for a 2-d one.
        name: what the values are (``"close"``, ``"returns"``, ``"features"`` ...).
    """

    dates: NDArray[np.datetime64]
    assets: tuple[str, ...]
    values: NDArray[np.float64]
    mask: NDArray[np.bool_]
    features: tuple[str, ...] | None = None
    name: str = "values"

    def __post_init__(self) -> None:
        dates = _as_dates(self.dates)
        values = np.asarray(self.values, dtype=np.float64)
        mask = np.asarray(self.mask, dtype=np.bool_)
        assets = tuple(str(a) for a in self.assets)
        features = None if self.features is None else tuple(str(f) for f in self.features)
        self._check(dates, assets, values, mask, features)
        object.__setattr__(self, "dates", _readonly(dates))
        object.__setattr__(self, "values", _readonly(values))
        object.__setattr__(self, "mask", _readonly(mask))
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "features", features)

    @staticmethod
    def _check(
        dates: NDArray[np.datetime64],
        assets: tuple[str, ...],
        values: NDArray[np.float64],
        mask: NDArray[np.bool_],
        features: tuple[str, ...] | None,
    ) -> None:
        if values.ndim not in (2, 3):
            raise DataError(f"panel values must be (T, A) or (T, A, F), got shape {values.shape}")
        if mask.shape != values.shape:
            raise DataError(f"panel mask shape {mask.shape} != values shape {values.shape}")
        if dates.ndim != 1 or dates.shape[0] != values.shape[0]:
            raise DataError(f"panel has {values.shape[0]} rows but {dates.shape[0]} dates")
        if len(assets) != values.shape[1]:
            raise DataError(f"panel has {values.shape[1]} asset columns but {len(assets)} names")
        if len(set(assets)) != len(assets):
            dup = sorted({a for a in assets if assets.count(a) > 1})
            raise DataError(f"duplicate asset names {dup}", column=dup[0])
        if values.ndim == 3:
            if features is None or len(features) != values.shape[2]:
                raise DataError(
                    f"a 3-d panel needs {values.shape[2]} feature names, got "
                    f"{None if features is None else len(features)}"
                )
            if len(set(features)) != len(features):
                raise DataError("duplicate feature names", key=str(features))
        elif features is not None:
            raise DataError("a 2-d panel takes no feature names")
        check_dates(dates, what="panel", hint="sort the rows and remove duplicate dates")
        flat = values.reshape(values.shape[0], int(np.prod(values.shape[1:])))
        n_feat = 1 if values.ndim == 2 else values.shape[2]
        check_cells(
            flat,
            [a for a in assets for _ in range(n_feat)],
            refuse=[["missing", "infinite"]],
            messages=dict.fromkeys(
                ("missing", "infinite"), "non-finite value {value} marked observed at row {row}"
            ),
            where=mask.reshape(flat.shape),
        )

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The values' shape, (T, A) or (T, A, F)."""
        return tuple(self.values.shape)

    @property
    def n_dates(self) -> int:
        """T, the number of rows."""
        return int(self.values.shape[0])

    @property
    def n_assets(self) -> int:
        """A, the number of assets."""
        return int(self.values.shape[1])

    # -------------------------------------------------------------- constructors
    @classmethod
    def from_arrays(
        cls,
        dates: ArrayLike,
        assets: Sequence[str],
        values: ArrayLike,
        *,
        mask: ArrayLike | None = None,
        features: Sequence[str] | None = None,
        name: str = "values",
    ) -> Panel:
        """Build from arrays; the mask defaults to ``isfinite(values)``."""
        v = np.asarray(values, dtype=np.float64)
        m = np.isfinite(v) if mask is None else np.asarray(mask, dtype=np.bool_)
        v = np.where(m, v, np.nan)
        return cls(
            _as_dates(dates),
            tuple(assets),
            v,
            m,
            None if features is None else tuple(features),
            name,
        )

    @classmethod
    def from_wide(
        cls,
        frame: pl.DataFrame,
        *,
        date_col: str | None = None,
        assets: Sequence[str] | None = None,
        name: str = "values",
        source: str | None = None,
    ) -> Panel:
        """Build a 2-d panel from a wide frame (a date column + one float column per asset).

        ``date_col`` defaults to ``date`` or ``timestamp``, whichever exists. Nulls and NaNs
        become masked entries; timezone-aware dates are converted to UTC.
        """
        col = date_col or next((c for c in _DATE_COLUMNS if c in frame.columns), None)
        if col is None or col not in frame.columns:
            raise DataError(
                "wide table has no date column",
                file=source,
                column=date_col or "date",
                hint="name the first column 'date' or 'timestamp'",
            )
        names = list(assets) if assets is not None else [c for c in frame.columns if c != col]
        missing = [a for a in names if a not in frame.columns]
        if missing:
            raise DataError(
                f"asset column {missing[0]!r} not in table", file=source, column=missing[0]
            )
        for a in names:
            if not frame.schema[a].is_numeric():
                raise DataError(
                    f"asset column {a!r} is {frame.schema[a]}, not numeric", file=source, column=a
                )
        values = (
            frame.select(pl.col(a).cast(pl.Float64) for a in names).to_numpy().astype(np.float64)
            if names
            else np.empty((frame.height, 0))
        )
        return cls.from_arrays(_frame_dates(frame, col), names, values, name=name)

    @classmethod
    def from_long(
        cls,
        frame: pl.DataFrame,
        value_cols: Sequence[str],
        *,
        date_col: str = "timestamp",
        asset_col: str = "asset",
        name: str = "features",
        source: str | None = None,
    ) -> Panel:
        """Build a 3-d panel from a long frame (``date, asset, f1, f2, ...``).

        Every (date, asset) pair may appear at most once; absent pairs are masked.
        """
        for c in (date_col, asset_col, *value_cols):
            if c not in frame.columns:
                raise DataError(f"long table has no column {c!r}", file=source, column=c)
        dup = frame.select(date_col, asset_col).is_duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(
                f"duplicate ({date_col}, {asset_col}) pair",
                file=source,
                row=i + 1,
                column=asset_col,
            )
        dates_all = _frame_dates(frame, date_col)
        dates, t_idx = np.unique(dates_all, return_inverse=True)
        assets, a_idx = np.unique(frame[asset_col].cast(pl.Utf8).to_numpy(), return_inverse=True)
        values = np.full((dates.size, assets.size, len(value_cols)), np.nan)
        block = frame.select(pl.col(c).cast(pl.Float64) for c in value_cols).to_numpy()
        values[t_idx, a_idx, :] = block
        return cls.from_arrays(
            dates, [str(a) for a in assets], values, features=list(value_cols), name=name
        )

    @classmethod
    def from_lake(cls, folder: str | os.PathLike[str], table: str = "returns") -> Panel:
        """Read a wide lake table (``returns``, ...) of a lake version folder as a panel."""
        from algotrader.data.lake import read_lake_table

        frame = read_lake_table(folder, table)
        return cls.from_wide(frame, name=table, source=str(Path(folder) / f"{table}.parquet"))

    # ------------------------------------------------------------------- slicing
    def take(self, rows: ArrayLike) -> Panel:
        """The rows at the integer (or boolean) index ``rows``, in increasing order."""
        idx = np.asarray(rows)
        if idx.dtype == np.bool_:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_dates):
            raise StateError(f"row index out of range 0..{self.n_dates - 1}")
        return Panel(
            self.dates[idx], self.assets, self.values[idx], self.mask[idx], self.features, self.name
        )

    def between(self, start: Any = None, end: Any = None) -> Panel:
        """Rows with ``start <= date <= end`` (either bound may be None)."""
        keep = np.ones(self.n_dates, dtype=bool)
        if start is not None:
            keep &= self.dates >= _to_dt(start)
        if end is not None:
            keep &= self.dates <= _to_dt(end)
        return self.take(keep)

    def until(self, end: Any) -> Panel:
        """Rows dated at or before ``end``: the past as seen at ``end``."""
        return self.between(None, end)

    def select_assets(self, assets: Sequence[str]) -> Panel:
        """The columns of ``assets``, in that order (each must exist)."""
        pos = {a: i for i, a in enumerate(self.assets)}
        bad = [a for a in assets if a not in pos]
        if bad:
            raise DataError(f"asset {bad[0]!r} not in panel", column=bad[0])
        j = [pos[a] for a in assets]
        return Panel(
            self.dates, tuple(assets), self.values[:, j], self.mask[:, j], self.features, self.name
        )

    def select_features(self, features: Sequence[str]) -> Panel:
        """The feature channels named ``features`` of a 3-d panel, in that order."""
        if self.features is None:
            raise StateError("a 2-d panel has no features")
        pos = {f: i for i, f in enumerate(self.features)}
        bad = [f for f in features if f not in pos]
        if bad:
            raise DataError(f"feature {bad[0]!r} not in panel", key=bad[0])
        k = [pos[f] for f in features]
        return Panel(
            self.dates,
            self.assets,
            self.values[:, :, k],
            self.mask[:, :, k],
            tuple(features),
            self.name,
        )

    # -------------------------------------------------------------------- output
    def to_wide(self, date_col: str = "date") -> pl.DataFrame:
        """A 2-d panel as a wide polars frame (masked entries null), dates in UTC."""
        if self.values.ndim != 2:
            raise StateError("to_wide needs a 2-d panel")
        cols: dict[str, Any] = {
            date_col: pl.Series(self.dates).dt.replace_time_zone("UTC"),
        }
        for j, a in enumerate(self.assets):
            cols[a] = pl.Series(a, self.values[:, j]).fill_nan(None)
        return pl.DataFrame(cols)

    def content_hash(self) -> str:
        """SHA-256 of the panel's content (dates, names, values, mask); stable across runs
        (:class:`algotrader.artifacts.ContentHash`)."""
        h = ContentHash(self.name)
        h.update("\0".join(self.assets)).update(b"|")
        h.update("\0".join(self.features or ()))
        h.update(str(self.values.shape))
        h.array(self.dates.astype("datetime64[us]").astype(np.int64))
        h.array(np.where(self.mask, self.values, 0.0))
        h.array(np.packbits(self.mask))
        return h.hexdigest()

    def save_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``path`` atomically; see :func:`save_panel_npz`."""
        return save_panel_npz(path, self)


def _frame_dates(frame: pl.DataFrame, col: str) -> NDArray[np.datetime64]:
    s = frame[col]
    if s.dtype == pl.Date:
        s = s.cast(pl.Datetime("us"))
    elif isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is not None:
            s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        s = s.dt.cast_time_unit("us")
    else:
        raise DataError(f"column {col!r} is {s.dtype}, not a date", column=col)
    if s.null_count():
        i = int(np.flatnonzero(s.is_null().to_numpy())[0])
        raise DataError("missing date", row=i + 1, column=col)
    return s.to_numpy().astype("datetime64[us]")


def dates_from_series(dates: pl.Series, *, file: str | None = None) -> NDArray[np.datetime64]:
    """A polars ``Date``/``Datetime`` series as the panel's ``datetime64[us]`` UTC dates.

    Timezone-aware datetimes are converted to UTC (naive ones are taken as UTC). The
    adapters (:class:`~algotrader.backtest.tables.WideTable`,
    :class:`~algotrader.portfolio.frames.OptimiserInputs`) use it to hand their dates to
    :meth:`Panel.from_arrays`.

    Raises:
        DataError: the series is not a date type, or a date is missing (``file``, row, column).
    """
    try:
        return _frame_dates(pl.DataFrame({dates.name or "date": dates}), dates.name or "date")
    except DataError as exc:
        raise exc.located(file=file) from exc


def _to_dt(x: Any) -> np.datetime64:
    """A bound (str, date, datetime, numpy datetime; aware datetimes converted to UTC)."""
    if isinstance(x, dt.datetime) and x.tzinfo is not None:
        x = x.astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(x).astype("datetime64[us]")


def save_panel_npz(path: str | os.PathLike[str], panel: Panel) -> Path:
    """Write ``panel`` as an uncompressed ``.npz``, atomically and byte-reproducibly."""
    arrays = {
        "values": panel.values,
        "mask": panel.mask,
        "dates": panel.dates,
        "assets": np.array(panel.assets, dtype=np.str_),
        "features": np.array(panel.features or (), dtype=np.str_),
        "name": np.array(panel.name, dtype=np.str_),
    }
    _write_npz(path, {key: np.asarray(arrays[key]) for key in _NPZ_KEYS})
    return Path(path)


def load_panel_npz(path: str | os.PathLike[str]) -> Panel:
    """Read a panel written by :func:`save_panel_npz` (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _NPZ_KEYS if k not in z.files]
            if missing:
                raise StateError(
                    f"panel archive lacks {missing[0]!r}", file=str(path), key=missing[0]
                )
            values = z["values"]
            features = tuple(str(f) for f in z["features"]) if values.ndim == 3 else None
            return Panel(
                z["dates"],
                tuple(str(a) for a in z["assets"]),
                values,
                z["mask"],
                features,
                str(z["name"]),
            )
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StateError(f"cannot read panel archive ({exc})", file=str(path)) from exc
