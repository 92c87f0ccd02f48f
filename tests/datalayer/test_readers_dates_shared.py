"""``data.readers.check_dates`` delegates to ``data.panel.check_dates``: differential, old vs new.

The reader's own date check as it was before it delegated (copied verbatim below, reduced to
the error it raised) and the new one must name the same file, 1-based data row and column
on generated date columns (plain dates, UTC date-times, date-times in another zone,
duplicates and decreasing steps anywhere), and accept the same columns; ``read_wide`` on
files written from the same columns names the same cell too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algotrader.data.readers import check_dates, read_wide
from algotrader.errors import DataError


def _old_day(value: object) -> str:
    text = str(value)
    return text[:10] if text.endswith(" 00:00:00+00:00") or len(text) == 10 else text


def old_check_dates(dates: pl.Series, *, file: str | None, column: str) -> None:
    """``readers.check_dates`` before the shared validator (verbatim)."""
    if dates.len() < 2:
        return
    phys = dates.to_physical()
    step = (phys.slice(1) - phys.slice(0, phys.len() - 1)).to_numpy()
    bad = (step <= 0).nonzero()[0]
    if not bad.size:
        return
    i = int(bad[0]) + 1
    shown = _old_day(dates[i])
    if step[i - 1] == 0:
        raise DataError(
            f"duplicate date {shown} at row {i + 1} (also at row {i})",
            file=file,
            row=i + 1,
            column=column,
            hint="keep one row per date",
        )
    raise DataError(
        f"date {shown} at row {i + 1} is earlier than {_old_day(dates[i - 1])} at row {i}",
        file=file,
        row=i + 1,
        column=column,
        hint="sort the rows by date (nothing is reordered silently)",
    )


def _where(fn: object, dates: pl.Series) -> tuple[str | None, int | None, str | None] | None:
    try:
        fn(dates, file="w.csv", column="Date")  # type: ignore[operator]
    except DataError as exc:
        return (exc.file, exc.row, exc.column)
    return None


#: day offsets: mostly increasing steps, with repeats (0) and steps back (<0) mixed in
_steps = st.lists(st.sampled_from([1, 1, 1, 2, 3, 0, -1, -5]), min_size=0, max_size=30)


def _series(steps: list[int], kind: str) -> pl.Series:
    day = dt.date(2024, 1, 1)
    days = [day]
    for s in steps:
        days.append(days[-1] + dt.timedelta(days=s))
    if kind == "date":
        return pl.Series("Date", days, dtype=pl.Date)
    stamps = [dt.datetime(d.year, d.month, d.day, 9, 30) for d in days]
    zone = "UTC" if kind == "utc" else "America/New_York"
    return pl.Series("Date", stamps, dtype=pl.Datetime("us")).dt.replace_time_zone(zone)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps, kind=st.sampled_from(["date", "utc", "zoned"]))
def test_same_row_and_column_as_the_old_check(steps: list[int], kind: str) -> None:
    dates = _series(steps, kind)
    old, new = _where(old_check_dates, dates), _where(check_dates, dates)
    assert new == old


def test_generated_cases_include_both_errors() -> None:
    """The strategy above does reach duplicates, steps back and clean columns."""
    assert _where(check_dates, _series([1, 0], "date")) == ("w.csv", 3, "Date")
    assert _where(check_dates, _series([1, 1, -1], "utc")) == ("w.csv", 4, "Date")
    assert _where(check_dates, _series([1, 2, 3], "zoned")) is None


def test_messages_keep_the_old_wording() -> None:
    with pytest.raises(DataError) as info:
        check_dates(_series([1, -5], "date"), file="w.csv", column="Date")
    assert "2023-12-28 at row 3 is earlier than 2024-01-02 at row 2" in info.value.message
    with pytest.raises(DataError) as info:
        check_dates(_series([0], "zoned"), file="w.csv", column="Date")
    # a date-time is shown as the UTC instant it stands for (09:30 New York = 14:30 UTC)
    assert "duplicate date 2024-01-01T14:30:00.000000 at row 2 (also at row 1)" in (
        info.value.message
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_read_wide_names_the_same_cell(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int]
) -> None:
    dates = _series(steps, "date")
    path = Path(tmp_path_factory.mktemp("w")) / "w.csv"
    pl.DataFrame({"Date": dates, "A": [1.0] * dates.len()}).write_csv(path)
    expected = _where(old_check_dates, dates)
    try:
        read_wide(path)
    except DataError as exc:
        assert expected is not None
        assert (exc.row, exc.column, exc.file) == (expected[1], "Date", str(path))
    else:
        assert expected is None
