"""The config base class: every validation error is a ConfigError naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from algotrader.backtest import CostModel
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError


class Inner(ConfigModel):
    lr: float = Field(1e-3, gt=0)


class Section(ConfigModel):
    name: str = "x"
    inner: Inner = Inner()


def test_unknown_key_names_the_key_like_cost_model() -> None:
    with pytest.raises(ConfigError, match=r"Extra inputs are not permitted \(bogus\)") as a:
        Section(bogus=1)
    with pytest.raises(ConfigError) as b:
        CostModel(bogus=1)
    assert a.value.key == b.value.key == "bogus"


def test_nested_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "run.yml"
    f.write_text("section:\n  inner:\n    lr: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="greater than 0") as info:
        Section.from_yaml(f, section="section")
    assert info.value.key == "inner.lr" and info.value.file == str(f)
    with pytest.raises(ConfigError, match="missing section 'other'"):
        Section.from_yaml(f, section="other")


def test_all_errors_kept_and_frozen() -> None:
    with pytest.raises(ConfigError, match="and 1 more") as info:
        Section.from_mapping({"name": 3, "inner": {"lr": 0}})
    assert [k for k, _ in info.value.context["errors"]] == ["name", "inner.lr"]
    s = Section.from_mapping({"inner": {"lr": 0.5}})
    assert s.inner.lr == 0.5
    with pytest.raises(ValueError, match="frozen"):
        s.name = "y"  # type: ignore[misc]


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    f = tmp_path / "bad.yml"
    f.write_text("a: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read Section config") as info:
        Section.from_yaml(f)
    assert info.value.file == str(f)
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        Section.from_mapping([1, 2])  # type: ignore[arg-type]


def test_cost_model_and_run_config_share_the_base_and_the_error_shape(tmp_path: Path) -> None:
    """Issue 10: ``CostModel(bogus=1)`` and ``RunConfig(bogus=1)`` both give a ConfigError
    naming the key; from a file, both name the file too (one base class, no pydantic error)."""
    from pydantic import ValidationError

    from algotrader.amm.config import RunConfig

    assert issubclass(CostModel, ConfigModel) and issubclass(RunConfig, ConfigModel)
    for model in (CostModel, RunConfig):
        with pytest.raises(ConfigError) as info:
            model(bogus=1)
        assert info.value.key == "bogus" and not isinstance(info.value, ValidationError)
        f = tmp_path / f"{model.__name__}.yml"
        f.write_text("bogus: 1\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            model.from_yaml(f)
        assert (info.value.key, info.value.file) == ("bogus", str(f))
    f = tmp_path / "costs.yml"
    f.write_text("proportional_bps: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"greater than or equal to 0") as info:
        CostModel.from_yaml(f)
    assert (info.value.key, info.value.file) == ("proportional_bps", str(f))


def test_simulation_config_sections_share_the_base() -> None:
    from algotrader.simulation.config import CVConfig, SimulationConfig

    assert issubclass(SimulationConfig, ConfigModel) and issubclass(CVConfig, ConfigModel)
    with pytest.raises(ConfigError, match=r"Extra inputs are not permitted \(bogus\)") as info:
        SimulationConfig(bogus=1)
    assert info.value.key == "bogus"
