"""Validated training settings: the seed's ``optimisation_settings`` keys, typed.

Every model is a :class:`~algotrader.config_base.ConfigModel` (frozen, ``extra="forbid"``):
an unknown or misspelt key, constructed directly or loaded from a mapping/YAML, is refused
with a :class:`~algotrader.errors.ConfigError` that names it (as a dot path when the model
is nested, e.g. ``optimisation_settings.optuna_settings.n_trial``) and the file. Defaults
follow the reference's ``optimisation_settings`` except where the reference is defective
(see ``docs/training.md``).

Example:
    >>> s = OptimisationSettings.from_mapping({"optimiser": "adam", "n_iterations": 50})
    >>> s.optimiser, s.n_iterations, s.batch_size, s.val_fraction
    ('adam', 50, 8, 0.2)
    >>> OptimisationSettings.from_mapping({"n_iteration": 5}, source="run.yaml")
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: invalid OptimisationSettings: Extra inputs are not permitted (n_iteration) [file=run.yaml, key=n_iteration] -- fix: keys of OptimisationSettings: ...
    >>> MultiPeriodSettings(n_periods=4, aggregation="softmin").temperature
    1.0
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from algotrader.config_base import ConfigModel

OptimiserName = Literal["adam", "adamw", "sgd"]
ScheduleName = Literal["constant", "cosine", "exponential", "warmup_cosine"]
SampleMethod = Literal["uniform", "exponential", "stratified"]
#: Selection methods usable while training (never look at the test period).
TrainingSelection = Literal["best_val", "best_train", "best_train_min_val", "last"]
WindowBatching = Literal["vmap", "map"]


class SearchRange(ConfigModel):
    """Search range of one raw parameter for Optuna.

    With ``expand_around`` the trial value is ``init - low ... init + high``
    (``low`` and ``high`` are non-negative offsets); otherwise ``low ... high``
    are absolute bounds. ``scalar`` suggests one value shared by every asset.
    """

    low: float
    high: float
    log_scale: bool = False
    scalar: bool = False

    @model_validator(mode="after")
    def _finite(self) -> SearchRange:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite")
        return self


class OptunaSettings(ConfigModel):
    """Optuna search settings (``optimisation_settings.optuna_settings``).

    ``storage`` is ``None`` for a journal file in the run folder (one machine,
    many processes) or an RDB URL (``sqlite:///x.db``, ``postgresql://...``)
    for many workers on many machines. ``n_jobs`` > 1 runs threads and gives up
    bit-for-bit determinism.
    """

    n_trials: int = Field(20, ge=1)
    n_jobs: int = Field(1, ge=1)
    timeout: float | None = Field(7200.0, gt=0)
    n_startup_trials: int = Field(10, ge=0)
    expand_around: bool = False
    overfitting_penalty: float = Field(0.2, ge=0)
    multi_objective: bool = False
    n_evaluation_points: int = Field(40, ge=1)
    n_report_steps: int = Field(4, ge=1)
    pruner_startup_trials: int = Field(5, ge=0)
    storage: str | None = None
    parameter_config: dict[str, SearchRange] = Field(default_factory=dict)


class OptimisationSettings(ConfigModel):
    """Gradient-ascent and search settings (seed keys; see ``docs/training.md``).

    Timing: a training window ``[s, s + L_w)`` only ever reads prices up to
    ``s + L_w - 1`` inside the training span; the validation span follows it and
    the test span follows that.
    """

    method: Literal["gradient_descent", "optuna"] = "gradient_descent"
    optimiser: OptimiserName = "adamw"
    base_lr: float = Field(0.1, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(8, ge=1)
    n_parameter_sets: int = Field(4, ge=1)
    n_iterations: int = Field(1000, ge=1)
    iterations_per_chunk: int = Field(10, ge=1)
    sample_method: SampleMethod = "uniform"
    noise_scale: float = Field(0.1, ge=0)
    use_gradient_clipping: bool = True
    clip_norm: float = Field(10.0, gt=0)
    lr_schedule_type: ScheduleName = "constant"
    lr_decay_ratio: float = Field(1000.0, ge=1)
    warmup_steps: int = Field(100, ge=0)
    use_plateau_decay: bool = False
    decay_lr_ratio: float = Field(0.8, gt=0, le=1)
    decay_lr_plateau: int = Field(100, ge=1)
    min_lr: float = Field(1e-6, ge=0)
    early_stopping: bool = True
    early_stopping_patience: int = Field(200, ge=1)
    early_stopping_metric: str = "daily_log_sharpe"
    val_fraction: float = Field(0.2, ge=0, lt=1)
    selection_method: TrainingSelection = "best_val"
    selection_threshold: float = 0.0
    use_swa: bool = False
    swa_start_frac: float = Field(0.75, ge=0, le=1)
    swa_freq: int = Field(10, ge=1)
    track_checkpoints: bool = False
    checkpoint_interval: int = Field(10, ge=1)
    initial_random_key: int = Field(0, ge=0)
    n_nan_bank: int = Field(32, ge=1)
    window_batching: WindowBatching = "vmap"
    optuna_settings: OptunaSettings = Field(default_factory=OptunaSettings)
    #: The reference's name for the chunk length: sets ``iterations_per_chunk`` when that
    #: is not given. (The reference's other ignored keys -- ``parameter_init_method``,
    #: ``force_scalar`` ... -- are dropped by :func:`algotrader.amm.config.load_reference_config`.)
    iterations_per_print: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _alias_chunk(cls, data: Any) -> Any:
        # The reference's iterations_per_print sets the jitted chunk length.
        if (
            isinstance(data, dict)
            and data.get("iterations_per_print")
            and "iterations_per_chunk" not in data
        ):
            return {**data, "iterations_per_chunk": data["iterations_per_print"]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> OptimisationSettings:
        uses_val = self.selection_method in ("best_val", "best_train_min_val")
        if uses_val and self.val_fraction == 0:
            raise ValueError(
                f"selection_method={self.selection_method!r} needs a validation holdout: "
                "set val_fraction > 0 or selection_method='best_train'"
            )
        if self.early_stopping and self.val_fraction == 0:
            raise ValueError(
                "early_stopping needs a validation holdout (the test period is never used "
                "for stopping): set val_fraction > 0 or early_stopping: false"
            )
        return self


class WalkForwardSettings(ConfigModel):
    """Walk-forward cycles: ``n_cycles`` test segments after the first training one.

    ``[start, end_test]`` is split into ``n_cycles + 1`` equal segments aligned to
    whole chunks; cycle ``i`` trains on segment ``i`` (rolling) or segments
    ``0..i`` (expanding) and is tested on segment ``i + 1``.
    """

    n_cycles: int = Field(3, ge=1)
    mode: Literal["rolling", "expanding"] = "rolling"
    warm_start: bool = True
    wfe_metric: str = "daily_sharpe"
    rademacher_delta: float = Field(0.05, gt=0, lt=1)
    rademacher_draws: int = Field(1000, ge=10)
    min_wfe: float = 0.5


class MultiPeriodSettings(ConfigModel):
    """The multi-period training objective (``multi_period`` of a run configuration).

    The training segment is cut into ``n_periods`` periods (consecutive, or overlapping by
    ``overlap_fraction`` of a period); the objective is ``aggregation`` of the per-period
    metric (``softmin`` weighs the worst periods by ``exp(-value / temperature)``). See
    :mod:`algotrader.training.multi_period`.
    """

    n_periods: int = Field(ge=1)
    overlap_fraction: float = Field(0.0, ge=0, lt=1)
    aggregation: Literal["mean", "min", "softmin", "sum"] = "mean"
    temperature: float = Field(1.0, gt=0)


__all__ = [
    "MultiPeriodSettings",
    "OptimisationSettings",
    "OptunaSettings",
    "SearchRange",
    "WalkForwardSettings",
]
