"""The nested-CV run: inputs -> cv -> inner tuning -> outer walk-forward -> results.

Artifacts under ``<output_root>/<label>/`` (all writes atomic):

``run_manifest.json``, ``run_state.json`` (config/input hashes, phase reached),
``inputs/panel.npz`` + ``inputs/manifest.json``, ``cv/cv_structure.json``,
``cv/timestamps_cv.csv``, ``cv/candidates.json``, ``cv/summary.json``,
``artifacts/prebuild/prebuild.json`` (when enabled), ``store/scores/part-*.parquet`` (the
append-only score store), ``inner/outer_<k>/splits.json`` + ``scores.parquet`` +
``best_config.json``, ``outer/outer_<k>/result.json``, ``outer/returns.parquet``,
``outer/candidate_returns.parquet``, ``outer/metrics.json`` and, with
``model_selection.selection_scope: global_report``, ``outer/global_selection_report.json``
(a report that never feeds the outer evaluation).

Resume: the score store is keyed by the run's config hash (engine settings excluded, they do
not change results) and input hash, both recorded in ``run_state.json``; ``resume=True``
re-evaluates only the (fold, candidate, split) rows missing from the store and refuses a
folder whose hashes differ. Everything else is recomputed deterministically, so a resumed
run's artifacts equal an uninterrupted run's.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader import metrics
from algotrader.artifacts import (
    ResultsTable,
    RunManifest,
    json_ready,
    now_utc,
    run_id,
    save_pytree,
    write_json_atomic,
    write_manifest,
    write_parquet_atomic,
)
from algotrader.errors import ConfigError, StateError
from algotrader.io import write_csv_atomic
from algotrader.simulation.config import SimulationConfig
from algotrader.simulation.engines import run_engine
from algotrader.simulation.evaluate import Evaluator
from algotrader.simulation.family import FamilyContext, SimulationData, get_family
from algotrader.simulation.inputs import load_inputs
from algotrader.simulation.scoring import backtest_block, block_returns, get_scorer
from algotrader.simulation.structure import build_structure
from algotrader.tuning import SCORE_SCHEMA, choose_best, generate_candidates
from algotrader.tuning.drivers import Job, Row

__all__ = ["SimulationResult", "config_hash", "run_dir_for", "run_simulation"]

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int, int], None]
_KEYS = ["fold", "candidate", "split"]
#: the score store gets one part per this many seconds of inner work (a kill loses at most that)
STORE_FLUSH_SECONDS = 0.25
_PHASES = ("inputs", "cv", "inner", "outer", "results")


@dataclass
class SimulationResult:
    """What a run produced (also on disk)."""

    run_dir: Path
    phase: str
    chosen: dict[int, int] = field(default_factory=dict)
    folds: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    scores: pl.DataFrame | None = None


def _id_config(cfg: SimulationConfig) -> dict[str, Any]:
    """The resolved config minus engine settings (they never change results); the family
    parameters as resolved by the family's typed model (defaults included)."""
    dump = cfg.model_dump(mode="json")
    dump["model"]["params"] = cfg.family_params.model_dump(mode="json")
    for key in ("engine", "workers", "parallel_min_seconds", "ray", "optuna"):
        dump["tuning"].pop(key, None)
    return dump


def config_hash(cfg: SimulationConfig, input_hash: str) -> str:
    """Hash of the config minus engine settings (they never change results) and inputs:
    the run folder's id, and the manifest's ``run_id``."""
    return run_id(_id_config(cfg), {"data": input_hash})


def run_dir_for(cfg: SimulationConfig, chash: str) -> Path:
    """``<output_root>/<label>``: root = data.output_root, env SIMULATION_SOURCE, ./runs/simulation."""
    root = cfg.data.output_root or os.environ.get("SIMULATION_SOURCE") or "runs/simulation"
    label = cfg.data.simulation_output_path or f"{cfg.family}_{chash}"
    return Path(root) / label


def _reached(cfg: SimulationConfig, phase: str) -> bool:
    return _PHASES.index(phase) <= _PHASES.index(cfg.last_phase)


def _check_state(run: Path, chash: str, ihash: str, resume: bool) -> None:
    state_file = run / "run_state.json"
    if not state_file.exists():
        if any(run.iterdir()) if run.exists() else False:
            raise StateError(
                "run folder exists without run_state.json",
                file=str(run),
                hint="remove it or choose another data.simulation_output_path",
            )
        return
    import json

    state = json.loads(state_file.read_text())
    if state.get("input_hash") != ihash:
        raise StateError(
            "the inputs changed since this run folder was written (input hash differs)",
            file=str(state_file),
            hint="use a new data.simulation_output_path for new data",
        )
    if state.get("config_hash") != chash:
        raise StateError(
            "the config changed since this run folder was written (config hash differs)",
            file=str(state_file),
            hint="use a new data.simulation_output_path, or restore the original config",
        )
    if not resume:
        raise StateError(
            "run folder already exists",
            file=str(run),
            hint="pass --resume to continue it, or choose another data.simulation_output_path",
        )


def _write_state(run: Path, chash: str, ihash: str, phase: str) -> None:
    write_json_atomic(
        run / "run_state.json",
        {"config_hash": chash, "input_hash": ihash, "phase": phase, "updated_at": now_utc()},
    )


def _write_inputs(run: Path, data: SimulationData, ihash: str) -> None:
    tree: dict[str, Any] = {
        "dates_us": data.dates.astype(np.int64),
        "assets": np.array(data.assets, dtype=np.str_),
        "y": data.y,
        "y_mask": data.y_mask,
    }
    if data.prices is not None:
        tree["prices"] = data.prices
    if data.X is not None and data.x_mask is not None:
        tree["X"], tree["x_mask"] = data.X, data.x_mask
    save_pytree(run / "inputs" / "panel.npz", tree)
    write_json_atomic(
        run / "inputs" / "manifest.json",
        {
            "input_hash": ihash,
            "rows": data.n_dates,
            "assets": list(data.assets),
            "features": list(data.features or ()),
            "target_kind": data.target_kind,
            "periods_per_year": data.periods_per_year,
            "first_date": str(data.dates[0]),
            "last_date": str(data.dates[-1]),
        },
    )


def _perf(net: np.ndarray, ppy: float, turnover: np.ndarray, costs: np.ndarray) -> dict[str, Any]:
    values = np.concatenate([[1.0], np.cumprod(1.0 + net)])
    return {
        "n_periods": int(net.size),
        "total_return": float(values[-1] - 1.0),
        "sharpe": float(metrics.sharpe(net, periods_per_year=ppy)),
        "sortino": float(metrics.sortino(net, periods_per_year=ppy)),
        "max_drawdown": float(metrics.max_drawdown(values)),
        "mean_turnover": float(np.mean(turnover)) if turnover.size else float("nan"),
        "total_costs": float(np.sum(costs)),
    }


def run_simulation(
    cfg: SimulationConfig,
    *,
    resume: bool = False,
    engine: str | None = None,
    progress: Progress | None = None,
    data: SimulationData | None = None,
) -> SimulationResult:
    """Run (or resume) a nested-CV simulation; see the module docstring for the artifacts."""
    t_start = time.perf_counter()
    started = now_utc()
    if engine is not None:
        cfg = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"engine": engine})})
    timings: dict[str, float] = {}
    if data is None:
        data = load_inputs(cfg.data, horizon=cfg.cv.horizon)
        prepare = getattr(get_family(cfg.family), "prepare_inputs", None)
        if prepare is not None:  # a family's extra inputs (the amm family's trading days)
            data = prepare(data, cfg.data)
    ihash = data.content_hash()
    chash = config_hash(cfg, ihash)
    run = run_dir_for(cfg, chash)
    _check_state(run, chash, ihash, resume)
    run.mkdir(parents=True, exist_ok=True)
    _write_state(run, chash, ihash, "inputs")
    _write_inputs(run, data, ihash)
    result = SimulationResult(run_dir=run, phase="inputs")
    outputs: list[str] = ["inputs/panel.npz", "inputs/manifest.json"]

    def finish(phase: str, summary: dict[str, Any]) -> SimulationResult:
        result.phase = phase
        write_json_atomic(run / "cv" / "summary.json", json_ready(summary))
        timings["total"] = time.perf_counter() - t_start
        manifest = RunManifest.create(
            "simulate",
            cfg,
            {"data": ihash},
            id_config=_id_config(cfg),
            seeds={"run": cfg.seed, "cv": cfg.cv.seed, "tuning": cfg.tuning.seed},
            started_at=started,
            finished_at=now_utc(),
            timings={k: round(v, 6) for k, v in timings.items()},
            outputs=sorted({*outputs, "cv/summary.json"}),
            extra={"config_hash": chash, "phase": phase, "engine": cfg.tuning.engine},
        )
        write_manifest(run, manifest)
        _write_state(run, chash, ihash, phase)
        return result

    summary: dict[str, Any] = {
        "family": cfg.family,
        "run_mode": cfg.simulation_mode,
        "stop_after": cfg.stop_after,
        "cv": cfg.cv.model_dump(mode="json"),
        "outer": cfg.outer.model_dump(mode="json"),
        "preprocessing": cfg.preprocessing.model_dump(mode="json"),
        "config_hash": chash,
        "input_hash": ihash,
    }
    if not _reached(cfg, "cv"):
        return finish("inputs", summary)

    # ------------------------------------------------------------------------- cv
    t0 = time.perf_counter()
    structure = build_structure(data.n_dates, cfg.cv, cfg.outer)
    write_json_atomic(run / "cv" / "cv_structure.json", structure.to_json())
    gid, labels = structure.row_labels()
    epoch_h = data.dates.astype("datetime64[h]").astype(np.int64)
    write_csv_atomic(
        run / "cv" / "timestamps_cv.csv",
        pl.DataFrame(
            {
                "row_id": np.arange(data.n_dates),
                "epoch_hour": epoch_h,
                "datetime_utc": [str(d) for d in data.dates.astype("datetime64[s]")],
                "cv_week_id": gid,
                "cv_label": labels,
            }
        ),
    )
    candidates = generate_candidates(
        cfg.tuning.search_space, num_samples=cfg.tuning.num_samples, seed=cfg.tuning.seed
    )
    write_json_atomic(
        run / "cv" / "candidates.json",
        {str(c.id): {"params": dict(c.params), "stratum": c.stratum} for c in candidates},
    )
    outputs += ["cv/cv_structure.json", "cv/timestamps_cv.csv", "cv/candidates.json"]
    base_params = dict(cfg.model.params)
    if cfg.model.prebuild.enabled:
        base_params = _prebuild(cfg, data, structure.prebuild_idx, base_params, run)
        cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"params": base_params})})
        outputs.append("artifacts/prebuild/prebuild.json")
    summary.update(
        n_groups=len(structure.groups),
        outer_test_group_ids=[f.k for f in structure.folds],
        n_candidates=len(candidates),
        n_inner_splits={str(f.k): len(f.splits) for f in structure.folds},
    )
    timings["cv"] = time.perf_counter() - t0
    if not _reached(cfg, "inner"):
        return finish("cv", summary)

    # ---------------------------------------------------------------------- inner
    t0 = time.perf_counter()
    _write_state(run, chash, ihash, "inner")
    ev = Evaluator(cfg, data, structure, candidates, token=chash)
    store = ResultsTable(run / "store" / "scores")
    done = store.read()
    have: set[tuple[int, int, int]] = set()
    if done.height:
        have = set(zip(*(done[c].to_list() for c in _KEYS), strict=True))
    jobs: list[Job] = []
    for c in candidates:  # a candidate's folds side by side: per-process family caches hit
        for f in structure.folds:
            pending = tuple(s for s in range(len(f.splits)) if (f.k, c.id, s) not in have)
            if pending:
                jobs.append(Job(f.k, c, pending))
    total = sum(len(f.splits) for f in structure.folds) * len(candidates)
    count = [len(have)]
    buffer: list[Row] = []
    flushed = [time.perf_counter()]

    def flush() -> None:
        # one store part per STORE_FLUSH_SECONDS, not per job: a part costs a parquet write
        if buffer:
            store.append(pl.DataFrame([list(r) for r in buffer], schema=SCORE_SCHEMA, orient="row"))
            buffer.clear()
        flushed[0] = time.perf_counter()

    def sink(rows: list[Row]) -> None:
        if not rows:
            return
        buffer.extend(rows)
        count[0] += len(rows)
        if time.perf_counter() - flushed[0] >= STORE_FLUSH_SECONDS:
            flush()
        if progress is not None:
            progress("inner", rows[0][0], count[0], total)

    if progress is not None:
        progress("inner", -1, count[0], total)
    try:
        run_engine(ev, jobs, sink, engine=cfg.tuning.engine, run_dir=run)
    finally:
        flush()  # what finished before an error is kept for --resume
    scores = store.read().unique(_KEYS, keep="first").sort(_KEYS)
    result.scores = scores
    inner_best: dict[int, float] = {}
    aggregates: dict[int, dict[int, float]] = {}
    for f in structure.folds:
        fold_scores = scores.filter(pl.col("fold") == f.k)
        choice = choose_best(
            scores,
            fold=f.k,
            split_ids=list(range(len(f.splits))),
            method=cfg.tuning.aggregate.method,
            penalty=cfg.tuning.aggregate.penalty,
        )
        best, agg = choice.candidate, choice.aggregates
        mean_score_best = best
        # optional family hook: post-tune selection (forecast: spec section 8) overrides
        # the mean-score winner of this fold (it reads this fold's inner splits only)
        select = getattr(ev.family, "post_tune_select", None)
        if select is not None and cfg.simulation_mode == "full":
            picked = select(ev, f, run / "inner" / f"outer_{f.k}" / "postprocessing")
            if picked is not None:
                best = int(picked)
                outputs += [
                    f"inner/outer_{f.k}/postprocessing/{n}"
                    for n in ("metrics.json", "selection.json", "metadata.json")
                ]
        result.chosen[f.k] = best
        inner_best[f.k] = agg[best]
        aggregates[f.k] = agg
        d = run / "inner" / f"outer_{f.k}"
        write_json_atomic(
            d / "splits.json",
            [
                {
                    "split_id": i,
                    "test_groups": list(s.test_groups),
                    "train_idx": s.train.tolist(),
                    "test_idx": s.test.tolist(),
                }
                for i, s in enumerate(f.splits)
            ],
        )
        write_parquet_atomic(d / "scores.parquet", fold_scores.drop("seconds"))
        write_json_atomic(
            d / "best_config.json",
            json_ready(
                {
                    "outer_k": f.k,
                    "candidate_id": best,
                    "candidate_params": dict(candidates[best].params),
                    "model_params": ev.params(best),
                    "aggregate": agg[best],
                    "aggregate_method": cfg.tuning.aggregate.method,
                    "aggregates": {str(c): v for c, v in agg.items()},
                    "mean_score_candidate_id": mean_score_best,
                    "selected_by": "aggregate" if best == mean_score_best else "post_tune",
                }
            ),
        )
        outputs += [
            f"inner/outer_{f.k}/{n}" for n in ("splits.json", "scores.parquet", "best_config.json")
        ]
    if cfg.model_selection.selection_scope == "global_report":
        med = {
            str(c.id): float(np.median([aggregates[k][c.id] for k in aggregates]))
            for c in candidates
        }
        write_json_atomic(
            run / "outer" / "global_selection_report.json",
            json_ready(
                {
                    "note": "report only: a global choice uses later folds' inner data "
                    "(look-ahead) and never feeds the outer evaluation",
                    "median_aggregate_by_candidate": med,
                }
            ),
        )
    summary["chosen_candidate_by_outer_fold"] = {str(k): v for k, v in result.chosen.items()}
    timings["inner"] = time.perf_counter() - t0
    if not _reached(cfg, "outer"):
        return finish("inner", summary)

    # ---------------------------------------------------------------------- outer
    t0 = time.perf_counter()
    _write_state(run, chash, ihash, "outer")
    ppy = data.periods_per_year
    ret_frames = []
    cand_frames = []
    oos_metric: dict[int, float] = {}
    scorer = get_scorer(cfg.scoring.metric_name, ev.family)
    outer_decisions: dict[int, Any] = {}
    for f in structure.folds:
        if progress is not None:
            progress("outer", f.k, structure.folds.index(f), len(structure.folds))
        best = result.chosen[f.k]
        dec = ev.outer_weights(f.k, best)
        outer_decisions[f.k] = dec
        bt = backtest_block(data, f.test_idx, dec.weights, cfg.cost)
        net = block_returns(bt) if dec.returns is None else dec.returns
        ctx = FamilyContext(phase="outer", outer_k=f.k, candidate_id=best, cost=cfg.cost)
        oos_metric[f.k] = float(scorer(data, f.test_idx, dec, net, ctx))
        cols: dict[str, Any] = {
            "date": data.dates[f.test_idx],
            "outer_k": np.full(f.test_idx.size, f.k, dtype=np.int64),
            "chosen": net,
        }
        base_perf = {}
        for name in cfg.allocation.baselines:
            bdec = ev.outer_weights(f.k, -1, family=get_family(name))
            bbt = backtest_block(data, f.test_idx, bdec.weights, cfg.cost)
            cols[name] = block_returns(bbt)
            base_perf[name] = _perf(cols[name], ppy, bbt.turnover[:-1], bbt.costs[:-1])
        ret_frames.append(pl.DataFrame(cols))
        if cfg.diagnostics.outer_candidate_returns:
            cc: dict[str, Any] = {"date": data.dates[f.test_idx], "outer_k": cols["outer_k"]}
            for c in candidates:
                cdec = dec if c.id == best else ev.outer_weights(f.k, c.id)
                cc[f"c{c.id}"] = (
                    block_returns(backtest_block(data, f.test_idx, cdec.weights, cfg.cost))
                    if cdec.returns is None
                    else cdec.returns
                )
            cand_frames.append(pl.DataFrame(cc))
        fold_res = {
            "outer_k": f.k,
            "candidate_id": best,
            "candidate_params": dict(candidates[best].params),
            "inner_aggregate": inner_best[f.k],
            "outer_score": oos_metric[f.k],
            "first_date": str(data.dates[f.test_idx[0]]),
            "last_date": str(data.dates[f.test_idx[-1]]),
            "weights": dec.weights,
            "returns": net,
            # a family with its own returns (an AMM pool) pays its costs inside them
            "metrics": _perf(net, ppy, bt.turnover[:-1], bt.costs[:-1] * (dec.returns is None)),
            "baselines": base_perf,
            "payload": dec.payload,
        }
        write_json_atomic(run / "outer" / f"outer_{f.k}" / "result.json", json_ready(fold_res))
        outputs.append(f"outer/outer_{f.k}/result.json")
        result.folds.append(
            {k: v for k, v in fold_res.items() if k not in ("weights", "returns", "payload")}
        )
    # optional family hook: diagnostics of the outer walk-forward decisions
    diagnose = getattr(ev.family, "outer_diagnostics", None)
    if diagnose is not None and cfg.simulation_mode == "full":
        for p in diagnose(ev, outer_decisions, run / "outer" / "diagnostics"):
            outputs.append(Path(p).relative_to(run).as_posix())
    if progress is not None:
        progress("outer", -1, len(structure.folds), len(structure.folds))
    returns = pl.concat(ret_frames)
    write_parquet_atomic(run / "outer" / "returns.parquet", returns)
    outputs.append("outer/returns.parquet")
    timings["outer"] = time.perf_counter() - t0
    summary["outer_results"] = result.folds
    if not _reached(cfg, "results"):
        return finish("outer", summary)

    # -------------------------------------------------------------------- results
    t0 = time.perf_counter()
    chosen = returns["chosen"].to_numpy()
    out_metrics: dict[str, Any] = {
        "n_candidates": len(candidates),
        "n_outer_folds": len(structure.folds),
        "periods_per_year": ppy,
        "chosen": _perf(chosen, ppy, np.zeros(0), np.zeros(0)),
        "baselines": {
            name: _perf(returns[name].to_numpy(), ppy, np.zeros(0), np.zeros(0))
            for name in cfg.allocation.baselines
        },
        "psr": float(metrics.probabilistic_sharpe_ratio(chosen)),
    }
    for name in cfg.allocation.baselines:
        per = [f["baselines"][name] for f in result.folds]
        out_metrics["baselines"][name]["mean_turnover"] = float(
            np.mean([b["mean_turnover"] for b in per])
        )
        out_metrics["baselines"][name]["total_costs"] = float(
            np.sum([b["total_costs"] for b in per])
        )
    out_metrics["chosen"]["mean_turnover"] = float(
        np.mean([f["metrics"]["mean_turnover"] for f in result.folds])
    )
    out_metrics["chosen"]["total_costs"] = float(
        np.sum([f["metrics"]["total_costs"] for f in result.folds])
    )
    if cand_frames:
        cand = pl.concat(cand_frames)
        write_parquet_atomic(run / "outer" / "candidate_returns.parquet", cand)
        outputs.append("outer/candidate_returns.parquet")
        mat = cand.select([f"c{c.id}" for c in candidates]).to_numpy()
        trial_sr = np.asarray(metrics.per_period_sharpe(mat), dtype=np.float64).reshape(-1)
        if len(candidates) >= 2 and np.isfinite(trial_sr).all() and np.var(trial_sr) > 0:
            out_metrics["dsr"] = float(
                metrics.deflated_sharpe_ratio(
                    chosen, trial_sharpes_per_period=trial_sr, n_trials=float(len(candidates))
                )
            )
        else:
            out_metrics["dsr"] = None
        out_metrics["dsr_n_trials"] = len(candidates)
        out_metrics["pbo"] = _pbo(mat, cfg.diagnostics.pbo_blocks)
    wfe = metrics.walk_forward_efficiency(
        np.array([inner_best[f.k] for f in structure.folds]),
        np.array([oos_metric[f.k] for f in structure.folds]),
    )
    out_metrics["wfe_by_fold"] = {
        str(f.k): float(v) for f, v in zip(structure.folds, wfe, strict=True)
    }
    finite = [float(v) for v in wfe if math.isfinite(float(v))]
    out_metrics["wfe_mean"] = float(np.mean(finite)) if finite else None
    out_metrics["scoring_metric"] = cfg.scoring.metric_name
    write_json_atomic(run / "outer" / "metrics.json", json_ready(out_metrics))
    outputs.append("outer/metrics.json")
    result.metrics = out_metrics
    timings["results"] = time.perf_counter() - t0
    return finish("results", summary)


def _pbo(mat: np.ndarray, n_blocks: int) -> dict[str, Any] | None:
    """PBO by CSCV over the candidates' outer returns (None when not computable)."""
    if mat.shape[1] < 2 or mat.shape[0] // n_blocks < 2 or not np.isfinite(mat).all():
        return None
    res = metrics.probability_of_backtest_overfitting(mat, n_blocks=n_blocks)
    return {
        "pbo": float(res.pbo),
        "prob_oos_loss": float(res.prob_oos_loss),
        "degradation_slope": float(res.degradation_slope),
        "n_combinations": int(res.n_combinations),
        "n_blocks": n_blocks,
    }


def _prebuild(
    cfg: SimulationConfig,
    data: SimulationData,
    idx: np.ndarray,
    base: dict[str, Any],
    run: Path,
) -> dict[str, Any]:
    """Run the family's optional ``prebuild(data, idx, params, ctx) -> dict`` hook."""
    import algotrader.simulation.families  # noqa: F401

    fam = get_family(cfg.family)
    hook = getattr(fam, "prebuild", None)
    if hook is None:
        raise ConfigError(
            f"family {cfg.family!r} has no prebuild hook", key="model.prebuild.enabled"
        )
    if idx.size == 0:
        raise ConfigError(
            "no row is free of every inner test group for the prebuild",
            key="model.prebuild.enabled",
            hint="add a warm-up (cv.warmup_len) or disable the prebuild",
        )
    outputs = dict(
        hook(data, idx.astype(np.int64), base, FamilyContext(phase="prebuild", cost=cfg.cost))
    )
    write_json_atomic(
        run / "artifacts" / "prebuild" / "prebuild.json",
        json_ready({"n_train_samples": int(idx.size), "train_idx": idx, "outputs": outputs}),
    )
    return {**base, **outputs}
