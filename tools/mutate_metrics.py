"""Mutation check of the metric definitions: is every definition pinned by an independent test?

For each metric definition in ``src/algotrader/metrics/`` (the single-metric functions of
``returns_based``, ``value_based``, ``relative``, ``sharpe_inference``, ``generalisation``,
``pbo``, ``bootstrap``, ``amm_family`` and each output of the batched engine
``batch._block``) this script runs the metrics tests once with that definition's result
perturbed by ``+1e-3`` relative (``x * (1 + 1e-3)``, ``x + 1e-3`` where ``x == 0``; NaN/inf
unchanged; every float field of a dataclass result). The perturbation is applied at run time by
this file acting as a pytest plugin (``-p mutate_metrics``): the defining module's attribute
and every ``algotrader.*`` module attribute bound to the same function object are replaced,
so the definition changes everywhere (the registry, ``compute_metrics``, the re-exports). No
source file is edited.

A mutation is *caught* when at least one test fails. A test that compares a definition with
itself (or with a second copy of the same rule) cannot fail, so a *survivor* is a definition
whose value no test pins independently. A mutation the tests never trigger is reported as
*unexercised*.

Usage::

    .venv/bin/python tools/mutate_metrics.py                 # all definitions, tests/metrics
    .venv/bin/python tools/mutate_metrics.py --jobs 2 --only sharpe,amm_family:calmar
    .venv/bin/python tools/mutate_metrics.py --independent      # differential tests left out
    .venv/bin/python tools/mutate_metrics.py --list

Exit status 1 when any mutation survives (or is unexercised).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENV_TARGET = "MUTATE_METRICS_TARGET"
ENV_REPORT = "MUTATE_METRICS_REPORT"
REL = 1e-3
#: Tests comparing two implementations of one definition (the batched engine with the
#: single-metric reference, JAX with NumPy): ``--independent`` leaves them out, so a catch
#: must come from an independently known value (closed form, empyrical, a hand example).
DIFFERENTIAL = (
    "test_batch_equals_reference",
    "test_jax_metric_equals_numpy",
    "test_uniform_hodl_equal",
)

#: module -> the metric definitions in it (public functions returning a metric value).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "returns_based": (
        "sharpe",
        "log_sharpe",
        "downside_deviation",
        "sortino",
        "annualised_volatility",
        "value_at_risk",
        "conditional_value_at_risk",
        "hit_rate",
        "annualised_turnover",
    ),
    "value_based": (
        "drawdown_series",
        "max_drawdown",
        "greatest_drawdown",
        "ulcer_index",
        "total_return",
        "annualised_return",
        "calmar",
        "chunk_max_drawdowns",
        "sterling",
        "returns_from_values",
    ),
    "relative": (
        "hodl_values",
        "uniform_hodl_values",
        "returns_over_benchmark",
        "returns_over_hodl",
        "returns_over_uniform_hodl",
        "annualised_returns_over_benchmark",
    ),
    "sharpe_inference": (
        "per_period_sharpe",
        "probabilistic_sharpe_ratio",
        "expected_max_sharpe",
        "effective_number_of_trials",
        "deflated_sharpe_ratio",
        "minimum_track_record_length",
    ),
    "generalisation": (
        "walk_forward_efficiency",
        "is_oos_gap",
        "summarise_walk_forward",
        "rademacher_complexity",
        "adjusted_sharpe_bound",
    ),
    "pbo": ("probability_of_backtest_overfitting",),
    "bootstrap": ("bootstrap_sharpe_ci",),
    "amm_family": (
        "minute_sharpe",
        "daily_sharpe",
        "eval_sharpe",
        "daily_log_sharpe",
        "total_return",
        "annualised_return",
        "returns_over_hodl",
        "returns_over_uniform_hodl",
        "annualised_returns_over_hodl",
        "annualised_returns_over_uniform_hodl",
        "greatest_draw_down",
        "weekly_max_drawdown",
        "chunked_ulcer",
        "chunked_sterling",
        "calmar",
        "chunked_var",
        "chunked_var_trad",
    ),
}


def batch_names() -> tuple[str, ...]:
    """The outputs of the batched engine (one definition each)."""
    sys.path.insert(0, str(ROOT / "src"))
    from algotrader.metrics.batch import GENERAL_NAMES

    return GENERAL_NAMES


def all_targets() -> list[str]:
    """Every target as ``module:function`` or ``batch:<output name>``."""
    out = [f"{m}:{f}" for m, fs in FUNCTIONS.items() for f in fs]
    out += [f"batch:{n}" for n in batch_names()]
    return out


# ---------------------------------------------------------------- perturbation (plugin side)


def perturb(x: Any) -> Any:
    """``x (1 + REL)`` (``x + REL`` where ``x == 0``) on every finite float in ``x``."""
    if isinstance(x, bool | int | str) or x is None:
        return x
    if isinstance(x, float | np.floating):
        if not np.isfinite(x):
            return x
        return type(x)(x * (1 + REL) if x != 0 else x + REL)
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            return x
        y = np.where(x == 0, x + REL, x * (1 + REL))
        return np.where(np.isfinite(x), y, x).astype(x.dtype)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {f.name: perturb(getattr(x, f.name)) for f in dataclasses.fields(x)}
        return dataclasses.replace(x, **changes)
    if isinstance(x, tuple):
        return type(x)(perturb(v) for v in x) if not hasattr(x, "_fields") else x
    if isinstance(x, dict):
        return {k: perturb(v) for k, v in x.items()}
    return x


CALLS = {"n": 0}


def _wrap(fn: Callable[..., Any], post: Callable[[Any], Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def mutated(*args: Any, **kwargs: Any) -> Any:
        CALLS["n"] += 1
        return post(fn(*args, **kwargs))

    return mutated


def _rebind(original: Any, replacement: Any) -> int:
    """Replace every ``algotrader.*`` module attribute bound to ``original``."""
    n = 0
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "algotrader" or name.startswith("algotrader.")):
            continue
        for attr, val in list(vars(mod).items()):
            if val is original:
                setattr(mod, attr, replacement)
                n += 1
    return n


def install(target: str) -> None:
    """Apply the mutation ``target`` in this process."""
    import importlib

    module, _, name = target.partition(":")
    mod = importlib.import_module(f"algotrader.metrics.{module}")
    if module == "batch":
        original = mod._block

        def post(out: dict[str, Any]) -> dict[str, Any]:
            if name in out:
                CALLS["n"] += 1
                out = {**out, name: perturb(out[name])}
            return out

        @functools.wraps(original)
        def block(*args: Any, **kwargs: Any) -> Any:
            return post(original(*args, **kwargs))

        _rebind(original, block)
        return
    original = getattr(mod, name)
    if _rebind(original, _wrap(original, perturb)) == 0:
        raise RuntimeError(f"{target}: nothing bound to the original function")


def pytest_configure(config: Any) -> None:  # pytest plugin hook
    target = os.environ.get(ENV_TARGET)
    if target:
        install(target)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:  # pytest plugin hook
    report = os.environ.get(ENV_REPORT)
    if report:
        Path(report).write_text(json.dumps({"calls": CALLS["n"], "exit": int(exitstatus)}))


# ---------------------------------------------------------------- driver


def run_one(target: str, tests: list[str], profile: str, independent: bool) -> dict[str, Any]:
    """Run the tests with ``target`` mutated; the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        env = {
            **os.environ,
            ENV_TARGET: target,
            ENV_REPORT: str(report),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tools"), os.environ.get("PYTHONPATH", "")]),
            "HYPOTHESIS_PROFILE": profile,
        }
        cmd = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-rf", "-p", "no:cacheprovider"]
        cmd += ["-p", "mutate_metrics", "--no-header"]
        if independent:
            cmd += ["-k", " and ".join(f"not {name}" for name in DIFFERENTIAL)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        secs = time.perf_counter() - t0
        info = json.loads(report.read_text()) if report.exists() else {"calls": -1}
    failed = [ln.split(" ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    if proc.returncode == 0:
        status = "survived" if info["calls"] > 0 else "unexercised"
    elif proc.returncode == 1 and failed:
        status = "caught"
    else:
        status = f"error (rc {proc.returncode})"
    return {
        "target": target,
        "status": status,
        "by": failed[0].split(" - ")[0] if failed else "",
        "calls": info["calls"],
        "seconds": round(secs, 1),
        "tail": ""
        if status in ("caught", "survived")
        else proc.stdout[-1500:] + proc.stderr[-1500:],
    }


def _say(msg: str) -> None:
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Command line entry (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", default="tests/metrics", help="comma-separated test paths")
    ap.add_argument("--only", default="", help="comma-separated targets or substrings")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--profile", default="ci", help="hypothesis profile")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--independent", action="store_true", help="leave out the differential tests")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    targets = all_targets()
    if args.only:
        want = [w.strip() for w in args.only.split(",") if w.strip()]
        targets = [t for t in targets if any(t == w or w in t for w in want)]
    if args.list:
        _say("\n".join(targets))
        return 0
    tests = [t for t in args.tests.split(",") if t]
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for res in pool.map(lambda t: run_one(t, tests, args.profile, args.independent), targets):
            results.append(res)
            _say(f"{res['status']:12s} {res['target']:55s} {res['seconds']:6.1f}s  {res['by']}")
            if res["tail"]:
                _say(res["tail"])
    bad = [r for r in results if r["status"] != "caught"]
    _say(f"\n{len(results) - len(bad)}/{len(results)} caught; not caught: {len(bad)}")
    for r in bad:
        _say(f"  {r['status']:12s} {r['target']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
