"""Benchmark: algotrader.portfolio vs basanos 0.7.3, measured in the same run.

Each case runs in a fresh subprocess (so its peak RSS is its own): ours with this
interpreter, the reference with the interpreter of a separate virtual environment
(``--reference-python``; default ``/tmp/basanos-venv/bin/python``), created with::

    python3 -m venv /tmp/basanos-venv
    /tmp/basanos-venv/bin/pip install basanos==0.7.3 cvx-linalg==0.7.0 polars==1.41.2 \\
        jquantstats==0.9.6

(a plain ``pip install basanos`` is broken today: see docs/optimiser.md); ``--setup-reference``
creates that environment with exactly these commands when it is missing. BLAS is pinned to
one thread for the reference (``OPENBLAS_NUM_THREADS=1``); ours is run with the process's
default BLAS threads, since it pins the BLAS itself inside every call
(:mod:`algotrader.portfolio.parallel`). basanos is skipped from ``--reference-max-n`` assets
on (default 300): its batch is O(T N^2) in memory (5.4 GB at N = 300, T = 2,520, i.e. ~60 GB
at N = 1,000) and its stream step O(T N^2) in time (~16 s at N = 300), beyond this machine.

Cases (EWMA shrink config ``vola=16, corr=32, clip=3.5, shrink=0.5``; one-factor GBM
prices, N(0,1) signal, seed 0, T=2,520 rows):

* batch (after one warm-up call on 200 rows, for both): build the engine and get the
  cash positions (ours: ``run_batch`` with the default schedule);
* threads (ours): default schedule vs ``ALGOTRADER_THREADS=1``, alternated in one process
  (A B A B ..., same data), ratio of the fastest runs; the benchmark **fails** (exit 1) if
  the default is more than 10% slower than one thread at any N of ``--thread-check-sizes``
  (default 100, 300, 1000);
* cg (ours, N in ``--cg-sizes``): ``solver: cg`` with ``cg_tol`` 1e-8 (and 1e-6), wall
  time with the default schedule (rows in pairs on two threads from 200 assets on, where
  two cores are usable), mean CG iterations, max reported error bound and the measured max
  relative position error against the exact batch of the same run; for the first
  tolerance also the batch on one thread (``ALGOTRADER_THREADS=1``) with a bit-for-bit
  comparison of the two, the thread check of the CG schedule (as below, at the N of
  ``--thread-check-sizes``) and the CG stream step;
* stream: ``from_warmup`` on T rows (``--stream-warmup-rows`` rows from 1,000 assets on:
  the state, hence the step, does not depend on the history length), then ``step`` on new
  rows: median / p90 step latency;
* peak RSS of each subprocess (``ru_maxrss``; includes the interpreter and imports).

Wall and CPU seconds are both reported (the CPU time of the worker process moves less with
other jobs on a shared machine), as is the time of input validation alone (frames ->
arrays, inside the batch time).

Usage::

    .venv/bin/python benchmarks/bench_optimiser.py [--sizes 20 100 300 1000 2000]
        [--rows 2520] [--large-rows 600] [--no-reference] [--setup-reference]
        [--thread-check-sizes ...] [--cg-sizes ...] [--json out.json]

A short large-N run (skip sizes with ``--sizes``, the thread check with
``--thread-check-sizes`` and CG with ``--cg-sizes`` left empty)::

    .venv/bin/python benchmarks/bench_optimiser.py --sizes 1000 2000 --large-rows 300 \
        --no-reference --thread-check-sizes 1000 --thread-check-rows 300 --cg-sizes 1000
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
THREAD_SLOWDOWN_LIMIT = 1.10
REF_SETUP = [
    [sys.executable, "-m", "venv", "{venv}"],
    [
        "{venv}/bin/pip",
        "install",
        "-q",
        "basanos==0.7.3",
        "cvx-linalg==0.7.0",
        "polars==1.41.2",
        "jquantstats==0.9.6",
    ],
]


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
    extra: dict[str, Any] = {}
    if impl == "ours":
        from algotrader.portfolio import OptimiserConfig, OptimiserStream, run_batch

        cg_tol = float(os.environ.get("BENCH_CG_TOL", "0") or 0)
        cg_kind = kind in ("batch_cg", "stream_cg", "threads_cg")
        solver = {"solver": "cg", "cg_tol": cg_tol} if cg_kind else {}
        cfg: Any = OptimiserConfig(**CFG, **solver)

        def batch(p: Any, m: Any) -> np.ndarray:
            res = run_batch(p, m, cfg)
            extra["risk"] = res.risk
            extra["iterations"] = res.iterations
            extra["error_bound"] = res.error_bound
            return res.cash

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
    if kind in ("batch", "batch_cg"):
        # warm-up on a short slice: library initialisation and (ours) loading the compiled
        # kernels from numba's cache are one-off costs per process, not per run
        warm = min(t_len, 200)
        batch(prices.head(warm), mu.head(warm))
        walls, cpus = [], []
        for _ in range(reps):
            start, cpu0 = time.perf_counter(), time.process_time()
            cash = batch(prices.head(t_len), mu.head(t_len))
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu0)
        out["wall_s"] = float(np.median(walls))
        out["walls_s"] = walls
        # CPU seconds of this process: less sensitive than wall time to other jobs on a
        # shared machine (not to their use of the caches and memory bus)
        out["cpu_s"] = float(np.median(cpus))
        if impl == "ours":  # of which input validation (frames -> arrays), timed apart
            from algotrader.portfolio.frames import prepare_inputs

            start = time.perf_counter()
            prepare_inputs(prices.head(t_len), mu.head(t_len), max_nan_fraction=0.9)
            out["prepare_s"] = time.perf_counter() - start
        if "iterations" in extra:
            it = extra["iterations"][int(CFG["corr"]) :]
            out["cg_iterations_mean"] = float(np.mean(it))
            out["error_bound_max"] = float(np.nanmax(extra["error_bound"]))
        if dump:
            np.save(dump, np.asarray(cash, dtype=np.float64))
            if "risk" in extra:
                np.save(dump + ".risk.npy", np.asarray(extra["risk"], dtype=np.float64))
    elif kind in ("threads", "threads_cg"):
        # default schedule vs one thread, alternated in this process on the same data
        warm = min(t_len, 200)
        batch(prices.head(warm), mu.head(warm))
        by_mode: dict[str, list[float]] = {"default": [], "one": []}
        for _ in range(reps):
            for mode in ("default", "one"):
                if mode == "one":
                    os.environ["ALGOTRADER_THREADS"] = "1"
                else:
                    os.environ.pop("ALGOTRADER_THREADS", None)
                start = time.perf_counter()
                batch(prices.head(t_len), mu.head(t_len))
                by_mode[mode].append(time.perf_counter() - start)
        from algotrader.portfolio.parallel import default_threads

        os.environ.pop("ALGOTRADER_THREADS", None)
        out["default_threads"] = default_threads(n)
        out["default_s"] = min(by_mode["default"])
        out["one_s"] = min(by_mode["one"])
        out["walls_s"] = by_mode
        out["ratio"] = out["default_s"] / out["one_s"]
    else:
        start = time.perf_counter()
        s = stream(prices.head(t_len), mu.head(t_len))
        out["warmup_s"] = time.perf_counter() - start
        p = prices.drop("date").to_numpy()
        m = mu.drop("date").to_numpy()
        lat, cpu = [], []
        for t in range(t_len, t_len + steps):
            start, cpu0 = time.perf_counter(), time.process_time()
            s.step(p[t], m[t], t)
            lat.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
        out["step_median_s"] = float(np.median(lat))
        out["step_cpu_median_s"] = float(np.median(cpu))
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
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "ALGOTRADER_THREADS"}
    if impl != "ours":  # ours pins the BLAS itself; the reference runs it single-threaded
        env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env.update(extra_env or {})
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


def _setup_reference(python: str) -> bool:
    """Create the reference virtualenv (``REF_SETUP``) next to ``python`` when it is missing."""
    if Path(python).exists():
        return True
    venv = str(Path(python).parents[1])
    for cmd in REF_SETUP:
        cmd = [c.format(venv=venv) for c in cmd]
        print("setting up the reference:", " ".join(cmd), flush=True)
        if subprocess.run(cmd, check=False).returncode != 0:
            print("reference setup failed: ours only", file=sys.stderr)
            return False
    return Path(python).exists()


def _row_err(a_path: str, b_path: str, warmup: int) -> float:
    """Max over rows of ``||a - b||_2 / ||b||_2`` (rows where ``b`` is finite and non-zero)."""
    a, b = np.load(a_path)[warmup:], np.load(b_path)[warmup:]
    ok = np.isfinite(b).all(axis=1) & (np.abs(np.nan_to_num(b)).sum(axis=1) > 0)
    if not ok.any():
        return float("nan")
    return float(np.max(np.linalg.norm(a[ok] - b[ok], axis=1) / np.linalg.norm(b[ok], axis=1)))


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
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 300, 1000, 2000])
    ap.add_argument("--rows", type=int, default=2520)
    ap.add_argument("--reference-python", default=REF_PYTHON)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--setup-reference", action="store_true", help="create the basanos venv")
    ap.add_argument("--reference-max-n", type=int, default=300)
    ap.add_argument("--thread-check-sizes", type=int, nargs="*", default=[100, 300, 1000])
    ap.add_argument("--thread-check-rows", type=int, default=600, help="rows from N=1000 on")
    ap.add_argument("--cg-sizes", type=int, nargs="*", default=[1000])
    ap.add_argument("--cg-tols", type=float, nargs="*", default=[1e-8, 1e-6])
    ap.add_argument(
        "--large-rows",
        type=int,
        default=None,
        help="rows of the batch and cg cases from N=1000 on (default --rows; shorter runs)",
    )
    ap.add_argument("--stream-warmup-rows", type=int, default=300, help="from N=1000 on")
    ap.add_argument("--timeout", type=float, default=900.0, help="per reference case, seconds")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    ref_ok = False
    if not args.no_reference:
        if args.setup_reference:
            ref_ok = _setup_reference(args.reference_python)
        else:
            ref_ok = Path(args.reference_python).exists()
    if not ref_ok:
        print(f"reference interpreter {args.reference_python} not available: ours only")
    load = os.getloadavg()
    results: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    big: list[list[str]] = []
    failures: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_optimiser_"))
    warmup = int(CFG["corr"])
    for n in args.sizes:
        reps = 5 if n <= 100 else 3 if n <= 300 else 1
        exact_dump = str(tmp / f"ours_{n}.npy")
        b_rows = args.rows if n < 1000 or args.large_rows is None else args.large_rows
        ours_b = _run_case(sys.executable, "ours", "batch", n, b_rows, 0, reps, 3600, exact_dump)
        thr: dict[str, Any] = {}
        if n in args.thread_check_sizes:
            t_rows = args.rows if n < 1000 else min(args.rows, args.thread_check_rows)
            thr = _run_case(
                sys.executable, "ours", "threads", n, t_rows, 0, 5 if n <= 300 else 2, 3600
            )
            if "ratio" in thr and thr["ratio"] > THREAD_SLOWDOWN_LIMIT:
                failures.append(f"N={n}: default {thr['ratio']:.2f}x the one-thread time")
        s_rows = args.rows if n < 1000 else min(args.rows, args.stream_warmup_rows)
        steps = OUR_STEPS if n < 1000 else 20
        ours_s = _run_case(sys.executable, "ours", "stream", n, s_rows, steps, 1, 3600)
        cgs: list[dict[str, Any]] = []
        if n in args.cg_sizes:
            for tol in args.cg_tols:
                dump = str(tmp / f"cg_{n}_{tol:g}.npy")
                r = _run_case(
                    sys.executable, "ours", "batch_cg", n, b_rows, 0, 1, 3600, dump,
                    {"BENCH_CG_TOL": repr(tol)},
                )  # fmt: skip
                if "error" not in r and "error" not in ours_b:
                    r["pos_err_max"] = _row_err(
                        dump + ".risk.npy", exact_dump + ".risk.npy", warmup
                    )
                r["cg_tol"] = tol
                if tol == args.cg_tols[0]:  # the same on one thread (bits), and the stream
                    dump1 = str(tmp / f"cg1_{n}_{tol:g}.npy")
                    one = _run_case(
                        sys.executable, "ours", "batch_cg", n, b_rows, 0, 1, 3600, dump1,
                        {"BENCH_CG_TOL": repr(tol), "ALGOTRADER_THREADS": "1"},
                    )  # fmt: skip
                    r["one_thread"] = one
                    if n in args.thread_check_sizes:
                        t_rows = args.rows if n < 1000 else min(args.rows, args.thread_check_rows)
                        r["threads"] = tc = _run_case(
                            sys.executable, "ours", "threads_cg", n, t_rows, 0, 2, 3600, "",
                            {"BENCH_CG_TOL": repr(tol)},
                        )  # fmt: skip
                        if "ratio" in tc and tc["ratio"] > THREAD_SLOWDOWN_LIMIT:
                            failures.append(
                                f"N={n} cg: default {tc['ratio']:.2f}x the one-thread time"
                            )
                    if "error" not in one and "error" not in r:
                        r["same_bits"] = bool(
                            np.array_equal(np.load(dump), np.load(dump1), equal_nan=True)
                        )
                    r["stream"] = _run_case(
                        sys.executable, "ours", "stream_cg", n, s_rows, steps, 1, 3600, "",
                        {"BENCH_CG_TOL": repr(tol)},
                    )  # fmt: skip
                cgs.append(r)
        ref_b: dict[str, Any] = {}
        ref_s: dict[str, Any] = {}
        diff = float("nan")
        if ref_ok and n <= args.reference_max_n:
            ref_b = _run_case(
                args.reference_python, "basanos", "batch", n, args.rows, 0,
                1 if n >= 100 else 3, args.timeout, str(tmp / f"ref_{n}.npy"),
            )  # fmt: skip
            ref_s = _run_case(
                args.reference_python, "basanos", "stream", n, args.rows,
                REF_STEPS.get(n, 2), 1, args.timeout,
            )  # fmt: skip
            if "error" not in ref_b and "error" not in ours_b:
                diff = _compare(exact_dump, str(tmp / f"ref_{n}.npy"), warmup)
        elif ref_ok:
            ref_b = ref_s = {"skipped": f"N >= {args.reference_max_n + 1}: see the docstring"}
        results += [ours_b, thr, ours_s, *cgs, ref_b, ref_s]
        for r in (ours_b, thr, ours_s, *cgs, ref_b, ref_s):
            if r.get("error"):
                print(f"{r['impl']} {r['kind']} N={n}: {r['error']}", file=sys.stderr)
        ratio = f"{thr['ratio']:.2f} ({thr['default_threads']} thr)" if "ratio" in thr else "n/a"
        rows.append(
            [
                str(n),
                _fmt_s(ref_b.get("wall_s")),
                f"{_fmt_s(ours_b.get('wall_s'))} (cpu {_fmt_s(ours_b.get('cpu_s'))}, "
                f"inputs {_fmt_s(ours_b.get('prepare_s'))}; {b_rows} rows)",
                _ratio(ref_b.get("wall_s"), ours_b.get("wall_s")),
                ratio,
                _fmt_s(ref_s.get("step_median_s")),
                f"{_fmt_s(ours_s.get('step_median_s'))} (cpu "
                f"{_fmt_s(ours_s.get('step_cpu_median_s'))})",
                _ratio(ref_s.get("step_median_s"), ours_s.get("step_median_s")),
                f"{ref_b.get('peak_rss_mb', float('nan')):.0f} / {ours_b.get('peak_rss_mb', float('nan')):.0f}",
                f"{ref_s.get('peak_rss_mb', float('nan')):.0f} / {ours_s.get('peak_rss_mb', float('nan')):.0f}",
                f"{diff:.1e}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
        for r in cgs:
            one, cs = r.get("one_thread", {}), r.get("stream", {})
            big.append(
                [
                    str(n),
                    f"{r['cg_tol']:g}",
                    _fmt_s(ours_b.get("wall_s")),
                    f"{_fmt_s(r.get('wall_s'))} (cpu {_fmt_s(r.get('cpu_s'))})",
                    f"{_fmt_s(one.get('wall_s'))} (cpu {_fmt_s(one.get('cpu_s'))})"
                    if one
                    else "n/a",
                    str(r.get("same_bits", "n/a")),
                    f"{r['threads']['ratio']:.2f} ({r['threads']['default_threads']} thr)"
                    if "ratio" in r.get("threads", {})
                    else "n/a",
                    f"{_fmt_s(cs.get('step_median_s'))} (cpu {_fmt_s(cs.get('step_cpu_median_s'))})"
                    if cs
                    else "n/a",
                    f"{r.get('cg_iterations_mean', float('nan')):.1f}",
                    f"{r.get('error_bound_max', float('nan')):.1e}",
                    f"{r.get('pos_err_max', float('nan')):.1e}",
                    f"{r.get('peak_rss_mb', float('nan')):.0f}",
                ]
            )
            print(" | ".join(big[-1]), flush=True)
    header = [
        "N",
        "batch basanos",
        "batch ours (cpu, of which inputs)",
        "speed-up",
        "default / 1-thread (threads)",
        "step basanos",
        "step ours (cpu)",
        "speed-up",
        "batch RSS MB basanos/ours",
        "stream RSS MB basanos/ours",
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
    if big:
        cg_header = [
            "N",
            "cg_tol",
            "batch exact",
            "batch cg, default threads (cpu)",
            "batch cg 1 thread (cpu)",
            "same bits",
            "default / 1-thread (threads), alternated",
            "stream step cg (cpu)",
            "mean CG iterations",
            "max reported bound",
            "max measured position error",
            "cg RSS MB",
        ]
        print()
        print("| " + " | ".join(cg_header) + " |")
        print("|" + "---|" * len(cg_header))
        for line in big:
            print("| " + " | ".join(line) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))
    if failures:
        print("FAILED: default schedule slower than one thread by more than 10%:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)
    print(f"thread check passed: default <= {THREAD_SLOWDOWN_LIMIT:.2f}x one thread")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, impl, kind, n, t_len, steps, reps, *rest = sys.argv
        _worker(impl, kind, int(n), int(t_len), int(steps), int(reps), rest[0] if rest else "")
    else:
        main()
