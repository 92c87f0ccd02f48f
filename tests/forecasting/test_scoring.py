"""Scoring: closed forms, differential vs scoringrules (1e-10), properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scoringrules as sr
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from algotrader.errors import DataError, ShapeError
from algotrader.forecasting.scoring import (
    coverage,
    crps_ensemble,
    energy_score,
    pit,
    quantile_loss,
    variogram_score,
)
from algotrader.forecasting.whitening import fit_es_whitening, shrinkage_for


def _case(seed: int, s: int = 40, t: int = 7, a: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(t, a)), rng.normal(0.3, 1.5, size=(s, t, a))


# ------------------------------------------------------------------ closed form
def test_one_d_energy_score_spec_case() -> None:
    y = np.zeros((1, 1))
    x = np.array([1.0, 3.0]).reshape(2, 1, 1)
    assert energy_score(y, x)[0] == pytest.approx(1.5, abs=1e-15)
    assert energy_score(y, x, estimator="fair")[0] == pytest.approx(1.0, abs=1e-15)
    assert crps_ensemble(y, x)[0, 0] == pytest.approx(1.5, abs=1e-15)


def test_point_mass_energy_score_is_distance() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=(6, 5))
    x0 = rng.normal(size=(6, 5))
    x = np.broadcast_to(x0, (50, 6, 5)).copy()
    np.testing.assert_allclose(
        energy_score(y, x), np.linalg.norm(y - x0, axis=1), rtol=0, atol=1e-13
    )
    assert np.all(energy_score(x0, x) == 0.0)


@pytest.mark.parametrize(("d", "expected"), [(1, 0.233695), (2, 0.367087), (5, 0.623187)])
def test_gaussian_energy_score_at_mean(d: int, expected: float) -> None:
    rng = np.random.default_rng(d)
    x = rng.normal(size=(400, 60, d))
    es = energy_score(np.zeros((60, d)), x, estimator="fair").mean()
    m_d = math.sqrt(2) * math.gamma((d + 1) / 2) / math.gamma(d / 2)
    assert m_d * (1 - 1 / math.sqrt(2)) == pytest.approx(expected, abs=1e-6)
    assert es == pytest.approx(expected, abs=0.03)


def _gauss_crps(y: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    z = (y - mu) / sigma
    return sigma * (
        z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi)
    )


def test_gaussian_crps_converges_as_members_grow() -> None:
    rng = np.random.default_rng(7)
    y = np.linspace(-2, 2, 9).reshape(1, 9)
    exact = _gauss_crps(y, 0.5, 2.0)
    errs = []
    for s in (50, 500, 5000):
        x = rng.normal(0.5, 2.0, size=(s, 40, 9))
        got = crps_ensemble(np.repeat(y, 40, axis=0), x, estimator="fair").mean(axis=0)
        errs.append(np.abs(got - exact[0]).max())
    assert errs[-1] < 0.02
    assert errs[-1] < errs[0]
    assert _gauss_crps(np.zeros(1), 0.0, 1.0)[0] == pytest.approx(0.233695, abs=1e-6)


def test_pinball_spec_case() -> None:
    q = quantile_loss(np.array([[-1.0, 1.0]]), np.zeros((5, 1, 2)), 0.1)
    np.testing.assert_allclose(q, [[0.9, 0.1]], atol=1e-15)


def test_calibrated_pit_is_uniform_ks() -> None:
    """Truth and members from the same law: KS p-value above 0.01 (seeded, stated level)."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(30, 200, 5))
    y = rng.normal(size=(200, 5))
    u = pit(y, x, seed=1).ravel()
    assert stats.kstest(u, "uniform").pvalue > 0.01
    # a mis-scaled ensemble is rejected
    bad = pit(y * 3.0, x, seed=1).ravel()
    assert stats.kstest(bad, "uniform").pvalue < 1e-6


def test_pit_ties_randomised_and_seeded() -> None:
    x = np.zeros((9, 50, 1))
    y = np.zeros((50, 1))
    a, b = pit(y, x, seed=5), pit(y, x, seed=5)
    assert np.array_equal(a, b)
    assert a.std() > 0.1  # not all ties mapped to one value
    assert np.all(pit(y, x, seed=5, method="ecdf") <= 1.0)


def test_coverage_of_calibrated_ensemble() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 300, 3))
    y = rng.normal(size=(300, 3))
    cov = coverage(y, x, [0.5, 0.9])
    np.testing.assert_allclose(cov, [0.5, 0.9], atol=0.04)


# ------------------------------------------------------------------ differential
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_vs_scoringrules(seed: int, estimator: str) -> None:
    y, x = _case(seed)
    ref = sr.es_ensemble(y, np.moveaxis(x, 0, 1), m_axis=-2, v_axis=-1, estimator=estimator)
    np.testing.assert_allclose(energy_score(y, x, estimator=estimator), ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_vs_scoringrules_benchmark_shape(estimator: str) -> None:
    """The benchmark's shape family (S = 200, A = 20) at 1e-10."""
    rng = np.random.default_rng(9)
    y, x = rng.normal(size=(12, 20)), rng.normal(size=(200, 12, 20))
    ref = sr.es_ensemble(y, np.moveaxis(x, 0, 1), estimator=estimator, backend="numba")
    np.testing.assert_allclose(energy_score(y, x, estimator=estimator), ref, rtol=0, atol=1e-10)


def test_energy_score_gram_path_keeps_digits_on_offsets_and_ties() -> None:
    """A large common offset (cancellation in a raw Gram) and duplicated members (near-ties,
    recomputed directly) match a direct pairwise sum."""
    rng = np.random.default_rng(3)
    x = 1e6 + 1e-3 * rng.normal(size=(30, 3, 5))
    x[10:20] = x[0]  # ten exact duplicates of member 0 in every row
    x[20, 1] = x[21, 1] + 1e-12  # a near-tie
    y = 1e6 + 1e-3 * rng.normal(size=(3, 5))
    direct = np.array(
        [
            np.linalg.norm(x[:, t] - y[t], axis=-1).mean()
            - np.linalg.norm(x[:, None, t] - x[None, :, t], axis=-1).sum() / (2 * 30**2)
            for t in range(3)
        ]
    )
    np.testing.assert_allclose(energy_score(y, x), direct, rtol=1e-9, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_crps_vs_scoringrules(seed: int, estimator: str) -> None:
    y, x = _case(seed)
    ref = sr.crps_ensemble(y, np.moveaxis(x, 0, -1), estimator=estimator)
    np.testing.assert_allclose(crps_ensemble(y, x, estimator=estimator), ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_variogram_vs_scoringrules(seed: int) -> None:
    y, x = _case(seed)
    ref = sr.vs_ensemble(y, np.moveaxis(x, 0, 1), p=0.5)
    np.testing.assert_allclose(variogram_score(y, x, reduction="sum"), ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(variogram_score(y, x), ref / (4 * 3), rtol=0, atol=1e-10)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_quantile_loss_vs_scoringrules(alpha: float) -> None:
    y, x = _case(4)
    ref = sr.quantile_score(y, np.quantile(x, alpha, axis=0), alpha)
    np.testing.assert_allclose(quantile_loss(y, x, alpha), ref, rtol=0, atol=1e-10)


def test_variogram_chunking_matches_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    import algotrader.forecasting.scoring as mod

    y, x = _case(9, s=30, t=25, a=3)
    full = variogram_score(y, x)
    monkeypatch.setattr(mod, "_CHUNK_BYTES", 1)
    np.testing.assert_array_equal(variogram_score(y, x), full)


# ------------------------------------------------------------------ properties
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-1e3, 1e3, allow_nan=False),
    s=st.integers(2, 12),
    a=st.integers(1, 4),
)
def test_energy_score_translation_invariant_and_nonnegative(
    seed: int, shift: float, s: int, a: int
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(3, a))
    x = rng.normal(size=(s, 3, a))
    base = energy_score(y, x)
    np.testing.assert_allclose(energy_score(y + shift, x + shift), base, atol=1e-8)
    assert np.all(base >= -1e-12)
    # CRPS with A = 1 equals the 1-D energy score
    np.testing.assert_allclose(
        crps_ensemble(y[:, :1], x[:, :, :1])[:, 0], energy_score(y[:, :1], x[:, :, :1]), atol=1e-12
    )


@given(seed=st.integers(0, 10_000), s=st.integers(2, 15))
def test_crps_matches_brute_force(seed: int, s: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(2, 3))
    x = rng.normal(size=(s, 2, 3))
    pair = np.abs(x[:, None] - x[None]).sum(axis=(0, 1))
    brute = np.abs(x - y).mean(axis=0) - pair / (2 * s * s)
    np.testing.assert_allclose(crps_ensemble(y, x), brute, atol=1e-12)


# ------------------------------------------------------------------ NaN policy / bad input
def test_nan_truth_gives_nan_row_or_entry() -> None:
    y, x = _case(1, t=3)
    y[1, 2] = np.nan
    es, cr = energy_score(y, x), crps_ensemble(y, x)
    assert np.isnan(es[1]) and np.isfinite(es[[0, 2]]).all()
    assert np.isnan(cr[1, 2]) and np.isfinite(cr).sum() == cr.size - 1
    assert np.isnan(variogram_score(y, x)[1])
    assert np.isnan(pit(y, x)[1, 2])
    assert np.isnan(quantile_loss(y, x, 0.1)[1, 2])


def test_bad_inputs_are_typed() -> None:
    y, x = _case(1, t=3)
    x[2, 1, 0] = np.inf
    with pytest.raises(DataError, match="member 2, row 1"):
        energy_score(y, x)
    with pytest.raises(ShapeError, match=r"samples must be \(S, T, A\)"):
        crps_ensemble(y, x[:, :2])
    with pytest.raises(ShapeError, match="unknown estimator"):
        energy_score(y, np.zeros((2, 3, 4)), estimator="qd")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="at least 2 members"):
        crps_ensemble(y, np.zeros((1, 3, 4)), estimator="fair")
    with pytest.raises(ShapeError, match="alpha"):
        quantile_loss(y, np.zeros((2, 3, 4)), 1.0)
    with pytest.raises(ShapeError, match="levels"):
        coverage(y, np.zeros((2, 3, 4)), [1.2])


# ------------------------------------------------------------------ whitening
def test_whitening_schedule_and_identity() -> None:
    assert [shrinkage_for(n) for n in (149, 150, 299, 300)] == [0.30, 0.15, 0.15, 0.075]
    rng = np.random.default_rng(0)
    y = rng.normal(size=(320, 4)) @ rng.normal(size=(4, 4))
    w = fit_es_whitening(y)
    assert w.shrinkage == 0.075
    np.testing.assert_allclose(w.W @ w.sigma_shrunk @ w.W.T, np.eye(4), atol=1e-10)
    assert np.allclose(np.triu(w.W, 1), 0)


def test_whitening_median_conventions() -> None:
    y = np.array([[0.0], [1.0], [2.0], [10.0]])
    lower = fit_es_whitening(y, lower_median=True, mad_eps=0.0)
    std = fit_es_whitening(y, mad_eps=0.0)
    # lower median 1 -> |dev| {1,0,1,9} -> lower median 1; standard: median 1.5 -> {1.5,.5,.5,8.5} -> 1.0
    assert lower.scale[0] == 1.0
    assert std.scale[0] == 1.0
    y2 = np.array([[0.0], [1.0], [3.0], [10.0]])
    assert fit_es_whitening(y2, lower_median=True, mad_eps=0.0).scale[0] == 1.0
    assert fit_es_whitening(y2, mad_eps=0.0).scale[0] == 1.5
    n = fit_es_whitening(y2, mad_eps=0.0, scale="mad_normal").scale[0]
    assert n == pytest.approx(1.5 * 1.4826)


def test_whitening_bad_input() -> None:
    y = np.random.default_rng(0).normal(size=(20, 3))
    y[:, 1] = 0.5
    with pytest.raises(DataError, match="MAD") as err:
        fit_es_whitening(y, assets=("A", "B", "C"))
    assert err.value.column == "B"
    assert fit_es_whitening(y, allow_zero_mad=True).scale[1] == pytest.approx(1e-12)
    y[3, 0] = np.nan
    with pytest.raises(DataError, match="finite"):
        fit_es_whitening(y)
    with pytest.raises(DataError, match=">= 2"):
        fit_es_whitening(np.ones((1, 2)))
