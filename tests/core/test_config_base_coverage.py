"""Every configuration model of the package is a ConfigModel (issue 10, item 4).

Rule: every pydantic ``BaseModel`` subclass defined in an ``algotrader`` module is a
configuration and must subclass :class:`~algotrader.config_base.ConfigModel`, except

* ``RECORDS``: records the package writes and reads back from its own files (a manifest,
  never written by a user); a bad one is a corrupt artifact (``StateError``), not a
  ``ConfigError``;
* ``PENDING``: configurations not moved yet, each with the reason. The test fails once one
  of them is moved, so the list only shrinks.

This is stricter than a naming rule (``*Config``/``*Settings`` or a ``config.py`` module): it
also catches ``CleaningOptions``, ``TickerSpec``, ``CostModel`` and the family ``*Params``.
Every ConfigModel found is then checked generically: an unknown key and a wrongly typed value
of each field raise ``ConfigError`` (never pydantic's ``ValidationError`` or a ``TypeError``)
naming that key.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from functools import cache

import pytest
from pydantic import BaseModel, ValidationError

import algotrader
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError

RECORDS: dict[str, str] = {
    "algotrader.artifacts.RunManifest": "what a run was, written by the run itself "
    "(run_manifest.json); never user input",
    "algotrader.data.lake.LakeManifest": "a lake folder's manifest.json, written by "
    "data-cleaning; a bad one raises StateError (re-run the cleaning), not ConfigError",
}

PENDING: dict[str, str] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@cache
def _models() -> tuple[type[BaseModel], ...]:
    for mod in pkgutil.walk_packages(algotrader.__path__, "algotrader."):
        importlib.import_module(mod.name)  # an import error is a failure, not a skip
    found: dict[str, type[BaseModel]] = {}
    todo: list[type] = [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] == "algotrader":
                found[_name(sub)] = sub
    return tuple(found[k] for k in sorted(found))


def _config_models() -> list[type[ConfigModel]]:
    return [m for m in _models() if issubclass(m, ConfigModel) and m is not ConfigModel]


def test_every_config_model_is_a_config_model() -> None:
    names = {_name(m): m for m in _models()}
    missing = [
        n for n, m in names.items() if not issubclass(m, ConfigModel) and n not in RECORDS | PENDING
    ]
    assert not missing, f"plain pydantic models (move to ConfigModel or justify): {missing}"
    # the lists name real, still-plain models: a moved or deleted one must leave the list
    for n in RECORDS | PENDING:
        assert n in names, f"{n} no longer exists"
        assert not issubclass(names[n], ConfigModel), f"{n} is a ConfigModel now: drop it here"
    assert all(n.rsplit(".", 1)[1].endswith("Manifest") for n in RECORDS)
    moved = {
        "algotrader.portfolio.config.OptimiserConfig",
        "algotrader.portfolio.config.SlidingWindowConfig",
        "algotrader.portfolio.config.EwmaShrinkConfig",
        "algotrader.features.config.FeatureConfig",
        "algotrader.preprocess.config.PipelineConfig",
        "algotrader.data.service.CleaningOptions",
        "algotrader.data.providers.tickers.TickersConfig",
        "algotrader.data.providers.tickers.SectionConfig",
        "algotrader.data.providers.tickers.TickerSpec",
        "algotrader.data.providers.tickers.ContractDefaults",
        "algotrader.settings.Settings",
        "algotrader.backtest.costs.CostModel",
        "algotrader.amm.config.RunConfig",
        "algotrader.simulation.config.SimulationConfig",
    }
    assert moved <= {_name(m) for m in _config_models()}


@pytest.mark.parametrize("model", _config_models(), ids=_name)
def test_unknown_key_is_a_config_error_naming_it(model: type[ConfigModel]) -> None:
    with pytest.raises(ConfigError, match="zz_bogus") as info:
        model(zz_bogus=1)
    assert info.value.key == "zz_bogus" and not isinstance(info.value, ValidationError)
    with pytest.raises(ConfigError) as info:
        model.from_mapping({"zz_bogus": 1}, source="cfg.yml")
    assert (info.value.key, info.value.file) == ("zz_bogus", "cfg.yml")


@pytest.mark.parametrize("model", _config_models(), ids=_name)
def test_bad_value_of_each_field_is_a_config_error_naming_it(model: type[ConfigModel]) -> None:
    checked = 0
    for field, info in model.model_fields.items():
        if info.annotation is typing.Any:
            continue
        with pytest.raises(ConfigError) as err:
            model(**{field: object()})
        keys = [str(k) for k, _ in err.value.context.get("errors", [(err.value.key, "")])]
        assert any(k.split(".")[0].split("[")[0] == field for k in keys), (field, keys)
        checked += 1
    assert checked or not model.model_fields
