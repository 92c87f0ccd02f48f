"""Shared pieces of the feature groups: statuses, the degenerate-ratio rule, group results.

Status codes (one per value, stored with the features):

| code | name | meaning |
|---:|---|---|
| 0 | ``ok`` | a finite value |
| 1 | ``warmup`` | not enough history yet (NaN) |
| 2 | ``degenerate`` | a zero or sub-floor denominator (NaN under ``degenerate_policy: nan``) |
| 3 | ``missing`` | the input bars are missing (NaN) |

Example:
    >>> import numpy as np
    >>> opts = Options()
    >>> v, deg = ratio(np.array([1.0, 1.0]), np.array([2.0, 0.0]), opts)
    >>> v.tolist(), deg.tolist()
    ([0.5, nan], [False, True])
    >>> ratio(np.array([1.0]), np.array([0.0]), Options(policy="eps"))[0].tolist()
    [100000000.0]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from algotrader.errors import DataError
from algotrader.settings import threads_from_env

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

OK, WARMUP, DEGENERATE, MISSING = 0, 1, 2, 3
STATUS_NAMES: tuple[str, ...] = ("ok", "warmup", "degenerate", "missing")
EPS = 1e-8
REGIME_EPS = 1e-6


@dataclass(frozen=True)
class Options:
    """How ratios treat small denominators.

    Attributes:
        policy: ``nan`` (default): a denominator <= ``floor`` (scaled by the price for
            price-unit denominators) gives NaN with status ``degenerate``; ``eps``: the
            source's ``x / (d + eps)``.
        eps: the source's epsilon (1e-8).
        floor: degenerate floor (1e-10; relative to the close for price-unit ratios).
    """

    policy: Literal["nan", "eps"] = "nan"
    eps: float = EPS
    floor: float = 1e-10


def ratio(num: F64, den: F64, opts: Options, scale: F64 | None = None) -> tuple[F64, B]:
    """``num / den`` under the degenerate policy; returns (values, degenerate mask).

    ``scale`` (same shape) multiplies the floor (price-unit denominators)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if opts.policy == "eps":
            return num / (den + opts.eps), np.zeros(num.shape, dtype=bool)
        floor = opts.floor if scale is None else opts.floor * np.abs(scale)
        deg = np.isfinite(num) & np.isfinite(den) & (np.abs(den) <= floor)
        out = np.where(deg, np.nan, num / den)
    return out, deg


def lr(a: F64, b: F64, eps: float) -> F64:
    """LR_eps(a, b) = ln((max(a, eps) + eps) / (max(b, eps) + eps)); NaN propagates."""
    with np.errstate(invalid="ignore"):
        return np.log((np.maximum(a, eps) + eps) / (np.maximum(b, eps) + eps))


def statuses(values: F64, degenerate: B, warm: B, missing: B | None = None) -> NDArray[np.int8]:
    """Status codes for ``values``: ok where finite, else degenerate > warmup > missing."""
    code = np.full(values.shape, MISSING, dtype=np.int8)
    code[np.broadcast_to(warm, values.shape)] = WARMUP
    code[degenerate] = DEGENERATE
    code[np.isfinite(values)] = OK
    del missing
    return code


def warm_rows(n_rows: int, n_assets: int, first_valid: int) -> B:
    """(T, A) mask of rows t < ``first_valid``."""
    return np.broadcast_to((np.arange(n_rows) < first_valid)[:, None], (n_rows, n_assets))


@dataclass(frozen=True)
class FeatureDef:
    """One feature of the registry (the documentation table is generated from these)."""

    name: str
    group: str
    key: str
    formula: str
    window: str
    input: str
    warmup: str


@dataclass
class GroupResult:
    """A computed group: ``values`` and ``status`` of shape (T, A, F), names in order."""

    group: str
    features: tuple[str, ...]
    values: F64
    status: NDArray[np.int8]
    meta: dict[str, Any] = field(default_factory=dict)

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Per feature: how many values have each status."""
        out: dict[str, dict[str, int]] = {}
        k = len(STATUS_NAMES)
        for j, name in enumerate(self.features):
            counts = np.bincount(self.status[:, :, j].ravel(), minlength=k)[:k]
            out[name] = dict(zip(STATUS_NAMES, counts.tolist(), strict=True))
        return out


ComputeFn = Callable[..., dict[str, tuple[F64, NDArray[np.int8]]]]


def require_complete_weekly(x: Any, group: str) -> None:
    """Weekly groups need every weekly OHLC value present and Close > 0."""
    for label, arr in (
        ("open", x.weekly_open),
        ("high", x.weekly_high),
        ("low", x.weekly_low),
        ("close", x.weekly_close),
    ):
        bad = ~np.isfinite(arr)
        if bad.any():
            t, a = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"group {group} needs a complete weekly OHLC panel: {label} missing for asset "
                f"{x.assets[a]} in week {x.week_start[t]} ({int(bad.sum())} missing values)",
                column=x.assets[a],
                hint="restrict the assets/date range to a fully covered span, or use only the "
                "daily groups (volatility, seasonal, regime)",
            )
    bad = ~(x.weekly_close > 0) | ~(x.weekly_low > 0)
    if bad.any():
        t, a = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"non-positive weekly price for asset {x.assets[a]} in week {x.week_start[t]}",
            column=x.assets[a],
            hint="fix the bars; prices must be > 0",
        )


def require_positive_daily(x: Any) -> None:
    """Daily closes and lows (where present) must be > 0."""
    for label, arr in (("close", x.daily_close), ("low", x.daily_low)):
        bad = np.isfinite(arr) & (arr <= 0)
        if bad.any():
            d, a = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"non-positive daily {label} {arr[d, a]} for asset {x.assets[a]} on {x.days[d]}",
                column=x.assets[a],
                hint="fix the bars; prices must be > 0",
            )


def _pool_size() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def kernel_threads() -> int:
    """Threads of the compiled feature kernels: ``ALGOTRADER_THREADS`` when set (see
    :func:`algotrader.settings.threads_from_env`), else the usable cores; at most numba's
    pool size (``NUMBA_NUM_THREADS``)."""

    want = threads_from_env()
    if want is None:
        try:
            want = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            want = os.cpu_count() or 1
    return max(1, min(want, _pool_size()))


@contextmanager
def feature_threads(n: int | None = None) -> Iterator[int]:
    """Run the compiled kernels inside the block on ``n`` threads (default
    :func:`kernel_threads`); the previous count is restored. Values never depend on it."""
    import numba

    prev = numba.get_num_threads()
    want = max(1, min(n or kernel_threads(), _pool_size()))
    numba.set_num_threads(want)
    try:
        yield want
    finally:
        numba.set_num_threads(prev)


__all__ = [
    "DEGENERATE",
    "EPS",
    "MISSING",
    "OK",
    "REGIME_EPS",
    "STATUS_NAMES",
    "WARMUP",
    "FeatureDef",
    "GroupResult",
    "Options",
    "feature_threads",
    "kernel_threads",
    "lr",
    "ratio",
    "require_complete_weekly",
    "require_positive_daily",
    "statuses",
    "warm_rows",
]
