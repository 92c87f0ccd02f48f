"""The ``model_selection`` and ``diagnostics.calibration`` sections of the run config.

Post-tune selection settings live in their own section (not under ``model.params``); a
typo, an out-of-range value or the old location is a ConfigError that names the key.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from algotrader.errors import ConfigError
from algotrader.forecasting.family import svi_config_from_params
from algotrader.forecasting.nested import diagnostics_settings, selection_settings
from algotrader.simulation.config import config_from_mapping, load_simulation_config
from algotrader.simulation.examples import EXAMPLES


def _raw(**extra: Any) -> dict[str, Any]:
    return {"family": "forecast", "cv": {"group_len": 4, "q": 1}, **extra}


def test_defaults_and_explicit_values() -> None:
    cfg = config_from_mapping(_raw())
    sel = selection_settings(cfg)
    assert sel == {
        "selection_scope": "per_fold",
        "enable": True,
        "c": 1.0,
        "min_keep": 1,
        "max_keep": 5,
        "n_boot": 500,
        "boot_seed": 123,
        "tail_alpha": 0.1,
        "complexity": "posterior_l1",
    }
    assert diagnostics_settings(cfg) == {
        "enable": True,
        "levels": [0.5, 0.8, 0.9, 0.95],
        "assets": "all",
    }
    cfg = config_from_mapping(
        _raw(
            model_selection={"c": 0.5, "min_keep": 2, "max_keep": 3, "tail_alpha": 0.05},
            diagnostics={"calibration": {"levels": [0.9], "assets": ["AAPL"]}},
        )
    )
    assert (cfg.model_selection.c, cfg.model_selection.min_keep) == (0.5, 2)
    assert (cfg.model_selection.max_keep, cfg.model_selection.tail_alpha) == (3, 0.05)
    assert cfg.diagnostics.calibration.levels == (0.9,)
    assert cfg.diagnostics.calibration.assets == ("AAPL",)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"model_selection": {"cc": 1.0}}, "model_selection.cc"),
        ({"model_selection": {"c": -0.1}}, "model_selection.c"),
        ({"model_selection": {"min_keep": 0}}, "model_selection.min_keep"),
        ({"model_selection": {"tail_alpha": 1.0}}, "model_selection.tail_alpha"),
        ({"model_selection": {"complexity": "random"}}, "model_selection.complexity"),
        ({"model_selection": {"min_keep": 3, "max_keep": 2}}, "model_selection"),
        ({"diagnostics": {"calibration": {"level": [0.9]}}}, "diagnostics.calibration.level"),
        ({"diagnostics": {"calibration": {"levels": [1.5]}}}, "diagnostics.calibration"),
        ({"model": {"params": {"selection": {"c": 1.0}}}}, "model.params.selection"),
        ({"model": {"params": {"diagnostics": {"enable": False}}}}, "model.params.diagnostics"),
    ],
)
def test_bad_settings_name_the_key(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_mapping(_raw(**extra))
    assert exc.value.key == key


def test_old_location_refused_by_the_family_too() -> None:
    # a config built without config_from_mapping still cannot hide settings in model.params
    with pytest.raises(ConfigError) as exc:
        svi_config_from_params({"selection": {"c": 1.0}}, 10)
    assert exc.value.key == "model.params.selection"
    assert "model_selection" in str(exc.value)


def test_forecast_example_and_config_file_use_the_section(tmp_path: Any) -> None:
    raw = yaml.safe_load(EXAMPLES["forecast"])
    assert "selection" not in raw["model"]["params"]
    assert "diagnostics" not in raw["model"]["params"]
    assert raw["model_selection"]["c"] == 1.0 and raw["model_selection"]["max_keep"] == 5
    cfg = config_from_mapping(raw)
    assert cfg.model_selection.tail_alpha == 0.1
    assert cfg.diagnostics.calibration.enable
    p = tmp_path / "simulation.yml"
    p.write_text(EXAMPLES["forecast"])
    assert load_simulation_config(p) == cfg
    for name in ("optimiser", "amm"):
        assert config_from_mapping(yaml.safe_load(EXAMPLES[name])).model_selection.enable


def test_shipped_forecast_config_file_matches_the_example() -> None:
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "simulation_forecast.yml"
    assert shipped.read_text() == EXAMPLES["forecast"]
    assert load_simulation_config(shipped).model_selection.selection_scope == "per_fold"
