"""Typed family parameters: checked at load (key and file named), tuning paths resolved,
resolved parameters (defaults included) hashed into the run id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from algotrader.errors import ConfigError
from algotrader.simulation.config import config_from_mapping, load_simulation_config
from algotrader.simulation.examples import EXAMPLES
from algotrader.simulation.families import AmmParams, OptimiserParams
from algotrader.simulation.family import (
    FamilyContext,
    FamilyParams,
    SimulationData,
    family_params_model,
    get_family,
)
from algotrader.simulation.runner import config_hash


def _raw(name: str) -> dict[str, Any]:
    raw = yaml.safe_load(EXAMPLES[name])
    assert isinstance(raw, dict)
    return raw


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_params_typed_and_every_path_resolves(name: str) -> None:
    cfg = config_from_mapping(_raw(name))
    model = family_params_model(cfg.family)
    assert model is not FamilyParams and isinstance(cfg.family_params, model)
    assert cfg.tuning.space, "each example tunes something"
    for spec in cfg.tuning.space:
        head, section, key = spec.path.split(".")[:3]
        assert (head, section) == ("model", "params")
        assert key in model.model_fields, spec.path
    # every key written in the example is a field, with the written value
    for key, value in cfg.model.params.items():
        assert getattr(cfg.family_params, key) == value


def test_param_typo_is_a_config_error_naming_key_and_file(tmp_path: Path) -> None:
    raw = _raw("optimiser")
    raw["model"]["params"]["shrnk"] = 0.3
    path = tmp_path / "sim.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as exc:
        load_simulation_config(path)
    assert exc.value.key == "model.params.shrnk"
    assert exc.value.file == str(path)
    assert "shrink" in (exc.value.hint or "")


@pytest.mark.parametrize(
    "family,key,value",
    [
        ("optimiser", "lookback", 0),
        ("optimiser", "vola", "twenty"),
        ("optimiser", "shrink", 1.5),
        ("amm", "rule", "mean_reversion"),
        ("amm", "memory", -1.0),
        ("forecast", "num_steps", 0),
        ("forecast", "schedule", "linear"),
    ],
)
def test_bad_param_value_refused_at_load(family: str, key: str, value: Any) -> None:
    raw = _raw(family)
    raw["model"]["params"][key] = value
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw, source="sim.yml")
    assert exc.value.key == f"model.params.{key}"
    assert exc.value.file == "sim.yml"


def test_param_of_a_family_without_params_refused() -> None:
    raw = {"family": "equal_weight", "cv": {"group_len": 4, "q": 1}, "model": {"params": {"x": 1}}}
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw)
    assert exc.value.key == "model.params.x"


def test_unknown_family_refused_at_load() -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_mapping({"family": "nope", "cv": {"group_len": 4, "q": 1}})
    assert exc.value.key == "family"


def test_search_path_naming_no_param_refused() -> None:
    raw = _raw("optimiser")
    raw["tuning"]["space"].append({"path": "model.params.vol", "type": "int", "bounds": [5, 9]})
    n = len(raw["tuning"]["space"]) - 1
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw, source="sim.yml")
    assert exc.value.key == f"tuning.space.{n}.path"
    assert exc.value.file == "sim.yml"


def test_search_bound_the_family_refuses_is_refused() -> None:
    raw = _raw("amm")
    raw["tuning"]["space"][0]["bounds"] = [5.0, 9000.0]  # memory <= 5000 steps
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(raw)
    assert exc.value.key == "tuning.space.0"
    assert "model.params.memory" in exc.value.message


def test_run_id_hashes_resolved_params() -> None:
    base = _raw("optimiser")
    explicit = config_from_mapping(base)
    sparse_raw = _raw("optimiser")
    sparse_raw["model"]["params"] = {}
    sparse = config_from_mapping(sparse_raw)
    # the example writes every default: same resolved params, same run id
    assert sparse.family_params == explicit.family_params == OptimiserParams()
    assert config_hash(sparse, "d") == config_hash(explicit, "d")
    other_raw = _raw("optimiser")
    other_raw["model"]["params"]["shrink"] = 0.4
    assert config_hash(config_from_mapping(other_raw), "d") != config_hash(explicit, "d")


def _prices(t: int, a: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return 100 * np.exp(np.cumsum(rng.normal(0.001, 0.02, (t, a)), axis=0))


def test_optimiser_defaults_are_the_family_defaults() -> None:
    p = _prices(120, 3)
    data = SimulationData.from_arrays(p[1:] / p[:-1] - 1, prices=p[:-1])
    fam = get_family("optimiser")
    idx = np.arange(80, 119)
    full = OptimiserParams().model_dump()
    ctx = FamilyContext()
    w_empty = fam.decide(fam.fit(data, np.arange(80), {}, ctx), data, idx, {}, ctx).weights
    fam2 = get_family("optimiser")
    w_full = fam2.decide(fam2.fit(data, np.arange(80), full, ctx), data, idx, full, ctx).weights
    np.testing.assert_array_equal(w_empty, w_full)
    assert np.abs(w_full).sum() > 0


def test_amm_w_min_none_is_the_documented_default() -> None:
    pytest.importorskip("jax")
    from algotrader.simulation.amm_family import _raw_params

    _, _, h_none = _raw_params(AmmParams().model_dump(), 4)
    _, _, h_empty = _raw_params({}, 4)
    assert h_none == h_empty
    assert h_none["w_min"] == pytest.approx(0.025)
