"""The ``simulation.yml`` configuration: one frozen pydantic tree, ``extra="forbid"`` everywhere.

Sections follow spec section 4.1 (data, cv, outer, preprocessing, model, tuning, scoring,
predictive, allocation, cost, model_selection, diagnostics, ``simulation_mode``,
``stop_after``) plus ``family``, ``data.end``, ``outer.window``/``max_train_groups`` and
``outer.refit_every``. ``cv.group_len`` and ``cv.q`` have no defaults: a config without them
is refused.

Example:
    >>> cfg = SimulationConfig.model_validate({
    ...     "family": "equal_weight", "cv": {"group_len": 4, "q": 1}, "outer": {"last_n": 2}})
    >>> cfg.cv.horizon, cfg.outer.window, cfg.tuning.engine
    (1, 'expanding', 'local')
    >>> try:
    ...     config_from_mapping({"family": "x", "cv": {"q": 1}})
    ... except ConfigError as exc:
    ...     print(exc.key)
    cv.group_len
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, JsonValue, ValidationError, model_validator

from algotrader.backtest.costs import CostModel
from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError
from algotrader.preprocess import PipelineConfig
from algotrader.simulation.family import FamilyParams, family_params_model, resolve_family_params
from algotrader.tuning import ParamSpec, SearchSpace
from algotrader.tuning.space import apply_candidate

__all__ = [
    "CVConfig",
    "CalibrationConfig",
    "DataConfig",
    "FeaturesConfig",
    "ModelSelectionConfig",
    "OuterConfig",
    "SimulationConfig",
    "TuningConfig",
    "load_simulation_config",
]

StopAfter = Literal["inputs", "cv", "inner", "outer", "results"]


class _Frozen(ConfigModel):
    """Base of the simulation config sections: :class:`~algotrader.config_base.ConfigModel`
    (frozen, unknown keys refused, a direct construction's error is a ConfigError naming
    the key)."""


class FeaturesConfig(_Frozen):
    """Features ``X`` from :mod:`algotrader.features` for a bundled weekly panel.

    ``groups``: ``all`` or ``{group: all | [keys]}`` (the ``features.yml`` syntax, checked
    when the inputs are built); ``horizons`` (trading days, default the feature package's);
    ``degenerate_policy``; ``store``: a feature-store root where the groups are written
    once and reused while the lake hash and feature config hash match (null = in memory).
    Features at row ``t`` use bars up to that week's close only.
    """

    groups: Literal["all"] | dict[str, Literal["all"] | tuple[str, ...]] = "all"
    horizons: tuple[int, ...] | None = None
    degenerate_policy: Literal["nan", "eps"] = "nan"
    store: str | None = None


class DataConfig(_Frozen):
    """Where the panel comes from and which rows are used.

    ``source: bundled`` resamples a bundled daily-close dataset to weeks ending on the last
    trading day of each Monday-anchored week; ``source: npz`` reads a price
    :class:`~algotrader.data.panel.Panel` (``prices_npz``) and optional 3-d features
    (``features_npz``). ``y[t]`` is the close-to-close simple return from row ``t`` to
    ``t + 1``; the last row has no target (masked). ``end`` drops every row after that date
    (use only weeks <= end); ``start`` drops rows before it.
    """

    source: Literal["bundled", "npz"] = "bundled"
    dataset: str = "sp500_20_stocks"
    prices_npz: str | None = None
    features_npz: str | None = None
    frequency: Literal["weekly", "daily"] = "weekly"
    features: FeaturesConfig | None = Field(
        None, description="features X from the feature store (bundled weekly data only)"
    )
    assets: tuple[str, ...] | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    output_root: str | None = Field(
        None, description="root folder; default env SIMULATION_SOURCE, else ./runs/simulation"
    )
    simulation_output_path: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", description="run label"
    )

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.source == "npz" and not self.prices_npz:
            raise ValueError("data.source npz needs data.prices_npz")
        if self.features is not None and (self.source != "bundled" or self.frequency != "weekly"):
            raise ValueError(
                "data.features needs data.source bundled and frequency weekly "
                "(for npz panels use data.features_npz)"
            )
        if self.simulation_output_path and ".." in self.simulation_output_path.split("/"):
            raise ValueError("data.simulation_output_path must not contain '..'")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("data.start must be before data.end")
        return self


class CVConfig(_Frozen):
    """Groups and inner CPCV (all lengths in rows). ``group_len`` and ``q`` are required."""

    warmup_len: int = Field(0, ge=0)
    group_len: int = Field(gt=0)
    horizon: int = Field(1, ge=1)
    embargo_len: int = Field(0, ge=0)
    q: int = Field(ge=1, description="inner test groups per CPCV split")
    max_inner_combos: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    exclude_warmup: bool = False
    source_compatible_purge: bool = Field(
        False, description="purge one extra sample after every test block, as the source"
    )


class OuterConfig(_Frozen):
    """Outer walk-forward: which groups are outer tests and how the train window moves."""

    test_group_ids: tuple[int, ...] | None = None
    last_n: int | None = Field(None, ge=1)
    window: Literal["expanding", "rolling"] = "expanding"
    max_train_groups: int | None = Field(None, ge=1)
    refit_every: int | None = Field(
        None, ge=1, description="refit the family every n test rows (None: once per fold)"
    )
    min_inner_groups: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _check(self) -> OuterConfig:
        if self.test_group_ids is not None and self.last_n is not None:
            raise ValueError("give outer.test_group_ids or outer.last_n, not both")
        if self.window == "rolling" and self.max_train_groups is None:
            raise ValueError("outer.window rolling needs outer.max_train_groups")
        return self


class PreprocessingConfig(_Frozen):
    """Per-split preprocessing of the features ``X``, fitted on each split's train rows only.

    ``identity`` passes ``X`` through; ``pipeline`` runs the leakage-safe cleaning + scaling
    of :mod:`algotrader.preprocess` (``pipeline`` holds its keys) on every inner split's and
    outer refit's training rows and hands the family the transformed features.
    """

    method: Literal["identity", "pipeline"] = "identity"
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)


class PrebuildConfig(_Frozen):
    """Optional family hook run once before tuning on rows no inner test ever uses."""

    enabled: bool = False


class ModelConfig(_Frozen):
    """Base parameters of the family (tuning paths ``model.params.<key>`` override them).

    ``params`` is checked at load against the family's typed parameter model
    (:func:`~algotrader.simulation.family.family_params_model`: unknown keys and bad values
    are a ConfigError naming ``model.params.<key>``); it keeps the keys as written (the
    family fills its defaults), :attr:`SimulationConfig.family_params` is the resolved model
    and the run id hashes that (defaults included).
    """

    params: dict[str, JsonValue] = Field(default_factory=dict)
    prebuild: PrebuildConfig = Field(default_factory=PrebuildConfig)


class AggregateConfig(_Frozen):
    """How split scores become one candidate score."""

    method: Literal["mean", "median", "mean_minus_std"] = "mean"
    penalty: float = Field(0.5, ge=0.0)


class RayConfig(_Frozen):
    """Ray engine: cluster address (null = start a local one), CPUs per task, chunking."""

    address: str | None = None
    num_cpus: float = Field(1.0, gt=0)
    init_num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster")
    chunk_splits: bool = Field(False, description="one job per (candidate, split)")
    tasks_per_cpu: int = Field(2, ge=1, description="tasks per cluster CPU (jobs are packed)")


class OptunaConfig(_Frozen):
    """Optuna engine: enqueued candidates, optional median pruner, journal or RDB storage."""

    storage: str | None = Field(
        None, description="SQLAlchemy URL; None = journal file in the run folder"
    )
    study_name: str | None = None
    pruner: Literal["none", "median"] = "none"
    n_warmup_steps: int = Field(3, ge=0)


class TuningConfig(_Frozen):
    """Candidates (Sobol per categorical stratum) and the engine that scores them."""

    space: tuple[ParamSpec, ...] = ()
    num_samples: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)
    engine: Literal["local", "ray", "optuna"] = "local"
    workers: int = Field(1, ge=1, description="local engine: processes (1 = sequential)")
    parallel_min_seconds: float | None = Field(
        20.0,
        ge=0.0,
        description="local engine: jobs run sequentially for this many seconds first and only "
        "the rest goes to the process pool (null: pool at once)",
    )
    aggregate: AggregateConfig = Field(default_factory=AggregateConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    optuna: OptunaConfig = Field(default_factory=OptunaConfig)

    @model_validator(mode="after")
    def _check(self) -> TuningConfig:
        SearchSpace(params=self.space)
        return self

    @property
    def search_space(self) -> SearchSpace:
        """The space as a :class:`~algotrader.tuning.SearchSpace`."""
        return SearchSpace(params=self.space)


class ScoringConfig(_Frozen):
    """The tuning objective: a registered metric (higher is better)."""

    metric_name: str = "sharpe"


class PredictiveConfig(_Frozen):
    """Predictive samples wanted from forecasting families."""

    num_samples_inner: int = Field(100, ge=0)
    num_samples_outer: int = Field(100, ge=0)


class AllocationConfig(_Frozen):
    """Baselines evaluated on every outer fold next to the chosen candidate."""

    baselines: tuple[str, ...] = ("equal_weight", "hodl")


class ModelSelectionConfig(_Frozen):
    """Post-tune selection (spec section 8) of families with a ``post_tune_select`` hook.

    ``selection_scope``: ``per_fold`` (each outer fold picks from its own inner splits) or
    ``global_report`` (also writes a cross-fold report that never feeds the outer run).
    ``enable``: run the hook (false: the mean-score choice of the tuner stands). The band:
    candidates with ``ES_model <= ES_best + c * SE_best`` survive (``SE`` a group-bootstrap
    standard error with ``n_boot`` draws seeded by ``boot_seed``), at least ``min_keep`` and
    at most ``max_keep`` of them; survivors are ranked by dense ranks of CRPS plus the
    quantile loss at level ``tail_alpha``; ties go to the lowest ``complexity``. Families
    without the hook ignore every key except ``selection_scope``.
    """

    selection_scope: Literal["per_fold", "global_report"] = "per_fold"
    enable: bool = True
    c: float = Field(1.0, ge=0.0, description="ES band width in bootstrap standard errors")
    min_keep: int = Field(1, ge=1, description="fewest ES-band survivors")
    max_keep: int = Field(5, ge=1, description="most ES-band survivors")
    n_boot: int = Field(500, ge=1, description="group-bootstrap draws for the ES SE")
    boot_seed: int = Field(123, ge=0)
    tail_alpha: float = Field(0.1, gt=0.0, lt=1.0, description="tail quantile-loss level")
    complexity: Literal["posterior_l1"] = Field(
        "posterior_l1", description="tie-break: mean |posterior mean| of the signed weights"
    )

    @model_validator(mode="after")
    def _check(self) -> ModelSelectionConfig:
        if self.max_keep < self.min_keep:
            raise ValueError(
                f"model_selection.max_keep ({self.max_keep}) must be >= min_keep ({self.min_keep})"
            )
        return self


class CalibrationConfig(_Frozen):
    """Calibration plots of forecasting families' outer walk-forward predictions.

    ``enable``; ``levels``: central-interval levels of the coverage curve; ``assets``:
    ``all`` or the assets that get a fan chart.
    """

    enable: bool = True
    levels: tuple[float, ...] = Field((0.5, 0.8, 0.9, 0.95), min_length=1)
    assets: Literal["all"] | tuple[str, ...] = "all"

    @model_validator(mode="after")
    def _check(self) -> CalibrationConfig:
        bad = [v for v in self.levels if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"diagnostics.calibration.levels must lie in (0, 1), got {bad}")
        return self


class DiagnosticsConfig(_Frozen):
    """Overfitting statistics over the candidates' outer returns; forecast calibration."""

    pbo_blocks: int = Field(8, ge=2)
    outer_candidate_returns: bool = Field(
        True, description="evaluate every candidate on the outer blocks (for PBO and DSR)"
    )
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)


class SimulationConfig(_Frozen):
    """The whole run (see the module docstring)."""

    family: str = Field(min_length=1)
    simulation_mode: Literal["dry_run", "stub", "full"] = "full"
    stop_after: StopAfter | None = None
    seed: int = Field(0, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    cv: CVConfig
    outer: OuterConfig = Field(default_factory=OuterConfig)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    predictive: PredictiveConfig = Field(default_factory=PredictiveConfig)
    allocation: AllocationConfig = Field(default_factory=AllocationConfig)
    cost: CostModel = Field(default_factory=CostModel)
    model_selection: ModelSelectionConfig = Field(default_factory=ModelSelectionConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)

    @model_validator(mode="after")
    def _check(self) -> SimulationConfig:
        if self.simulation_mode == "dry_run" and self.stop_after not in (None, "inputs", "cv"):
            raise ValueError(
                f"simulation_mode dry_run stops after cv; stop_after {self.stop_after!r} "
                "needs simulation_mode stub or full"
            )
        for spec in self.tuning.space:
            if not spec.path.startswith("model.params."):
                raise ValueError(
                    f"tuning path {spec.path!r} must start with model.params. "
                    "(families read their parameters there)"
                )
        _check_family_params(self)
        return self

    @property
    def family_params(self) -> FamilyParams:
        """``model.params`` resolved by the family's typed model (defaults filled in)."""
        return resolve_family_params(self.family, self.model.params)

    @property
    def last_phase(self) -> StopAfter:
        """The last phase this run executes (dry_run = cv; null stop_after = results)."""
        if self.stop_after is not None:
            return self.stop_after
        return "cv" if self.simulation_mode == "dry_run" else "results"


def _spec_values(spec: ParamSpec) -> list[Any]:
    """The values a tuning spec can produce that bound its range (ends or the values)."""
    if spec.values is not None:
        return list(spec.values)
    if spec.bounds is None:
        return [False, True] if spec.type == "bool" else []
    lo, hi = spec.bounds
    return [int(lo), int(hi)] if spec.type == "int" else [float(lo), float(hi)]


def _check_family_params(cfg: SimulationConfig) -> None:
    """``model.params`` and every tuning path/value against the family's typed model.

    Raises:
        ConfigError: unknown family, unknown or bad ``model.params.<key>``, or a tuning
            ``path`` naming a parameter the family does not have (key
            ``tuning.space.<i>.path``) or a bound/value it refuses.
    """
    model = family_params_model(cfg.family)
    resolve_family_params(cfg.family, cfg.model.params)
    base = {"model": {"params": dict(cfg.model.params)}}
    for i, spec in enumerate(cfg.tuning.space):
        key = spec.path.split(".")[2]
        if key not in model.model_fields:
            fields = ", ".join(sorted(model.model_fields)) or "none"
            raise ConfigError(
                f"tuning path {spec.path!r} names no parameter of family {cfg.family!r}",
                key=f"tuning.space.{i}.path",
                hint=f"parameters of family {cfg.family!r}: {fields}",
            )
        for value in _spec_values(spec):
            try:
                params = apply_candidate(base, {spec.path: value})["model"]["params"]
            except ValueError as exc:
                raise ConfigError(str(exc), key=f"tuning.space.{i}.path") from None
            try:
                resolve_family_params(cfg.family, params)
            except ConfigError as exc:
                raise ConfigError(
                    f"tuning path {spec.path!r} can produce {value!r}, which the family "
                    f"refuses: {exc.message}",
                    key=f"tuning.space.{i}",
                    hint=exc.hint,
                ) from None


#: hook settings that used to sit in ``model.params`` and now have their own section
_MOVED_PARAMS = {"selection": "model_selection", "diagnostics": "diagnostics.calibration"}


def load_simulation_config(path: str | Path) -> SimulationConfig:
    """Load and validate a ``simulation.yml`` (YAML safe_load).

    Raises:
        ConfigError: unreadable file, invalid YAML, or a validation error (key named).
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the simulation config ({exc})", file=str(p)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"simulation config is not valid YAML: {exc}", file=str(p)) from exc
    if not isinstance(raw, dict):
        raise ConfigError("simulation config must be a mapping", file=str(p))
    return config_from_mapping(raw, source=str(p))


def config_from_mapping(raw: dict[str, Any], *, source: str | None = None) -> SimulationConfig:
    """Validate a mapping into a :class:`SimulationConfig` (errors name the key)."""
    params = (raw.get("model") or {}).get("params") if isinstance(raw.get("model"), dict) else None
    if isinstance(params, dict):
        for old, new in _MOVED_PARAMS.items():
            if old in params:
                raise ConfigError(
                    f"model.params.{old} is no longer read; the settings moved to {new}",
                    file=source,
                    key=f"model.params.{old}",
                    hint=f"move the mapping to the {new} section (same keys)",
                )
    try:
        return SimulationConfig.model_validate(raw)
    except ConfigError as exc:  # the family parameter checks (key named already)
        if exc.file is not None or source is None:
            raise
        raise ConfigError(
            exc.message, file=source, key=exc.key, hint=exc.hint, **exc.context
        ) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"]) or None
        raise ConfigError(
            f"invalid simulation config: {err['msg']}",
            file=source,
            key=key,
            hint="see `algotrader simulate --example optimiser` for a complete config",
        ) from exc
