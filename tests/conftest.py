"""Test-wide settings: CPU-only JAX, a persistent compilation cache, hypothesis profiles."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No JAX_ENABLE_X64 here: float64 must come from the package (algotrader.amm, .training and
# .forecasting enable it on import), so a package that stopped enabling it fails its dtype
# tests in-process too; tests/core/test_float64.py also checks it in a clean interpreter.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# `make test` runs pytest under `uv run`; Ray would then start its workers through `uv run`
# too (its uv runtime-env hook), which fails in a fresh clone. Workers use this interpreter.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
_CACHE = Path(__file__).resolve().parent.parent / ".jax_cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_algotrader_logger() -> Iterator[None]:
    """CLI tests configure the ``algotrader`` logger; restore it so no handler leaks."""
    logger = logging.getLogger("algotrader")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def ray_cluster_lock() -> Iterator[None]:
    """One real Ray cluster at a time on this machine (xdist workers would start two at once,
    and two local clusters on 2 cores can starve each other)."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "algotrader-tests-ray.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
