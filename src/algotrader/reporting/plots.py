"""Report figures: pure functions from arrays to self-contained image URIs.

Every function takes plain numpy arrays (dates as ``datetime64``), draws one figure in the
report style and returns a ``data:`` URI (see :mod:`algotrader.reporting.style`). NaN policy:
NaN returns are drawn as gaps in rolling statistics and count as 0 in compounded equity
(the caller's returns are already net of costs; a NaN there means "not invested").

Example:
    >>> import numpy as np
    >>> d = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
    >>> r = np.random.default_rng(0).normal(0, 0.01, d.size)
    >>> equity_plot(d, {"strategy": r}).startswith("data:image/svg+xml;base64,")
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from algotrader.reporting.style import PALETTE, fig_to_uri, figure

__all__ = [
    "drawdown_plot",
    "equity_plot",
    "histogram_plot",
    "is_oos_plot",
    "lines_plot",
    "rolling_plot",
    "turnover_plot",
    "weights_plot",
]

FloatArray = NDArray[np.float64]


def _equity(r: FloatArray) -> FloatArray:
    out: FloatArray = np.cumprod(1.0 + np.nan_to_num(np.asarray(r, dtype=np.float64))).astype(
        np.float64
    )
    return out


def equity_plot(
    dates: NDArray[np.datetime64],
    returns: Mapping[str, FloatArray],
    *,
    log: bool = True,
    title: str = "Equity (growth of 1, net of costs)",
) -> str:
    """Compounded equity of each named net-return series, log scale by default."""
    with figure() as (fig, ax):
        for name, r in returns.items():
            ax.plot(dates, _equity(r), lw=1.6 if name == next(iter(returns)) else 1.1, label=name)
        if log:
            from matplotlib.ticker import FuncFormatter

            ax.set_yscale("log")
            plain = FuncFormatter(lambda y, _pos: f"{y:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.set_title(title + (" - log scale" if log else ""))
        ax.legend(loc="upper left")
        return fig_to_uri(fig)


def drawdown_plot(dates: NDArray[np.datetime64], returns: Mapping[str, FloatArray]) -> str:
    """Drawdown in % from the running peak, per series."""
    with figure(height=2.6) as (fig, ax):
        for name, r in returns.items():
            eq = _equity(r)
            dd = 100.0 * (eq / np.maximum.accumulate(eq) - 1.0)
            ax.plot(dates, dd, lw=1.0, label=name)
        ax.set_title("Drawdown (%)")
        ax.legend(loc="lower left")
        return fig_to_uri(fig)


def _rolling(x: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    n = x.size
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    if n >= window:
        from numpy.lib.stride_tricks import sliding_window_view

        win = sliding_window_view(x, window)
        mean[window - 1 :] = win.mean(axis=1)
        std[window - 1 :] = win.std(axis=1, ddof=1)
    return mean, std


def rolling_plot(
    dates: NDArray[np.datetime64], returns: FloatArray, *, window: int, periods_per_year: float
) -> str:
    """Rolling annualised Sharpe and volatility over ``window`` periods."""
    r = np.asarray(returns, dtype=np.float64)
    mean, std = _rolling(r, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = np.where(std > 0, mean / std * np.sqrt(periods_per_year), np.nan)
    vol = 100.0 * std * np.sqrt(periods_per_year)
    with figure(height=3.0, nrows=1, ncols=2) as (fig, (a1, a2)):
        a1.plot(dates, sharpe, color=PALETTE[0], lw=1.0)
        a1.axhline(0.0, color="#555", lw=0.6)
        a1.set_title(f"Rolling Sharpe ({window} periods)")
        a2.plot(dates, vol, color=PALETTE[1], lw=1.0)
        a2.set_title(f"Rolling volatility, % a year ({window} periods)")
        fig.autofmt_xdate()
        return fig_to_uri(fig)


def weights_plot(
    dates: NDArray[np.datetime64],
    assets: Sequence[str],
    weights: FloatArray,
    *,
    title: str = "Weights over time",
) -> str:
    """Stacked area of long-only weights; lines when any weight is negative."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    with figure(height=3.4) as (fig, ax):
        colors = [PALETTE[i % len(PALETTE)] for i in range(w.shape[1])]
        if (w >= -1e-12).all():
            ax.stackplot(dates, w.T, labels=list(assets), colors=colors, lw=0)
        else:
            for j, a in enumerate(assets):
                ax.plot(dates, w[:, j], lw=0.8, label=a, color=colors[j])
            ax.axhline(0.0, color="#555", lw=0.6)
        ax.set_title(title)
        if len(assets) <= 20:
            ax.legend(loc="upper left", ncol=min(len(assets), 10), fontsize=7)
        return fig_to_uri(fig)


def turnover_plot(
    dates: NDArray[np.datetime64], turnover: FloatArray, costs: FloatArray | None = None
) -> str:
    """Per-period turnover and (right axis) cumulative costs."""
    with figure(height=2.6) as (fig, ax):
        ax.plot(dates, np.asarray(turnover, dtype=np.float64), lw=0.7, color=PALETTE[0])
        ax.set_title("Turnover per period" + (" and cumulative costs" if costs is not None else ""))
        if costs is not None:
            ax2 = ax.twinx()
            ax2.plot(dates, np.nancumsum(costs), lw=1.2, color=PALETTE[3])
            ax2.set_ylabel("cumulative costs")
        return fig_to_uri(fig)


def histogram_plot(
    values: FloatArray,
    *,
    title: str,
    xlabel: str,
    marker: float | None = None,
    marker_label: str | None = None,
    bins: int = 30,
) -> str:
    """Histogram of ``values`` (finite ones) with an optional vertical marker."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    with figure(width=5.5, height=3.0) as (fig, ax):
        if v.size:
            ax.hist(v, bins=min(bins, max(5, v.size)), color=PALETTE[0], alpha=0.85)
        if marker is not None and np.isfinite(marker):
            ax.axvline(marker, color=PALETTE[3], lw=1.4, label=marker_label)
            if marker_label:
                ax.legend()
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        return fig_to_uri(fig)


def is_oos_plot(
    labels: Sequence[str], in_sample: FloatArray, out_sample: FloatArray, *, metric: str
) -> str:
    """Grouped bars of in-sample and out-of-sample ``metric`` per walk-forward cycle."""
    x = np.arange(len(labels))
    with figure(height=3.0) as (fig, ax):
        ax.bar(x - 0.2, np.asarray(in_sample, dtype=np.float64), 0.4, label="in-sample")
        ax.bar(x + 0.2, np.asarray(out_sample, dtype=np.float64), 0.4, label="out-of-sample")
        ax.set_xticks(x, list(labels))
        ax.axhline(0.0, color="#555", lw=0.6)
        ax.set_title(f"{metric} per walk-forward cycle")
        ax.legend()
        return fig_to_uri(fig)


def lines_plot(
    x: NDArray[np.generic],
    series: Mapping[str, FloatArray],
    *,
    title: str,
    ylabel: str = "",
    logy: bool = False,
    marker: float | None = None,
    marker_label: str = "selected",
) -> str:
    """Named lines over a shared x axis (loss curves, pool value vs HODL, weights paths).

    ``marker`` draws a dashed vertical line at that x (the selected iteration).
    """
    with figure(height=3.0) as (fig, ax):
        for name, y in series.items():
            ax.plot(x, np.asarray(y, dtype=np.float64), lw=1.1, label=name)
        if marker is not None:
            ax.axvline(marker, color="#555", lw=0.9, ls="--", label=marker_label)
        if logy:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if len(series) > 1 or marker is not None:
            ax.legend()
        return fig_to_uri(fig)
