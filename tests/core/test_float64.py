"""float64 is the package's doing, not the test harness's.

An in-process check would pass whenever anything earlier in the session (another test
module, an environment variable such as ``JAX_ENABLE_X64=1``) had enabled x64. These run a
fresh interpreter with every ``JAX_*``/``XLA_*`` variable removed and check that importing
each JAX-using module alone gives float64 arrays and float64 results. (``tests/conftest.py``
sets no ``JAX_ENABLE_X64`` either, so the in-process dtype tests rely on the package too.)
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_CHECK = """
import jax, jax.numpy as jnp
assert not jax.config.jax_enable_x64, "x64 must start disabled in a clean interpreter"
import {module}
assert jax.config.jax_enable_x64, "importing {module} must enable float64"
x = jnp.asarray([1.0, 2.0])
assert x.dtype == jnp.float64, x.dtype
assert (jnp.cumsum(x) / 3.0).dtype == jnp.float64
print("ok")
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env["JAX_PLATFORMS"] = "cpu"  # never probe accelerators from a test
    return env


@pytest.mark.parametrize(
    "module",
    [
        "algotrader.amm",
        "algotrader.training",
        # one fresh interpreter each (~3 s CPU): the rest run in the full suite only
        pytest.param("algotrader.tuning.problem_objective", marks=pytest.mark.slow),
        pytest.param("algotrader.forecasting.models", marks=pytest.mark.slow),
        pytest.param("algotrader.forecasting.svi", marks=pytest.mark.slow),
    ],
)
def test_package_import_enables_float64_in_clean_process(module: str) -> None:
    env = _clean_env()
    assert "JAX_ENABLE_X64" not in env
    proc = subprocess.run(
        [sys.executable, "-c", _CHECK.format(module=module)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_clean_process_without_package_is_float32() -> None:
    """The check above can fail: without the package import JAX defaults to float32."""
    code = "import jax.numpy as jnp; print(jnp.asarray([1.0]).dtype)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "float32"
