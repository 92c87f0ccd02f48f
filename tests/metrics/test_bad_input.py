"""Bad input raises typed errors with actionable messages."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader import metrics as m
from algotrader.errors import DataError, ShapeError


def test_three_dimensional_input() -> None:
    with pytest.raises(ShapeError, match=r"shape \(T,\) or \(T, K\)"):
        m.sharpe(np.zeros((2, 2, 2)), periods_per_year=252)


def test_bad_periods_per_year() -> None:
    with pytest.raises(DataError, match="periods_per_year must be a positive number"):
        m.sharpe([0.1, 0.2], periods_per_year=0)
    with pytest.raises(DataError, match="periods_per_year"):
        m.annualised_return([1.0, 2.0], periods_per_year=float("nan"))


def test_non_positive_values() -> None:
    with pytest.raises(DataError, match=r"strictly positive.*row=1, column=0"):
        m.max_drawdown([1.0, 0.0, 2.0])
    with pytest.raises(DataError, match="not returns or PnL"):
        m.total_return([1.0, -0.5])


def test_returns_at_or_below_minus_one() -> None:
    with pytest.raises(DataError, match="greater than -1"):
        m.log_sharpe([0.1, -1.0], periods_per_year=252)
    with pytest.raises(DataError, match="finite simple returns"):
        m.sharpe([0.1, np.inf], periods_per_year=252)


def test_bad_level_and_chunk() -> None:
    with pytest.raises(DataError, match=r"confidence level must lie in \(0, 1\)"):
        m.value_at_risk([0.1, 0.2], level=95)
    with pytest.raises(DataError, match="chunk_len must be at least 2"):
        m.chunk_max_drawdowns([1.0, 2.0], 1)


def test_empty_value_path() -> None:
    with pytest.raises(DataError, match="needs at least 1 value"):
        m.max_drawdown(np.zeros((0,)))


def test_benchmark_length_mismatch() -> None:
    with pytest.raises(ShapeError, match="rows but the benchmark has"):
        m.returns_over_uniform_hodl([1.0, 2.0, 3.0], np.ones((2, 2)))
    with pytest.raises(ShapeError, match="holdings has 3 entries"):
        m.returns_over_hodl([1.0, 2.0], np.ones((2, 2)), [1.0, 1.0, 1.0])


def test_overfitting_statistics_bad_input() -> None:
    from algotrader.metrics import (
        bootstrap_sharpe_ci,
        deflated_sharpe_ratio,
        expected_max_sharpe,
        probability_of_backtest_overfitting,
        rademacher_complexity,
        walk_forward_efficiency,
    )

    r = np.random.default_rng(0).normal(size=(100, 4))
    with pytest.raises(DataError, match="n_blocks must be even"):
        probability_of_backtest_overfitting(r, n_blocks=5)
    with pytest.raises(DataError, match="fewer than 2 rows per block"):
        probability_of_backtest_overfitting(r[:10], n_blocks=8)
    with pytest.raises(DataError, match="at least 2 configurations"):
        probability_of_backtest_overfitting(r[:, :1], n_blocks=4)
    bad = r.copy()
    bad[5, 2] = np.nan
    with pytest.raises(DataError, match=r"NaN or inf.*row=5, column=2"):
        probability_of_backtest_overfitting(bad, n_blocks=4)
    with pytest.raises(DataError, match="unknown metric"):
        probability_of_backtest_overfitting(r, n_blocks=4, metric="sortino")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs the trials"):
        deflated_sharpe_ratio(r[:, 0] * 0.01)
    with pytest.raises(DataError, match="n_trials must be >= 1"):
        expected_max_sharpe(0.5, 1.0)
    with pytest.raises(DataError, match=r"block_len must be in \[1, T=100\]"):
        bootstrap_sharpe_ci(r[:, 0] * 0.01, periods_per_year=252, block_len=0, seed=0)
    with pytest.raises(DataError, match="constant and cannot be standardised"):
        rademacher_complexity(np.ones((10, 2)), seed=0)
    with pytest.raises(DataError, match="differ"):
        walk_forward_efficiency([1.0, 2.0], [1.0])
