"""Build the :class:`SimulationData` of a run from its ``data`` section.

Prices (T+1 rows after ``start``/``end`` filtering and optional weekly resampling) give
``T`` decision rows: row ``t`` holds the close of ``dates[t]`` and the target
``y[t] = P[t+1] / P[t] - 1`` (the next period's close-to-close simple return). The last
price row only serves as the last target, so nothing after ``data.end`` is ever read and
truncating ``end`` leaves every earlier row bit-identical.

Weekly resampling: the last trading day of each Monday-anchored week (its close and date).

Features (``data.features``, bundled weekly data): the bundled bars up to ``data.end`` are
cleaned into a lake in memory (:func:`algotrader.data.lake.clean_bars`), the configured
groups/keys are computed by :mod:`algotrader.features` (or read back from
``data.features.store`` when its lake hash and feature-config hash match, else computed and
written there), and row ``t`` gets the features of the week that ends at ``dates[t]``
(matched by the week's Monday; the lake's weekly close must equal the price used for the
target, else :class:`DataError`). Every feature of week ``t`` uses bars up to that week's
close only (the feature package's tested property), so ``X[t]`` is known at the decision
time; features of the rows before ``data.start`` are computed too (warm-up history) but
are not rows of the run.

Example:
    >>> from algotrader.simulation.config import DataConfig
    >>> d = load_inputs(DataConfig(end="2000-12-31"))
    >>> d.n_assets, d.periods_per_year, str(d.dates[-1])[:10]
    (20, 52.0, '2000-12-22')
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from algotrader.artifacts import ContentHash
from algotrader.data.panel import Panel, load_panel_npz
from algotrader.data.registry import load_daily_close
from algotrader.errors import ConfigError, DataError, StateError
from algotrader.simulation.config import DataConfig, FeaturesConfig
from algotrader.simulation.family import SimulationData

if TYPE_CHECKING:
    from algotrader.features import FeatureConfig, GroupResult, LakeInputs

__all__ = [
    "bundled_features",
    "data_from_prices",
    "feature_config_of",
    "load_inputs",
    "weekly_closes",
]

logger = logging.getLogger(__name__)


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
        if cfg.features is not None:
            X, features = bundled_features(cfg, dates, assets, prices)
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


# ----------------------------------------------------------------------------- features
def feature_config_of(fc: FeaturesConfig) -> FeatureConfig:
    """The :class:`~algotrader.features.FeatureConfig` of ``data.features`` (errors keyed)."""
    from algotrader.features import GROUP_ORDER, parse_feature_config

    raw: dict[str, Any] = {"degenerate_policy": fc.degenerate_policy}
    if fc.groups == "all":
        raw["groups"] = {g: "all" for g in GROUP_ORDER}
    else:
        raw["groups"] = {g: (k if k == "all" else list(k)) for g, k in fc.groups.items()}
    if fc.horizons is not None:
        raw["horizons"] = list(fc.horizons)
    try:
        return parse_feature_config(raw)
    except ConfigError as exc:
        raise ConfigError(
            exc.message,
            key=f"data.features.{exc.key}" if exc.key else "data.features",
            hint=exc.hint,
        ) from exc


def _lake_hash(lake: LakeInputs) -> str:
    h = ContentHash()
    h.array(lake.timestamps.astype(np.int64))
    h.update("\x1f".join(lake.assets))
    for arr in (
        lake.weekly_open,
        lake.weekly_high,
        lake.weekly_low,
        lake.weekly_close,
        lake.days.astype(np.int64),
        lake.daily_open,
        lake.daily_high,
        lake.daily_low,
        lake.daily_close,
    ):
        h.array(arr)
    return h.hexdigest()


def _bundled_lake(cfg: DataConfig, assets: tuple[str, ...]) -> LakeInputs:
    """The bundled bars up to ``cfg.end`` cleaned into lake arrays (in memory)."""
    from algotrader.data.lake import clean_bars
    from algotrader.data.registry import load_dataset
    from algotrader.features.inputs import inputs_from_frames

    bars = load_dataset(cfg.dataset).filter(pl.col("asset").is_in(list(assets)))
    if cfg.end is not None:
        bars = bars.filter(pl.col("timestamp").dt.date() <= cfg.end)
    cleaned = clean_bars(bars, source={"dataset": cfg.dataset})
    lake = inputs_from_frames(
        cleaned.daily, cleaned.weekly, version=cleaned.week_label, source=f"bundled:{cfg.dataset}"
    )
    return replace(lake, lake_hash=_lake_hash(lake))


def _group_results(
    lake: LakeInputs, fcfg: FeatureConfig, store: str | None
) -> dict[str, GroupResult]:
    from algotrader.features import GroupResult, compute_group, read_group, write_group
    from algotrader.features.context import FeatureContext
    from algotrader.features.engine import options_of

    ctx = FeatureContext(lake, options_of(fcfg))
    out: dict[str, GroupResult] = {}
    for g in fcfg.groups:
        folder = None if store is None else Path(store) / lake.version / g
        if folder is not None and (folder / "metadata.json").is_file():
            try:
                sg = read_group(folder)
            except StateError:
                sg = None
            if (
                sg is not None
                and sg.metadata.get("lake_hash") == lake.lake_hash
                and sg.metadata.get("config_hash") == fcfg.config_hash()
            ):
                out[g] = GroupResult(g, sg.features, sg.values, sg.status)
                logger.info("feature group %s reused from %s", g, folder)
                continue
        out[g] = compute_group(lake, g, fcfg, ctx=ctx)
        if store is not None:
            write_group(store, out[g], lake, fcfg)
    return out


def bundled_features(
    cfg: DataConfig, dates: np.ndarray, assets: tuple[str, ...], prices: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features ``(T+1, A, F)`` for the weekly price rows ``dates`` (see the module doc).

    Returns the values (NaN where a feature is not ok: warm-up, degenerate, missing) and
    the names ``group::feature``.

    Raises:
        ConfigError: an unknown group/key/horizon in ``data.features``.
        DataError: a price row whose week has no lake row, or whose close differs.
    """
    assert cfg.features is not None
    fcfg = feature_config_of(cfg.features)
    lake = _bundled_lake(cfg, assets)
    results = _group_results(lake, fcfg, cfg.features.store)
    names = tuple(f"{g}::{f}" for g, r in results.items() for f in r.features)
    values = np.concatenate([r.values for r in results.values()], axis=2)
    days = np.asarray(dates).astype("datetime64[D]")
    monday = days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    pos = np.searchsorted(lake.week_start, monday)
    ok = pos < lake.week_start.size
    ok[ok] = lake.week_start[pos[ok]] == monday[ok]
    if not ok.all():
        r = int(np.flatnonzero(~ok)[0])
        raise DataError(f"no lake week for price row {days[r]}", row=r, key="data.features")
    col = [lake.assets.index(a) for a in assets]
    close = lake.weekly_close[pos][:, col]
    both = np.isfinite(close) & np.isfinite(prices)
    bad = both & ~np.isclose(close, prices, rtol=1e-12, atol=0.0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            "lake weekly close differs from the simulation's weekly close (misaligned weeks)",
            row=int(r),
            column=assets[int(c)],
            key="data.features",
        )
    X = np.ascontiguousarray(values[pos][:, col, :])
    logger.info("features: %d groups, %d features, %d rows", len(results), len(names), X.shape[0])
    return X, names
