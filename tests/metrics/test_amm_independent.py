"""Independent expected values for every ``amm.*`` registered metric.

``test_contract.py`` checks the registry against the functions it wraps; here each AMM
definition (spec amm.md §e, as documented in :mod:`algotrader.metrics.amm_family`) is
re-derived in plain NumPy from its written formula, so a mutation of any definition (e.g.
``total_return + 1e-3``) fails here. Closed forms are checked on constant-growth paths.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from algotrader.metrics.registry import REGISTRY, compute_metrics

DAY, WEEK, MONTH, YEAR = 1440, 7 * 1440, 30 * 1440, 525_600


def _std0(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean((x - x.mean()) ** 2)))


def _chunk_dd(v: np.ndarray, n: int) -> list[float]:
    """Per complete chunk of n values: min over the chunk of (V - running max) / running max."""
    out = []
    for s in range(0, v.size - n + 1, n):
        c = v[s : s + n]
        peak = np.maximum.accumulate(c)
        out.append(float(((c - peak) / peak).min()))
    return out


def _expected(v: np.ndarray, prices: np.ndarray) -> dict[str, float]:
    t = v.size
    r = v[1:] / v[:-1] - 1
    vd = v[::DAY]
    rd = vd[1:] / vd[:-1] - 1
    ld = np.diff(np.log(vd + 1e-12))
    total = v[-1] / v[0] - 1
    days = t / DAY
    cagr = (1 + total) ** (365 / days) - 1
    peak = np.maximum.accumulate(v)
    ulcers = []
    for s in range(0, t - MONTH + 1, MONTH):
        c = v[s : s + MONTH]
        p = np.maximum.accumulate(c)
        ulcers.append(math.sqrt(float(np.mean(((c - p) / p) ** 2))))
    h = v[0] / (prices.shape[1] * prices[0])
    day_q = []  # returns inside each complete day of values (none across the boundary)
    for s in range(0, t - DAY + 1, DAY):
        c = v[s : s + DAY]
        day_q.append(float(np.percentile(c[1:] / c[:-1] - 1, 5)))
    sd = _std0(rd)
    eod = v[DAY - 1 :: DAY]  # the last minute of each day
    return {
        "amm.minute_sharpe": math.sqrt(YEAR) * r.mean() / _std0(r),
        "amm.daily_sharpe": math.sqrt(365) * rd.mean() / sd,
        "amm.eval_sharpe": 0.0 if sd <= 1e-12 else math.sqrt(365) * rd.mean() / sd,
        "amm.daily_log_sharpe": math.sqrt(365) * ld.mean() / (_std0(ld) + 1e-8),
        "amm.returns": total,
        "amm.annualised_returns": (v[-1] / v[0]) ** (YEAR / (t - 1)) - 1,
        "amm.returns_over_uniform_hodl": v[-1] / float(h @ prices[-1]) - 1,
        "amm.greatest_draw_down": float((v - v[0]).min() / v[0]),
        "amm.weekly_max_drawdown": min(_chunk_dd(v, WEEK)),
        "amm.ulcer": -float(np.mean(ulcers)),
        "amm.sterling": cagr / -float(np.mean(_chunk_dd(v, MONTH))),
        "amm.calmar": cagr / -float(((v - peak) / peak).min()),
        "amm.daily_var_95": float(np.mean(day_q)),
        "amm.daily_var_95_trad": float(np.percentile(eod[1:] / eod[:-1] - 1, 5)),
    }


@pytest.fixture(scope="module")
def path() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    t = 61 * DAY
    r = rng.standard_t(4, t - 1) * 4e-4 + 2e-6
    v = 1e6 * np.r_[1.0, np.cumprod(1 + r)]
    prices = np.cumprod(1 + rng.normal(0, 3e-4, (t, 3)), axis=0) * [10.0, 20.0, 5.0]
    return v, prices


def test_every_amm_metric_has_an_independent_value(path) -> None:  # type: ignore[no-untyped-def]
    v, prices = path
    want = _expected(v, prices)
    assert set(want) == {n for n, s in REGISTRY.items() if s.family == "amm"}
    got = compute_metrics(v, periods_per_year=YEAR, prices=prices, family="amm")
    for name, x in want.items():
        assert got[name] == pytest.approx(x, rel=1e-9, abs=1e-12), name


def test_amm_closed_forms_constant_growth() -> None:
    # V_t = (1 + g)^t per minute for 8 days: no drawdown, zero volatility
    g, t = 1e-5, 8 * DAY
    v = (1 + g) ** np.arange(t)
    prices = np.column_stack([v, v])
    got = compute_metrics(v, periods_per_year=YEAR, prices=prices, family="amm")
    assert got["amm.returns"] == pytest.approx((1 + g) ** (t - 1) - 1, rel=1e-12)
    assert got["amm.annualised_returns"] == pytest.approx((1 + g) ** YEAR - 1, rel=1e-9)
    assert got["amm.greatest_draw_down"] == 0.0
    assert got["amm.weekly_max_drawdown"] == 0.0
    assert got["amm.calmar"] == math.inf  # no drawdown: documented +inf
    assert got["amm.eval_sharpe"] == 0.0  # constant daily return: std <= 1e-12 -> 0
    assert got["amm.returns_over_uniform_hodl"] == pytest.approx(0.0, abs=1e-12)
    assert got["amm.daily_var_95_trad"] == pytest.approx((1 + g) ** DAY - 1, rel=1e-9)
    assert got["amm.daily_var_95"] == pytest.approx(g, rel=1e-6)
