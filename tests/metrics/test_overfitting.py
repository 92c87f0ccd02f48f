"""Closed-form and reference tests of PSR, DSR, MinTRL, PBO, bootstrap, WFE, Rademacher."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from algotrader.metrics.bootstrap import bootstrap_sharpe_ci, circular_block_indices
from algotrader.metrics.generalisation import (
    adjusted_sharpe_bound,
    is_oos_gap,
    rademacher_complexity,
    summarise_walk_forward,
    walk_forward_efficiency,
)
from algotrader.metrics.pbo import probability_of_backtest_overfitting
from algotrader.metrics.sharpe_inference import (
    deflated_sharpe_ratio,
    effective_number_of_trials,
    expected_max_sharpe,
    minimum_track_record_length,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
)

# two-point returns mu +- a in equal numbers: skewness 0, non-excess kurtosis 1, so the
# PSR variance term is exactly 1 and PSR = Phi((SR - SR*) sqrt(T - 1))
TWO_POINT = np.tile([0.012, -0.008], 100)


def test_psr_two_point_closed_form() -> None:
    sr = TWO_POINT.mean() / TWO_POINT.std(ddof=1)
    assert per_period_sharpe(TWO_POINT) == pytest.approx(sr)
    for bench in (0.0, 0.05, 0.2):
        expected = stats.norm.cdf((sr - bench) * math.sqrt(199))
        assert probabilistic_sharpe_ratio(
            TWO_POINT, benchmark_sharpe_per_period=bench
        ) == pytest.approx(expected, rel=1e-10)


def test_mintrl_two_point_closed_form() -> None:
    sr = TWO_POINT.mean() / TWO_POINT.std(ddof=1)
    z = stats.norm.ppf(0.95)
    assert minimum_track_record_length(TWO_POINT) == pytest.approx(1 + (z / sr) ** 2)
    assert minimum_track_record_length(TWO_POINT, benchmark_sharpe_per_period=1.0) == math.inf


def test_mintrl_is_where_psr_reaches_confidence() -> None:
    # with T = MinTRL observations the PSR equals the confidence (same variance term)
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, size=2000) * 0.01 + 0.001
    n = minimum_track_record_length(r, confidence=0.9)
    sr = per_period_sharpe(r)
    g3 = stats.skew(r)
    g4 = stats.kurtosis(r, fisher=False)
    var = 1 - g3 * sr + (g4 - 1) / 4 * sr**2
    assert stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(var)) == pytest.approx(0.9)


def test_expected_max_sharpe_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    n, v = 200, 0.04
    sim = rng.normal(0, math.sqrt(v), size=(20000, n)).max(axis=1).mean()
    assert expected_max_sharpe(n, v) == pytest.approx(sim, rel=0.03)
    assert expected_max_sharpe(1, v) == 0.0


def test_dsr_equals_psr_at_sr0() -> None:
    trials = np.array([0.01, 0.05, -0.02, 0.03, 0.08])
    sr0 = expected_max_sharpe(5, trials.var(ddof=1))
    dsr = deflated_sharpe_ratio(TWO_POINT, trial_sharpes_per_period=trials)
    assert dsr == pytest.approx(
        probabilistic_sharpe_ratio(TWO_POINT, benchmark_sharpe_per_period=sr0)
    )
    assert dsr < probabilistic_sharpe_ratio(TWO_POINT)
    same = deflated_sharpe_ratio(TWO_POINT, n_trials=5, sharpe_variance=trials.var(ddof=1))
    assert same == pytest.approx(dsr)


def test_effective_trials_bounds() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(500, 1))
    assert effective_number_of_trials(np.tile(base, (1, 10))) == pytest.approx(1.0)
    indep = effective_number_of_trials(rng.normal(size=(5000, 10)))
    assert 9.5 < indep <= 10.0


def _pbo_loop(perf: np.ndarray, s: int) -> tuple[float, np.ndarray]:
    """Straightforward CSCV (one combination at a time), the reference for the vector code."""
    t, n = perf.shape
    rows = t // s
    blocks = np.split(perf[t - rows * s :], s)
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        is_ = np.concatenate([blocks[b] for b in combo])
        oos = np.concatenate([blocks[b] for b in range(s) if b not in combo])
        sr_is = is_.mean(0) / is_.std(0, ddof=1)
        sr_oos = oos.mean(0) / oos.std(0, ddof=1)
        best = int(np.argmax(sr_is))
        rank = stats.rankdata(sr_oos)[best]
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    lg = np.asarray(logits)
    return float(np.mean(lg <= 0)), np.sort(lg)


def test_pbo_matches_per_combination_loop() -> None:
    rng = np.random.default_rng(7)
    perf = rng.normal(0.0005, 0.01, size=(303, 12)) + rng.normal(0, 0.002, size=(1, 12))
    res = probability_of_backtest_overfitting(perf, n_blocks=8)
    ref_pbo, ref_logits = _pbo_loop(perf, 8)
    assert res.pbo == pytest.approx(ref_pbo)
    np.testing.assert_allclose(np.sort(res.logits), ref_logits, rtol=1e-10)
    assert res.n_combinations == 70


def test_pbo_dominant_strategy_is_zero_and_anti_persistent_is_one() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.01, size=(400, 5))
    noise[:, 2] += 0.05  # one configuration better everywhere
    assert probability_of_backtest_overfitting(noise, n_blocks=4).pbo == 0.0
    # two configurations whose good and bad blocks alternate: IS winner is OOS loser
    a = np.tile(np.r_[np.full(50, 0.01), np.full(50, -0.01)], 2) + rng.normal(0, 1e-3, 200)
    b = -a + rng.normal(0, 1e-3, 200)
    res = probability_of_backtest_overfitting(np.column_stack([a, b]), n_blocks=2, metric="mean")
    assert res.pbo == 1.0


def test_pbo_drops_leading_remainder() -> None:
    rng = np.random.default_rng(4)
    perf = rng.normal(size=(103, 6))
    a = probability_of_backtest_overfitting(perf, n_blocks=4)
    b = probability_of_backtest_overfitting(perf[3:], n_blocks=4)
    np.testing.assert_array_equal(a.logits, b.logits)


def test_bootstrap_is_seeded_and_covers() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.0005, 0.01, size=(500, 80))
    a = bootstrap_sharpe_ci(r, periods_per_year=252, n_boot=400, seed=11)
    b = bootstrap_sharpe_ci(r, periods_per_year=252, n_boot=400, seed=11)
    np.testing.assert_array_equal(a.samples, b.samples)
    true_sr = 0.05 * math.sqrt(252)
    coverage = np.mean((a.lower <= true_sr) & (true_sr <= a.upper))
    assert 0.85 <= coverage <= 1.0
    assert np.all(a.lower < a.estimate) and np.all(a.estimate < a.upper)


def test_circular_indices_wrap_in_blocks() -> None:
    idx = circular_block_indices(7, 3, 4, np.random.default_rng(0))
    assert idx.shape == (4, 7)
    steps = np.diff(idx, axis=1) % 7
    # inside a block consecutive indices advance by one (with wrap-around)
    assert (steps[:, [0, 1, 3, 4]] == 1).all()


def test_wfe_and_gap_and_summary() -> None:
    wfe = walk_forward_efficiency([2.0, 0.0, -1.0, 1.0], [1.0, 0.5, -2.0, np.nan])
    np.testing.assert_array_equal(np.isnan(wfe), [False, True, True, True])
    assert wfe[0] == 0.5
    np.testing.assert_allclose(is_oos_gap([2.0, 1.0], [1.5, 1.5]), [0.5, -0.5])
    s = summarise_walk_forward([2.0, 1.0, -1.0], [1.0, 0.8, -0.5])
    assert s.mean_wfe == pytest.approx(0.65) and s.n_wfe_undefined == 1
    assert s.worst_oos == -0.5 and s.n_cycles == 3


def test_rademacher_single_path_and_identical_paths() -> None:
    # one path: E[(1/T) sum sigma_t x_t] = 0 up to Monte Carlo error
    rng = np.random.default_rng(6)
    x = rng.normal(size=(250, 1))
    assert abs(rademacher_complexity(x, n_draws=4000, seed=0)) < 0.01
    # S copies of the same path have the complexity of one path; mirrored pairs more
    assert rademacher_complexity(np.tile(x, (1, 5)), n_draws=500, seed=1) == pytest.approx(
        rademacher_complexity(x, n_draws=500, seed=1)
    )
    pair = rademacher_complexity(np.column_stack([x, -x]), n_draws=4000, seed=2)
    # E|mean of sigma_t z_t| for standardised z: about sqrt(2 / (pi T))
    assert pair == pytest.approx(math.sqrt(2 / (math.pi * 250)), rel=0.1)


def test_adjusted_sharpe_bound_units() -> None:
    bound = adjusted_sharpe_bound(1.5, rademacher=0.01, n_periods=1000, periods_per_year=252)
    expected = 1.5 - math.sqrt(252) * (0.02 + 3 * math.sqrt(2 * math.log(40) / 1000))
    assert bound == pytest.approx(expected)


@pytest.mark.parametrize("s", [2, 4, 8, 12])
def test_pbo_block_memberships_both_constructions(s: int) -> None:
    from algotrader.metrics.pbo import (
        _half_memberships,
        _memberships_from_combinations,
        _memberships_from_masks,
    )

    a = _memberships_from_masks(s)
    b = _memberships_from_combinations(s)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (math.comb(s, s // 2), s)
    assert (a.sum(axis=1) == s // 2).all()
    np.testing.assert_array_equal(a[::-1] + a, np.ones_like(a))  # row C-1-i = complement
    assert not _half_memberships(s).flags.writeable
