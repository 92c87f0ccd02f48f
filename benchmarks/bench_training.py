"""Benchmark: AMM gradient training, steady-state seconds per iteration and compile time.

Default setting of the reference (spec "Training iteration"): momentum pool, zero
fees, 4 parameter sets x 8 training windows per iteration, Adam; a one-year
training span (525,600 minutes) with ``val_fraction`` 0.2 and a 7-day
``bout_offset`` (windows of ~285 days), a 30-day test span and 60 days of
burn-in. Every iteration = 32 window gradients + 4 continuous no-gradient passes
over train+validation+test with their metrics.

Reported per asset count and objective path: first chunk (compile + run) seconds,
steady-state seconds per iteration (median over the later chunks), the number of XLA
compilations of the chunk function after the first chunk (must be 0: counted with a
``jax.monitoring`` duration listener and the jit cache size), and the ratio to the
reference's iteration time. Two objective paths are measured: ``fast`` (default: the
zero-fee per-chunk closed form, :mod:`algotrader.amm.chunk_objective`) and ``minute``
(``amm_problem(..., fast=False)``: the full minute simulation differentiated).

Reference (STORED, not measured by this script): quantammsim 3a111c3's default training
iteration measured side by side with ours in issue 18 on this 2-core machine type at
1-minute load 1.4-2.1: 1.1-1.3 s per iteration for 2 assets (the older 2.2-4.9 s figure
overstated our ratio about 2x); for 4 assets only the older spec figure (1.7-7.4 s) is
stored. The ratio uses the FASTEST figure, the conservative one.

What one iteration computes (printed too): ours, 4 parameter sets x 8 windows of
value+gradient of ``daily_log_sharpe`` plus, per parameter set, one continuous
no-gradient pass over train + validation + test with ``len(DEFAULT_METRICS)`` metrics per
span; the reference, the same 32 window gradients and continuous passes with 12 metrics
per span (its own list). Same windows, same optimiser (Adam).

Run: ``.venv/bin/python benchmarks/bench_training.py [--assets 2 4] [--chunks 3]
[--paths fast minute]``.
No persistent compilation cache is used, so compile times are cold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.monitoring  # noqa: E402
import numpy as np  # noqa: E402

from algotrader.amm import SimConfig  # noqa: E402
from algotrader.training.amm_problem import (  # noqa: E402
    DEFAULT_METRICS,
    SpanLayout,
    amm_problem,
    default_base_params,
)
from algotrader.training.loop import init_state, make_chunk_fn, make_spec  # noqa: E402
from algotrader.training.settings import OptimisationSettings  # noqa: E402

DAY = 1440
#: STORED reference seconds per iteration: 2 assets from issue 18's side-by-side run
#: (load 1.4-2.1); 4 assets only the older spec figure exists (not re-measured side by side)
REFERENCE = {2: (1.1, 1.3), 4: (1.7, 7.4)}
REFERENCE_LABEL = (
    "STORED: quantammsim 3a111c3 default iteration; 2 assets issue 18 side-by-side run, "
    "4 assets the older spec figure (ratio = fastest figure)"
)
REFERENCE_FIRST_CHUNK = (17.0, 75.0)
REFERENCE_METRICS_PER_SPAN = 12

_COMPILES: list[float] = []


def _listen(event: str, duration_secs: float, **kwargs: str | int) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES.append(duration_secs)


def synthetic_prices(n_assets: int, days: int, seed: int = 0) -> np.ndarray:
    """Seeded GBM minute prices (N, A), 60% annual vol, small drifts."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    vol = 0.6 / np.sqrt(365 * DAY)
    drift = rng.normal(0.0, 0.5, n_assets) / (365 * DAY)
    steps = drift + vol * rng.standard_normal((n, n_assets))
    return 100.0 * np.exp(np.cumsum(steps, axis=0))


def bench(
    n_assets: int, chunks: int, per_chunk: int, batching: str, fast: bool = True
) -> dict[str, float]:
    burn, train_days, test_days = 60, 365, 30
    prices = synthetic_prices(n_assets, burn + train_days + test_days)
    layout = SpanLayout(
        start=burn * DAY,
        bout_length=train_days * DAY,
        test_length=test_days * DAY,
        bout_offset=7 * DAY,
        val_fraction=0.2,
    )
    cfg = SimConfig(rule="momentum", n_assets=n_assets, bout_length=10)
    problem = amm_problem(
        prices,
        cfg,
        layout,
        base_params=default_base_params("momentum", n_assets, 1440),
        fast=fast,
    )
    settings = OptimisationSettings(
        optimiser="adam",
        n_parameter_sets=4,
        batch_size=8,
        n_iterations=chunks * per_chunk,
        iterations_per_chunk=per_chunk,
        early_stopping=False,
        window_batching=batching,  # type: ignore[arg-type]
    )
    spec = make_spec(problem, settings)
    state = init_state(spec)
    chunk = make_chunk_fn(spec)
    data = jax.tree.map(jax.numpy.asarray, problem.data)  # AmmData (a NamedTuple pytree)
    times = []
    compiles_after_first = 0
    for i in range(chunks):
        before = len(_COMPILES)
        t0 = time.perf_counter()
        state, out = chunk(state, data)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t0)
        if i > 0:
            compiles_after_first += len(_COMPILES) - before
    steady = statistics.median(times[1:]) / per_chunk if chunks > 1 else float("nan")
    return {
        "first_chunk_s": times[0],
        "steady_s_per_iter": steady,
        "compiles_after_first": float(compiles_after_first),
        "jit_cache_size": float(chunk._cache_size()),  # type: ignore[attr-defined]
        "objective": float(np.nanmean(np.asarray(out.objective)[-1])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--chunks", type=int, default=3, help="chunks to run (first = compile)")
    ap.add_argument("--per-chunk", type=int, default=3, help="iterations per jitted chunk")
    ap.add_argument("--batching", nargs="+", default=["vmap", "map"], choices=["vmap", "map"])
    ap.add_argument("--paths", nargs="+", default=["fast", "minute"], choices=["fast", "minute"])
    args = ap.parse_args()
    jax.monitoring.register_event_duration_secs_listener(_listen)
    print(
        f"jax {jax.__version__}, devices {jax.devices()}, x64 {jax.config.read('jax_enable_x64')}"
    )
    print(f"load average {os.getloadavg()}; reference = {REFERENCE_LABEL}")
    print(
        "per iteration, both sides: 4 parameter sets x 8 windows of value+gradient of "
        "daily_log_sharpe, Adam, then one continuous no-gradient pass per set over "
        f"train+validation+test; metrics per span: ours {len(DEFAULT_METRICS)}, reference "
        f"{REFERENCE_METRICS_PER_SPAN}"
    )
    header = (
        f"{'assets':>6} {'path':>6} {'windows':>8} {'first chunk s':>14} {'s / iter':>9} "
        f"{'ref s / iter':>13} {'speed-up':>9} {'recompiles':>10} {'jit cache':>9} {'load':>5}"
    )
    print(header)
    for n in args.assets:
        for path in args.paths:
            for batching in args.batching:
                r = bench(n, args.chunks, args.per_chunk, batching, fast=path == "fast")
                lo, hi = REFERENCE[n]
                print(
                    f"{n:>6} {path:>6} {batching:>8} {r['first_chunk_s']:>14.1f} "
                    f"{r['steady_s_per_iter']:>9.3f} {f'{lo}-{hi}':>13} "
                    f"{lo / r['steady_s_per_iter']:>8.1f}x "
                    f"{int(r['compiles_after_first']):>10} {int(r['jit_cache_size']):>9} "
                    f"{os.getloadavg()[0]:>5.1f}",
                    flush=True,
                )
    print(
        f"reference first chunk: {REFERENCE_FIRST_CHUNK[0]}-{REFERENCE_FIRST_CHUNK[1]} s, "
        "plus a second compilation on the next chunk (stored)"
    )


if __name__ == "__main__":
    main()
