"""Sobol-per-stratum candidates (spec pipeline.md 5.2): golden, rules, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import qmc

from algotrader.errors import ConfigError
from algotrader.tuning import SearchSpace
from algotrader.tuning.candidates import (
    build_strata,
    generate_candidates,
    stratum_seeds,
    to_value,
)
from algotrader.tuning.space import ParamSpec


def _space(*params: dict) -> SearchSpace:
    return SearchSpace.model_validate({"params": list(params)})


GOLDEN = _space(
    {"path": "m", "type": "categorical", "values": ["a", "b"]},
    {"path": "lr", "type": "float", "bounds": [1e-4, 1e-2], "transform": "log"},
)


def test_golden_example_from_spec() -> None:
    assert stratum_seeds(0, 2) == [3653403230, 2735729614]
    cands = generate_candidates(GOLDEN, num_samples=8, seed=0)
    assert [c.id for c in cands] == list(range(8))
    assert [c.stratum for c in cands] == [0] * 4 + [1] * 4
    assert [c.params["m"] for c in cands] == ["a"] * 4 + ["b"] * 4
    lr = [c.params["lr"] for c in cands]
    expected = [0.009934, 0.000138, 0.000456, 0.002840, 0.000920, 0.009422, 0.002505, 0.000259]
    np.testing.assert_allclose(lr, expected, rtol=0, atol=5e-7)


def test_matches_an_independent_sobol_draw() -> None:
    """Closed form: the lr column is exp(ln lo + u ln(hi/lo)) of scipy's own draw."""
    cands = generate_candidates(GOLDEN, num_samples=16, seed=7)
    subs = np.random.default_rng(7).integers(0, 2**32 - 1, 2)
    for s in range(2):
        u = qmc.Sobol(1, scramble=True, seed=int(subs[s])).random(8)[:, 0]
        want = 1e-4 * (1e-2 / 1e-4) ** u
        got = [c.params["lr"] for c in cands[8 * s : 8 * s + 8]]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_empty_space_is_one_empty_candidate() -> None:
    cands = generate_candidates(SearchSpace(), num_samples=5, seed=0)
    assert len(cands) == 1 and cands[0].params == {} and cands[0].id == 0


def test_when_conditions_shape_the_strata() -> None:
    space = _space(
        {"path": "k", "type": "categorical", "values": ["x", "y"]},
        {"path": "b", "type": "bool", "values": [True, False], "when": {"k": "y"}},
        {"path": "a", "type": "float", "bounds": [0, 1], "when": {"k": "x"}},
        {"path": "c", "type": "float", "bounds": [0, 1], "when": {"b": True}},
    )
    assert build_strata(space) == [{"k": "x"}, {"k": "y", "b": True}, {"k": "y", "b": False}]
    cands = generate_candidates(space, num_samples=12, seed=3)
    assert len(cands) == 12
    for c in cands[:4]:
        assert set(c.params) == {"k", "a"}
    for c in cands[4:8]:
        assert set(c.params) == {"k", "b", "c"}
    for c in cands[8:]:  # no active continuous param: the stratum is repeated
        assert c.params == {"k": "y", "b": False}


def test_topological_order_not_config_order() -> None:
    space = _space(
        {"path": "inner", "type": "categorical", "values": [1, 2], "when": {"outer": "on"}},
        {"path": "outer", "type": "categorical", "values": ["on", "off"]},
    )
    assert build_strata(space) == [
        {"outer": "on", "inner": 1},
        {"outer": "on", "inner": 2},
        {"outer": "off"},
    ]


@pytest.mark.parametrize("n", [0, 3, 6, 12, -2])
def test_num_samples_must_be_strata_times_power_of_two(n: int) -> None:
    with pytest.raises(ConfigError, match="2 strata x a power of two") as info:
        generate_candidates(GOLDEN, num_samples=n, seed=0)
    assert info.value.key == "tuning.num_samples"


def test_negative_seed_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        generate_candidates(GOLDEN, num_samples=2, seed=-1)


def test_cycle_and_bad_when_key_rejected() -> None:
    with pytest.raises(ConfigError, match="cyclic"):
        _space(
            {"path": "a", "type": "categorical", "values": [1], "when": {"b": 1}},
            {"path": "b", "type": "categorical", "values": [1], "when": {"a": 1}},
        )
    with pytest.raises(ConfigError, match="when-key 'x'"):
        _space({"path": "a", "type": "float", "bounds": [0, 1], "when": {"x": 1}})


def test_int_rule_gives_uniform_endpoints() -> None:
    p = ParamSpec(path="n", type="int", bounds=(1, 4))
    u = (np.arange(4000) + 0.5) / 4000
    counts = np.bincount([to_value(p, float(x)) for x in u], minlength=5)[1:]
    assert counts.tolist() == [1000, 1000, 1000, 1000]
    assert to_value(p, 1.0) == 4  # clipped


def test_log10_transform() -> None:
    p = ParamSpec(path="x", type="float", bounds=(1e-3, 1e1), transform="log10")
    assert to_value(p, 0.5) == pytest.approx(1e-1)
    assert to_value(p, 0.0) == pytest.approx(1e-3)


@given(seed=st.integers(0, 2**31), k=st.integers(0, 4), lo=st.floats(-5, 5), w=st.floats(0.1, 5))
def test_property_bounds_ids_and_determinism(seed: int, k: int, lo: float, w: float) -> None:
    space = _space(
        {"path": "m", "type": "categorical", "values": ["a", "b", "c"]},
        {"path": "x", "type": "float", "bounds": [lo, lo + w]},
        {"path": "n", "type": "int", "bounds": [-2, 2], "when": {"m": ["a", "c"]}},
    )
    n = 3 * 2**k
    a = generate_candidates(space, num_samples=n, seed=seed)
    b = generate_candidates(space, num_samples=n, seed=seed)
    assert a == b
    assert [c.id for c in a] == list(range(n))
    for c in a:
        assert lo <= c.params["x"] <= lo + w
        if c.params["m"] == "b":
            assert "n" not in c.params
        else:
            assert isinstance(c.params["n"], int) and -2 <= c.params["n"] <= 2
    assert all(math.isfinite(c.params["x"]) for c in a)
