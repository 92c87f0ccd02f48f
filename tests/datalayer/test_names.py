"""Issue 16 item 11: asset names are a safe character set; others refused with file/row/column."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrader.data.readers import read_bars
from algotrader.errors import DataError

GOOD = ("BRK.B", "^GSPC", "EURUSD=X", "BTC-USD", "sp500_20", "A")
BAD = ("../../x", "a/b", "..", "x y", "-rf", "a\\b", "x" * 65, ".hidden")


@pytest.mark.parametrize("name", BAD)
def test_unsafe_long_asset_refused(tmp_path: Path, name: str) -> None:
    f = tmp_path / "long.csv"
    f.write_text(
        "timestamp,asset,open,high,low,close,volume\n"
        "2024-01-02T15:00:00Z,OK,1,1,1,1,1\n"
        f'2024-01-02T15:00:00Z,"{name}",1,1,1,1,1\n'
    )
    with pytest.raises(DataError) as info:
        read_bars(f)
    assert info.value.file == str(f)
    assert info.value.column == "asset" and info.value.row == 2
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", BAD[:4])
def test_unsafe_wide_column_refused(tmp_path: Path, name: str) -> None:
    f = tmp_path / "wide.csv"
    f.write_text(f'date,OK,"{name}"\n2024-01-02,1.0,2.0\n2024-01-03,1.1,2.1\n')
    with pytest.raises(DataError) as info:
        read_bars(f)
    assert info.value.file == str(f) and repr(name) in str(info.value)


def test_safe_names_accepted(tmp_path: Path) -> None:
    f = tmp_path / "wide.csv"
    header = ",".join(f'"{n}"' for n in GOOD)
    f.write_text(f"date,{header}\n2024-01-02,{','.join('1.0' for _ in GOOD)}\n")
    assert sorted(read_bars(f)["asset"].unique().to_list()) == sorted(GOOD)
