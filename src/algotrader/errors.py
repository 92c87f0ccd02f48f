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
"""

from __future__ import annotations

from typing import Any


class AlgotraderError(Exception):
    """Base class of every error this package raises on purpose.

    Args:
        message: what is wrong, in one sentence.
        file: the file the problem was found in, if any.
        row: the 1-based data row (header excluded) or the 0-based index, as documented
            by the raising function.
        column: the column (or asset) concerned.
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
    "AlgotraderError",
    "ConfigError",
    "DataError",
    "NotFittedError",
    "ProviderError",
    "SchemaError",
    "ShapeError",
    "StateError",
]
