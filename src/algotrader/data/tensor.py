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
from typing import Any, NamedTuple

import numpy as np
import polars as pl

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

    def to_panel(self) -> Any:
        """The same data as a :class:`~algotrader.data.panel.Panel` (mask = not missing).

        Example:
            >>> import numpy as np
            >>> t = ReturnTensor(np.array([[0.1, np.nan]]), np.array(["2024-01-01"], "datetime64[us]"),
            ...                  np.array(["A", "B"]), np.array([[False, True]]), "simple")
            >>> p = t.to_panel()
            >>> p.assets, p.mask.tolist(), p.name
            (('A', 'B'), [[True, False]], 'returns_simple')
        """
        from algotrader.data.panel import Panel

        return Panel.from_arrays(
            self.timestamps,
            [str(a) for a in self.assets],
            self.values,
            mask=~np.asarray(self.missing, dtype=bool),
            name=f"returns_{self.return_type}",
        )


def tensor_from_returns(returns: pl.DataFrame, return_type: str) -> ReturnTensor:
    """Build a :class:`ReturnTensor` from the wide returns table (``timestamp`` + assets)."""
    assets = returns.columns[1:]
    values = returns.select(assets).to_numpy().astype(np.float64, copy=False)
    if values.ndim != 2:
        values = values.reshape(returns.height, len(assets))
    stamps = returns["timestamp"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    return ReturnTensor(
        values=np.ascontiguousarray(values),
        timestamps=stamps,
        assets=np.array(assets, dtype=np.str_),
        missing=np.isnan(values),
        return_type=return_type,
    )


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
