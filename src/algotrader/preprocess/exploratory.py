"""Stand-alone exploratory preprocessors of weekly returns (spec §3.1): identity, zscore, pca.

These fit on the whole selected range, so they are **exploratory only** and never used
inside the cross-validation harness (use :mod:`algotrader.preprocess.pipeline` there).
Differences from the source: statistics use observed values only (no zero-fill first) and
PCA eigenvector signs are deterministic (the largest-|loading| entry of each is positive).

Example:
    >>> import numpy as np
    >>> from algotrader.data.panel import Panel
    >>> p = Panel.from_arrays(np.arange(4).astype("datetime64[D]"), ["a", "b"],
    ...                       [[1.0, 2.0], [3.0, np.nan], [5.0, 4.0], [7.0, 6.0]])
    >>> z = zscore(p)
    >>> z.mean.tolist(), z.values[1].tolist()
    ([4.0, 4.0], [-0.4472135954999579, 0.0])
    >>> r = pca(p, k=1)
    >>> r.factors.shape, bool(r.loadings[np.argmax(np.abs(r.loadings[:, 0])), 0] > 0)
    ((4, 1), True)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, DataError

F64 = NDArray[np.float64]
PIPELINE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True, eq=False)
class ZScoreResult:
    """z-scored values (T', A) (missing -> 0 under ``zero``), observed mask, column stats."""

    dates: NDArray[np.datetime64]
    assets: tuple[str, ...]
    values: F64
    mask: NDArray[np.bool_]
    mean: F64
    std: F64


@dataclass(frozen=True, eq=False)
class PCAResult:
    """Principal components of the z-scored returns."""

    zscore: ZScoreResult
    factors: F64  # (T', k)
    loadings: F64  # (A, k)
    eigenvalues: F64  # (A,) descending
    explained: F64
    cumulative: F64


def identity(panel: Panel, copy: bool = False) -> Panel:
    """Pass-through (``copy``: a new, equal panel)."""
    if not copy:
        return panel
    return Panel(
        panel.dates,
        panel.assets,
        panel.values.copy(),
        panel.mask.copy(),
        panel.features,
        panel.name,
    )


def zscore(
    panel: Panel, start: Any = None, end: Any = None, missing: Literal["zero", "drop"] = "zero"
) -> ZScoreResult:
    """Column mean and population std over observed values in [start, end]; a zero std is a
    ``DataError`` naming the asset. ``missing``: ``zero`` (fill 0 after scaling, mask kept)
    or ``drop`` (drop rows with any missing value before the statistics)."""
    if missing not in ("zero", "drop"):
        raise ConfigError(f"missing must be zero or drop, got {missing!r}", key="missing")
    p = panel.between(start, end)
    if p.values.ndim != 2:
        raise DataError("zscore works on a 2-d (T, A) panel")
    vals, mask = p.values, p.mask
    dates = p.dates
    if missing == "drop":
        keep = mask.all(axis=1)
        vals, mask, dates = vals[keep], mask[keep], dates[keep]
    if vals.shape[0] == 0:
        raise DataError("no rows to standardise in the selected range", key="start_date")
    x = np.where(mask, vals, np.nan)
    n = mask.sum(axis=0)
    if (n == 0).any():
        raise DataError(
            "asset has no observed value in the range", column=p.assets[int(np.argmax(n == 0))]
        )
    mean = np.nansum(x, axis=0) / n
    std = np.sqrt(np.nansum((x - mean) ** 2, axis=0) / n)
    if (std == 0).any():
        a = p.assets[int(np.argmax(std == 0))]
        raise DataError(
            f"zero standard deviation for asset {a}",
            column=a,
            hint="drop the asset or widen the range",
        )
    z = np.where(mask, (x - mean) / std, 0.0)
    return ZScoreResult(dates, p.assets, z, mask, mean, std)


def pca(
    panel: Panel, k: int | None = None, variance: float | None = None, **zscore_args: Any
) -> PCAResult:
    """z-score, then eigen-decompose C = Z'Z/(n-1) (descending); keep ``k`` components or the
    fewest whose cumulative explained variance reaches ``variance`` in (0, 1] (exactly one)."""
    if (k is None) == (variance is None):
        raise ConfigError("give exactly one of k and variance", key="k")
    z = zscore(panel, **zscore_args)
    n, a = z.values.shape
    if n < 2:
        raise DataError("pca needs at least 2 rows")
    c = z.values.T @ z.values / (n - 1)
    w, v = np.linalg.eigh(c)
    order = np.argsort(-w, kind="stable")
    w, v = np.maximum(w[order], 0.0), v[:, order]
    sign = np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(a)])
    v = v * np.where(sign == 0, 1.0, sign)
    total = w.sum()
    explained = w / total if total > 0 else np.zeros_like(w)
    cum = np.cumsum(explained)
    if k is None:
        assert variance is not None
        if not 0 < variance <= 1:
            raise ConfigError(f"variance {variance} must be in (0, 1]", key="variance")
        k = int(np.searchsorted(cum, variance - 1e-12) + 1)
    if not 1 <= k <= a:
        raise ConfigError(f"k = {k} must be in [1, {a}]", key="k")
    return PCAResult(z, z.values @ v[:, :k], v[:, :k], w, explained, cum)


def parse_args(pairs: list[str]) -> dict[str, str]:
    """``["k=3", "missing=drop"]`` -> ``{"k": "3", "missing": "drop"}``."""
    out: dict[str, str] = {}
    for item in pairs:
        if "=" not in item:
            raise ConfigError(f"preprocessor argument {item!r} is not k=v", key=item)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _date(value: str | None, key: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{key} {value!r} is not YYYY-MM-DD", key=key) from exc


ALLOWED = {
    "identity": {"copy"},
    "zscore": {"start_date", "end_date", "missing", "pipeline"},
    "pca": {"start_date", "end_date", "missing", "pipeline", "k", "variance"},
}


def run_exploratory(name: str, panel: Panel, args: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Run a preprocessor by name on ``panel``; returns (pipeline name, result objects)."""
    if name not in ALLOWED:
        raise ConfigError(
            f"unknown preprocessor {name!r}", key="preprocessor", hint="identity, zscore or pca"
        )
    bad = sorted(set(args) - ALLOWED[name])
    if bad:
        raise ConfigError(
            f"unknown argument {bad[0]!r} for {name}",
            key=bad[0],
            hint=f"use {', '.join(sorted(ALLOWED[name]))}",
        )
    pipeline = args.get("pipeline", "debug")
    if not PIPELINE_NAME.match(pipeline):
        raise ConfigError(f"pipeline name {pipeline!r} must match [A-Za-z0-9._-]+", key="pipeline")
    if name == "identity":
        return pipeline, {
            "panel": identity(panel, copy=args.get("copy", "false").lower() == "true")
        }
    zargs: dict[str, Any] = {
        "start": _date(args.get("start_date"), "start_date"),
        "end": _date(args.get("end_date"), "end_date"),
        "missing": args.get("missing", "zero"),
    }
    if name == "zscore":
        return pipeline, {"zscore": zscore(panel, **zargs)}
    try:
        k = int(args["k"]) if "k" in args else None
        var = float(args["variance"]) if "variance" in args else None
    except ValueError as exc:
        raise ConfigError(f"bad number in pca arguments ({exc})", key="k") from exc
    return pipeline, {"pca": pca(panel, k=k, variance=var, **zargs)}


__all__ = [
    "PCAResult",
    "ZScoreResult",
    "identity",
    "parse_args",
    "pca",
    "run_exploratory",
    "zscore",
]
