"""Benchmark: nested-CV throughput of (candidate x split) evaluations, optimiser family.

64 candidates x 5 outer folds x C(6, 2) = 15 inner splits (rolling outer window of 6
groups of 52 weeks) on the bundled 20 stocks = 4,800 evaluations per engine, measured in
one run: local sequential, local process pool (2 workers), Ray (local cluster, 2 CPUs;
start-up stated separately), Optuna (enqueued trials, journal file). Also: the share of
the sequential inner time spent inside the family's own fit/decide (the rest is
orchestration: candidate application, backtest of the split's net returns, scoring,
score store), and Ray vs local sequential for 40 evaluations after start-up.

Run: ``.venv/bin/python benchmarks/bench_simulation.py`` (state ``uptime`` next to figures).

``--orchestration [--candidates N]`` (default 16: 16 x 5 x 15 = 1,200 evaluations) measures
only the local sequential engine, twice in one run: with the compiled backtest kernel
(``algotrader.backtest.kernel``) and with the former per-row numpy loop
(``tests/backtest/_engine_reference.py``) patched in as the reference; it reports the
family's share and the orchestration ms per evaluation of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from algotrader.simulation.config import config_from_mapping
from algotrader.simulation.families import OptimiserFamily
from algotrader.simulation.runner import run_simulation


def config(
    root: Path, label: str, *, num_samples: int = 64, combos: int | None = None, **tuning: Any
) -> Any:
    raw = {
        "family": "optimiser",
        "stop_after": "inner",
        "data": {"output_root": str(root), "simulation_output_path": label},
        "cv": {
            "warmup_len": 26,
            "group_len": 52,
            "q": 2,
            "embargo_len": 1,
            "max_inner_combos": combos,
        },
        "outer": {"last_n": 5, "window": "rolling", "max_train_groups": 6},
        "tuning": {
            "num_samples": num_samples,
            "space": [
                {"path": "model.params.lookback", "type": "int", "bounds": [4, 26]},
                {"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]},
                {"path": "model.params.vola", "type": "int", "bounds": [10, 40]},
            ],
            **tuning,
        },
        "cost": {"proportional_bps": 5.0},
    }
    return config_from_mapping(raw)


def timed(cfg: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    res = run_simulation(cfg)
    return time.perf_counter() - t0, res


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class FamilyTimer:
    """Wraps OptimiserFamily.fit/decide to add up the time spent inside the family."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.orig = OptimiserFamily.fit, OptimiserFamily.decide

    def __enter__(self) -> FamilyTimer:
        orig_fit, orig_decide = self.orig

        def fit(fam: Any, *a: Any) -> Any:
            t = time.perf_counter()
            try:
                return orig_fit(fam, *a)
            finally:
                self.seconds += time.perf_counter() - t

        def decide(fam: Any, *a: Any) -> Any:
            t = time.perf_counter()
            try:
                return orig_decide(fam, *a)
            finally:
                self.seconds += time.perf_counter() - t

        OptimiserFamily.fit, OptimiserFamily.decide = fit, decide  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        OptimiserFamily.fit, OptimiserFamily.decide = self.orig  # type: ignore[method-assign]


def reference_backtest() -> Any:
    """The former per-row numpy loop (the kernel's test reference)."""
    path = Path(__file__).resolve().parent.parent / "tests" / "backtest" / "_engine_reference.py"
    spec = importlib.util.spec_from_file_location("_engine_reference", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run_backtest_reference


def orchestration(num_samples: int) -> None:
    """Local sequential, compiled kernel vs the reference loop, same run (see module doc)."""
    import time as _t

    from algotrader.simulation import scoring

    print("load:", uptime())
    root = Path(tempfile.mkdtemp())
    run_simulation(config(root, "warm", num_samples=1))
    kernel_fn, ref_fn = scoring.run_backtest, reference_backtest()
    scores = {}
    for name, fn in (
        ("kernel", kernel_fn),
        ("reference loop", ref_fn),
        ("kernel again", kernel_fn),
    ):
        scoring.run_backtest = fn  # type: ignore[assignment]
        c0 = _t.process_time()
        with FamilyTimer() as ft:
            wall, res = timed(config(root, name.replace(" ", "_"), num_samples=num_samples))
        cpu = _t.process_time() - c0
        n = res.scores.height
        inner = float(res.scores["seconds"].sum())
        print(
            f"{name}: {n} evaluations, wall {wall:.2f} s (CPU {cpu:.2f} s), "
            f"{1e3 * wall / n:.3f} ms/eval; family share of evaluation time "
            f"{ft.seconds / inner:.1%}, of wall {ft.seconds / wall:.1%}; orchestration "
            f"{1e3 * (wall - ft.seconds) / n:.3f} ms/eval (inside evaluate, backtest + score: "
            f"{1e3 * (inner - ft.seconds) / n:.3f} ms)"
        )
        scores[name] = res.scores.drop("seconds")
    scoring.run_backtest = kernel_fn  # type: ignore[assignment]
    same = scores["kernel"].equals(scores["reference loop"])
    print(f"score tables kernel == reference loop (bit for bit): {same}")
    print("load:", uptime())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orchestration", action="store_true")
    ap.add_argument("--candidates", type=int, default=16)
    args = ap.parse_args()
    if args.orchestration:
        orchestration(args.candidates)
        return
    print("load:", uptime())
    root = Path(tempfile.mkdtemp())
    # warm numba / imports once
    run_simulation(config(root, "warm", num_samples=1))

    fam_time = [0.0]
    orig_fit, orig_decide = OptimiserFamily.fit, OptimiserFamily.decide

    def fit(self: Any, *a: Any) -> Any:
        t = time.perf_counter()
        try:
            return orig_fit(self, *a)
        finally:
            fam_time[0] += time.perf_counter() - t

    def decide(self: Any, *a: Any) -> Any:
        t = time.perf_counter()
        try:
            return orig_decide(self, *a)
        finally:
            fam_time[0] += time.perf_counter() - t

    OptimiserFamily.fit, OptimiserFamily.decide = fit, decide  # type: ignore[method-assign]
    wall_seq, seq = timed(config(root, "seq"))
    OptimiserFamily.fit, OptimiserFamily.decide = orig_fit, orig_decide  # type: ignore[method-assign]
    n = seq.scores.height
    eval_sum = float(seq.scores["seconds"].sum())
    print(f"evaluations: {n} (64 candidates x 5 folds x 15 splits)")
    print(
        f"local sequential: {wall_seq:.2f} s  ({1e3 * wall_seq / n:.3f} ms/eval, {n / wall_seq:.0f} eval/s)"
    )
    print(
        f"  family fit+decide share of evaluation time: {fam_time[0] / eval_sum:.1%}; "
        f"orchestration outside the family: {1e3 * (wall_seq - fam_time[0]) / n:.3f} ms/eval "
        f"(of which backtest+score inside evaluate: {1e3 * (eval_sum - fam_time[0]) / n:.3f} ms)"
    )
    wall_pool, pool = timed(config(root, "pool", workers=2, parallel_min_seconds=None))
    print(
        f"local pool (2 workers, forced): {wall_pool:.2f} s  ratio vs sequential "
        f"{wall_pool / wall_seq:.2f}x"
    )
    assert pool.scores.drop("seconds").equals(seq.scores.drop("seconds"))
    small_seq, _ = timed(config(root, "seq40", num_samples=8, combos=1))
    small_pool, _ = timed(
        config(root, "pool40", num_samples=8, combos=1, workers=2, parallel_min_seconds=None)
    )
    small_auto, _ = timed(config(root, "auto40", num_samples=8, combos=1, workers=2))
    print(
        f"40 evaluations (8 candidates x 5 folds x 1 split): local {small_seq:.2f} s, "
        f"forced pool {small_pool:.2f} s ({small_pool / small_seq:.2f}x), "
        f"pool with parallel_min_seconds=5 (sequential first 5 s) {small_auto:.2f} s"
    )

    wall_opt, opt = timed(config(root, "optuna", engine="optuna"))
    print(
        f"optuna (journal, 1 process): {wall_opt:.2f} s  ratio {wall_opt / wall_seq:.2f}x; "
        f"overhead per trial {1e3 * (wall_opt - wall_seq) / (64 * 5):.1f} ms"
    )
    assert opt.scores.drop("seconds").equals(seq.scores.drop("seconds"))

    import ray

    from algotrader.simulation.engines import RAY_PRELOAD
    from algotrader.tuning.ray_driver import start_ray

    startup = start_ray(num_cpus=2, preload=RAY_PRELOAD)
    print(f"ray start-up (local cluster, 2 CPUs, workers preloaded): {startup:.2f} s")
    wall_ray, rres = timed(config(root, "ray", engine="ray"))
    print(f"ray (jobs packed, 2 tasks per CPU): {wall_ray:.2f} s  ratio {wall_ray / wall_seq:.2f}x")
    assert rres.scores.drop("seconds").equals(seq.scores.drop("seconds"))
    small_seq2, _ = timed(config(root, "seq40b", num_samples=8, combos=1))
    small_ray, _ = timed(config(root, "ray40", num_samples=8, combos=1, engine="ray"))
    print(
        f"40 evaluations after start-up: local sequential {small_seq2:.2f} s, "
        f"ray {small_ray:.2f} s, ratio {small_ray / small_seq2:.2f}x"
    )
    ray.shutdown()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    _ = os


if __name__ == "__main__":
    main()
