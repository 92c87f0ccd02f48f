"""PNG plots written by the CLI commands (matplotlib, Agg backend, atomic writes).

* :func:`plot_optimise` — ``optimise.png``: the book's value (the shared evaluation's, after
  costs) with the equal-weight buy-and-hold benchmark (uniform HODL: equal value per asset at
  the start, then held; same lag and costs), drawdown in %, and the realised weights
  (position / value) per asset.
* :func:`plot_amm_run` — ``amm_run.png``: pool value vs HODL of the initial holdings, and
  the pool weights per token.
* :func:`plot_training` — ``training.png`` (``amm train``): the objective per iteration (one
  line per parameter set) and the selected set's train / validation (/ test) metric curves.
* :func:`plot_walk_forward` — ``walk_forward.png`` (``amm walk-forward``): IS vs OOS metric
  per cycle (bars) and the WFE per cycle (undefined cycles marked "n/a").

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> nav = np.array([1.0, 1.1, 1.05]); bench = np.array([1.0, 1.02, 1.04])
    >>> plot_optimise(d / "o.png", np.arange(3), nav, bench, np.ones((3, 2)) * 0.5, ["A", "B"]).name
    'o.png'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from algotrader.io import write_png_atomic


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _panels(path: Path, rows: int, height: float) -> Iterator[list[Any]]:
    """``rows`` stacked axes sharing x; on a clean exit the figure is written to ``path``."""
    plt = _plt()
    fig, axes = plt.subplots(rows, 1, figsize=(10, height), sharex=True)
    try:
        yield list(axes)
        fig.tight_layout()
        write_png_atomic(path, fig)
    finally:
        plt.close(fig)


def _finish(ax: Any, ylabel: str, *, legend: bool = True, **legend_kw: Any) -> None:
    """The y label, a legend (``loc="best"``) where asked, and the light grid."""
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(loc="best", **legend_kw)
    ax.grid(alpha=0.3)


def plot_optimise(
    path: Path,
    x: Any,
    nav: np.ndarray,
    benchmark: np.ndarray,
    weights: np.ndarray,
    assets: Sequence[str],
) -> Path:
    """NAV vs benchmark, drawdown (%) and weights (T, A) in one PNG."""
    with _panels(path, 3, 8) as (a1, a2, a3):
        a1.plot(x, nav, label="strategy NAV", lw=1.2)
        a1.plot(x, benchmark, label="equal-weight buy and hold", lw=1.0, alpha=0.8)
        _finish(a1, "NAV")
        peak = np.fmax.accumulate(np.where(np.isfinite(nav), nav, np.nan))
        dd = np.where(peak > 0, 100.0 * (nav / peak - 1.0), np.nan)
        a2.fill_between(x, dd, 0.0, color="tab:red", alpha=0.4)
        _finish(a2, "drawdown (%)", legend=False)
        for j, name in enumerate(assets):
            a3.plot(x, weights[:, j], lw=0.8, label=str(name))
        few = len(assets) <= 12
        _finish(
            a3, "weight (position / NAV)", legend=few, fontsize="small", ncol=min(len(assets), 4)
        )
    return path


def plot_amm_run(
    path: Path,
    x: Any,
    value: np.ndarray,
    hodl: np.ndarray,
    weights: np.ndarray,
    tokens: Sequence[str],
) -> Path:
    """Pool value vs HODL and pool weights (T, n) in one PNG."""
    with _panels(path, 2, 6) as (a1, a2):
        a1.plot(x, value, label="pool value", lw=1.2)
        a1.plot(x, hodl, label="HODL (initial holdings)", lw=1.0, alpha=0.8)
        _finish(a1, "value")
        for j, name in enumerate(tokens):
            a2.plot(x, weights[:, j], lw=0.8, label=str(name))
        _finish(a2, "weight", fontsize="small")
    return path


def plot_training(
    path: Path,
    history: Any,
    metric: str,
    *,
    best_set: int = 0,
    best_iteration: int | None = None,
) -> Path:
    """Objective per iteration (each set) and ``metric`` on train / val / test (best set)."""
    import polars as pl

    with _panels(path, 2, 6) as (a1, a2):
        sets = sorted(set(history["set"].to_list())) if "set" in history.columns else [0]
        for s in sets[:8]:
            part = history.filter(pl.col("set") == s) if "set" in history.columns else history
            part = part.sort("iteration")
            a1.plot(part["iteration"], part["objective"], lw=1.0, label=f"set {s}")
        a1.set_title("training objective")
        _finish(a1, "objective", legend=len(sets) > 1, fontsize="small")
        best = history.filter(pl.col("set") == best_set) if "set" in history.columns else history
        best = best.sort("iteration")
        for seg, label in (("train", "train"), ("val", "validation"), ("test", "test")):
            col = f"{seg}_{metric}"
            if col in best.columns:
                y = best[col].cast(pl.Float64).fill_null(np.nan).to_numpy()
                if np.isfinite(y).any():
                    a2.plot(best["iteration"], y, lw=1.1, label=label)
        if best_iteration is not None:
            a2.axvline(best_iteration, color="#555", ls="--", lw=0.9, label="selected")
        a2.set_xlabel("iteration")
        a2.set_title(f"{metric} of set {best_set}: train vs validation")
        _finish(a2, metric, fontsize="small")
    return path


def plot_walk_forward(
    path: Path,
    labels: Sequence[str],
    in_sample: np.ndarray,
    out_sample: np.ndarray,
    wfe: np.ndarray,
    metric: str,
) -> Path:
    """IS vs OOS ``metric`` per cycle and the WFE per cycle ("n/a" where undefined)."""
    x = np.arange(len(labels))
    with _panels(path, 2, 6) as (a1, a2):
        a1.bar(x - 0.2, in_sample, 0.4, label="in-sample")
        a1.bar(x + 0.2, out_sample, 0.4, label="out-of-sample")
        a1.axhline(0.0, color="#555", lw=0.6)
        a1.set_title(f"{metric} per walk-forward cycle")
        _finish(a1, metric)
        finite = np.isfinite(wfe)
        a2.bar(x[finite], wfe[finite], 0.5, color="tab:green")
        for i in np.flatnonzero(~finite):
            a2.text(x[i], 0.0, "n/a", ha="center", va="bottom")
        a2.axhline(0.0, color="#555", lw=0.6)
        a2.set_xticks(x, [f"cycle {label}" for label in labels])
        _finish(a2, "WFE = OOS / IS", legend=False)
    return path


__all__ = ["plot_amm_run", "plot_optimise", "plot_training", "plot_walk_forward"]
