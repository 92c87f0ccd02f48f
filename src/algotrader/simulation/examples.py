"""Commented, runnable example configs printed by ``algotrader simulate --example NAME``.

Each runs on the bundled 20 S&P 500 stocks (weekly closes) in about a minute on 2 cores.

Example:
    >>> from algotrader.simulation.config import SimulationConfig
    >>> import yaml
    >>> sorted(EXAMPLES)
    ['amm', 'forecast', 'optimiser']
    >>> SimulationConfig.model_validate(yaml.safe_load(EXAMPLES["optimiser"])).family
    'optimiser'
"""

from __future__ import annotations

__all__ = ["EXAMPLES"]

_COMMON = """\
simulation_mode: full        # dry_run (stop after cv) | stub (no real fits, score 0) | full
stop_after: null             # inputs | cv | inner | outer | results (null = results)
seed: 0
data:
  source: bundled            # bundled dataset resampled to weekly closes, or npz panels
  dataset: sp500_20_stocks
  frequency: weekly
  start: 2010-01-01
  end: 2022-12-28            # use only rows <= this date (nothing after it is read)
  output_root: null          # default: env SIMULATION_SOURCE, else ./runs/simulation
  simulation_output_path: null   # run label; null = <family>_<config hash>
cv:
  warmup_len: 26             # rows before the first group (train only, purged like the rest)
  group_len: 52              # REQUIRED: rows per group (one outer test block = one group)
  horizon: 1                 # label length in rows (purge = exact label overlap)
  embargo_len: 1             # rows removed after every inner test block, after the purge
  q: 2                       # REQUIRED: inner test groups per CPCV split
  max_inner_combos: 15       # greedy balanced subset of C(n, q), ties seeded per fold
  seed: 0
  exclude_warmup: false
  source_compatible_purge: false
outer:
  last_n: 3                  # outer test groups = the last 3 groups (or test_group_ids)
  window: expanding          # expanding | rolling (then max_train_groups is required)
  max_train_groups: null
  refit_every: null          # refit every n test rows (null: once per fold)
preprocessing: {method: identity}
predictive: {num_samples_inner: 100, num_samples_outer: 100}
allocation: {baselines: [equal_weight, hodl]}
cost: {proportional_bps: 5.0}
model_selection: {selection_scope: per_fold}   # global_report = a report only, never used
diagnostics: {pbo_blocks: 8, outer_candidate_returns: true}
scoring: {metric_name: sharpe}  # sharpe | log_sharpe | mean_return | neg_mse | energy_score
"""

_TUNING = """\
tuning:
  engine: local              # local | ray | optuna (same score table and choice)
  workers: 1                 # local: processes; optuna: worker processes
  num_samples: {n}           # strata x a power of two (Sobol per categorical stratum)
  seed: 0
  aggregate: {{method: mean, penalty: 0.5}}   # mean | median | mean_minus_std
  ray: {{address: null, num_cpus: 1, init_num_cpus: 2, chunk_splits: false}}
  optuna: {{storage: null, pruner: none}}     # storage null = journal file in the run folder
  space:
"""

_FORECAST = (
    "# Nested CV of factor_model_v1 (NumPyro SVI) on features from the feature store.\n"
    "# Post-tune selection (spec 8) per outer fold; calibration diagnostics of the outer\n"
    "# walk-forward predictions in outer/diagnostics/. 72 inner + 12 outer SVI fits\n"
    "# (3.5 min measured on 2 shared cores at load 3-5; see docs/forecasting.md).\n"
    "family: forecast\n"
    + _COMMON.replace(
        "  frequency: weekly\n",
        "  frequency: weekly\n"
        "  features:                  # X from algotrader.features (past bars only)\n"
        "    groups: all              # or {momentum: all, volatility: [vol_cc_d, atrp_d]}\n"
        "    store: null              # a feature-store root to write once and reuse\n",
    )
    .replace("  max_inner_combos: 15 ", "  max_inner_combos: 6  ")
    .replace(
        "preprocessing: {method: identity}",
        "preprocessing: {method: pipeline}   # cleaning + robust scaling fitted per split",
    )
    .replace("num_samples_inner: 100", "num_samples_inner: 64")
    .replace(
        "model_selection: {selection_scope: per_fold}   # global_report = a report only, never used\n",
        "model_selection:             # post-tune selection (spec 8) per outer fold\n"
        "  selection_scope: per_fold  # global_report = also a cross-fold report, never used\n"
        "  enable: true               # false: keep the tuner's mean-score choice\n"
        "  c: 1.0                     # ES band: ES <= ES_best + c * SE_best (group bootstrap)\n"
        "  min_keep: 1                # fewest / most ES-band survivors\n"
        "  max_keep: 5\n"
        "  n_boot: 500                # bootstrap draws for SE, seeded by boot_seed\n"
        "  boot_seed: 123\n"
        "  tail_alpha: 0.1            # quantile-loss level ranked with CRPS among survivors\n"
        "  complexity: posterior_l1   # tie-break: smallest mean |posterior weight|\n",
    )
    .replace(
        "diagnostics: {pbo_blocks: 8, outer_candidate_returns: true}\n",
        "diagnostics:\n"
        "  pbo_blocks: 8\n"
        "  outer_candidate_returns: true\n"
        "  calibration: {enable: true, levels: [0.5, 0.8, 0.9, 0.95], assets: all}\n",
    )
    .replace(
        "scoring: {metric_name: sharpe}  # sharpe | log_sharpe | mean_return | neg_mse | energy_score",
        "scoring: {metric_name: energy_score}  # energy_score_fair | crps | neg_mse | sharpe | ...",
    )
    + "model:\n"
    "  params:\n"
    "    model: factor_model_v1   # Student-t, regularised horseshoe (spec 6.2)\n"
    "    guide: factor_guide_v1   # mean-field guide with the spec's inits\n"
    "    num_steps: 250\n"
    "    lr: 0.01                 # constant rate: tuning it never recompiles\n"
    "    target_normalization: true\n"
    "    allocation: {rule: long_only, gross: 1.0}\n"
    + _TUNING.format(n=4)
    + "    - {path: model.params.lr, type: float, bounds: [0.003, 0.03], transform: log}\n"
    "    - {path: model.params.num_steps, type: int, bounds: [150, 400]}\n"
)

EXAMPLES: dict[str, str] = {
    "optimiser": "# Nested CV of the correlation-aware optimiser on a momentum signal.\n"
    "family: optimiser\n"
    + _COMMON
    + "model:\n  params: {lookback: 12, vola: 20, corr: 60, clip: 3.5, shrink: 0.5, gross: 1.0}\n"
    + _TUNING.format(n=8)
    + "    - {path: model.params.lookback, type: int, bounds: [4, 26]}\n"
    "    - {path: model.params.shrink, type: float, bounds: [0.1, 0.9]}\n"
    "    - {path: model.params.vola, type: int, bounds: [10, 40]}\n",
    "amm": "# Nested CV of a TFMM momentum pool run by the JAX pool simulator (arbitrage at\n"
    "# every trading day, fees if set) on the daily closes between the weekly rows; memory\n"
    "# and k are per trading day; scores and outer returns are the pool's own value path.\n"
    "family: amm\n"
    + _COMMON
    + "model:\n  params: {rule: momentum, memory: 20.0, k: 8.0, max_change: 0.1, fees: 0.0}\n"
    + _TUNING.format(n=8)
    + "    - {path: model.params.memory, type: float, bounds: [5.0, 120.0], transform: log}\n"
    "    - {path: model.params.k, type: float, bounds: [1.0, 100.0], transform: log}\n",
    "forecast": _FORECAST,
}
