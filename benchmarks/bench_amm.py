"""Benchmark of the AMM pool simulator: one simulated year of minutes (525,600 steps).

Cases (momentum rule at the reference's default settings, one parameter set, 60 days
of burn-in, synthetic log-GBM prices, float64, CPU):

* forward pass, full outputs (weights, reserves, value), at zero fees and at 30 bp;
* value and gradient of ``daily_log_sharpe`` at zero fees and at 30 bp;

for 2 and 4 assets.  Each case is compiled once (the compile time, i.e. first call
minus a steady call, is reported separately), then run ``REPEATS`` times; the median
is reported.

Reference: with ``QAMM_SRC=/path/to/quantammsim-checkout`` (a checkout the user fetched,
e.g. ``git clone https://github.com/QuantAMMProtocol/quantammsim``; never vendored, never
needed by the tests) the reference is imported from there and measured IN THE SAME RUN,
case by case right after ours, through its own ``forward_pass`` with its DEFAULT code
paths (``run_fingerprint_defaults``: the zero-fee ``daily_log_sharpe`` gradient takes its
fused chunked path, ``use_fused_reserves=True``), on the same prices and parameters.
Optional packages the simulator core never calls (web server, plotting, data download:
see ``_REFERENCE_STUBS``) are replaced by empty modules if they are not installed.
Without ``QAMM_SRC`` the STORED figures below are printed, labelled as stored, with
their date and settings. The machine is shared: the load average is printed at the
start of every case; only ratios measured in the same run are comparable.

Run: ``[QAMM_SRC=...] .venv/bin/python benchmarks/bench_amm.py [--quick] [--steps N]
[--repeats R] [--assets 2 4] [--cases "value+grad, 0 fee" ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from functools import partial
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
REFERENCE_LABEL = (
    "STORED, not measured in this run: quantammsim 3a111c3, default paths, "
    "issue 18 side-by-side run (2026), 1-minute load 1.4-4.2"
)
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


#: optional dependencies of quantammsim that its simulator core never calls
_REFERENCE_STUBS = frozenset(
    {
        "Historic_Crypto",
        "bidask",
        "binance_historical_data",
        "cvxpy",
        "dask",
        "flask",
        "flask_cors",
        "flask_jwt_extended",
        "gdown",
        "jsonpickle",
        "plotly",
        "seaborn",
    }
)


class _Stub(types.ModuleType):
    """An empty module: any attribute is another stub (only touched at import time)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Stub(f"{self.__name__}()")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        top = name.split(".")[0]
        if top not in _REFERENCE_STUBS:
            return None
        if name == top and importlib.machinery.PathFinder.find_spec(name) is not None:
            return None  # installed: use the real package
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: Any) -> Any:
        return _Stub(spec.name)

    def exec_module(self, module: Any) -> None:
        module.__path__ = []


def _load_reference(src: str) -> dict[str, Any]:
    """Import quantammsim from the checkout at ``src`` (its repository root)."""
    if not os.path.isdir(os.path.join(src, "quantammsim")):
        raise SystemExit(
            f"QAMM_SRC={src!r}: no quantammsim/ package there (give the checkout root)"
        )
    sys.path.insert(0, src)
    sys.meta_path.insert(0, _StubFinder())
    from quantammsim.core_simulator.forward_pass import forward_pass  # type: ignore
    from quantammsim.pools.creator import create_pool  # type: ignore
    from quantammsim.runners.default_run_fingerprint import (  # type: ignore
        run_fingerprint_defaults,
    )
    from quantammsim.runners.jax_runner_utils import create_static_dict  # type: ignore

    commit = "commit unknown: not a git checkout"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "-C", src, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return {
        "forward_pass": forward_pass,
        "create_pool": create_pool,
        "defaults": run_fingerprint_defaults,
        "create_static_dict": create_static_dict,
        "label": f"MEASURED in this run: quantammsim from {src} ({commit}), default paths",
    }


def _reference_cases(ref: dict[str, Any], n: int, steps: int) -> dict[str, Callable[[], Any]]:
    """The same cases through the reference's own forward_pass at its default settings."""
    prices = _prices(n, steps)
    params = {k: jnp.asarray(v[0]) for k, v in amm.init_params("momentum", n).items()}
    start = jnp.array([BURN_IN, 0])
    out: dict[str, Callable[[], Any]] = {}
    for fee_label, fee in (("0 fee", 0.0), ("30 bp", 0.003)):
        fingerprint = dict(ref["defaults"])
        fingerprint["tokens"] = [f"T{i}" for i in range(n)]
        for kind, return_val in (("forward", "reserves_and_values"), ("value+grad", None)):
            overrides = {
                "n_assets": n,
                "fees": fee,
                "training_data_kind": "historic",
                "do_trades": False,
            }
            if return_val is not None:
                overrides["return_val"] = return_val
            static = ref["create_static_dict"](
                fingerprint, bout_length=steps + 1, overrides=overrides
            )
            body = jax.tree_util.Partial(
                ref["forward_pass"], static_dict=static, pool=ref["create_pool"]("momentum")
            )
            fn = jax.jit(body if kind == "forward" else jax.value_and_grad(body))
            out[f"{kind}, {fee_label}"] = partial(fn, params, start, prices)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of a year, 2 repeats")
    parser.add_argument("--steps", type=int, default=None, help="minute steps (default a year)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--assets", type=int, nargs="+", default=[2, 4], choices=[2, 4])
    parser.add_argument("--cases", nargs="+", default=list(REFERENCE), choices=list(REFERENCE))
    args = parser.parse_args()
    steps = args.steps or (STEPS // 10 if args.quick else STEPS)
    repeats = args.repeats or (2 if args.quick else REPEATS)
    src = os.environ.get("QAMM_SRC")
    ref = _load_reference(src) if src else None
    print(f"AMM simulator benchmark: {steps:,} minute steps, momentum, float64, CPU")
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(f"reference = {ref['label'] if ref else REFERENCE_LABEL}")
    if ref is None:
        print("  (set QAMM_SRC to a quantammsim checkout to measure it side by side)")
    header = (
        f"{'case':<20}{'n':>3}{'ours s':>10}{'compile s':>11}{'ref s':>9}{'speed-up':>10}"
        f"{'load':>6}"
    )
    print(header)
    print("-" * len(header))
    for n in args.assets:
        k = (2, 4).index(n)
        ours = _cases(n, steps)
        theirs = _reference_cases(ref, n, steps) if ref else {}
        for name in args.cases:
            load = os.getloadavg()[0]
            steady, compile_s = _time(ours[name], repeats)
            if ref:
                ref_s, _ = _time(theirs[name], repeats)
                mark = ""
            else:
                ref_s, mark = REFERENCE[name][k] * steps / STEPS, "*"
            print(
                f"{name:<20}{n:>3}{steady:>10.3f}{compile_s:>11.2f}{ref_s:>8.3f}{mark:1}"
                f"{ref_s / steady:>9.1f}x{load:>6.1f}",
                flush=True,
            )
    if ref is None:
        print("* stored reference figure (scaled to the step count), not measured in this run")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
