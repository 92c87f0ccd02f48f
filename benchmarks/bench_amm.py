"""Benchmark of the AMM pool simulator: one simulated year of minutes (525,600 steps).

Cases (momentum rule at the reference's default settings, one parameter set, 60 days
of burn-in, synthetic log-GBM prices, float64, CPU):

* forward pass, full outputs (weights, reserves, value), at zero fees and at 30 bp;
* value and gradient of ``daily_log_sharpe`` at zero fees and at 30 bp;

for 2 and 4 assets.  Each case is compiled once (the compile time, i.e. first call
minus a steady call, is reported separately), then run ``REPEATS`` times; the median
is reported.

Reference figures: the reference simulator (quantammsim) has no licence and no
package, so it cannot be installed and run here; its figures below are the ones
measured on this machine type and given in the issue (``../shared/spec/amm.md``).
The machine is shared: the load average is printed, and timings under load are
pessimistic.

Run: ``.venv/bin/python benchmarks/bench_amm.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import algotrader.amm as amm

STEPS = 525_600
BURN_IN = 60 * 1440
#: the reference reads 2 days past the window end (docs/amm.md, "Window padding"), so the
#: prices run PAST_END rows beyond it; a reference run on unpadded prices uses shifted data
PAST_END = 2 * 1440
REPEATS = 5

#: STORED reference seconds (2 assets, 4 assets): quantammsim 3a111c3, jax 0.10.2, float64,
#: this 2-core machine type, median of 5 after a compile, its DEFAULT code paths (the
#: zero-fee objective uses its fused path, use_fused_reserves=True); not measured in this run.
REFERENCE_LABEL = "stored (quantammsim 3a111c3, default paths; spec/amm.md run 2, 2026)"
REFERENCE: dict[str, tuple[float, float]] = {
    "forward, 0 fee": (0.041, 0.057),
    "forward, 30 bp": (0.94, 5.75),
    "value+grad, 0 fee": (0.057, 0.116),
    "value+grad, 30 bp": (5.6, 27.6),
}


def _prices(n: int, steps: int, seed: int = 0) -> jax.Array:
    rng = np.random.default_rng(seed)
    sigma = np.linspace(0.5, 0.9, n) / np.sqrt(STEPS)
    z = rng.standard_normal((steps + BURN_IN + PAST_END + 1, n)) * sigma
    z[0] = 0.0
    return jnp.asarray(np.geomspace(1.0, 30_000.0, n) * np.exp(np.cumsum(z, axis=0)))


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - start)
    steady = float(np.median(runs))
    return steady, max(first - steady, 0.0)


def _forward_case(cfg: amm.SimConfig, params: Any, prices: jax.Array) -> Callable[[], Any]:
    def run(p: Any, s: int, x: jax.Array) -> dict[str, jax.Array]:
        out = amm.forward_pass(p, s, x, cfg)
        return {k: out[k] for k in ("weights", "reserves", "value")}

    fn = jax.jit(run)
    return lambda: fn(params, BURN_IN, prices)


def _grad_case(cfg: amm.SimConfig, params: Any, prices: jax.Array) -> Callable[[], Any]:
    def objective(p: Any, s: int, x: jax.Array) -> jax.Array:
        return amm.objective(p, s, x, cfg)

    fn = jax.jit(jax.value_and_grad(objective))
    return lambda: fn(params, BURN_IN, prices)


def _cases(n: int, steps: int) -> dict[str, Callable[[], Any]]:
    prices = _prices(n, steps)
    params = {k: jnp.asarray(v[0]) for k, v in amm.init_params("momentum", n).items()}
    out: dict[str, Callable[[], Any]] = {}
    for fee_label, fee in (("0 fee", 0.0), ("30 bp", 0.003)):
        cfg = amm.SimConfig(rule="momentum", n_assets=n, bout_length=steps + 1, fees=fee)
        out[f"forward, {fee_label}"] = _forward_case(cfg, params, prices)
        out[f"value+grad, {fee_label}"] = _grad_case(cfg, params, prices)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of a year, 2 repeats")
    args = parser.parse_args()
    steps = STEPS // 10 if args.quick else STEPS
    repeats = 2 if args.quick else REPEATS
    print(f"AMM simulator benchmark: {steps:,} minute steps, momentum, float64, CPU")
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(
        f"reference = {REFERENCE_LABEL}: NOT measured in this run (QAMM_SRC side-by-side not built)"
    )
    header = f"{'case':<20}{'n':>3}{'ours s':>10}{'compile s':>11}{'ref s':>9}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    for k, n in enumerate((2, 4)):
        for name, fn in _cases(n, steps).items():
            steady, compile_s = _time(fn, repeats)
            ref = REFERENCE[name][k] * steps / STEPS
            print(
                f"{name:<20}{n:>3}{steady:>10.3f}{compile_s:>11.2f}{ref:>9.3f}{ref / steady:>9.1f}x"
            )
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
