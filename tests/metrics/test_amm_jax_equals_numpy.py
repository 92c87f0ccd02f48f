"""The JAX AMM metrics (training objectives, ``amm/metrics.py``) equal the NumPy ones.

The reported AMM numbers come from :mod:`algotrader.metrics.amm_family` (and, for the
pipeline, the shared evaluation path); the JAX versions exist only to be differentiated.
Both must agree to float64 rounding on the same minute value path.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from algotrader.amm import metrics as jm
from algotrader.metrics import amm_family as nm

DAY, WEEK = nm.MINUTES_PER_DAY, nm.WEEK

CASES = {
    "sharpe": nm.minute_sharpe,
    "daily_sharpe": nm.daily_sharpe,
    "daily_log_sharpe": nm.daily_log_sharpe,
    "returns": nm.total_return,
    "annualised_returns": nm.annualised_return,
    "greatest_draw_down": nm.greatest_draw_down,
    "weekly_max_drawdown": nm.weekly_max_drawdown,
    "ulcer": nm.chunked_ulcer,
    "sterling": nm.chunked_sterling,
    "calmar": nm.calmar,
    "daily_var_95%": lambda v: nm.chunked_var(v, chunk_minutes=DAY, q=5.0),
    "daily_var_95%_trad": lambda v: nm.chunked_var_trad(v, chunk_minutes=DAY, q=5.0),
    "weekly_var_99%": lambda v: nm.chunked_var(v, chunk_minutes=WEEK, q=1.0),
    "weekly_var_99%_trad": lambda v: nm.chunked_var_trad(v, chunk_minutes=WEEK, q=1.0),
}


@pytest.fixture(scope="module")
def out() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    t = 61 * DAY
    r = rng.standard_t(4, t - 1) * 4e-4 + 2e-6
    v = 1e6 * np.r_[1.0, np.cumprod(1 + r)]
    prices = np.cumprod(1 + rng.normal(0, 3e-4, (t, 3)), axis=0) * [10.0, 20.0, 5.0]
    return {"value": v, "prices": prices, "initial_reserves": v[0] / 3 / prices[0]}


@pytest.mark.parametrize("name", list(CASES))
def test_jax_metric_equals_numpy(name: str, out: dict[str, np.ndarray]) -> None:
    got = float(jm.metric_value({k: jnp.asarray(x) for k, x in out.items()}, name))
    want = float(CASES[name](out["value"]))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_uniform_hodl_equal(out: dict[str, np.ndarray]) -> None:
    got = float(
        jm.metric_value({k: jnp.asarray(x) for k, x in out.items()}, "returns_over_uniform_hodl")
    )
    want = float(nm.returns_over_uniform_hodl(out["value"], out["prices"]))
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
