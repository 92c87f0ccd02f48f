"""One exception hierarchy for the whole package.

Every error raised on bad input derives from :class:`AlgotraderError` and
carries structured attributes (``file``, ``row``, ``column``, ``key``, ``hint``)
so callers can handle it programmatically, and a message that names the input
and the fix.

Example:
    >>> err = DataError("price must be positive", file="a.csv", row=3, column="close",
    ...                 hint="remove or correct the bar")
    >>> str(err)
    'price must be positive [file=a.csv, row=3, column=close] -- fix: remove or correct the bar'
    >>> isinstance(err, AlgotraderError)
    True

Location convention (see ``docs/errors.md``), used by every reader of user files:

* ``file``: the file as the user gave it, always set when the problem is in a file;
* ``row``: the **1-based data row**: row 1 is the first data row below the header (line 2
  of a CSV file, the first row of a Parquet file); :func:`data_row` converts a 0-based
  position. (Library functions on plain arrays, with no file, document what their
  ``row`` is -- some still give the 0-based array position; the file readers locate
  every problem in the file's own rows before it reaches a user);
* ``column``: the column header as written in the file; in a wide file (one column per
  asset) that is the asset's column, never an internal name such as ``open``;
* ``key``: a configuration key (``bout_offset``) or a command-line option (``lag``).
"""

from __future__ import annotations

from typing import Any, Self

#: What ``row`` means in every located error (also stated in ``docs/errors.md``).
ROW_CONVENTION = "rows are 1-based data rows: row 1 is the first data row below the header"


def data_row(index: int) -> int:
    """The 1-based data row of the 0-based position ``index`` (row 1 = first data row).

    >>> data_row(0)
    1
    """
    return int(index) + 1


class AlgotraderError(Exception):
    """Base class of every error this package raises on purpose.

    Args:
        message: what is wrong, in one sentence.
        file: the file the problem was found in, if any.
        row: the 1-based data row (row 1 is the first data row below the header; see
            :data:`ROW_CONVENTION`).
        column: the column concerned, as its header is written (the asset's column in
            a wide file).
        key: the configuration key or archive entry concerned.
        hint: how to fix it.
        **context: any further structured detail (kept in ``self.context``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
        hint: str | None = None,
        **context: Any,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.key = key
        self.hint = hint
        self.context = context
        super().__init__(self._render())

    def located(
        self,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
    ) -> Self:
        """A copy of this error with the given location filled in where it is empty.

        For a caller that knows the file (or key) a lower layer could not know:

        >>> err = DataError("bad price", row=2, column="A").located(file="p.csv", row=9)
        >>> str(err)
        'bad price [file=p.csv, row=2, column=A]'
        """
        new = type(self)(
            self.message,
            file=self.file if self.file is not None else file,
            row=self.row if self.row is not None else row,
            column=self.column if self.column is not None else column,
            key=self.key if self.key is not None else key,
            hint=self.hint,
            **self.context,
        )
        new.__cause__ = self.__cause__
        return new

    def _render(self) -> str:
        where = [
            f"{name}={value}"
            for name, value in (
                ("file", self.file),
                ("row", self.row),
                ("column", self.column),
                ("key", self.key),
            )
            if value is not None
        ]
        text = self.message
        if where:
            text += " [" + ", ".join(where) + "]"
        if self.hint:
            text += f" -- fix: {self.hint}"
        return text


class DataError(AlgotraderError):
    """Input data is malformed: unparseable, unsorted, duplicated, non-positive, ..."""


class SchemaError(DataError):
    """A table lacks required columns or has columns of the wrong type."""


class ConfigError(AlgotraderError):
    """A configuration is invalid: unknown key, out-of-range value, inconsistent keys."""


class StateError(AlgotraderError):
    """A saved or in-memory state is unusable: wrong version, missing keys, wrong shape."""


class ShapeError(AlgotraderError):
    """Arrays or frames do not have the shapes or labels the operation needs."""


class NotFittedError(StateError):
    """A fit-then-transform object was used before it was fitted."""


class ProviderError(AlgotraderError):
    """A data provider adapter failed to deliver data."""


__all__ = [
    "ROW_CONVENTION",
    "AlgotraderError",
    "ConfigError",
    "DataError",
    "NotFittedError",
    "ProviderError",
    "SchemaError",
    "ShapeError",
    "StateError",
    "data_row",
]
