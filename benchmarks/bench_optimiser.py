"""Benchmark: algotrader.portfolio vs basanos 0.7.3, measured in the same run.

Each case runs in a fresh subprocess (so its peak RSS is its own): ours with this
interpreter, the reference with the interpreter of a separate virtual environment
(``--reference-python``; default ``/tmp/basanos-venv/bin/python``), created with::

    python3 -m venv /tmp/basanos-venv
    /tmp/basanos-venv/bin/pip install basanos==0.7.3 cvx-linalg==0.7.0 polars==1.41.2 \\
        jquantstats==0.9.6

(a plain ``pip install basanos`` is broken today: see docs/optimiser.md). BLAS is pinned to
one thread for both (``OPENBLAS_NUM_THREADS=1``); polars keeps its default threads.

Cases (EWMA shrink config ``vola=16, corr=32, clip=3.5, shrink=0.5``; one-factor GBM
prices, N(0,1) signal, seed 0, T=2,520 rows):

* batch (after one warm-up call on 200 rows, for both): build the engine and get the
  cash positions (ours: ``run_batch``, with
  the default solve threads (one below 150 assets, the usable cores from 150 on) and
  with ``ALGOTRADER_THREADS=1``);
* stream: ``from_warmup`` on T rows, then ``step`` on new rows: median / p90 step latency;
* peak RSS of each subprocess (``ru_maxrss``; includes the interpreter and imports).

Usage::

    .venv/bin/python benchmarks/bench_optimiser.py [--sizes 20 100 300] [--rows 2520]
        [--no-reference] [--json out.json]
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

CFG = {"vola": 16, "corr": 32, "clip": 3.5, "shrink": 0.5, "aum": 1e8}
REF_PYTHON = "/tmp/basanos-venv/bin/python"
REF_STEPS = {20: 15, 100: 5, 300: 2}
OUR_STEPS = 200


# ----------------------------------------------------------------------------- worker side


def _data(t_len: int, n: int, seed: int = 0) -> tuple[Any, Any]:
    import polars as pl

    rng = np.random.default_rng(seed)
    market = 0.01 * rng.standard_normal(t_len)
    rets = 0.5 * market[:, None] + 0.01 * rng.standard_normal((t_len, n))
    prices = 100.0 * np.exp(np.cumsum(rets, axis=0))
    mu = rng.standard_normal((t_len, n))
    d = pl.Series("date", np.arange(t_len, dtype=np.int64))
    names = [f"A{i}" for i in range(n)]
    return (
        pl.DataFrame({"date": d, **{c: prices[:, i] for i, c in enumerate(names)}}),
        pl.DataFrame({"date": d, **{c: mu[:, i] for i, c in enumerate(names)}}),
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(impl: str, kind: str, n: int, t_len: int, steps: int, reps: int, dump: str) -> None:
    if impl == "ours":
        from algotrader.portfolio import OptimiserConfig, OptimiserStream, run_batch

        cfg: Any = OptimiserConfig(**CFG)

        def batch(p: Any, m: Any) -> np.ndarray:
            return run_batch(p, m, cfg).cash

        def stream(p: Any, m: Any) -> Any:
            return OptimiserStream.from_warmup(p, m, cfg)
    else:
        from basanos.math import BasanosConfig, BasanosEngine, BasanosStream

        cfg = BasanosConfig(**CFG)

        def batch(p: Any, m: Any) -> np.ndarray:
            return BasanosEngine(prices=p, mu=m, cfg=cfg).cash_position.drop("date").to_numpy()

        def stream(p: Any, m: Any) -> Any:
            return BasanosStream.from_warmup(p, m, cfg)

    prices, mu = _data(t_len + steps, n)
    base_rss = _rss_mb()
    out: dict[str, Any] = {
        "impl": impl,
        "kind": kind,
        "n": n,
        "rows": t_len,
        "base_rss_mb": base_rss,
    }
    if kind == "batch":
        # warm-up on a short slice: library initialisation and (ours) loading the compiled
        # kernels from numba's cache are one-off costs per process, not per run
        warm = min(t_len, 200)
        batch(prices.head(warm), mu.head(warm))
        walls = []
        for _ in range(reps):
            start = time.perf_counter()
            cash = batch(prices.head(t_len), mu.head(t_len))
            walls.append(time.perf_counter() - start)
        out["wall_s"] = float(np.median(walls))
        out["walls_s"] = walls
        if dump:
            np.save(dump, np.asarray(cash, dtype=np.float64))
    else:
        start = time.perf_counter()
        s = stream(prices.head(t_len), mu.head(t_len))
        out["warmup_s"] = time.perf_counter() - start
        p = prices.drop("date").to_numpy()
        m = mu.drop("date").to_numpy()
        lat = []
        for t in range(t_len, t_len + steps):
            start = time.perf_counter()
            s.step(p[t], m[t], t)
            lat.append(time.perf_counter() - start)
        out["step_median_s"] = float(np.median(lat))
        out["step_p90_s"] = float(np.percentile(lat, 90))
        out["steps"] = steps
    out["peak_rss_mb"] = _rss_mb()
    print("RESULT " + json.dumps(out))


# ----------------------------------------------------------------------------- driver side


def _run_case(
    python: str,
    impl: str,
    kind: str,
    n: int,
    t_len: int,
    steps: int,
    reps: int,
    timeout: float,
    dump: str = "",
    threads: str = "",
) -> dict[str, Any]:
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if threads:
        env["ALGOTRADER_THREADS"] = threads
    cmd = [
        python,
        __file__,
        "--worker",
        impl,
        kind,
        str(n),
        str(t_len),
        str(steps),
        str(reps),
        dump,
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "kind": kind, "n": n, "error": f"timeout after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            res: dict[str, Any] = json.loads(line[7:])
            res["process_s"] = time.perf_counter() - start
            return res
    return {"impl": impl, "kind": kind, "n": n, "error": proc.stderr.strip()[-400:]}


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s"


def _ratio(ref: float | None, ours: float | None) -> str:
    return "n/a" if not ref or not ours else f"{ref / ours:,.0f}x"


def _compare(ours_path: str, ref_path: str, warmup: int) -> float:
    """Max over rows of ``max_i |ours - ref| / max_i |ref|`` (row-normalised: element-wise
    relative errors of near-zero positions are meaningless) after the warm-up."""
    a, b = np.load(ours_path)[warmup:], np.load(ref_path)[warmup:]
    both = np.isfinite(a) & np.isfinite(b)
    scale = np.max(np.where(both, np.abs(b), 0.0), axis=1)
    diff = np.max(np.where(both, np.abs(a - b), 0.0), axis=1)
    ok = scale > 0
    return float(np.max(diff[ok] / scale[ok])) if ok.any() else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 300])
    ap.add_argument("--rows", type=int, default=2520)
    ap.add_argument("--reference-python", default=REF_PYTHON)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0, help="per reference case, seconds")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    ref_ok = not args.no_reference and Path(args.reference_python).exists()
    if not ref_ok:
        print(f"reference interpreter {args.reference_python} not available: ours only")
    load = os.getloadavg()
    results: list[dict[str, Any]] = []
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_optimiser_"))
    for n in args.sizes:
        reps = 5 if n <= 100 else 3
        ours_b = _run_case(
            sys.executable, "ours", "batch", n, args.rows, 0, reps, 600, str(tmp / f"ours_{n}.npy")
        )
        ours_1 = _run_case(sys.executable, "ours", "batch", n, args.rows, 0, reps, 600, threads="1")
        ours_s = _run_case(sys.executable, "ours", "stream", n, args.rows, OUR_STEPS, 1, 600)
        ref_b: dict[str, Any] = {}
        ref_s: dict[str, Any] = {}
        diff = float("nan")
        if ref_ok:
            ref_b = _run_case(
                args.reference_python,
                "basanos",
                "batch",
                n,
                args.rows,
                0,
                1 if n >= 100 else 3,
                args.timeout,
                str(tmp / f"ref_{n}.npy"),
            )
            ref_s = _run_case(
                args.reference_python,
                "basanos",
                "stream",
                n,
                args.rows,
                REF_STEPS.get(n, 2),
                1,
                args.timeout,
            )
            if "error" not in ref_b and "error" not in ours_b:
                diff = _compare(
                    str(tmp / f"ours_{n}.npy"), str(tmp / f"ref_{n}.npy"), int(CFG["corr"])
                )
        results += [ours_b, ours_1, ours_s, ref_b, ref_s]
        for r in (ours_b, ours_1, ours_s, ref_b, ref_s):
            if r.get("error"):
                print(f"{r['impl']} {r['kind']} N={n}: {r['error']}", file=sys.stderr)
        rows.append(
            [
                str(n),
                _fmt_s(ref_b.get("wall_s")),
                _fmt_s(ours_b.get("wall_s")),
                _ratio(ref_b.get("wall_s"), ours_b.get("wall_s")),
                _fmt_s(ours_1.get("wall_s")),
                _ratio(ref_b.get("wall_s"), ours_1.get("wall_s")),
                _fmt_s(ref_s.get("step_median_s")),
                _fmt_s(ours_s.get("step_median_s")),
                _ratio(ref_s.get("step_median_s"), ours_s.get("step_median_s")),
                f"{ref_b.get('peak_rss_mb', float('nan')):.0f} / {ours_b.get('peak_rss_mb', float('nan')):.0f}",
                f"{ref_s.get('peak_rss_mb', float('nan')):.0f} / {ours_s.get('peak_rss_mb', float('nan')):.0f}",
                f"{diff:.1e}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    header = [
        "N",
        "batch ref",
        "batch ours",
        "speed-up",
        "batch ours 1 thread",
        "speed-up",
        "step ref",
        "step ours",
        "speed-up",
        "batch RSS MB ref/ours",
        "stream RSS MB ref/ours",
        "max diff / row max",
    ]
    print()
    print(
        f"T = {args.rows} rows; load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line in rows:
        print("| " + " | ".join(line) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, impl, kind, n, t_len, steps, reps, *rest = sys.argv
        _worker(impl, kind, int(n), int(t_len), int(steps), int(reps), rest[0] if rest else "")
    else:
        main()
