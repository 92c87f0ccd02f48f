"""Benchmark: data-cleaning of 50 assets x 10 years of hourly bars vs a pandas baseline.

Synthetic, seeded bars (24 hourly bars per weekday, random walks) are written in the raw
layout ``<asset>/<YYYY>/hist_data_YYYY-MM.csv`` in a temporary folder. Then, each in its own
subprocess (so peak RSS is per implementation):

* ``algotrader``: :func:`algotrader.data.run_cleaning` (read + validate + daily/weekly +
  returns + metadata + tensor + CSV/Parquet writes), timed in-process; and the whole
  ``algotrader -q data-cleaning`` command line (interpreter start and imports included);
* ``pandas``: a straightforward pandas implementation of the same work: read every file,
  parse UTC timestamps, the same validity checks, groupby daily and weekly OHLC (complete
  grid), weekly returns, CSV writes;
* aggregation only (bars already in memory): :func:`algotrader.data.clean_bars` vs the
  pandas groupby part.

Usage: ``python benchmarks/bench_cleaning.py [--assets 50] [--years 10] [--seed 0]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

START_YEAR = 2010


def generate(root: Path, n_assets: int, years: int, seed: int) -> int:
    """Write the raw layout; return the number of bars."""
    rng = np.random.default_rng(seed)
    days = np.arange(
        np.datetime64(f"{START_YEAR}-01-01"), np.datetime64(f"{START_YEAR + years}-01-01")
    )
    days = days[np.is_busday(days)]
    stamps = (days[:, None] + np.arange(24).astype("timedelta64[h]")).ravel()
    n = stamps.size
    ts_text = pl.Series(stamps.astype("datetime64[us]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    month = pl.Series(stamps.astype("datetime64[M]").astype(str))
    total = 0
    for a in range(n_assets):
        steps = rng.normal(0.0, 0.002, size=n)
        close = 100.0 * np.exp(np.cumsum(steps))
        open_ = np.concatenate([[100.0], close[:-1]])
        spread = np.abs(rng.normal(0.0, 0.001, size=(2, n)))
        high = np.maximum(open_, close) * (1.0 + spread[0])
        low = np.minimum(open_, close) * (1.0 - spread[1])
        vol = rng.integers(0, 10_000, size=n).astype(np.float64)
        # vendor precision: 4 decimals (rounding is monotone, so low <= open, close <= high holds)
        frame = pl.DataFrame(
            {"timestamp": ts_text, "open": open_, "high": high, "low": low, "close": close,
             "volume": vol, "_m": month}
        ).with_columns(pl.col("open", "high", "low", "close").round(4))  # fmt: skip
        for (m,), part in frame.group_by("_m", maintain_order=True):
            path = root / f"ASSET{a:02d}" / str(m)[:4] / f"hist_data_{m}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.drop("_m").write_csv(path)
        total += n
    return total


# ----------------------------------------------------------------------------- pandas
def pandas_load(root: Path) -> Any:
    import pandas as pd

    frames = []
    for asset in sorted(p.name for p in root.iterdir()):
        for f in sorted((root / asset).glob("*/hist_data_*.csv")):
            df = pd.read_csv(f)
            df["asset"] = asset
            frames.append(df)
    bars = pd.concat(frames, ignore_index=True)
    bars["timestamp"] = pd.to_datetime(bars["timestamp"], utc=True, format="ISO8601")
    prices = bars[["open", "high", "low", "close"]]
    ok = (
        (prices > 0).all(axis=None)
        and (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
        and (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
        and (bars["volume"] >= 0).all()
        and (bars.groupby("asset")["timestamp"].diff().dropna() > pd.Timedelta(0)).all()
    )
    if not ok:
        raise ValueError("invalid bars")
    return bars


def pandas_aggregate(bars: Any) -> tuple[Any, Any, Any]:
    import pandas as pd

    wk = bars[bars["timestamp"].dt.weekday < 5].copy()
    wk["date"] = wk["timestamp"].dt.floor("D")
    daily = wk.groupby(["date", "asset"], sort=True).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"),
        close=("close", "last"), volume=("volume", "sum"), n_bars=("close", "size"),
        last=("timestamp", "max"),
    )  # fmt: skip
    label = daily.groupby(level="date")["last"].max().rename("timestamp")
    grid = pd.MultiIndex.from_product(
        [daily.index.levels[0], sorted(bars["asset"].unique())], names=["date", "asset"]
    )
    daily = daily.reindex(grid).join(label, on="date").drop(columns="last")
    present = daily[daily["close"].notna()].reset_index()
    present["week_start"] = present["date"] - pd.to_timedelta(present["date"].dt.weekday, unit="D")
    weekly = present.groupby(["week_start", "asset"], sort=True).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"),
        close=("close", "last"), volume=("volume", "sum"), n_days=("close", "size"),
    )  # fmt: skip
    wlabel = present.groupby("week_start")["timestamp"].max()
    wgrid = pd.MultiIndex.from_product(
        [wlabel.index, sorted(bars["asset"].unique())], names=["week_start", "asset"]
    )
    weekly = weekly.reindex(wgrid).join(wlabel, on="week_start")
    closes = weekly.reset_index().pivot(index="timestamp", columns="asset", values="close")
    returns = (closes / closes.shift(1) - 1.0).iloc[1:]
    return daily, weekly, returns


def pandas_clean(root: Path, lake: Path) -> None:
    daily, weekly, returns = pandas_aggregate(pandas_load(root))
    lake.mkdir(parents=True, exist_ok=True)
    daily.to_csv(lake / "daily_ohlc.csv")
    weekly.to_csv(lake / "weekly_ohlc.csv")
    returns.to_csv(lake / "returns.csv")


# ----------------------------------------------------------------------------- children
def child(mode: str, root: Path, lake: Path) -> dict[str, float]:
    if mode == "polars":
        from algotrader.data.service import CleaningOptions, run_cleaning

        t0 = time.perf_counter()
        run_cleaning(CleaningOptions(start=f"{START_YEAR}-01"), lake_root=lake, data_source=root)
        wall = time.perf_counter() - t0
    elif mode == "pandas":
        import pandas

        t0 = time.perf_counter()
        pandas_clean(root, lake)
        wall = time.perf_counter() - t0
    elif mode == "polars_agg":
        from algotrader.data import clean_bars, read_raw_layout

        bars = read_raw_layout(root)
        t0 = time.perf_counter()
        clean_bars(bars)
        wall = time.perf_counter() - t0
    elif mode == "pandas_agg":
        import pandas  # noqa: F401

        bars = pandas_load(root)
        t0 = time.perf_counter()
        pandas_aggregate(bars)
        wall = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown mode {mode}")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"wall_s": wall, "peak_rss_mib": rss_mib}


def run_child(mode: str, root: Path, lake: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(root), str(lake)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_cli(root: Path, lake: Path) -> dict[str, float]:
    """The whole command in a fresh interpreter: start-up and imports included."""
    env = dict(os.environ, DATA_SOURCE=str(root), DATA_LAKE_SOURCE=str(lake))
    code = (
        "import json, resource, sys\n"
        "from algotrader.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, "-q", "data-cleaning", "--start", f"{START_YEAR}-01"],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_rss_mib": float(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "LAKE"))
    args = parser.parse_args()
    if args.child:
        mode, root, lake = args.child
        print(json.dumps(child(mode, Path(root), Path(lake))))
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_cleaning_") as tmp:
        root = Path(tmp) / "raw"
        t0 = time.perf_counter()
        n_bars = generate(root, args.assets, args.years, args.seed)
        n_files = sum(1 for _ in root.glob("*/*/*.csv"))
        print(
            f"{args.assets} assets x {args.years} years hourly: {n_bars:,} bars in "
            f"{n_files:,} files (generated in {time.perf_counter() - t0:.1f} s); "
            f"cpu_count={os.cpu_count()}"
        )
        rows = {
            "algotrader run_cleaning": run_child("polars", root, Path(tmp) / "lake_pl"),
            "pandas baseline": run_child("pandas", root, Path(tmp) / "lake_pd"),
            "algotrader CLI (process)": run_cli(root, Path(tmp) / "lake_cli"),
            "algotrader aggregation only": run_child("polars_agg", root, Path(tmp) / "x"),
            "pandas aggregation only": run_child("pandas_agg", root, Path(tmp) / "y"),
        }
    print(f"load average (1 min) before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"\n{'implementation':<30}{'wall s':>10}{'peak RSS MiB':>15}")
    for name, r in rows.items():
        print(f"{name:<30}{r['wall_s']:>10.2f}{r['peak_rss_mib']:>15.0f}")
    full = rows["pandas baseline"]["wall_s"] / rows["algotrader run_cleaning"]["wall_s"]
    agg = rows["pandas aggregation only"]["wall_s"] / rows["algotrader aggregation only"]["wall_s"]
    print(f"\nspeed-up vs pandas, end to end (read+validate+aggregate+write): {full:.1f}x")
    print(f"speed-up vs pandas, aggregation only (bars in memory):         {agg:.1f}x")
    target = rows["algotrader run_cleaning"]["wall_s"] < 10.0 and full >= 5.0
    print(f"target (>= 5x and < 10 s): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
