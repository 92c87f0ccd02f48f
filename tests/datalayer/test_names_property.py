"""Issue 16 item 11: the safe-name validator, by property, and the AMM loader's folder.

Properties of :func:`algotrader.data.names.is_safe_name` over arbitrary text:

* soundness: an accepted name is one path component that stays inside any folder it is
  joined to (no separator, no ``..``, no leading dot, ASCII printable, 1-64 characters);
* completeness: every name built from the documented alphabet with the documented first
  character and no ``..`` is accepted;
* :func:`check_name` raises exactly when the name is refused, naming file, column and key.
"""

from __future__ import annotations

import string
from pathlib import Path, PurePosixPath, PureWindowsPath

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from algotrader.amm.data import load_prices
from algotrader.data.names import check_name, is_safe_name
from algotrader.data.readers import read_bars
from algotrader.errors import DataError

FIRST = string.ascii_letters + string.digits + "^"
REST = FIRST + "._=+-"
SAFE = st.builds(
    lambda a, b: a + b,
    st.sampled_from(FIRST),
    st.text(alphabet=REST, max_size=63),
).filter(lambda s: ".." not in s)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
@example("ABC\n")  # a regex ``$`` would accept a trailing newline
@example("../SECRET")
@example(".env")
@example("-rf")
@example("a" * 65)
@example("Ä")
def test_accepted_names_are_one_component_inside_the_folder(name: str) -> None:
    if not is_safe_name(name):
        with pytest.raises(DataError) as info:
            check_name(name, file="f.csv", column="c", key="tokens")
        assert (info.value.file, info.value.column, info.value.key) == ("f.csv", "c", "tokens")
        assert repr(name) in str(info.value)
        return
    assert check_name(name, file=None) == name
    assert 1 <= len(name) <= 64 and name.isascii() and name.isprintable()
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith((".", "-", "+")) and not any(c.isspace() for c in name)
    for pure in (PurePosixPath, PureWindowsPath):
        assert pure(name).name == name and len(pure(name).parts) == 1
    base = Path("/srv/data/folder")
    assert (base / f"{name}_USD.parquet").parent == base


@settings(max_examples=200, deadline=None)
@given(SAFE)
def test_every_name_of_the_documented_alphabet_is_accepted(name: str) -> None:
    assert is_safe_name(name)


@settings(max_examples=200, deadline=None)
@given(SAFE, st.sampled_from(["/", "\\", "..", " ", "\n", "\x00", "é"]), st.integers(0, 64))
def test_inserting_a_forbidden_piece_is_refused(name: str, piece: str, at: int) -> None:
    at = min(at, len(name))
    assert not is_safe_name(name[:at] + piece + name[at:])


@settings(max_examples=15, deadline=None)
@given(st.lists(SAFE, min_size=1, max_size=3, unique=True))
def test_safe_headers_survive_a_wide_file(tmp_path_factory: pytest.TempPathFactory,
                                          names: list[str]) -> None:  # fmt: skip
    """Differential: the names a wide file's header holds are the assets read back."""
    if "date" in names or any(
        n in ("Date", "timestamp", "Timestamp", "time", "Time") for n in names
    ):
        return  # a date-column name is not an asset
    f = tmp_path_factory.mktemp("names") / "wide.csv"
    pl.DataFrame({"date": ["2024-01-02"], **{n: [1.0] for n in names}}).write_csv(f)
    assert sorted(read_bars(f)["asset"].unique().to_list()) == sorted(names)


def test_amm_loader_never_looks_outside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``../SECRET`` token is refused before any path is built or probed."""
    folder = tmp_path / "prices"
    folder.mkdir()
    (tmp_path / "SECRET_USD.csv").write_text("unix,close\n0,1\n60000,1\n")
    probed: list[Path] = []
    real_exists = Path.exists

    def spy(self: Path, *args: object, **kwargs: object) -> bool:
        probed.append(self)
        return real_exists(self)

    monkeypatch.setattr(Path, "exists", spy)
    with pytest.raises(DataError, match=r"unsafe token name '\.\./SECRET'") as info:
        load_prices(folder, ["ETH", "../SECRET"])
    assert info.value.key == "tokens" and info.value.file == str(folder)
    assert not [p for p in probed if folder not in (p, *p.parents)]
