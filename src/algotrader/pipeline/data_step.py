"""Default pipeline step 1: clean the bundled 20-stock daily closes into a local lake.

Leaves in ``ctx.results``:

* ``"daily_close"``: polars DataFrame, ``date`` (``pl.Date``) + one Float64 column per asset
  (the 20 bundled stocks, 1990-01-02 .. 2022-12-28), shape (8313, 21);
* ``"lake_dir"``: :class:`~pathlib.Path` of the lake folder
  (``DATA_LAKE_SOURCE/bundled/sp500_20_stocks/YYYY-WW``);
* ``"weekly_returns"``: the lake's wide weekly simple returns.

The summary reports assets, date range, missing data and, per asset, the annualised return
(geometric, ``(P_end / P_start) ** (365.25 / days) - 1``) and the annualised volatility of
daily simple returns (``std * sqrt(252)``, ddof = 1).
"""

from __future__ import annotations

import math

import polars as pl

from algotrader.data.lake import clean_bars, write_lake
from algotrader.data.registry import close_wide, get_dataset, load_dataset
from algotrader.pipeline import PipelineContext, StepResult

DATASET = "sp500_20_stocks"
TRADING_DAYS = 252


def asset_stats(daily_close: pl.DataFrame) -> pl.DataFrame:
    """Per asset: first/last date, annualised geometric return and volatility.

    Args:
        daily_close: ``date`` + one price column per asset, shape (T, 1 + A).

    Returns:
        Frame of shape (A, 5): ``asset, start, end, ann_return, ann_vol``.

    Example:
        >>> import polars as pl, datetime as dt
        >>> d = pl.DataFrame({"date": [dt.date(2000, 1, 1), dt.date(2001, 1, 1)], "X": [1.0, 2.0]})
        >>> round(asset_stats(d)["ann_return"][0], 2)
        1.0
    """
    rows = []
    for asset in daily_close.columns[1:]:
        s = daily_close.select("date", asset).drop_nulls()
        first, last = s["date"][0], s["date"][-1]
        days = (last - first).days
        growth = s[asset][-1] / s[asset][0]
        ann_return = growth ** (365.25 / days) - 1.0 if days > 0 else math.nan
        rets = s[asset].pct_change().drop_nulls()
        vol = rets.std()
        ann_vol = float(vol) * math.sqrt(TRADING_DAYS) if vol is not None else math.nan  # type: ignore[arg-type]
        rows.append((asset, first, last, float(ann_return), ann_vol))
    return pl.DataFrame(
        rows, schema=["asset", "start", "end", "ann_return", "ann_vol"], orient="row"
    )


def run(ctx: PipelineContext) -> StepResult:
    """Load the bundled closes, clean them into the lake, summarise."""
    info = get_dataset(DATASET)
    bars = load_dataset(DATASET)
    daily_close = close_wide(bars, info.assets)
    result = clean_bars(bars, source={"kind": "bundled_dataset", "name": DATASET})
    lake_dir = write_lake(result, ctx.settings.data_lake_source / "bundled" / DATASET)
    ctx.results["daily_close"] = daily_close
    ctx.results["lake_dir"] = lake_dir
    ctx.results["weekly_returns"] = result.returns
    stats = asset_stats(daily_close)
    missing_daily = int(result.daily.filter(pl.col("n_bars") == 0).height)
    summary = {
        "dataset": DATASET,
        "source": f"{info.source} ({info.licence})",
        "assets": len(info.assets),
        "start": str(daily_close["date"][0]),
        "end": str(daily_close["date"][-1]),
        "days": daily_close.height,
        "weeks": int(result.weekly["week_start"].n_unique()),
        "missing_daily_cells": missing_daily,
        "missing_weekly_returns": int(result.tensor.missing.sum()),
        "lake_dir": str(lake_dir),
        "per_asset": {
            r["asset"]: {"ann_return": round(r["ann_return"], 6), "ann_vol": round(r["ann_vol"], 6)}
            for r in stats.iter_rows(named=True)
        },
    }
    overview = [
        ["assets", str(summary["assets"])],
        ["date range", f"{summary['start']} .. {summary['end']}"],
        ["days / weeks", f"{summary['days']} / {summary['weeks']}"],
        ["missing daily cells", str(missing_daily)],
        ["missing weekly returns", str(summary["missing_weekly_returns"])],
        ["lake", str(lake_dir)],
    ]
    per_asset = [
        [r["asset"], f"{r['ann_return']:.2%}", f"{r['ann_vol']:.2%}"]
        for r in stats.iter_rows(named=True)
    ]
    return StepResult(
        name="data",
        summary=summary,
        tables=[
            (f"Data: {DATASET} ({info.source}, {info.licence})", ["item", "value"], overview),
            (
                "Per-asset annualised return and volatility (daily closes)",
                ["asset", "return", "volatility"],
                per_asset,
            ),
        ],
        artifacts=[lake_dir],
    )
