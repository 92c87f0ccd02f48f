"""Intermediates shared by several groups, computed once per run (log closes, weekly log
returns, the daily window statistics).

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> ctx = FeatureContext(synthetic_inputs(30, 2))
    >>> ctx.weekly_return.shape, bool(np.isnan(ctx.weekly_return[0]).all())
    ((30, 2), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from algotrader.features.common import Options
from algotrader.features.daily_kernels import STATS, daily_window_stats
from algotrader.features.inputs import LakeInputs

T = TypeVar("T")
F64 = NDArray[np.float64]


class FeatureContext:
    """Inputs, options and a cache of intermediates for one feature run."""

    def __init__(self, inputs: LakeInputs, opts: Options | None = None) -> None:
        self.x = inputs
        self.opts = opts or Options()
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, fn: Callable[[], T]) -> T:
        """``fn()`` computed once per context under ``key``."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]  # type: ignore[no-any-return]

    @property
    def log_close(self) -> F64:
        """p_t = ln C_t of the weekly closes, (T, A)."""
        return self.cached("log_close", lambda: np.log(self.x.weekly_close))

    @property
    def weekly_return(self) -> F64:
        """r^w_t = p_t - p_{t-1} (row 0 NaN), (T, A)."""

        def make() -> F64:
            p = self.log_close
            r = np.full(p.shape, np.nan)
            r[1:] = p[1:] - p[:-1]
            return r

        return self.cached("weekly_return", make)

    def _daily(self) -> tuple[F64, NDArray[np.int64], NDArray[np.int64], F64]:
        x = self.x
        valid = (
            np.isfinite(x.daily_open)
            & np.isfinite(x.daily_high)
            & np.isfinite(x.daily_low)
            & np.isfinite(x.daily_close)
        )
        stats, counts, ends = daily_window_stats(
            valid, x.daily_high, x.daily_low, x.daily_close, x.day_week, x.n_weeks
        )
        return stats, counts, ends, valid.astype(np.float64)

    @property
    def daily_stats(self) -> F64:
        """Daily window statistics at each week's last valid row, (T, A, len(STATS))."""
        return self.cached("daily", self._daily)[0]

    @property
    def daily_ends(self) -> NDArray[np.int64]:
        """(T, A): compacted index of each week's last valid daily row (-1 if none)."""
        return self.cached("daily", self._daily)[2]

    @property
    def daily_valid(self) -> F64:
        """(D, A): 1.0 where the daily row has all of OHLC, else 0.0."""
        return self.cached("daily", self._daily)[3]

    def stat(self, name: str) -> F64:
        """One column of :attr:`daily_stats` by name (see ``daily_kernels.STATS``)."""
        return self.daily_stats[:, :, STATS.index(name)]

    def daily_warm(self, rows: int) -> NDArray[np.bool_]:
        """(T, A): the week's last valid row exists but has index < ``rows`` (warm-up)."""
        e = self.daily_ends
        return (e >= 0) & (e < rows)


__all__ = ["FeatureContext"]
