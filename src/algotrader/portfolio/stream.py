"""Streaming optimiser: O(N^2) state, one row per :meth:`OptimiserStream.step`.

The stream carries exactly the recursion state of the batch engine (EWM sums of the
volatilities, the pairwise EWM covariance sums or the sliding window, the previous
price and cash), so ``from_warmup`` followed by ``step`` over the remaining rows gives
the same numbers as one batch run over all rows, bit for bit. Per step: O(N^2) updates
plus one O(n^3) Cholesky solve; the state does not grow with the history.

Example:
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(2)
    >>> px = np.exp(np.cumsum(0.01 * rng.standard_normal((40, 2)), axis=0))
    >>> frame = pl.DataFrame({"date": list(range(40)), "A": px[:, 0], "B": px[:, 1]})
    >>> mu = frame.with_columns(pl.lit(1.0).alias("A"), pl.lit(-0.5).alias("B"))
    >>> cfg = OptimiserConfig(vola=4, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    >>> stream = OptimiserStream.from_warmup(frame.head(30), mu.head(30), cfg)
    >>> out = stream.step(px[30], {"A": 1.0, "B": -0.5}, date=30)
    >>> out.status, out.cash_position.shape
    (<SolveStatus.VALID: 'valid'>, (2,))
    >>> from algotrader.portfolio.engine import run_batch
    >>> batch = run_batch(frame, mu, cfg)
    >>> bool(np.array_equal(out.cash_position, batch.cash[30]))
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import DataError, ShapeError, StateError
from algotrader.io import write_npz_atomic
from algotrader.portfolio.config import OptimiserConfig
from algotrader.portfolio.core import run_rows, step_core
from algotrader.portfolio.engine import OptimiserResult, result_from_rows
from algotrader.portfolio.frames import prepare_inputs
from algotrader.portfolio.parallel import single_threaded_blas
from algotrader.portfolio.rowmath import SolveStatus
from algotrader.portfolio.state import (
    CoreState,
    state_arrays,
    state_from_arrays,
    state_keys,
)

#: Version of the ``.npz`` layout written by :meth:`OptimiserStream.save`.
FORMAT_VERSION = 1
_META_KEYS = ("format_version", "config_json", "assets")

RowInput = np.ndarray | Sequence[float] | Mapping[str, float | None]


class StreamStateError(StateError):
    """A saved stream archive is unusable (missing keys, wrong version, wrong shapes)."""


@dataclass(frozen=True)
class StepResult:
    """Output of one step: ``cash_position`` and ``vola`` of shape (N,), and the status."""

    date: object
    cash_position: np.ndarray
    status: SolveStatus
    vola: np.ndarray


class OptimiserStream:
    """Incremental optimiser; build it with :meth:`from_warmup` or :meth:`load`."""

    def __init__(
        self,
        cfg: OptimiserConfig,
        assets: tuple[str, ...],
        state: CoreState,
        last_date: object = None,
    ) -> None:
        self._cfg = cfg
        self._assets = assets
        self._state = state
        self._last_date = last_date

    @property
    def config(self) -> OptimiserConfig:
        """The configuration."""
        return self._cfg

    @property
    def assets(self) -> tuple[str, ...]:
        """Asset names; array rows passed to :meth:`step` use this order."""
        return self._assets

    @property
    def rows_seen(self) -> int:
        """Number of rows processed so far (warm-up included)."""
        return self._state.step_count

    @classmethod
    def from_warmup_with_result(
        cls, prices: pl.DataFrame, mu: pl.DataFrame, cfg: OptimiserConfig
    ) -> tuple[OptimiserStream, OptimiserResult]:
        """Like :meth:`from_warmup`, also returning the batch outputs of the warm-up rows."""
        inputs = prepare_inputs(prices, mu, max_nan_fraction=cfg.max_nan_fraction)
        state = CoreState.initial(cfg, len(inputs.assets))
        rows = run_rows(state, cfg, inputs.prices, inputs.mu)
        last = inputs.dates[-1] if inputs.dates.len() else None
        stream = cls(cfg, inputs.assets, state, last)
        return stream, result_from_rows(inputs, cfg, rows, diagnostics=False)

    @classmethod
    def from_warmup(
        cls, prices: pl.DataFrame, mu: pl.DataFrame, cfg: OptimiserConfig
    ) -> OptimiserStream:
        """Run the recursion over a warm-up history (same frames as :func:`run_batch`)."""
        return cls.from_warmup_with_result(prices, mu, cfg)[0]

    def _row(self, values: RowInput, name: str) -> np.ndarray:
        n = len(self._assets)
        if isinstance(values, Mapping):
            missing = [a for a in self._assets if a not in values]
            extra = [k for k in values if k not in self._assets]
            if missing or extra:
                raise DataError(
                    f"{name} keys differ from the stream's assets: missing {missing}, "
                    f"extra {extra}",
                    key=(missing or extra)[0],
                    hint="pass one value per asset (None for missing)",
                )
            row = np.array(
                [np.nan if values[a] is None else values[a] for a in self._assets],
                dtype=np.float64,
            )
        else:
            row = np.asarray(values, dtype=np.float64)
            if row.shape != (n,):
                raise ShapeError(
                    f"{name} must have shape ({n},); got {row.shape}",
                    hint=f"order values as stream.assets ({n} assets)",
                )
        return row

    def _check(self, price: np.ndarray, mu: np.ndarray, date: object) -> None:
        if np.isinf(price).any() or np.isinf(mu).any():
            col = self._assets[int(np.argmax(np.isinf(price) | np.isinf(mu)))]
            raise DataError("infinite price or signal", column=col, hint="use NaN/None")
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(price) & (price <= 0)
        if bad.any():
            col = self._assets[int(np.argmax(bad))]
            raise DataError("price must be positive", column=col, hint="use NaN for missing")
        if date is not None and self._last_date is not None:
            try:
                ordered = bool(date > self._last_date)  # type: ignore[operator]
            except TypeError:
                ordered = True
            if not ordered:
                raise DataError(
                    f"date {date} is not after the last date {self._last_date}",
                    column="date",
                    hint="steps must come in strictly increasing date order",
                )

    def step(self, prices: RowInput, mu: RowInput, date: object = None) -> StepResult:
        """Process one new row; ``prices``/``mu`` as (N,) arrays or ``{asset: value}``."""
        price = self._row(prices, "prices")
        signal = self._row(mu, "mu")
        self._check(price, signal, date)
        with single_threaded_blas():
            out = step_core(self._state, self._cfg, price, signal)
        if date is not None:
            self._last_date = date
        return StepResult(date, out.cash, out.status, out.vola)

    def save(self, path: str | Path) -> Path:
        """Write the state to one ``.npz`` (suffix added if missing), atomically."""
        target = Path(path)
        if target.suffix != ".npz":
            target = target.with_name(target.name + ".npz")
        arrays = state_arrays(self._state)
        meta = {
            "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
            "config_json": np.asarray(self._cfg.model_dump_json()),
            "assets": np.asarray(list(self._assets), dtype=np.str_),
            "last_date": np.asarray(json.dumps(_date_to_json(self._last_date))),
        }
        return write_npz_atomic(target, **meta, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> OptimiserStream:
        """Restore a stream written by :meth:`save` (``allow_pickle=False``)."""
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as archive:
                data = {k: archive[k] for k in archive.files}
        except FileNotFoundError as exc:
            raise StreamStateError("stream archive not found", file=str(p)) from exc
        except (ValueError, OSError) as exc:
            raise StreamStateError(f"not a readable .npz archive: {exc}", file=str(p)) from exc
        _check_version(data, p)
        missing = [k for k in _META_KEYS if k not in data]
        if missing:
            raise StreamStateError(
                f"stream archive lacks keys {missing}", file=str(p), key=missing[0]
            )
        cfg = OptimiserConfig.model_validate_json(str(data["config_json"]))
        assets = tuple(str(a) for a in data["assets"])
        missing = [k for k in state_keys(cfg) if k not in data]
        if missing:
            raise StreamStateError(
                f"stream archive lacks state keys {missing}",
                file=str(p),
                key=missing[0],
                hint="the file is truncated or was not written by OptimiserStream.save",
            )
        state = state_from_arrays(cfg, data)
        if state.prev_price.shape != (len(assets),):
            raise StreamStateError(
                "state arrays do not match the number of assets", file=str(p), key="prev_price"
            )
        pending = int(state.cg_pend_count[0])
        if pending and (
            not 0 < pending <= state.cg_pend.shape[0] or state.cg_pend.shape[1] != len(assets)
        ):
            raise StreamStateError(
                f"cg_pend_count {pending} does not fit cg_pend {state.cg_pend.shape}",
                file=str(p),
                key="cg_pend_count",
                hint="the file is damaged or was not written by OptimiserStream.save",
            )
        last = _date_from_json(json.loads(str(data["last_date"]))) if "last_date" in data else None
        return cls(cfg, assets, state, last)


def _check_version(data: dict[str, np.ndarray], p: Path) -> None:
    if "format_version" not in data:
        raise StreamStateError(
            "stream archive has no format_version",
            file=str(p),
            key="format_version",
            hint="the file was not written by OptimiserStream.save",
        )
    version = int(data["format_version"])
    if version != FORMAT_VERSION:
        raise StreamStateError(
            f"stream archive format_version {version} is not supported (expected {FORMAT_VERSION})",
            file=str(p),
            key="format_version",
            hint="rebuild the stream with from_warmup using this version of algotrader",
        )


def _date_to_json(date: object) -> Any:
    if date is None or isinstance(date, (int, float, str)):
        return {"kind": "plain", "value": date}
    iso = getattr(date, "isoformat", None)
    if iso is not None:
        return {"kind": type(date).__name__, "value": iso()}
    return {"kind": "plain", "value": str(date)}


def _date_from_json(obj: Any) -> object:
    import datetime as dt

    kind, value = obj["kind"], obj["value"]
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    return value


__all__ = ["FORMAT_VERSION", "OptimiserStream", "StepResult", "StreamStateError"]
