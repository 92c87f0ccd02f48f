"""Build the :class:`SimulationData` of a run from its ``data`` section.

Prices (T+1 rows after ``start``/``end`` filtering and optional weekly resampling) give
``T`` decision rows: row ``t`` holds the close of ``dates[t]`` and the target
``y[t] = P[t+1] / P[t] - 1`` (the next period's close-to-close simple return). The last
price row only serves as the last target, so nothing after ``data.end`` is ever read and
truncating ``end`` leaves every earlier row bit-identical.

Weekly resampling: the last trading day of each Monday-anchored week (its close and date).

Example:
    >>> from algotrader.simulation.config import DataConfig
    >>> d = load_inputs(DataConfig(end="2000-12-31"))
    >>> d.n_assets, d.periods_per_year, str(d.dates[-1])[:10]
    (20, 52.0, '2000-12-22')
"""

from __future__ import annotations

import numpy as np
import polars as pl

from algotrader.data.panel import Panel, load_panel_npz
from algotrader.data.registry import load_daily_close
from algotrader.errors import DataError
from algotrader.simulation.config import DataConfig
from algotrader.simulation.family import SimulationData

__all__ = ["data_from_prices", "load_inputs", "weekly_closes"]


def weekly_closes(daily: pl.DataFrame) -> pl.DataFrame:
    """Last row of every Monday-anchored week of a wide daily frame (``date`` + assets)."""
    return (
        daily.sort("date")
        .with_columns(pl.col("date").dt.truncate("1w").alias("_week"))
        .group_by("_week", maintain_order=True)
        .last()
        .drop("_week")
    )


def data_from_prices(
    dates: np.ndarray,
    assets: tuple[str, ...],
    prices: np.ndarray,
    *,
    periods_per_year: float,
    horizon: int = 1,
    X: np.ndarray | None = None,
    features: tuple[str, ...] | None = None,
) -> SimulationData:
    """``T+1`` price rows -> ``T`` decision rows with next-period targets (see module doc)."""
    p = np.asarray(prices, dtype=np.float64)
    if p.shape[0] < 3:
        raise DataError(f"need at least 3 price rows, got {p.shape[0]}", key="data")
    bad = np.isfinite(p) & (p <= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError("prices must be positive", row=int(r), column=assets[int(c)])
    y = p[1:] / p[:-1] - 1.0
    return SimulationData(
        dates=np.asarray(dates)[:-1],
        assets=assets,
        y=np.where(np.isfinite(y), y, np.nan),
        y_mask=np.isfinite(y),
        X=None if X is None else X[:-1],
        features=features,
        prices=p[:-1],
        horizon=horizon,
        periods_per_year=periods_per_year,
        target_kind="simple close-to-close, next period",
    )


def load_inputs(cfg: DataConfig, *, horizon: int = 1) -> SimulationData:
    """Load the run's data (bundled dataset or ``.npz`` panels), filtered to [start, end]."""
    X = None
    features = None
    if cfg.source == "bundled":
        frame = load_daily_close(cfg.dataset)
        if cfg.frequency == "weekly":
            frame = weekly_closes(frame)
        if cfg.start is not None:
            frame = frame.filter(pl.col("date") >= cfg.start)
        if cfg.end is not None:
            frame = frame.filter(pl.col("date") <= cfg.end)
        assets = tuple(cfg.assets) if cfg.assets else tuple(c for c in frame.columns if c != "date")
        missing = [a for a in assets if a not in frame.columns]
        if missing:
            raise DataError(f"asset {missing[0]!r} not in {cfg.dataset}", column=missing[0])
        dates = frame["date"].cast(pl.Datetime("us")).to_numpy()
        prices = frame.select(assets).to_numpy().astype(np.float64)
    else:
        assert cfg.prices_npz is not None
        panel = load_panel_npz(cfg.prices_npz)
        feat = load_panel_npz(cfg.features_npz) if cfg.features_npz else None
        panel, feat = _filter(panel, cfg), (None if feat is None else _filter(feat, cfg))
        if cfg.assets:
            panel = panel.select_assets(cfg.assets)
            feat = None if feat is None else feat.select_assets(cfg.assets)
        assets, dates = panel.assets, panel.dates
        prices = np.where(panel.mask, panel.values, np.nan)
        if feat is not None:
            if (
                feat.assets != assets
                or feat.dates.shape != dates.shape
                or (feat.dates != dates).any()
            ):
                raise DataError(
                    "features panel dates/assets differ from prices", file=cfg.features_npz
                )
            X = np.where(feat.mask, feat.values, np.nan)
            features = feat.features
    ppy = 52.0 if cfg.frequency == "weekly" else 252.0
    return data_from_prices(
        dates, assets, prices, periods_per_year=ppy, horizon=horizon, X=X, features=features
    )


def _filter(panel: Panel, cfg: DataConfig) -> Panel:
    start = None if cfg.start is None else np.datetime64(cfg.start, "us")
    end = None if cfg.end is None else np.datetime64(cfg.end, "us") + np.timedelta64(1, "D")
    keep = np.ones(panel.n_dates, dtype=bool)
    if start is not None:
        keep &= panel.dates >= start
    if end is not None:
        keep &= panel.dates < end
    return panel.take(np.flatnonzero(keep))
