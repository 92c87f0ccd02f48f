"""Forecasting benchmarks (one run, reference measured in the same process).

1. energy score, T=500, S=200, A=20: ours vs scoringrules (numba backend), peak memory
   of ours by tracemalloc;
2. CRPS on 10,000 series x 200 members: ours vs scoringrules (numba) and properscoring;
3. SVI steady-state ms/step and compile time for factor_model_v1 at T=500, A=20, F=45;
4. the whole nested-CV example (``algotrader simulate --example forecast``) end to end:
   wall time per phase and the compile counts (update and predictive) of the run.

Run: ``.venv/bin/python benchmarks/bench_forecasting.py [--nested-only | --no-nested]``.
Prints ``uptime`` first (and after the nested run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import tracemalloc

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import properscoring as ps
import scoringrules as sr

from algotrader.forecasting.scoring import crps_ensemble, energy_score
from algotrader.forecasting.svi import SviConfig, _compiled, fit_svi


def best_of(fn, n: int = 3) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def nested_example() -> None:
    """Time the shipped forecast example end to end (fresh output folder, one process)."""
    import yaml

    from algotrader.forecasting import svi
    from algotrader.simulation.config import config_from_mapping
    from algotrader.simulation.examples import EXAMPLES
    from algotrader.simulation.runner import run_simulation

    raw = yaml.safe_load(EXAMPLES["forecast"])
    with tempfile.TemporaryDirectory() as tmp:
        raw["data"]["output_root"] = tmp
        cfg = config_from_mapping(raw)
        svi.COMPILE_COUNTS.clear()
        t0 = time.perf_counter()
        res = run_simulation(cfg)
        wall = time.perf_counter() - t0
        import json

        timings = json.loads((res.run_dir / "run_manifest.json").read_text()).get("timings", {})
        n_diag = len(list((res.run_dir / "outer" / "diagnostics").glob("*")))
    print(
        f"nested-CV forecast example: wall {wall:.1f} s (phases {timings}), "
        f"compile counts {dict(svi.COMPILE_COUNTS)}, outer folds {len(res.folds)}, "
        f"chosen {res.chosen}, outer sharpe {res.metrics['chosen']['sharpe']:.3f} vs "
        f"equal_weight {res.metrics['baselines']['equal_weight']['sharpe']:.3f}, "
        f"{n_diag} diagnostic files; load after: {load()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nested-only", action="store_true")
    ap.add_argument("--no-nested", action="store_true")
    args = ap.parse_args()
    print("load:", load())
    if args.nested_only:
        nested_example()
        return
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=(500, 20)), rng.normal(size=(200, 500, 20))
    xm = np.moveaxis(x, 0, 1)
    sr.es_ensemble(y[:2], xm[:2], backend="numba")  # numba compile outside the timing
    t_ref = best_of(lambda: sr.es_ensemble(y, xm, backend="numba"))
    t_our = best_of(lambda: energy_score(y, x))
    tracemalloc.start()
    energy_score(y, x)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    err = np.abs(energy_score(y, x) - sr.es_ensemble(y, xm, backend="numba")).max()
    print(
        f"ES T=500 S=200 A=20: ours {t_our * 1e3:.1f} ms, scoringrules numba {t_ref * 1e3:.1f} ms,"
        f" ratio {t_ref / t_our:.1f}x, our peak {peak:.1f} MB (excl. inputs), max|diff| {err:.1e}"
    )

    yc, xc = rng.normal(size=(10_000, 1)), rng.normal(size=(200, 10_000, 1))
    xs = np.moveaxis(xc[:, :, 0], 0, 1)
    sr.crps_ensemble(yc[:2, 0], xs[:2], estimator="nrg", backend="numba")
    t_sr = best_of(lambda: sr.crps_ensemble(yc[:, 0], xs, estimator="nrg", backend="numba"))
    t_ps = best_of(lambda: ps.crps_ensemble(yc[:, 0], xs), n=1)
    t_o = best_of(lambda: crps_ensemble(yc, xc))
    print(
        f"CRPS 10000 x 200: ours {t_o * 1e3:.1f} ms, scoringrules numba {t_sr * 1e3:.1f} ms "
        f"({t_sr / t_o:.1f}x), properscoring {t_ps * 1e3:.1f} ms ({t_ps / t_o:.1f}x)"
    )

    t_len, a, f = 500, 20, 45
    X = rng.normal(size=(t_len, a, f))
    yy = 0.02 * rng.normal(size=(t_len, a))
    cfg = SviConfig(
        model="factor_model_v1", guide="factor_guide_v1", num_steps=1, target_normalization=True
    )
    t0 = time.perf_counter()
    fit_svi(X, yy, np.arange(t_len), cfg, seed=0)
    t_first = time.perf_counter() - t0
    cfg2 = SviConfig(
        model="factor_model_v1", guide="factor_guide_v1", num_steps=300, target_normalization=True
    )
    _compiled(cfg2, X.shape[1:])
    fit_svi(X, yy, np.arange(t_len), SviConfig(**{**cfg2.__dict__, "num_steps": 2}), seed=0)
    t0 = time.perf_counter()
    fit_svi(X, yy, np.arange(t_len), cfg2, seed=1)
    per = (time.perf_counter() - t0) / 300
    print(
        f"SVI factor_model_v1 T=500 A=20 F=45: first fit (compile + 1 step) {t_first:.2f} s, "
        f"steady {per * 1e3:.2f} ms/step (incl. Python loop dispatch)"
    )
    if not args.no_nested:
        nested_example()


if __name__ == "__main__":
    main()
