"""The default pipeline's comparison table: every distinct value path exactly once."""

from __future__ import annotations

import itertools

import numpy as np

from algotrader.backtest.costs import CostModel
from algotrader.backtest.evaluate import Evaluation, evaluate_value_series, evaluate_weights
from algotrader.data.panel import Panel
from algotrader.pipeline.compare_step import comparison_table, same_series, table_rows

T, A = 260, 4


def _prices(seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    p = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, (T, A)), axis=0))
    dates = np.datetime64("2020-01-01") + np.arange(T)
    return Panel.from_arrays(dates, [f"a{i}" for i in range(A)], p)


def _evaluations() -> list[Evaluation]:
    px = _prices()
    cost = CostModel(proportional_bps=5.0)
    rng = np.random.default_rng(1)
    tilt = np.abs(rng.normal(1.0, 0.3, (T, A)))
    tilt /= tilt.sum(axis=1, keepdims=True)
    opt = evaluate_weights(px, tilt, cost, name="optimiser")
    eq = evaluate_weights(px, np.full((T, A), 1.0 / A), cost, name="equal_weight")
    # a value-series family on a shorter range, starting from uniform holdings
    tail = slice(100, T)
    sub = Panel.from_arrays(px.dates[tail], px.assets, px.values[tail])
    sub_eq = evaluate_weights(sub, np.full((T - 100, A), 1.0 / A), cost, name="tmp")
    pool = sub_eq.values * np.linspace(1.0, 1.1, T - 100)
    amm = evaluate_value_series(sub.dates, pool, sub_eq.benchmarks, name="amm")
    return [opt, eq, amm]


def test_no_two_rows_are_the_same_series() -> None:
    evs = _evaluations()
    rows = table_rows(evs)
    for a, b in itertools.combinations(rows, 2):
        assert not same_series(a.dates, a.values, b.dates, b.values), (a.label, b.label)
    # and every series of every evaluation is one of the rows (nothing lost)
    series = [(ev.dates, ev.values) for ev in evs]
    series += [(ev.dates, v) for ev in evs for v in ev.benchmarks.values()]
    for d, v in series:
        assert sum(same_series(r.dates, r.values, d, v) for r in rows) == 1


def test_duplicates_of_the_old_table_are_merged() -> None:
    evs = _evaluations()
    rows = {(r.label, r.span): r for r in table_rows(evs)}
    labels = [label for label, _ in rows]
    assert labels[:3] == ["optimiser", "equal_weight", "amm"]
    eq = rows[("equal_weight", "2020-01-01..2020-09-16")]
    # the equal-weight family is the equal-weight benchmark on its dates
    assert "  equal weight" in eq.same_as
    # HODL of an equal-weight start is uniform HODL
    uni = rows[("  uniform HODL", "2020-01-01..2020-09-16")]
    assert "  equal_weight: HODL" in uni.same_as
    assert ("  optimiser: HODL", "2020-01-01..2020-09-16") in rows  # its own first holdings
    # the shorter family gets its own benchmark rows on its own dates
    assert ("  uniform HODL", "2020-04-10..2020-09-16") in rows
    assert ("  equal weight", "2020-04-10..2020-09-16") in rows
    assert sum(1 for r in rows.values() if r.kind == "benchmark") == 4


def test_table_names_dates_and_differing_ranges() -> None:
    title, header, body, rows = comparison_table(_evaluations())
    assert header[:3] == ["run", "dates", "P/yr"]
    assert "2 different date ranges" in title
    assert len(body) == len(rows) == 7
    assert len({tuple(r[3:]) for r in body}) == len(body)  # no two printed rows equal
    eq = next(r for r in table_rows(_evaluations()) if r.label == "equal_weight")
    assert body[1][3] == f"{eq.metrics['total_return']:+.4f}"


def test_same_series_needs_same_dates_and_values() -> None:
    d = np.datetime64("2020-01-01") + np.arange(3)
    v = np.array([1.0, 1.1, 1.2])
    assert same_series(d, v, d, 2 * v)  # a path scaled to another start value
    assert not same_series(d, v, d, v + np.array([0, 0, 1e-6]))
    assert not same_series(d, v, d + 1, v)
    assert not same_series(d[:2], v[:2], d, v)


def test_one_range_has_no_range_note() -> None:
    title, *_ = comparison_table(_evaluations()[:2])
    assert "date ranges" not in title


def test_empty() -> None:
    _title, header, body, rows = comparison_table([])
    assert body == [] and rows == [] and header[0] == "run"
