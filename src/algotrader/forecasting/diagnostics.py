"""Calibration diagnostics from outer walk-forward predictions (spec section 9, "Ours").

Numbers first (pure functions), figures second (:func:`write_diagnostics`, PNG via matplotlib
Agg + CSV, atomic writes):

* :func:`pit_histogram` -- density of the PIT over ``bins`` bins and the chi-square
  uniformity p-value.
* :func:`coverage_curve` -- empirical coverage per nominal level with ``+-2 sqrt(c(1-c)/n)``.
* :func:`rolling_coverage` -- weekly cross-sectional coverage and its rolling mean.
* :func:`energy_prerank` -- the multivariate check: energy-score pre-rank of the truth among
  the members (Gneiting et al. 2008): for each row, pool = truth + S members, pre-rank of
  each = sum of distances to the others (lower = more central), the truth's rank among the
  S + 1 pre-ranks (ties randomised, seeded); a calibrated joint forecast gives uniform
  ranks; returns the rank histogram and a chi-square p-value.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(19, 300, 3)); y = rng.normal(size=(300, 3))
    >>> counts, p = energy_prerank(y, x, bins=5)
    >>> int(counts.sum()), bool(p > 0.001)
    (300, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import stats

from algotrader.forecasting.scoring import _check, interval_hits, pit
from algotrader.io import write_csv_atomic, write_png_atomic

__all__ = [
    "coverage_curve",
    "energy_prerank",
    "pit_histogram",
    "rolling_coverage",
    "write_diagnostics",
]

FloatArray = NDArray[np.float64]


def pit_histogram(u: FloatArray, bins: int = 20) -> tuple[FloatArray, float]:
    """PIT density per bin (finite values) and the chi-square p-value of uniformity."""
    v = np.asarray(u, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    counts, _ = np.histogram(v, bins=bins, range=(0.0, 1.0))
    dens = counts / max(v.size, 1) * bins
    p = float(stats.chisquare(counts).pvalue) if v.size else float("nan")
    return dens.astype(np.float64), p


def coverage_curve(y: FloatArray, samples: FloatArray, levels: Sequence[float]) -> pl.DataFrame:
    """Columns level, coverage, n, lo, hi (``coverage +- 2 SE``, SE at the nominal level)."""
    hits = interval_hits(y, samples, levels)
    n = np.isfinite(hits).sum(axis=(1, 2))
    cov = np.nansum(hits, axis=(1, 2)) / np.maximum(n, 1)
    lv = np.asarray(levels, dtype=np.float64)
    se = np.sqrt(lv * (1 - lv) / np.maximum(n, 1))
    return pl.DataFrame(
        {"level": lv, "coverage": cov, "n": n, "lo": lv - 2 * se, "hi": lv + 2 * se}
    )


def rolling_coverage(
    y: FloatArray, samples: FloatArray, level: float, window: int = 13
) -> pl.DataFrame:
    """Weekly cross-sectional coverage at ``level``, its +-2 SE and a rolling mean."""
    hits = interval_hits(y, samples, [level])[0]
    n = np.isfinite(hits).sum(axis=1)
    with np.errstate(invalid="ignore"):
        wk = np.nansum(hits, axis=1) / np.where(n > 0, n, np.nan)
    se = np.sqrt(level * (1 - level) / np.maximum(n, 1))
    roll = pl.Series(wk).rolling_mean(window_size=window, min_samples=window).to_numpy()
    return pl.DataFrame(
        {
            "row": np.arange(wk.size),
            "coverage": wk,
            "lo": level - 2 * se,
            "hi": level + 2 * se,
            f"rolling_{window}": roll,
        }
    )


def energy_prerank(
    y: FloatArray, samples: FloatArray, *, bins: int | None = None, seed: int = 0
) -> tuple[NDArray[np.int64], float]:
    """Rank histogram of the truth's energy-score pre-rank (rows with a finite truth)."""
    yy, xx = _check(y, samples)
    s = xx.shape[0]
    rows = np.flatnonzero(np.isfinite(yy).all(axis=1))
    rng = np.random.default_rng(seed)
    ranks = np.empty(rows.size, dtype=np.int64)
    for k, t in enumerate(rows):
        pool = np.vstack([yy[t][None], xx[:, t, :]])
        d = np.linalg.norm(pool[:, None, :] - pool[None, :, :], axis=-1).sum(axis=1)
        below, tie = (d < d[0]).sum(), (d == d[0]).sum() - 1
        ranks[k] = below + rng.integers(0, tie + 1)
    nb = s + 1 if bins is None else bins
    counts = np.histogram(ranks, bins=nb, range=(0, s + 1))[0].astype(np.int64)
    p = float(stats.chisquare(counts).pvalue) if rows.size else float("nan")
    return counts, p


def write_diagnostics(
    directory: str | Path,
    y: FloatArray,
    samples: FloatArray,
    assets: Sequence[str],
    *,
    levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    losses: dict[str, FloatArray] | None = None,
    label: str = "outer walk-forward",
    seed: int = 0,
    fan_assets: Sequence[str] | None = None,
    dates: NDArray[np.datetime64] | None = None,
    prerank: tuple[FloatArray, FloatArray] | None = None,
) -> list[Path]:
    """Write PIT, coverage, rolling coverage, pre-rank, fan charts and SVI loss (PNG + CSV).

    ``fan_assets`` limits the fan charts (default every asset), ``dates`` labels their x
    axis, ``prerank = (y_u, samples_u)`` gives the (e.g. whitened) values the energy-score
    pre-rank is computed on (default ``y``, ``samples``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(directory)
    out: list[Path] = []
    dens, p_pit = pit_histogram(pit(y, samples, seed=seed))
    out.append(
        write_csv_atomic(
            d / "pit_histogram.csv", pl.DataFrame({"bin": np.arange(dens.size), "density": dens})
        )
    )
    cc = coverage_curve(y, samples, levels)
    out.append(write_csv_atomic(d / "coverage_curve.csv", cc))
    py, px = prerank if prerank is not None else (y, samples)
    counts, p_rank = energy_prerank(py, px, bins=min(samples.shape[0] + 1, 20), seed=seed)
    out.append(
        write_csv_atomic(
            d / "energy_prerank.csv", pl.DataFrame({"bin": np.arange(counts.size), "count": counts})
        )
    )
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].bar(np.arange(dens.size) / dens.size, dens, width=1 / dens.size, align="edge")
    ax[0].axhline(1.0, color="k", lw=0.8)
    ax[0].set_title(f"PIT ({label}), chi2 p={p_pit:.3f}")
    ax[1].plot(cc["level"], cc["coverage"], "o-")
    ax[1].fill_between(cc["level"], cc["lo"], cc["hi"], alpha=0.3)
    ax[1].plot([0, 1], [0, 1], "k--", lw=0.8)
    ax[1].set_title("coverage vs nominal (+-2 SE)")
    ax[2].bar(np.arange(counts.size), counts)
    ax[2].set_title(f"energy pre-rank, chi2 p={p_rank:.3f}")
    out.append(write_png_atomic(d / "calibration.png", fig))
    plt.close(fig)
    for lv in levels:
        rc = rolling_coverage(y, samples, lv)
        out.append(write_csv_atomic(d / f"rolling_coverage_p{round(lv * 100):02d}.csv", rc))
    qs = np.quantile(samples, [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], axis=0)
    chosen = set(assets if fan_assets is None else fan_assets)
    t: Any = np.arange(y.shape[0]) if dates is None else np.asarray(dates)
    for j, name in enumerate(assets):
        if name not in chosen:
            continue
        fig, a = plt.subplots(figsize=(8, 3))
        for lo, hi, al in ((0, 6, 0.15), (1, 5, 0.25), (2, 4, 0.35)):
            a.fill_between(t, qs[lo, :, j], qs[hi, :, j], alpha=al, color="C0", lw=0)
        a.plot(t, qs[3, :, j], color="C0", lw=1)
        a.plot(t, y[:, j], "k.", ms=3)
        a.set_title(f"fan chart {name} ({label})")
        out.append(write_png_atomic(d / f"fan_{name}.png", fig))
        plt.close(fig)
    for key, loss in (losses or {}).items():
        out.append(
            write_csv_atomic(
                d / f"svi_loss_{key}.csv",
                pl.DataFrame({"step": np.arange(loss.size), "loss": loss}),
            )
        )
        fig, a = plt.subplots(figsize=(6, 3))
        a.plot(loss)
        a.set_title(f"SVI loss {key}")
        out.append(write_png_atomic(d / f"svi_loss_{key}.png", fig))
        plt.close(fig)
    return out
