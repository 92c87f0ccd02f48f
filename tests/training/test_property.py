"""Property tests: samplers, periods, aggregations, selection and walk-forward spans."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.training.multi_period import aggregate, period_specs
from algotrader.training.optuna_search import best_balanced
from algotrader.training.runs import run_id
from algotrader.training.sampling import evaluation_offsets, sample_offsets
from algotrader.training.walk_forward import cycle_metric, cycle_spans

SAMPLERS = st.sampled_from(["uniform", "exponential", "stratified"])


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([1, 5, 64, 300]),
    st.sampled_from([1, 3, 8]),
    SAMPLERS,
    st.integers(0, 2**31 - 1),
)
def test_sampled_offsets_are_distinct_and_in_range(
    n_starts: int, batch: int, method: str, seed: int
) -> None:
    batch = min(batch, n_starts)
    offs = np.asarray(
        sample_offsets(jax.random.PRNGKey(seed), method, n_starts=n_starts, batch_size=batch)
    )
    assert offs.shape == (batch,)
    assert offs.min() >= 0 and offs.max() < n_starts
    assert len(set(offs.tolist())) == batch
    if method == "stratified":
        edges = (np.arange(batch + 1) * n_starts) // batch
        assert all(edges[i] <= offs[i] < edges[i + 1] for i in range(batch))


def test_exponential_sampler_prefers_late_windows() -> None:
    draw = jax.jit(jax.vmap(lambda k: sample_offsets(k, "exponential", n_starts=100, batch_size=1)))
    draws = draw(jax.random.split(jax.random.PRNGKey(0), 4000))
    late = float(jnp.mean(draws >= 50))
    # P(x >= 0.5) under density ~ exp(5x): (e^5 - e^2.5) / (e^5 - 1) ~ 0.924
    assert abs(late - 0.924) < 0.03


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 500), st.integers(1, 60), st.integers(0, 100))
def test_evaluation_offsets_sorted_unique_in_range(n_starts: int, n_points: int, seed: int) -> None:
    offs = evaluation_offsets(n_starts, n_points, seed)
    assert offs == sorted(set(offs))
    assert 1 <= len(offs) <= min(n_points, n_starts)
    assert offs[0] >= 0 and offs[-1] < n_starts


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(100, 100_000), st.floats(0.0, 0.9))
def test_periods_cover_the_span_in_order(n: int, total: int, overlap: float) -> None:
    specs = period_specs(n, total, overlap)
    assert specs[0].rel_start == 0 and specs[-1].rel_end == total
    assert all(
        a.rel_start < b.rel_start and a.rel_end <= b.rel_end for a, b in itertools.pairwise(specs)
    )
    assert all(b.rel_start <= a.rel_end for a, b in itertools.pairwise(specs))  # no gaps
    assert all(p.length >= 2 for p in specs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=8), st.floats(0.01, 100.0))
def test_softmin_lies_between_min_and_mean(values: list[float], temp: float) -> None:
    v = jnp.asarray(values)
    s = float(aggregate(v, "softmin", temp))
    assert float(jnp.min(v)) - 1e-9 <= s <= float(jnp.mean(v)) + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=12))
def test_best_balanced_is_pareto_optimal(rows: list[tuple[float, float]]) -> None:
    v = np.asarray(rows)
    i = best_balanced(v)
    dominated = np.any(np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1))
    assert not dominated


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 50),
    st.integers(30, 400),
    st.integers(1, 6),
    st.sampled_from(["rolling", "expanding"]),
)
def test_cycle_spans_never_overlap_their_test(
    start: int, n_days: int, n_cycles: int, mode: str
) -> None:
    if n_days // (n_cycles + 1) < 1:
        return
    spans = cycle_spans(start, start + n_days * 10, n_cycles, mode, rows_per_day=10)
    assert len(spans) == n_cycles
    for s in spans:
        assert (
            start <= s.train_start < s.train_end == s.test_start < s.test_end <= start + n_days * 10
        )
    assert spans[-1].test_end == start + n_days * 10
    for a, b in itertools.pairwise(spans):
        assert b.test_start == a.test_end  # tests tile the span
        assert b.train_end == a.test_end  # the next cycle trains on the last test
        if mode == "expanding":
            assert b.train_start == a.train_start


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5), st.integers() | st.floats(allow_nan=False), max_size=6
    )
)
def test_run_id_ignores_key_order(d: dict[str, object]) -> None:
    assert run_id(d) == run_id(dict(reversed(list(d.items()))))


def test_cycle_metric_specs() -> None:
    from algotrader.training.walk_forward import CycleEvaluation, CycleSpan

    def cyc(oos: float, wfe: float, gap: float) -> CycleEvaluation:
        return CycleEvaluation(
            CycleSpan(0, 0, 1, 1, 2),
            {"sharpe": 1.0},
            {"sharpe": oos},
            wfe,
            gap,
            0.0,
            oos - 0.1,
            1,
            0,
            {},
        )

    cs = [cyc(1.0, 0.5, 0.2), cyc(-1.0, float("nan"), 0.4)]
    assert cycle_metric(cs, "mean_oos_sharpe") == 0.0
    assert cycle_metric(cs, "worst_oos_sharpe") == -1.0
    assert cycle_metric(cs, "mean_wfe") == 0.5  # NaN-aware
    assert cycle_metric(cs, "worst_wfe") == float("-inf")  # NaN -> -inf
    assert abs(cycle_metric(cs, "neg_is_oos_gap") + 0.3) < 1e-12
    assert abs(cycle_metric(cs, "adjusted_mean_oos_sharpe") + 0.1) < 1e-12
    assert cycle_metric([], "mean_oos_sharpe") == float("-inf")
