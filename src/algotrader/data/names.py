"""Asset and token names: one safe character set, checked wherever a name enters.

Names become file and folder names (lake tables, per-token price files, feature stores),
so a name is accepted only when it cannot leave its folder or hide in it:

* 1 to 64 characters from ``A-Z a-z 0-9`` and ``. _ - ^ = +`` (tickers such as ``BRK.B``,
  ``^GSPC``, ``EURUSD=X``, ``BTC-USD``);
* the first character is a letter, a digit or ``^`` (no leading dot, dash or plus: no
  hidden files, nothing a shell or a CLI parser reads as an option);
* no ``..`` anywhere.

Anything else (``/``, ``\\``, spaces, control characters, non-ASCII letters, ``..``) is
refused with a :class:`~algotrader.errors.DataError` naming the file and the column (or
the configuration key) the name came from.

Example:
    >>> is_safe_name("BRK.B"), is_safe_name("../SECRET"), is_safe_name(".env")
    (True, False, False)
    >>> check_name("../../x", file="prices.csv", column="../../x")
    Traceback (most recent call last):
    ...
    algotrader.errors.DataError: unsafe asset name '../../x' [file=prices.csv, column=../../x] -- fix: use 1-64 letters, digits and . _ - ^ = + (starting with a letter, digit or ^; no '..')
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from algotrader.errors import DataError

#: The accepted names (matched in full: a trailing newline is not accepted).
SAFE_NAME = re.compile(r"[A-Za-z0-9^][A-Za-z0-9._^=+-]{0,63}")

#: The fix every refusal suggests.
NAME_HINT = "use 1-64 letters, digits and . _ - ^ = + (starting with a letter, digit or ^; no '..')"


def is_safe_name(name: object) -> bool:
    """Whether ``name`` is a string in the safe set (see the module docstring)."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None and ".." not in name


def check_name(
    name: object,
    *,
    file: str | None,
    column: str | None = None,
    row: int | None = None,
    key: str | None = None,
    what: str = "asset",
) -> str:
    """Return ``name`` if it is safe, else raise :class:`DataError` naming where it came from.

    Args:
        name: the asset or token name.
        file: the file (data or configuration) the name was read from.
        column: the column holding it (a wide file: the name itself, the header).
        row: its 1-based data row, when it is a cell value (a long file's ``asset``).
        key: the configuration key, when it came from a configuration (``tokens``).
        what: ``"asset"`` or ``"token"``, for the message.
    """
    if not is_safe_name(name):
        raise DataError(
            f"unsafe {what} name {name!r}",
            file=file,
            row=row,
            column=column,
            key=key,
            hint=NAME_HINT,
        )
    return str(name)


def check_names(
    names: Iterable[object],
    *,
    file: str | None,
    key: str | None = None,
    what: str = "asset",
    as_columns: bool = True,
) -> list[str]:
    """Check several names (column headers by default: each is its own ``column``)."""
    out = []
    for name in names:
        column = str(name) if as_columns else None
        out.append(check_name(name, file=file, column=column, key=key, what=what))
    return out


__all__ = ["NAME_HINT", "SAFE_NAME", "check_name", "check_names", "is_safe_name"]
