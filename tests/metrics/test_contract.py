"""One contract run over every registered metric (optax-style registry tests).

For each metric: (T,) and (T, K) inputs agree column by column; the batched engine equals
the single-metric reference; a NaN in one column makes only that column NaN; rescaling all
values by a currency factor changes nothing; outputs are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.metrics import amm_family as amm
from algotrader.metrics.registry import REGISTRY, MetricInputs, compute_metrics

GENERAL = [n for n, s in REGISTRY.items() if s.family == "general"]
AMM = [n for n, s in REGISTRY.items() if s.family == "amm"]


def _panel(family: str) -> tuple[np.ndarray, float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    t, k, a = (600, 4, 3) if family == "general" else (31 * 1440 + 5, 3, 3)
    scale = 0.01 if family == "general" else 0.0005
    r = rng.standard_t(5, size=(t - 1, k)) * scale + scale / 20
    v = 100 * np.vstack([np.ones((1, k)), np.cumprod(1 + r, axis=0)])
    prices = np.cumprod(1 + rng.normal(0, scale, size=(t, a)), axis=0)
    bench = {"hodl": v[:, 0] * 0.9 + 10, "uniform_hodl": (prices / prices[0]).mean(axis=1) * 100}
    turnover = np.abs(rng.normal(0, 0.05, size=(t, k)))
    ppy = 252.0 if family == "general" else float(amm.MINUTES_PER_YEAR)
    return v, ppy, bench, turnover, prices


@pytest.fixture(scope="module")
def general() -> tuple[np.ndarray, float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    return _panel("general")


@pytest.fixture(scope="module")
def minute() -> tuple[np.ndarray, float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    return _panel("amm")


def _run(name: str, v: np.ndarray, ppy: float, bench, turnover, prices):  # type: ignore[no-untyped-def]
    return compute_metrics(
        v, periods_per_year=ppy, benchmarks=bench, turnover=turnover, prices=prices, names=[name]
    )[name]


def _data(name: str, general, minute):  # type: ignore[no-untyped-def]
    return general if REGISTRY[name].family == "general" else minute


@pytest.mark.parametrize("name", list(REGISTRY))
def test_columns_match_single_series(name: str, general, minute) -> None:  # type: ignore[no-untyped-def]
    v, ppy, bench, to, prices = _data(name, general, minute)
    many = np.asarray(_run(name, v, ppy, bench, to, prices))
    assert many.shape == (v.shape[1],)
    for j in range(v.shape[1]):
        one = _run(name, v[:, j], ppy, bench, to[:, j], prices)
        assert isinstance(one, float)
        np.testing.assert_allclose(one, many[j], rtol=1e-12)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_batch_equals_reference(name: str, general, minute) -> None:  # type: ignore[no-untyped-def]
    v, ppy, bench, to, prices = _data(name, general, minute)
    ref = REGISTRY[name].compute(MetricInputs(v, ppy, bench, to, prices))
    np.testing.assert_allclose(_run(name, v, ppy, bench, to, prices), ref, rtol=1e-9)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_nan_propagates_to_its_column_only(name: str, general, minute) -> None:  # type: ignore[no-untyped-def]
    v, ppy, bench, to, prices = _data(name, general, minute)
    bad = v.copy()
    bad[len(v) // 2, 1] = np.nan
    to_bad = to.copy()
    to_bad[len(v) // 2, 1] = np.nan
    res = np.asarray(_run(name, bad, ppy, bench, to_bad, prices))
    clean = np.asarray(_run(name, v, ppy, bench, to, prices))
    assert np.isnan(res[1])
    np.testing.assert_allclose(np.delete(res, 1), np.delete(clean, 1), rtol=1e-12)


@pytest.mark.parametrize("name", [n for n in REGISTRY if REGISTRY[n].scale_invariant])
def test_currency_rescale_invariance(name: str, general, minute) -> None:  # type: ignore[no-untyped-def]
    v, ppy, bench, to, prices = _data(name, general, minute)
    a = np.asarray(_run(name, v, ppy, bench, to, prices))
    scaled_bench = {k: b * 7.5 for k, b in bench.items()}
    b = np.asarray(_run(name, v * 7.5, ppy, scaled_bench, to, prices * 7.5))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_deterministic_and_documented(name: str, general, minute) -> None:  # type: ignore[no-untyped-def]
    v, ppy, bench, to, prices = _data(name, general, minute)
    a = _run(name, v, ppy, bench, to, prices)
    b = _run(name, v, ppy, bench, to, prices)
    np.testing.assert_array_equal(a, b)
    spec = REGISTRY[name]
    assert spec.definition and spec.name == name


def test_compute_metrics_skips_missing_inputs_and_rejects_unknown(general) -> None:  # type: ignore[no-untyped-def]
    from algotrader.errors import ConfigError

    v, ppy, *_ = general
    out = compute_metrics(v, periods_per_year=ppy)
    assert "returns_over_hodl" not in out and "sharpe" in out
    with pytest.raises(ConfigError, match="unknown metric"):
        compute_metrics(v, periods_per_year=ppy, names=["sharp"])
    from algotrader.errors import DataError

    with pytest.raises(DataError, match="needs at least 2 values"):
        compute_metrics(np.ones(1), periods_per_year=ppy)
    with pytest.raises(ConfigError, match="needs turnover"):
        compute_metrics(v, periods_per_year=ppy, names=["annualised_turnover"])
