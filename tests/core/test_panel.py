"""Panel: constructors, slicing, read-only arrays, content hash, npz round trips, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algotrader.data.panel import Panel, load_panel_npz, save_panel_npz
from algotrader.errors import DataError, StateError


def _days(n: int) -> np.ndarray:
    return np.datetime64("2024-01-01") + np.arange(n) * np.timedelta64(1, "D")


def _panel(t: int = 5, a: int = 3) -> Panel:
    v = np.arange(t * a, dtype=np.float64).reshape(t, a)
    v[1, 2] = np.nan
    return Panel.from_arrays(_days(t), [f"S{i}" for i in range(a)], v, name="close")


def test_from_arrays_mask_and_shape() -> None:
    p = _panel()
    assert p.shape == (5, 3) and p.n_dates == 5 and p.n_assets == 3
    assert p.mask.sum() == 14 and not p.mask[1, 2]
    assert np.isnan(p.values[1, 2])
    assert p.dates.dtype == np.dtype("datetime64[us]")
    # an explicit mask hides a finite value (it becomes NaN, never read)
    m = np.ones((2, 1), dtype=bool)
    m[0, 0] = False
    q = Panel.from_arrays(_days(2), ["X"], [[5.0], [6.0]], mask=m)
    assert np.isnan(q.values[0, 0]) and q.values[1, 0] == 6.0


def test_arrays_are_read_only_and_input_not_aliased() -> None:
    src = np.ones((3, 2))
    p = Panel.from_arrays(_days(3), ["A", "B"], src)
    for arr in (p.values, p.mask, p.dates):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = arr[1]
    src[0, 0] = 99.0
    assert p.values[0, 0] == 1.0
    with pytest.raises(AttributeError):
        p.name = "other"  # type: ignore[misc]


def test_from_wide_closed_form_and_utc() -> None:
    df = pl.DataFrame(
        {
            "timestamp": [
                dt.datetime(2024, 1, 1, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                dt.datetime(2024, 1, 2, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            ],
            "A": [1.0, None],
            "B": [float("nan"), 4],
        }
    )
    p = Panel.from_wide(df)
    assert p.assets == ("A", "B")
    assert p.mask.tolist() == [[True, False], [False, True]]
    assert str(p.dates[0]) == "2024-01-01T14:00:00.000000"
    back = p.to_wide()
    assert back["date"].dtype == pl.Datetime("us", "UTC")
    assert back["A"].to_list() == [1.0, None] and back["B"].to_list() == [None, 4.0]


def test_from_long_three_d() -> None:
    df = pl.DataFrame(
        {
            "timestamp": [dt.date(2024, 1, 2), dt.date(2024, 1, 1), dt.date(2024, 1, 1)],
            "asset": ["B", "A", "B"],
            "f1": [1.0, 2.0, 3.0],
            "f2": [4.0, 5.0, 6.0],
        }
    )
    p = Panel.from_long(df, ["f1", "f2"])
    assert p.shape == (2, 2, 2) and p.assets == ("A", "B") and p.features == ("f1", "f2")
    assert p.values[0, 0].tolist() == [2.0, 5.0] and p.values[1, 1].tolist() == [1.0, 4.0]
    assert not p.mask[1, 0].any()  # (2024-01-02, A) absent -> masked
    assert p.select_features(["f2"]).values[:, :, 0].tolist()[0] == [5.0, 6.0]


def test_slicing() -> None:
    p = _panel(t=6)
    assert p.take([0, 2]).values[:, 0].tolist() == [0.0, 6.0]
    assert p.take(np.array([True, False] * 3)).n_dates == 3
    assert p.between("2024-01-02", "2024-01-04").n_dates == 3
    assert p.until(np.datetime64("2024-01-02")).n_dates == 2
    assert p.between(dt.date(2024, 1, 5)).n_dates == 2
    s = p.select_assets(["S2", "S0"])
    assert s.assets == ("S2", "S0") and s.values[0].tolist() == [2.0, 0.0]


def test_until_never_sees_the_future() -> None:
    p = _panel(t=10)
    v = np.asarray(p.values).copy()
    v[6:] = -1.0
    q = Panel.from_arrays(p.dates, p.assets, v)
    assert (
        q.until(p.dates[5]).content_hash()
        == Panel.from_arrays(p.dates, p.assets, p.values).until(p.dates[5]).content_hash()
    )


def test_content_hash_sensitivity() -> None:
    p = _panel()
    h = p.content_hash()
    assert h == _panel().content_hash() and len(h) == 64
    v = np.asarray(p.values).copy()
    v[0, 0] += 1e-12
    assert (
        Panel.from_arrays(p.dates, p.assets, v).content_hash()
        != Panel.from_arrays(p.dates, p.assets, p.values).content_hash()
    )
    assert p.select_assets(["S1", "S0", "S2"]).content_hash() != h
    renamed = Panel(p.dates, p.assets, p.values, p.mask, None, "other")
    assert renamed.content_hash() != h
    shifted = Panel(p.dates + np.timedelta64(1, "us"), p.assets, p.values, p.mask, None, "close")
    assert shifted.content_hash() != h


def test_npz_round_trip_byte_identical(tmp_path: Path) -> None:
    p = _panel()
    a = save_panel_npz(tmp_path / "a.npz", p)
    b = p.save_npz(tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()
    q = load_panel_npz(a)
    assert q.content_hash() == p.content_hash() and q.features is None
    f = Panel.from_arrays(_days(2), ["A"], np.ones((2, 1, 2)), features=["x", "y"])
    f.save_npz(tmp_path / "f.npz")
    assert load_panel_npz(tmp_path / "f.npz").features == ("x", "y")


def test_npz_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(StateError, match="cannot read panel archive") as info:
        load_panel_npz(bad)
    assert info.value.file == str(bad)
    np.savez(tmp_path / "partial.npz", values=np.ones((1, 1)))
    with pytest.raises(StateError, match="lacks 'mask'"):
        load_panel_npz(tmp_path / "partial.npz")
    obj = tmp_path / "obj.npz"
    np.savez(
        obj,
        values=np.array([{"a": 1}], dtype=object),
        mask=np.ones(1),
        dates=np.ones(1),
        assets=np.ones(1),
        features=np.ones(1),
        name=np.ones(1),
    )
    with pytest.raises(StateError, match="cannot read"):
        load_panel_npz(obj)  # pickled object arrays are refused


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": np.ones(3)}, "must be"),
        ({"mask": np.ones((2, 2), dtype=bool)}, "mask shape"),
        ({"dates": _days(2)}, "rows but 2 dates"),
        ({"assets": ("A",)}, "asset columns"),
        ({"assets": ("A", "A")}, "duplicate asset"),
        ({"features": ("f",)}, "2-d panel takes no feature"),
        ({"dates": _days(3)[::-1].copy()}, "strictly increasing"),
    ],
)
def test_bad_construction(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {
        "dates": _days(3),
        "assets": ("A", "B"),
        "values": np.ones((3, 2)),
        "mask": np.ones((3, 2), dtype=bool),
    }
    base.update(kwargs)
    with pytest.raises(DataError, match=match):
        Panel(**base)  # type: ignore[arg-type]


def test_bad_input_names_location() -> None:
    v = np.ones((3, 2))
    v[2, 1] = np.inf
    with pytest.raises(DataError, match="non-finite") as info:
        Panel(_days(3), ("A", "B"), v, np.ones((3, 2), dtype=bool))
    assert info.value.column == "B" and info.value.row == 3
    with pytest.raises(DataError, match="no date column"):
        Panel.from_wide(pl.DataFrame({"x": [1.0]}))
    with pytest.raises(DataError, match="not numeric") as i2:
        Panel.from_wide(pl.DataFrame({"date": [dt.date(2024, 1, 1)], "A": ["x"]}))
    assert i2.value.column == "A"
    with pytest.raises(DataError, match="duplicate"):
        Panel.from_long(
            pl.DataFrame(
                {"timestamp": [dt.date(2024, 1, 1)] * 2, "asset": ["A", "A"], "f": [1, 2]}
            ),
            ["f"],
        )
    with pytest.raises(StateError, match="out of range"):
        _panel().take([7])
    with pytest.raises(DataError, match="not in panel"):
        _panel().select_assets(["ZZ"])
    with pytest.raises(StateError, match="no features"):
        _panel().select_features(["f"])
    with pytest.raises(DataError, match="not datetimes"):
        Panel.from_arrays(["x", "y"], ["A"], np.ones((2, 1)))


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6) | st.just(np.nan),
    )
)
def test_round_trips_property(values: np.ndarray) -> None:
    t, a = values.shape
    p = Panel.from_arrays(_days(t), [f"a{i}" for i in range(a)], values)
    np.testing.assert_array_equal(p.mask, ~np.isnan(values))
    wide = Panel.from_wide(p.to_wide())
    assert wide.content_hash() == p.content_hash()  # wide frame -> panel is lossless
    np.testing.assert_array_equal(wide.values[wide.mask], p.values[p.mask])
    assert p.take(np.arange(t)).content_hash() == p.content_hash()
