"""Timestamp parsing: ISO-8601 strings (or datetimes) to UTC ``Datetime("us", "UTC")``.

Rules (the same for every reader):

* strings with a zone offset (``Z``, ``+00:00``, ``-0500`` ...) are converted to UTC;
* naive strings/datetimes are refused with :class:`~algotrader.errors.DataError` unless the
  caller says which zone they are in (``tz="UTC"``, ``tz="America/New_York"`` ...); a naive
  time that does not exist or is ambiguous in that zone (DST) is refused too;
* anything unparseable is refused, naming the (1-based) data row and the column as the
  series is named (``timestamp`` in a long file, the date column of a wide file).

The fast path is Arrow's vectorised ISO-8601 cast; the slower polars path only runs to
locate and explain a failure.

Example:
    >>> import polars as pl
    >>> s = parse_timestamps(pl.Series(["2024-01-02T15:00:00Z", "2024-01-02T16:00:00+01:00"]))
    >>> [str(v) for v in s.to_list()]
    ['2024-01-02 15:00:00+00:00', '2024-01-02 15:00:00+00:00']
    >>> parse_timestamps(pl.Series(["2024-01-02 15:00"]), file="x.csv")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: naive timestamp '2024-01-02 15:00' (no time zone) [file=x.csv, row=1, column=timestamp] -- fix: write timestamps in UTC with an offset (e.g. 2024-01-02T15:00:00Z) or pass the zone they are in (tz=... / --tz)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from algotrader.errors import ConfigError, DataError

UTC_US = pl.Datetime("us", "UTC")

_NAIVE_HINT = (
    "write timestamps in UTC with an offset (e.g. 2024-01-02T15:00:00Z) "
    "or pass the zone they are in (tz=... / --tz)"
)


def check_zone(tz: str) -> str:
    """Return ``tz`` if it is a known IANA zone name, else raise :class:`ConfigError`."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {tz!r}",
            key="tz",
            hint="use an IANA name such as UTC or Europe/London",
        ) from exc
    return tz


def _row_of(mask: pl.Series, rows: pl.Series | None) -> int:
    idx = int(mask.arg_true()[0])
    return int(rows[idx]) if rows is not None else idx + 1


def _file_of(idx_mask: pl.Series, files: pl.Series | None, default: str | None) -> str | None:
    if files is None:
        return default
    return str(files[int(idx_mask.arg_true()[0])])


def _localise(naive: pl.Series, tz: str, ctx: _Where) -> pl.Series:
    """Interpret naive datetimes in ``tz`` and convert to UTC; refuse DST gaps/overlaps."""
    local = naive.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
    bad = local.is_null() & naive.is_not_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise DataError(
            f"timestamp {naive[i]} does not exist or is ambiguous in zone {tz} (DST change)",
            file=ctx.file_at(bad),
            row=ctx.row_at(bad),
            column=ctx.column,
            hint="write timestamps in UTC with an explicit offset",
        )
    return local.dt.convert_time_zone("UTC").cast(UTC_US)


class _Where:
    """Maps positions back to (file, row) for error messages."""

    def __init__(
        self,
        file: str | None,
        files: pl.Series | None,
        rows: pl.Series | None,
        column: str = "timestamp",
    ) -> None:
        self.file = file
        self.files = files
        self.rows = rows
        self.column = column  # the header as written in the file (``date`` in a wide file)

    def file_at(self, mask: pl.Series) -> str | None:
        return _file_of(mask, self.files, self.file)

    def row_at(self, mask: pl.Series) -> int:
        return _row_of(mask, self.rows)


def _parse_naive(values: pl.Series, where: pl.Series) -> pl.Series:
    """Parse the rows flagged by ``where`` as naive datetimes (null where not naive)."""
    out = pl.Series(values.name, [None] * len(values), dtype=pl.Datetime("us"))
    sub = values.filter(where).drop_nulls()
    if sub.is_empty():
        return out
    try:
        parsed = sub.str.to_datetime(strict=False)
    except pl.exceptions.PolarsError:
        return out
    if not isinstance(parsed.dtype, pl.Datetime) or parsed.dtype.time_zone is not None:
        return out
    frame = pl.DataFrame({"v": values}).with_row_index("i")
    idx = frame.filter(where & values.is_not_null())["i"]
    return out.scatter(idx, parsed.cast(pl.Datetime("us")))


_ZONE_RE = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)$"


def _explain_failure(values: pl.Series, tz: str | None, ctx: _Where) -> pl.Series:
    """Slow path: parse with polars, classify each row, raise on the first bad one."""
    has_zone = values.str.contains(_ZONE_RE).fill_null(False)
    aware = pl.Series(values.name, [None] * len(values), dtype=UTC_US)
    if has_zone.any():
        frame = pl.DataFrame({"v": values}).with_row_index("i").filter(has_zone)
        try:
            parsed = frame["v"].str.to_datetime(time_zone="UTC", strict=False).cast(UTC_US)
        except pl.exceptions.PolarsError:
            parsed = pl.Series([None] * frame.height, dtype=UTC_US)
        aware = aware.scatter(frame["i"], parsed)
    naive = _parse_naive(values, ~has_zone)
    unparseable = aware.is_null() & naive.is_null()
    is_naive = naive.is_not_null()
    problem = unparseable | (is_naive if tz is None else pl.Series([False] * len(values)))
    if problem.any():
        i = int(problem.arg_true()[0])
        first = pl.Series([j == i for j in range(len(values))])
        shown = values[i]
        if bool(unparseable[i]):
            raise DataError(
                f"unparseable timestamp {shown!r}" if shown is not None else "empty timestamp",
                file=ctx.file_at(first),
                row=ctx.row_at(first),
                column=ctx.column,
                hint="use ISO-8601 with a UTC offset, e.g. 2024-01-02T15:00:00Z",
            )
        raise DataError(
            f"naive timestamp {shown!r} (no time zone)",
            file=ctx.file_at(first),
            row=ctx.row_at(first),
            column=ctx.column,
            hint=_NAIVE_HINT,
        )
    if is_naive.any():
        assert tz is not None
        localised = _localise(naive, tz, ctx)
        return aware.zip_with(~is_naive, localised)
    return aware


def parse_timestamps(
    values: pl.Series,
    *,
    tz: str | None = None,
    file: str | None = None,
    files: pl.Series | None = None,
    rows: pl.Series | None = None,
) -> pl.Series:
    """Parse ``values`` (strings or datetimes) into a UTC ``Datetime("us", "UTC")`` series.

    Args:
        values: series of shape (n,), strings (ISO-8601) or a polars datetime series.
        tz: IANA zone the *naive* values are in; ``None`` refuses naive values.
        file: file name for error messages.
        files: optional per-row file names (same length), for concatenated inputs.
        rows: optional per-row 1-based data-row numbers; default is the position + 1.

    Returns:
        Series of shape (n,), dtype ``Datetime("us", "UTC")``. Null inputs raise.
    """
    if tz is not None:
        check_zone(tz)
    name = values.name or "timestamp"
    ctx = _Where(file, files, rows, name)
    if values.dtype == pl.Date:
        values = values.cast(pl.Datetime("us"))
        if tz is None:
            tz = "UTC"  # a calendar date carries no zone: stamp it 00:00 UTC
    if isinstance(values.dtype, pl.Datetime):
        if values.null_count():
            nulls = values.is_null()
            raise DataError(
                "empty timestamp",
                file=ctx.file_at(nulls),
                row=ctx.row_at(nulls),
                column=ctx.column,
            )
        if values.dtype.time_zone is not None:
            return values.dt.convert_time_zone("UTC").cast(UTC_US).rename(name)
        if tz is None:
            raise DataError(
                f"naive timestamp {values[0]} (no time zone)",
                file=ctx.file_at(values.is_not_null()),
                row=ctx.row_at(values.is_not_null()),
                column=ctx.column,
                hint=_NAIVE_HINT,
            )
        return _localise(values.cast(pl.Datetime("us")), tz, ctx).rename(name)
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    if values.null_count() == 0:
        try:
            arr = pc.cast(values.to_arrow(), pa.timestamp("us", "UTC"))
            out = pl.Series(name, arr)
            return out.cast(UTC_US)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if tz is not None:
            try:
                arr = pc.cast(values.to_arrow(), pa.timestamp("us"))
                return _localise(pl.Series(name, arr), tz, ctx).rename(name)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    return _explain_failure(values, tz, ctx).rename(name)


__all__ = ["UTC_US", "check_zone", "parse_timestamps"]
