"""RunConfig is a ConfigModel: every section typed, checked at load (before any run id),
part of the run id; reference-only keys go through the compatibility loader."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from algotrader.amm.config import (
    REFERENCE_NO_EFFECT,
    REFERENCE_UNSUPPORTED,
    RunConfig,
    load_reference_config,
)
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError
from algotrader.training.settings import MultiPeriodSettings, OptimisationSettings

BASE = {"tokens": ["A", "B"], "rule": "momentum"}


def _yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_section_is_a_typed_config_model() -> None:
    assert issubclass(RunConfig, ConfigModel)
    cfg = RunConfig(**BASE, multi_period={"n_periods": 3, "aggregation": "min"})
    assert isinstance(cfg.optimisation_settings, OptimisationSettings)
    assert isinstance(cfg.multi_period, MultiPeriodSettings)
    assert cfg.multi_period.aggregation == "min"
    # no raw dict sections and no reference-only keys among the fields
    assert not set(RunConfig.model_fields) & (set(REFERENCE_NO_EFFECT) | set(REFERENCE_UNSUPPORTED))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"optimisation_settings": {"n_iteration": 5}}, "optimisation_settings.n_iteration"),
        (
            {"optimisation_settings": {"optuna_settings": {"n_trial": 5}}},
            "optimisation_settings.optuna_settings.n_trial",
        ),
        ({"optimisation_settings": {"base_lr": -1}}, "optimisation_settings.base_lr"),
        ({"multi_period": {"n_period": 3}}, "multi_period.n_period"),
        ({"multi_period": {"n_periods": 3, "aggregation": "median"}}, "multi_period.aggregation"),
    ],
)
def test_a_typo_in_a_section_names_the_key_and_the_file_at_load(
    tmp_path: Path, section: dict, key: str
) -> None:
    path = _yaml(tmp_path / "run.yaml", {**BASE, **section})
    with pytest.raises(ConfigError) as info:
        RunConfig.from_yaml(path)
    assert info.value.key == key
    assert info.value.file == str(path)
    assert key.rsplit(".", 1)[-1] in str(info.value)


def test_top_level_typo_suggests_the_field_and_names_the_file(tmp_path: Path) -> None:
    path = _yaml(tmp_path / "run.yaml", {**BASE, "chunk_perod": 60})
    with pytest.raises(ConfigError, match="did you mean 'chunk_period'") as info:
        RunConfig.from_yaml(path)
    assert (info.value.key, info.value.file) == ("chunk_perod", str(path))


def test_sections_are_part_of_the_run_id() -> None:
    base = RunConfig(**BASE)
    assert base.run_id == RunConfig(**BASE, optimisation_settings={}).run_id
    assert base.run_id == RunConfig(**BASE, optimisation_settings={"n_iterations": 1000}).run_id
    ids = {
        base.run_id,
        RunConfig(**BASE, optimisation_settings={"n_iterations": 5}).run_id,
        RunConfig(**BASE, optimisation_settings={"optuna_settings": {"n_trials": 3}}).run_id,
        RunConfig(**BASE, multi_period={"n_periods": 3}).run_id,
        RunConfig(**BASE, multi_period={"n_periods": 4}).run_id,
        RunConfig(tokens=["A", "C"], rule="momentum").run_id,
    }
    assert len(ids) == 6
    assert len(base.run_id) == 16


def test_storage_password_does_not_reach_the_run_id() -> None:
    def cfg(pw: str) -> RunConfig:
        storage = f"postgresql://u:{pw}@h/db"
        return RunConfig(**BASE, optimisation_settings={"optuna_settings": {"storage": storage}})

    assert cfg("one").run_id == cfg("two").run_id


def test_reference_keys_are_dropped_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    ref = {
        **BASE,
        "use_fused_reserves": False,  # no effect here, non-default: a warning
        "reclamm_learn_fees": False,
        "n_ensemble_members": 1,
        "subsidary_pools": [],
        "learnable_bounds_settings": {"freeze_bounds": False},
        "optimisation_settings": {"force_scalar": False, "n_iterations": 7},
    }
    with caplog.at_level(logging.INFO, logger="algotrader.amm.config"):
        cfg, dropped = load_reference_config(ref, source="ref.yaml")
    assert sorted(dropped) == [
        "learnable_bounds_settings",
        "n_ensemble_members",
        "optimisation_settings.force_scalar",
        "reclamm_learn_fees",
        "subsidary_pools",
        "use_fused_reserves",
    ]
    assert cfg.optimisation_settings.n_iterations == 7
    assert cfg.run_id == RunConfig(**BASE, optimisation_settings={"n_iterations": 7}).run_id
    text = caplog.text
    assert "ignored 6 reference key(s) in ref.yaml" in text
    assert any(
        r.levelno == logging.WARNING and "use_fused_reserves" in r.message for r in caplog.records
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("n_ensemble_members", 3),
        ("turnover_penalty", 0.1),
        ("do_trades", True),
        ("numeraire", "USDC"),
        ("learnable_bounds_settings", {"freeze_bounds": True}),
        ("weight_calculation_method", "magic"),
    ],
)
def test_reference_features_switched_on_are_refused(
    tmp_path: Path, key: str, value: object
) -> None:
    path = _yaml(tmp_path / "ref.yaml", {**BASE, key: value})
    with pytest.raises(ConfigError, match=key) as info:
        RunConfig.from_yaml(path)
    assert (info.value.key, info.value.file) == (key, str(path))


def test_reference_only_optimisation_key_switched_on_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_reference_config({**BASE, "optimisation_settings": {"force_scalar": True}})
    assert info.value.key == "optimisation_settings.force_scalar"


def test_strict_model_points_reference_keys_to_the_loader() -> None:
    with pytest.raises(ConfigError, match="load_reference_config") as info:
        RunConfig(**BASE, use_fused_reserves=True)
    assert info.value.key == "use_fused_reserves"


def _recording_job(monkeypatch: pytest.MonkeyPatch, run: RunConfig) -> tuple[object, dict]:
    """A stand-in job whose trainer calls are recorded (no compile, no training)."""
    from types import SimpleNamespace

    import algotrader.training.amm_run as amm_run

    seen: dict = {}

    def fake_multi(problem: object, cfg: object, layout: object, **kw: object) -> str:
        seen["multi"] = kw
        return "multi-problem"

    def fake_train(problem: object, settings: OptimisationSettings, *a: object, **k: object) -> str:
        seen["problem"], seen["batch_size"] = problem, settings.batch_size
        return "trained"

    monkeypatch.setattr(amm_run, "amm_multi_period_problem", fake_multi)
    monkeypatch.setattr(amm_run, "train", fake_train)
    job = SimpleNamespace(
        run=run,
        settings=run.optimisation_settings,
        layout=SimpleNamespace(window_length=10),
        problem=lambda: "single-window-problem",
    )
    return job, seen


def test_train_job_uses_the_config_multi_period_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrader.training.amm_run import train_job

    run = RunConfig(**BASE, multi_period={"n_periods": 3, "aggregation": "min"})
    monkeypatch.setattr(RunConfig, "sim_config", lambda self, n: "cfg")
    job, seen = _recording_job(monkeypatch, run)
    train_job(job, None)  # type: ignore[arg-type]
    assert seen["problem"] == "multi-problem"
    assert seen["multi"]["settings"] == run.multi_period
    assert seen["batch_size"] == 1
    # the CLI flags override the section, validated into the typed settings
    job, seen = _recording_job(monkeypatch, run)
    train_job(job, None, multi_period={"n_periods": 5, "aggregation": "mean"})  # type: ignore[arg-type]
    assert seen["multi"]["settings"] == MultiPeriodSettings(n_periods=5, aggregation="mean")
    job, seen = _recording_job(monkeypatch, run)
    with pytest.raises(ConfigError, match="n_period") as info:
        train_job(job, None, multi_period={"n_period": 5})  # type: ignore[arg-type]
    assert info.value.key == "n_period" and info.value.file == "multi_period"
    # no section and no flags: the single-window objective
    job, seen = _recording_job(monkeypatch, RunConfig(**BASE))
    train_job(job, None)  # type: ignore[arg-type]
    assert seen["problem"] == "single-window-problem" and "multi" not in seen
