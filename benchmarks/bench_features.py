"""Benchmark: all 45 features (+ store write) vs a straightforward pandas implementation of
the same definitions, and our kernels vs TA-Lib for the indicators TA-Lib has.

Cases: (i) the bundled 20 stocks, 1990-2022 (daily closes); (ii) 500 synthetic assets x 20
years of daily OHLC bars. Timings are medians of ``--repeat`` runs after one warm-up call
(numba kernels are compiled and cached on first use); wall and process CPU seconds and the
1-minute load average are printed for each, since the machine may be shared. The
indicator table runs our kernels on 1 thread and on :func:`kernel_threads` threads
(``ALGOTRADER_THREADS``) against TA-Lib's per-asset calls (single-threaded), same run.
Run: ``python benchmarks/bench_features.py [--assets 500] [--years 20] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import talib

from algotrader.data.lake import clean_bars, write_lake
from algotrader.data.registry import load_dataset
from algotrader.features import compute_features, load_lake_inputs, synthetic_inputs, write_group
from algotrader.features.common import feature_threads, kernel_threads
from algotrader.features.inputs import LakeInputs
from algotrader.features.kernels import (
    atr_wilder,
    ema_talib,
    rolling_extreme,
    rolling_mean,
    rolling_std,
    rsi_ewm,
    true_range,
)

warnings.simplefilter("ignore")


def median_time(fn, repeat: int, min_total: float = 0.2) -> tuple[float, float]:
    """Median (wall, process CPU) seconds of ``fn`` over ``repeat`` calls (more calls for
    fast functions, until ``min_total`` seconds of wall time, at most 200)."""
    wall: list[float] = []
    cpu: list[float] = []
    t_all = time.perf_counter()
    while len(wall) < repeat or (time.perf_counter() - t_all < min_total and len(wall) < 200):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu))


def timed(fn) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def ours(x: LakeInputs, store: Path) -> None:
    for r in compute_features(x).values():
        write_group(store, r, x)


def pandas_features(x: LakeInputs) -> dict[str, pd.DataFrame]:
    """The 45 definitions written the obvious pandas way (wide frames, rolling/ewm/apply)."""
    c, h, lo = (pd.DataFrame(a) for a in (x.weekly_close, x.weekly_high, x.weekly_low))
    p = np.log(c)
    r = p.diff()
    out: dict[str, pd.DataFrame] = {}
    sig = r.rolling(26).std()
    for k in (4, 12, 26):
        out[f"z_mom_{k}w"] = (p - p.shift(k)) / (sig * np.sqrt(k) + 1e-8)
    tr = pd.concat([h - lo, (h - c.shift()).abs(), (lo - c.shift()).abs()]).groupby(level=0).max()
    atr = tr.ewm(alpha=1 / 26, adjust=False).mean()
    e26 = c.ewm(span=26, adjust=False).mean()
    for s in (4, 12):
        out[f"ema_spread_{s}w_26w"] = (c.ewm(span=s, adjust=False).mean() - e26) / (atr + 1e-8)
    for k in (12, 26):
        ew = p.ewm(halflife=k, adjust=False, min_periods=k)
        out[f"z_price_ema_{k}w"] = (p - ew.mean()) / (ew.std() + 1e-8)
    mu = p.rolling(26).median()
    out["z_price_med_26w"] = (p - mu) / (1.4826 * (p - mu).abs().rolling(26).median() + 1e-8)
    lo4, hi4 = lo.rolling(4).min(), h.rolling(4).max()
    out["donch_pos_4w"] = ((c - lo4) / (hi4 - lo4 + 1e-8)).where(hi4 > lo4)
    d = c.diff()
    g = d.clip(lower=0).ewm(alpha=0.25, adjust=False, min_periods=4).mean()
    ls = (-d).clip(lower=0).ewm(alpha=0.25, adjust=False, min_periods=4).mean()
    out["rsi_centered_4w"] = 50 - 100 / (1 + g / ls)
    out["rev_1w"] = -r.shift(1)
    out["shock_4w"] = r.shift(1) / (r.rolling(4).std(ddof=0) + 1e-8)
    out["range_pos_1w"] = ((c - (h + lo) / 2) / ((h - lo) / 2 + 1e-8)).where(h > lo)
    rr = h - lo
    out["range_z_12w"] = (rr - rr.rolling(12).mean()) / (rr.rolling(12).std(ddof=0) + 1e-8)
    for k in (4, 26):
        out[f"brk_up_{k}w"] = (c > h.shift(1).rolling(k).max()).astype(float)
        out[f"brk_dn_{k}w"] = (c < lo.shift(1).rolling(k).min()).astype(float)
    for b in ("z_mom_4w", "z_mom_12w", "z_price_ema_26w", "z_price_med_26w", "rev_1w", "shock_4w"):
        out[f"cs_rank_{b}"] = (out[b].rank(axis=1) - 0.5).div(out[b].notna().sum(axis=1), axis=0)
    # daily groups: long groupby per asset on valid rows, sampled at each week's last row
    dc, dh, dl = (pd.DataFrame(a) for a in (x.daily_close, x.daily_high, x.daily_low))
    wk = pd.Series(x.day_week)
    dr = np.log(dc).diff()
    dtr = (
        pd.concat([dh - dl, (dh - dc.shift()).abs(), (dl - dc.shift()).abs()])
        .groupby(level=0)
        .max()
    )

    def W(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.groupby(wk.values).last()

    def lr(a, b, e=1e-6):
        return np.log((np.maximum(a, e) + e) / (np.maximum(b, e) + e))

    s5, s20, s60, s130 = (dr.rolling(n).std() for n in (5, 20, 60, 130))
    out["vol_cc_d_4w"], out["vol_cc_d_26w"] = W(s20), W(s130)
    out["atrp_d_4w"] = W(dtr.rolling(20).mean() / (dc + 1e-8))
    a = W(dr.abs().rolling(60).std(ddof=0))
    out["vov_norm_12w"] = lr(a, a.shift(1).rolling(26).median(), 1e-8)
    v = W(s20)
    out["vol_regime_cc_4w_26w"] = lr(v, v.shift(1).rolling(26).median())
    out["vol_ts_cc_1w_4w"] = lr(W(s5), W(s20))
    out["vol_ts_cc_4w_26w"] = lr(W(s20), W(s130))
    neg = (dr.where(dr < 0) ** 2).rolling(20, min_periods=1).mean() ** 0.5
    pos = (dr.where(dr > 0) ** 2).rolling(20, min_periods=1).mean() ** 0.5
    out["down_up_vol_ratio_4w"] = W(lr(neg.fillna(s20), pos.fillna(s20)))
    out["jump_freq_4w"] = W((dr.abs() > 2 * s60).astype(float).rolling(20).mean())
    out["realized_skew_d_12w"] = W(dr.rolling(60).skew().clip(-5, 5))
    q = dr.rolling(60).quantile(0.05)
    out["tail_5p_sigma_ratio_12w"] = W(lr(np.maximum(-q, 1e-6), 1.645 * np.maximum(s60, 1e-6)))
    wd = (x.days.astype(np.int64) + 3) % 7
    for k, name in ((0, "Mon"), (4, "Fri")):
        rk = dr[wd == k].groupby(x.day_week[wd == k]).mean().reindex(range(x.n_weeks))
        out[f"dow_alpha_{name}_26w"] = rk.rolling(26, min_periods=1).mean()
    allk = [
        dr[wd == k]
        .groupby(x.day_week[wd == k])
        .mean()
        .reindex(range(x.n_weeks))
        .rolling(26, min_periods=1)
        .mean()
        for k in range(5)
    ]
    out["dow_spread_26w"] = (
        pd.concat(allk).groupby(level=0).max() - pd.concat(allk).groupby(level=0).min()
    )
    gv = v.mean(axis=1)
    out["glob_vol_cc_d_4w"] = gv
    out["glob_vol_regime_cc_4w_26w"] = np.log(
        (gv + 1e-6) / (gv.shift(1).rolling(26).median() + 1e-6)
    )
    last = pd.Series(np.arange(len(dr))).groupby(x.day_week).last()
    corr, pc1 = [], []
    for t in range(x.n_weeks):
        e = last.iloc[t]
        w = dr.iloc[max(e - 59, 0) : e + 1].dropna(axis=1)
        if len(w) < 60 or w.shape[1] < 2:
            corr.append(np.nan)
            pc1.append(np.nan)
            continue
        cm = w.corr().to_numpy()
        corr.append(np.nanmean(cm[np.triu_indices_from(cm, 1)]))
        cov = w.cov().to_numpy()
        pc1.append(np.linalg.eigvalsh(cov)[-1] / np.trace(cov))
    out["glob_corr_mean_12w"], out["glob_pc1_share_12w"] = pd.Series(corr), pd.Series(pc1)

    def mad(f):
        return 1.4826 * f.sub(f.median(axis=1), axis=0).abs().median(axis=1)

    out["glob_disp_ret_1w"], out["glob_disp_mom_12w"], out["glob_disp_vol_4w"] = (
        mad(r),
        mad(p - p.shift(12)),
        mad(v),
    )
    assert len(out) == 45, len(out)
    return out


def pandas_all(x: LakeInputs, store: Path) -> None:
    out = pandas_features(x)
    ts = pd.DatetimeIndex(x.timestamps)
    long = pd.concat(
        {
            k: pd.DataFrame(
                np.broadcast_to(
                    np.asarray(v, float).reshape(x.n_weeks, -1), (x.n_weeks, x.n_assets)
                ),
                index=ts,
                columns=list(x.assets),
            ).stack()
            for k, v in out.items()
        },
        axis=1,
    )
    long.to_parquet(store / "pandas_features.parquet")


def indicators(x: LakeInputs, repeat: int) -> list[tuple[str, float, float, float, float, float]]:
    """(name, ours 1 thread wall, CPU, ours N threads wall, TA-Lib wall, CPU): median
    seconds over all assets."""
    c, h, lo = x.weekly_close, x.weekly_high, x.weekly_low
    dc, dh, dl = (
        np.nan_to_num(x.daily_close),
        np.nan_to_num(x.daily_high),
        np.nan_to_num(x.daily_low),
    )
    dr = np.vstack([np.full((1, dc.shape[1]), np.nan), np.diff(np.log(dc), axis=0)])
    cols = range(c.shape[1])
    cases = [
        (
            "EMA(26) weekly",
            lambda: ema_talib(c, 26),
            lambda: [talib.EMA(c[:, a], 26) for a in cols],
        ),
        (
            "ATR(26) weekly (Wilder)",
            lambda: atr_wilder(h, lo, c, 26),
            lambda: [talib.ATR(h[:, a], lo[:, a], c[:, a], 26) for a in cols],
        ),
        (
            "RSI(4) weekly (EWMA gains)",
            lambda: rsi_ewm(c, 0.25, 4),
            lambda: [talib.RSI(c[:, a], 4) for a in cols],
        ),
        (
            "STDDEV(20) daily returns",
            lambda: rolling_std(dr, 20, 0),
            lambda: [talib.STDDEV(dr[:, a], 20) for a in cols],
        ),
        (
            "SMA(20) of TRANGE daily",
            lambda: rolling_mean(true_range(dh, dl, dc, False), 20),
            lambda: [talib.SMA(talib.TRANGE(dh[:, a], dl[:, a], dc[:, a]), 20) for a in cols],
        ),
        (
            "MAX(4) weekly high",
            lambda: rolling_extreme(h, 4, False, True),
            lambda: [talib.MAX(h[:, a], 4) for a in cols],
        ),
        (
            "MIN(26) weekly low",
            lambda: rolling_extreme(lo, 26, False, False),
            lambda: [talib.MIN(lo[:, a], 26) for a in cols],
        ),
    ]
    out = []
    n_threads = kernel_threads()
    for name, f_ours, f_talib in cases:
        f_ours()
        with feature_threads(1):
            one = median_time(f_ours, repeat)
        with feature_threads(n_threads):
            many = median_time(f_ours, repeat)[0]
        out.append((name, *one, many, *median_time(f_talib, repeat)))
    return out


def run_case(label: str, x: LakeInputs, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        ours(x, store)  # warm-up (compile/cache load)
        load = os.getloadavg()[0]
        t_ours, cpu_ours = median_time(lambda: ours(x, store), repeat, 0.0)
        t_comp, cpu_comp = median_time(lambda: compute_features(x), repeat, 0.0)
        t_pd, cpu_pd = median_time(lambda: pandas_all(x, store), 1, 0.0)
    print(f"\n{label}: weeks={x.n_weeks} days={x.daily_close.shape[0]} assets={x.n_assets}")
    print(f"  load average (1 min) at start: {load:.1f}; kernel threads: {kernel_threads()}")
    print(
        f"  algotrader 45 features + store write: {t_ours:7.3f} s wall  {cpu_ours:7.3f} s CPU"
        f"  (features alone {t_comp:.3f} s wall, {cpu_comp:.3f} s CPU)"
    )
    print(
        f"  pandas same definitions + parquet   : {t_pd:7.3f} s wall  {cpu_pd:7.3f} s CPU"
        f"   ratio {t_pd / t_ours:5.1f}x wall, {cpu_pd / cpu_ours:5.1f}x CPU"
    )
    print(
        "  indicator (all assets), ms       ours 1 thr wall/CPU   ours N thr wall"
        "   TA-Lib wall/CPU   ours/TA-Lib CPU (1 thr)   wall (N thr)"
    )
    for name, w1, c1, wn, wt, ct in indicators(x, repeat):
        print(
            f"  {name:30s} {1e3 * w1:9.2f} /{1e3 * c1:8.2f}  {1e3 * wn:12.2f}"
            f"   {1e3 * wt:8.2f} /{1e3 * ct:7.2f}   {c1 / ct:20.2f}   {wn / wt:10.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        lake = write_lake(clean_bars(load_dataset("sp500_20_stocks")), tmp)
        run_case("(i) bundled 20 stocks 1990-2022", load_lake_inputs(lake), a.repeat)
    run_case(
        f"(ii) synthetic {a.assets} assets x {a.years} years",
        synthetic_inputs(52 * a.years, a.assets),
        a.repeat,
    )
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
