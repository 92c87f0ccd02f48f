"""The return tensor: values ``(T, A)``, timestamps, assets and a missing mask in one ``.npz``.

Written deterministically (fixed zip entry times, sorted entries) so re-runs give identical
bytes; loaded with ``allow_pickle=False``.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> t = ReturnTensor(np.array([[0.1, np.nan]]), np.array(["2024-01-05T21:00"], "datetime64[us]"),
    ...                  np.array(["A", "B"]), np.array([[False, True]]), "simple")
    >>> p = save_return_tensor(pathlib.Path(tempfile.mkdtemp()) / "r.npz", t)
    >>> load_return_tensor(p).missing.tolist()
    [[False, True]]
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from algotrader.data.panel import Panel
from algotrader.errors import StateError
from algotrader.io import write_npz_deterministic as _write_npz

_KEYS = ("values", "timestamps", "assets", "missing", "return_type")


class ReturnTensor(NamedTuple):
    """Weekly returns as arrays.

    Attributes:
        values: float64 array of shape (T, A); NaN where missing.
        timestamps: ``datetime64[us]`` array of shape (T,), UTC week labels.
        assets: unicode array of shape (A,).
        missing: bool array of shape (T, A); True where ``values`` is NaN.
        return_type: ``"simple"`` or ``"log"``.
    """

    values: np.ndarray
    timestamps: np.ndarray
    assets: np.ndarray
    missing: np.ndarray
    return_type: str

    def to_panel(self) -> Panel:
        """The same data as a :class:`~algotrader.data.panel.Panel` (mask = not missing).

        A tensor built by :func:`tensor_from_returns` or :meth:`from_panel` shares its
        arrays with the panel it came from (``values`` is the panel's ``values``).

        Example:
            >>> import numpy as np
            >>> t = ReturnTensor(np.array([[0.1, np.nan]]), np.array(["2024-01-01"], "datetime64[us]"),
            ...                  np.array(["A", "B"]), np.array([[False, True]]), "simple")
            >>> p = t.to_panel()
            >>> p.assets, p.mask.tolist(), p.name
            (('A', 'B'), [[True, False]], 'returns_simple')
        """
        return Panel.from_arrays(
            self.timestamps,
            [str(a) for a in self.assets],
            self.values,
            mask=~np.asarray(self.missing, dtype=bool),
            name=f"returns_{self.return_type}",
        )

    @classmethod
    def from_panel(cls, panel: Panel, return_type: str) -> ReturnTensor:
        """A tensor over a 2-d returns ``panel``: ``values``/``timestamps`` are its arrays.

        ``missing`` is ``~panel.mask``; masked values are NaN (the panel's convention).
        """
        if panel.values.ndim != 2:
            raise StateError(f"a return tensor needs a 2-d panel, got shape {panel.shape}")
        return cls(
            values=panel.values,
            timestamps=panel.dates,
            assets=np.array(panel.assets, dtype=np.str_),
            missing=~panel.mask,
            return_type=return_type,
        )


def tensor_from_returns(returns: pl.DataFrame, return_type: str) -> ReturnTensor:
    """Build a :class:`ReturnTensor` from the wide returns table (``timestamp`` + assets).

    The table is read by :meth:`Panel.from_wide <algotrader.data.panel.Panel.from_wide>`
    (UTC timestamps, nulls/NaNs masked); the tensor is a view of that panel.
    """
    panel = Panel.from_wide(
        returns, date_col="timestamp", assets=returns.columns[1:], name=f"returns_{return_type}"
    )
    return ReturnTensor.from_panel(panel, return_type)


def save_return_tensor(path: str | os.PathLike[str], tensor: ReturnTensor) -> Path:
    """Write ``tensor`` to an uncompressed ``.npz`` atomically and byte-reproducibly."""
    arrays = {
        "values": np.asarray(tensor.values, dtype=np.float64),
        "timestamps": np.asarray(tensor.timestamps, dtype="datetime64[us]"),
        "assets": np.asarray(tensor.assets, dtype=np.str_),
        "missing": np.asarray(tensor.missing, dtype=np.bool_),
        "return_type": np.array(tensor.return_type, dtype=np.str_),
    }
    _write_npz(path, {key: arrays[key] for key in _KEYS})
    return Path(path)


def load_return_tensor(path: str | os.PathLike[str]) -> ReturnTensor:
    """Load a tensor written by :func:`save_return_tensor` (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing_keys = [k for k in _KEYS if k not in data.files]
            if missing_keys:
                raise StateError(
                    f"return tensor lacks {', '.join(missing_keys)}",
                    file=str(path),
                    hint="re-run data-cleaning",
                )
            out = ReturnTensor(
                values=data["values"],
                timestamps=data["timestamps"],
                assets=data["assets"],
                missing=data["missing"],
                return_type=str(data["return_type"]),
            )
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StateError(f"cannot read return tensor: {exc}", file=str(path)) from exc
    t, a = out.values.shape
    if out.timestamps.shape != (t,) or out.assets.shape != (a,) or out.missing.shape != (t, a):
        raise StateError("return tensor arrays have inconsistent shapes", file=str(path))
    return out


__all__ = ["ReturnTensor", "load_return_tensor", "save_return_tensor", "tensor_from_returns"]
