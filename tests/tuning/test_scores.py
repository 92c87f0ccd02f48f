"""Score table schema, aggregation and the pure choice rule."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrader.errors import ConfigError, SchemaError
from algotrader.tuning.scores import (
    NoValidCandidateError,
    aggregate,
    choose_best,
    score_table,
)

NAN = float("nan")


def test_aggregate_closed_forms() -> None:
    s = [1.0, 2.0, 6.0]
    assert aggregate(s, "mean") == 3.0
    assert aggregate(s, "median") == 2.0
    pop_std = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 3)
    assert aggregate(s, "mean_minus_std", 2.0) == pytest.approx(3.0 - 2.0 * pop_std)
    assert aggregate([], "mean") == -math.inf
    assert math.isnan(aggregate([1.0, NAN], "median"))


def test_aggregate_bad_input() -> None:
    with pytest.raises(ConfigError, match="unknown aggregate method 'max'") as info:
        aggregate([1.0], "max")  # type: ignore[arg-type]
    assert info.value.key == "tuning.aggregate.method"
    with pytest.raises(ConfigError, match="penalty must be finite and >= 0"):
        aggregate([1.0], "mean_minus_std", -1.0)


def test_ties_go_to_the_first_candidate() -> None:
    t = score_table([(0, 3, 0, 1.0, 0), (0, 1, 0, 1.0, 0), (0, 2, 0, 0.5, 0)])
    assert choose_best(t).candidate == 1


def test_nan_never_wins_and_pruned_is_ineligible() -> None:
    t = score_table(
        [
            (0, 0, 0, NAN, 0),
            (0, 0, 1, 100.0, 0),  # NaN split
            (0, 1, 0, 50.0, 0),  # pruned: missing split 1
            (0, 2, 0, -1.0, 0),
            (0, 2, 1, -1.0, 0),
        ]
    )
    best = choose_best(t)
    assert best.candidate == 2 and best.score == -1.0
    assert math.isnan(best.aggregates[0]) and math.isnan(best.aggregates[1])


def test_all_nan_is_a_typed_error() -> None:
    t = score_table([(0, 0, 0, NAN, 0), (0, 1, 0, NAN, 0)])
    with pytest.raises(NoValidCandidateError, match="no candidate of fold 0 has a finite mean"):
        choose_best(t)
    with pytest.raises(NoValidCandidateError):
        choose_best(score_table([]))


def test_folds_are_separate() -> None:
    t = score_table([(0, 0, 0, 1.0, 0), (0, 1, 0, 2.0, 0), (1, 0, 0, 3.0, 0), (1, 1, 0, 2.0, 0)])
    assert choose_best(t, fold=0).candidate == 1
    assert choose_best(t, fold=1).candidate == 0
    with pytest.raises(ConfigError, match=r"holds folds \[0, 1\]"):
        choose_best(t)


def test_explicit_split_ids() -> None:
    t = score_table([(0, 0, 0, 5.0, 0), (0, 1, 0, 1.0, 0), (0, 1, 1, 1.0, 0)])
    assert choose_best(t).candidate == 1  # 0 lacks split 1
    assert choose_best(t, split_ids=[0]).candidate == 0


def test_schema_errors() -> None:
    with pytest.raises(SchemaError, match="lacks column 'seconds'"):
        choose_best(pl.DataFrame({"fold": [0], "candidate": [0], "split": [0], "score": [1.0]}))
    bad = score_table([(0, 0, 0, 1.0, 0)]).with_columns(pl.col("score").cast(pl.Float32))
    with pytest.raises(SchemaError, match="'score' is Float32"):
        choose_best(bad)
    with pytest.raises(SchemaError, match="2 rows for fold 0, candidate 0, split 0"):
        score_table([(0, 0, 0, 1.0, 0), (0, 0, 0, 2.0, 0)])


@given(
    st.lists(
        st.lists(st.one_of(st.floats(-10, 10), st.just(NAN)), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["mean", "median", "mean_minus_std"]),
)
def test_property_matches_brute_force(grid: list[list[float]], method: str) -> None:
    rows = [(0, c, s, v, 0.0) for c, r in enumerate(grid) for s, v in enumerate(r)]
    aggs = [aggregate(r, method, 0.5) for r in grid]  # type: ignore[arg-type]
    finite = [a for a in aggs if np.isfinite(a)]
    if not finite:
        with pytest.raises(NoValidCandidateError):
            choose_best(score_table(rows), method=method)  # type: ignore[arg-type]
        return
    want = aggs.index(max(finite))
    got = choose_best(score_table(rows), method=method)  # type: ignore[arg-type]
    assert got.candidate == want
