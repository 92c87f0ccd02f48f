"""Hand-computed values for the metric definitions no other test pins independently.

``tools/mutate_metrics.py`` perturbs each metric definition by 1e-3 relative and runs the
metrics tests; the definitions below survived it (or were never called) before these tests.
Every expected value here is written out by hand or follows from an exact identity, never
from the definition under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from algotrader import metrics as m
from algotrader.metrics.bootstrap import bootstrap_sharpe_ci


def test_downside_deviation_by_hand() -> None:
    r = [0.02, -0.01, 0.01, -0.02]
    # min(r, 0)^2 = [0, 1e-4, 0, 4e-4]: mean 1.25e-4; times P = 4 -> 5e-4
    assert m.downside_deviation(r, periods_per_year=4) == pytest.approx(math.sqrt(5e-4), rel=1e-12)
    # target 0.01: min(r - 0.01, 0) = [0, -0.02, 0, -0.03]: mean square 3.25e-4
    assert m.downside_deviation(r, periods_per_year=4, target=0.01) == pytest.approx(
        math.sqrt(4 * 3.25e-4), rel=1e-12
    )
    cols = m.downside_deviation(np.column_stack([r, [0.01] * 4]), periods_per_year=1)
    np.testing.assert_allclose(cols, [math.sqrt(1.25e-4), 0.0], rtol=1e-12, atol=0)


def test_returns_from_values_by_hand() -> None:
    np.testing.assert_allclose(m.returns_from_values([100.0, 110.0, 99.0]), [0.1, -0.1], rtol=1e-12)
    two = m.returns_from_values(np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 1.0]]))
    np.testing.assert_allclose(two, [[1.0, -0.5], [0.5, -0.5]], rtol=1e-12)


def test_hodl_values_by_hand() -> None:
    prices = np.array([[1.0, 2.0], [3.0, 4.0], [2.0, 8.0]])
    # 2 units of the first asset, short 1 of the second, 5 in cash
    np.testing.assert_allclose(
        m.hodl_values(prices, [2.0, -1.0], cash=5.0), [5.0, 7.0, 1.0], rtol=1e-12
    )
    np.testing.assert_allclose(m.hodl_values(prices, [0.5, 0.25]), [1.0, 2.5, 3.0], rtol=1e-12)
    # growth 6 against the holdings' growth 3 (path [1, 2.5, 3])
    assert m.returns_over_hodl([1.0, 2.0, 6.0], prices, [0.5, 0.25]) == pytest.approx(
        (6.0 / 1.0) / (3.0 / 1.0) - 1.0, rel=1e-12
    )


def test_rademacher_complexity_exact_case() -> None:
    # paths x and -x: max(s.x, -s.x) = |s.x|; with x = (1, 0) that is 1 for every sign draw,
    # so the complexity is exactly 1 / T = 0.5 whatever the seed and the number of draws
    paths = np.array([[1.0, -1.0], [0.0, 0.0]])
    for seed in (0, 7):
        assert m.rademacher_complexity(
            paths, n_draws=64, seed=seed, standardise=False
        ) == pytest.approx(0.5, rel=1e-12)
    # scaled by 3: exactly 1.5 unstandardised, back to 0.5 / sd after standardising
    assert m.rademacher_complexity(
        3 * paths, n_draws=16, seed=1, standardise=False
    ) == pytest.approx(1.5, rel=1e-12)
    sd = np.std([1.0, 0.0], ddof=1)
    assert m.rademacher_complexity(3 * paths, n_draws=16, seed=1) == pytest.approx(
        0.5 / sd, rel=1e-12
    )


def test_rademacher_complexity_monte_carlo_value() -> None:
    # x and -x with x = (1, 1): max = |s1 + s2|, 2 or 0 with probability 1/2 each, so the
    # complexity is 1 / T = 0.5; a 40k-draw estimate lies within 4 standard errors of it
    paths = np.array([[1.0, -1.0], [1.0, -1.0]])
    got = m.rademacher_complexity(paths, n_draws=40_000, seed=3, standardise=False)
    assert got == pytest.approx(0.5, abs=4 * 0.5 / math.sqrt(40_000))


def test_bootstrap_with_whole_series_blocks_is_the_sample_sharpe() -> None:
    # a circular block of length T is a rotation of the series: every resample has the
    # same mean and standard deviation, so the interval collapses onto the sample Sharpe
    r = np.array([0.01, -0.02, 0.03, 0.005, -0.01, 0.02])
    want = math.sqrt(12) * r.mean() / r.std(ddof=1)
    ci = bootstrap_sharpe_ci(r, periods_per_year=12, block_len=r.size, n_boot=50, seed=0)
    assert ci.estimate == pytest.approx(want, rel=1e-12)
    assert ci.lower == pytest.approx(want, rel=1e-12)
    assert ci.upper == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(ci.samples, want, rtol=1e-12)
    assert ci.std_error == pytest.approx(0.0, abs=1e-12)


def test_amm_annualised_returns_over_hodl_by_hand() -> None:
    from algotrader.metrics import amm_family as amm

    # T - 1 = 262,800 minutes = half a 365-day year: the exponent 525600 / (T - 1) is 2.
    t = 262_801
    values = np.ones(t)
    values[-1] = 1.1
    prices = np.ones((t, 2))
    prices[-1] = [1.0, 1.2]  # the held reserves (0.5, 0.5) end worth 1.1: no excess
    assert amm.annualised_returns_over_hodl(values, prices, [0.5, 0.5]) == pytest.approx(
        0.0, abs=1e-12
    )
    # reserves (1, 0) end worth 1.0: relative growth 1.1, annualised 1.1^2 - 1 = 0.21
    assert amm.annualised_returns_over_hodl(values, prices, [1.0, 0.0]) == pytest.approx(
        0.21, rel=1e-12
    )
    # uniform HODL from V_0 = 1 at p_0 = (1, 1) holds (0.5, 0.5): same as the first case
    assert amm.annualised_returns_over_uniform_hodl(values, prices) == pytest.approx(0.0, abs=1e-12)


def test_compute_metrics_general_set_by_hand() -> None:
    """Every general metric of ``compute_metrics`` (the batched engine) on a 5-return path,
    each written out from its definition with plain numpy (no package function)."""
    from algotrader.metrics.registry import compute_metrics

    r = np.array([0.10, -0.05, 0.02, -0.08, 0.06])
    v = 100 * np.concatenate([[1.0], np.cumprod(1 + r)])
    p, n = 12.0, r.size
    bench = 100 * np.array([1.0, 1.02, 1.01, 1.05, 1.0, 1.04])
    turnover = np.array([0.0, 0.3, 0.1, 0.2, 0.4, 0.0])
    got = compute_metrics(
        v,
        periods_per_year=p,
        benchmarks={"hodl": bench, "uniform_hodl": bench[::-1]},
        turnover=turnover,
    )
    growth = float(np.prod(1 + r))
    cagr = growth ** (p / n) - 1
    mean = float(np.sum(r) / n)
    sd1 = math.sqrt(float(np.sum((r - mean) ** 2)) / (n - 1))
    lr = np.log(1 + r)
    lmean = float(np.sum(lr) / n)
    lsd1 = math.sqrt(float(np.sum((lr - lmean) ** 2)) / (n - 1))
    peak = [max(v[: i + 1]) for i in range(v.size)]
    dd = np.array([1 - v[i] / peak[i] for i in range(v.size)])
    mdd = float(max(dd))
    srt = sorted(r)  # 5% linear quantile of 5 values: 0.2 of the way from the 1st to the 2nd
    q = srt[0] + 0.2 * (srt[1] - srt[0])
    m2 = float(np.sum((r - mean) ** 2)) / n
    g3 = float(np.sum((r - mean) ** 3)) / n / m2**1.5
    g4 = float(np.sum((r - mean) ** 4)) / n / m2**2
    sr = mean / sd1
    var = 1 - g3 * sr + (g4 - 1) / 4 * sr**2
    z = sr * math.sqrt(n - 1) / math.sqrt(var)
    want = {
        "total_return": growth - 1,
        "annualised_return": cagr,
        "annualised_volatility": math.sqrt(p) * sd1,
        "sharpe": math.sqrt(p) * mean / sd1,
        "log_sharpe": math.sqrt(p) * lmean / lsd1,
        "sortino": math.sqrt(p) * mean / math.sqrt(float(np.sum(np.minimum(r, 0) ** 2)) / n),
        "calmar": cagr / mdd,
        "sterling": cagr / mdd,  # fewer than round(P) = 12 rows: one chunk, the whole path
        "ulcer_index": math.sqrt(float(np.sum(dd**2)) / v.size),
        "max_drawdown": mdd,
        "greatest_drawdown": max(0.0, float(max(1 - v / v[0]))),
        "value_at_risk_95": -q,
        "cvar_95": -srt[0],  # only the smallest return lies at or below the quantile
        "hit_rate": 3 / 5,
        "probabilistic_sharpe": 0.5 * (1 + math.erf(z / math.sqrt(2))),
        "min_track_record_length": 1 + var * (1.6448536269514722 / sr) ** 2,
        "returns_over_hodl": growth / (bench[-1] / bench[0]) - 1,
        "returns_over_uniform_hodl": growth / (bench[0] / bench[-1]) - 1,
        "annualised_turnover": p * float(np.sum(turnover)) / turnover.size,
    }
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-10, abs=1e-14), name
