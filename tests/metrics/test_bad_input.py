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
