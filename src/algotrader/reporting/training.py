"""Report sections of AMM training runs: ``amm train`` folders and ``amm walk-forward`` folders.

* ``amm train`` (``<out>/<run_id>/``: ``history.parquet``, ``result.json``,
  ``params_best.npz``, ``config.json``): the objective per iteration (one line per parameter
  set), each metric's train / validation (/ test) curve of the selected set with the selected
  iteration marked, the selected set's metrics per segment (a segment that was not computed --
  no test window -- is said so, not shown as numbers), and the selected parameters.
* ``amm walk-forward`` (``walk_forward.json`` + ``cycle_000/<run_id>/`` ...): the verdict and
  summary (undefined values with their reason), the cycle table (train/test dates, IS / OOS
  metric, WFE, gap, Rademacher, adjusted OOS Sharpe, iterations), the IS-vs-OOS bars, the
  chosen parameters per cycle and each cycle's objective curve.

Every function reads files only through the callers' warning list: an unreadable file is a
warning in the page, never an exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.reporting import plots
from algotrader.reporting.model import Figure, Section, Table, fmt

__all__ = [
    "TRAIN_KINDS",
    "is_train_run",
    "is_walk_forward_run",
    "train_sections",
    "walk_forward_sections",
]

Reader = Callable[[Path, list[str]], Any]
_SEGMENTS = ("train", "val", "test")
_SEGMENT_NAMES = {"train": "train", "val": "validation", "test": "test"}


#: Manifest kinds of trainer run folders.
TRAIN_KINDS = ("train", "amm-train")


def is_train_run(run_dir: Path) -> bool:
    """A folder written by the trainer (``result.json`` + a history or Optuna trials)."""
    return (run_dir / "result.json").is_file() and (
        (run_dir / "history").is_dir()
        or (run_dir / "history.parquet").is_file()
        or (run_dir / "trials.parquet").is_file()
    )


def is_walk_forward_run(doc: Any) -> bool:
    """``walk_forward.json`` of ``amm walk-forward`` (cycles with ``is``/``oos`` metric maps)."""
    cycles = doc.get("cycles") if isinstance(doc, dict) else None
    return (
        isinstance(cycles, list)
        and bool(cycles)
        and all(isinstance(c, dict) and isinstance(c.get("is"), dict) for c in cycles)
    )


def _read_json(path: Path, warnings: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        warnings.append(f"could not read {path.name}: {exc}")
        return None


def _read_history(run_dir: Path, warnings: list[str]) -> pl.DataFrame | None:
    """The run's history (appended parts or the legacy single file); None if it has none."""
    from algotrader.training.runs import RunPaths, read_history

    try:
        frame = read_history(RunPaths(run_dir))
    except (OSError, pl.exceptions.PolarsError) as exc:
        warnings.append(f"could not read the history of {run_dir.name}: {exc}")
        return None
    return frame if frame.height else None


def _metric_names(history: pl.DataFrame) -> list[str]:
    names: list[str] = []
    for col in history.columns:
        for seg in _SEGMENTS:
            if col.startswith(f"{seg}_") and col[len(seg) + 1 :] not in names:
                names.append(col[len(seg) + 1 :])
    return names


def _finite(frame: pl.DataFrame, col: str) -> bool:
    if col not in frame.columns:
        return False
    v = frame[col].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return bool(np.isfinite(v).any())


def _selection_metric(run_dir: Path, warnings: list[str], names: Sequence[str]) -> str | None:
    cfg = (
        _read_json(run_dir / "config.json", warnings) if (run_dir / "config.json").exists() else {}
    )
    settings = (cfg or {}).get("optimisation_settings") or {}
    for key in ("selection_metric", "early_stopping_metric", "return_val"):
        value = settings.get(key)
        if isinstance(value, str) and value in names:
            return value
    return None


def _curves(history: pl.DataFrame, result: Mapping[str, Any], metric_order: list[str]) -> Section:
    sec = Section(
        "training",
        "Training: objective and validation curves",
        "The objective is what gradient ascent maximised on the training windows; the metric "
        "curves are the selected parameter set's metrics on the training span and on the "
        "validation holdout (and the test span when the run has one) at each iteration.",
    )
    its = history["iteration"].to_numpy()
    sets = sorted(set(history["set"].to_list())) if "set" in history.columns else [0]
    obj: dict[str, np.ndarray] = {}
    x = np.unique(its)
    for s in sets[:8]:
        part = history.filter(pl.col("set") == s) if "set" in history.columns else history
        obj[f"set {s}"] = part.sort("iteration")["objective"].cast(pl.Float64).to_numpy()
    if obj and all(v.size == x.size for v in obj.values()):
        sec.figures.append(
            Figure(
                "Objective per iteration",
                plots.lines_plot(x, obj, title="Training objective", ylabel="objective"),
                f"{len(sets)} parameter set(s)" + ("; the first 8 drawn" if len(sets) > 8 else ""),
            )
        )
    best_set = int(result.get("best_set", sets[0] if sets else 0))
    best_it = result.get("best_iteration")
    part = history.filter(pl.col("set") == best_set) if "set" in history.columns else history
    part = part.sort("iteration")
    px = part["iteration"].to_numpy()
    for m in metric_order:
        series = {
            _SEGMENT_NAMES[seg]: part[f"{seg}_{m}"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            for seg in _SEGMENTS
            if _finite(part, f"{seg}_{m}")
        }
        if not series:
            continue
        caption = f"set {best_set}"
        if isinstance(best_it, int):
            caption += f"; selected at iteration {best_it}"
        sec.figures.append(
            Figure(
                f"{m}: train vs validation",
                plots.lines_plot(px, series, title=m, ylabel=m, marker=best_it),
                caption,
            )
        )
    return sec


def _trials_section(path: Path, warnings: list[str]) -> Section | None:
    """Optuna: each trial's objective value(s) in trial order, with the running best."""
    try:
        trials = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        warnings.append(f"could not read {path.name}: {exc}")
        return None
    cols = [c for c in trials.columns if c.startswith("value") and trials.schema[c].is_numeric()]
    if not cols or trials.height == 0:
        return None
    x = np.arange(trials.height)
    series = {c: trials[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in cols}
    first = series[cols[0]]
    series["best so far"] = np.fmax.accumulate(np.where(np.isfinite(first), first, -np.inf))
    sec = Section("training", "Optuna search: objective per trial")
    sec.figures.append(
        Figure("Objective per trial", plots.lines_plot(x, series, title="Optuna trials"))
    )
    return sec


def _segment_table(result: Mapping[str, Any], no_test_reason: str) -> Table | None:
    best = result.get("best_metrics")
    if not isinstance(best, dict) or not best:
        return None
    segs = [s for s in _SEGMENTS if s in best] + [s for s in best if s not in _SEGMENTS]
    computed = {
        s: any(isinstance(v, int | float) and math.isfinite(v) for v in (best[s] or {}).values())
        for s in segs
    }
    shown = [s for s in segs if computed[s]]
    names = sorted({m for s in shown for m in (best[s] or {})})
    rows = [[m] + [fmt((best[s] or {}).get(m)) for s in shown] for m in names]
    missing = [s for s in segs if not computed[s]]
    note = ""
    if missing:
        why = no_test_reason if missing == ["test"] else "no finite value was computed"
        note = f"not computed: {', '.join(_SEGMENT_NAMES.get(s, s) for s in missing)} ({why})"
    return Table(
        f"Selected set {result.get('best_set', '?')} at iteration "
        f"{result.get('best_iteration', '?')}",
        ["metric", *[_SEGMENT_NAMES.get(s, s) for s in shown]],
        rows,
        note=note,
    )


def _params_table(path: Path, warnings: list[str]) -> Table | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            params = {k: np.atleast_1d(np.asarray(data[k], dtype=np.float64)) for k in data.files}
    except (OSError, ValueError) as exc:
        warnings.append(f"could not read {path.name}: {exc}")
        return None
    rows = [[k, ", ".join(fmt(float(x), 4) for x in v.ravel())] for k, v in sorted(params.items())]
    return Table("Selected parameters (raw)", ["parameter", "values"], rows, note=path.name)


def train_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    """Sections of one trainer run folder (``amm train``)."""
    result = _read_json(run_dir / "result.json", warnings) or {}
    history = _read_history(run_dir, warnings)
    out: list[Section] = []
    if history is not None and history.height and "iteration" in history.columns:
        names = _metric_names(history)
        first = _selection_metric(run_dir, warnings, names)
        order = ([first] if first else []) + [n for n in names if n != first]
        out.append(_curves(history, result, order))
    elif (run_dir / "trials.parquet").is_file():
        trials = _trials_section(run_dir / "trials.parquet", warnings)
        if trials is not None:
            out.append(trials)
    cfg = (
        _read_json(run_dir / "config.json", warnings) if (run_dir / "config.json").exists() else {}
    )
    run_cfg = (cfg or {}).get("run_config") or {}
    no_test = (
        "the configuration has no endTestDateString, so there is no test window"
        if isinstance(run_cfg, dict) and run_cfg.get("endTestDateString") is None
        else "no finite test value"
    )
    sec = Section("selection", "Training: the selected parameter set")
    table = _segment_table(result, no_test)
    if table is not None:
        sec.tables.append(table)
    if (run_dir / "params_best.npz").exists():
        params = _params_table(run_dir / "params_best.npz", warnings)
        if params is not None:
            sec.tables.append(params)
    facts = [
        (k, fmt(result.get(k)))
        for k in ("iterations_run", "stopped_early", "compile_count", "seconds")
        if k in result
    ]
    if facts:
        sec.tables.append(Table("Run", ["item", "value"], [list(f) for f in facts]))
    out.append(sec)
    return out


def _cell(value: Any, note: str | None, refs: list[str]) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return fmt(float(value), 4)
    if note:
        if note not in refs:  # one footnote per distinct reason
            refs.append(note)
        return f"n/a [{refs.index(note) + 1}]"
    return "n/a"


def walk_forward_sections(
    run_dir: Path, doc: Mapping[str, Any], warnings: list[str]
) -> list[Section]:
    """Sections of an ``amm walk-forward`` folder from its ``walk_forward.json``."""
    cycles = [c for c in doc.get("cycles", []) if isinstance(c, dict)]
    metric = str(doc.get("wfe_metric") or "daily_sharpe")
    out: list[Section] = []
    verdict = Section(
        "walk-forward-summary",
        "Walk-forward: verdict and summary",
        "Each cycle trains on its training span only (validation carved from its end) and is "
        "judged on the next segment, which its training never read; cycles warm-start from the "
        "previous cycle's selection.",
    )
    effective = doc.get("effective")
    reasons = doc.get("reasons") or []
    rows = [
        [
            "verdict",
            "effective"
            if effective
            else "not effective" + (": " + "; ".join(map(str, reasons)) if reasons else ""),
        ]
    ]
    notes = {**(doc.get("summary_notes") or {}), **(doc.get("metric_notes") or {})}
    for key, value in {**(doc.get("summary") or {}), **(doc.get("metrics") or {})}.items():
        if isinstance(value, float) and value.is_integer() and str(key).startswith("n_"):
            value = int(value)
        shown = fmt(value, 4) if value is not None else "n/a"
        if value is None and notes.get(key):
            shown += f" ({notes[key]})"
        rows.append([str(key), shown])
    verdict.tables.append(Table("Summary", ["item", "value"], rows))
    out.append(verdict)

    sec = Section("walk-forward", "Walk-forward cycles")
    refs: list[str] = []
    table_rows = []
    for c in cycles:
        span = c.get("span") or {}
        cn = c.get("notes") or {}
        train = (
            f"{span.get('train_first', span.get('train_start'))} .. "
            f"{span.get('train_last', span.get('train_end'))}"
        ).replace("T", " ")
        test = (
            f"{span.get('test_first', span.get('test_start'))} .. "
            f"{span.get('test_last', span.get('test_end'))}"
        ).replace("T", " ")
        table_rows.append(
            [
                str(c.get("cycle", span.get("cycle", "?"))),
                str(c.get("folder", "")),
                train,
                test,
                _cell((c.get("is") or {}).get(metric), None, refs),
                _cell((c.get("oos") or {}).get(metric), None, refs),
                _cell(c.get("wfe"), cn.get("wfe"), refs),
                _cell(c.get("is_oos_gap"), cn.get("is_oos_gap"), refs),
                _cell(c.get("rademacher"), cn.get("rademacher"), refs),
                _cell(c.get("adjusted_oos_sharpe"), cn.get("adjusted_oos_sharpe"), refs),
                fmt(c.get("iterations_run")),
                fmt(c.get("best_iteration")),
            ]
        )
    sec.tables.append(
        Table(
            f"Per-cycle results ({metric}; WFE = OOS / IS)",
            [
                "cycle",
                "folder",
                "train (UTC)",
                "test (UTC)",
                f"IS {metric}",
                f"OOS {metric}",
                "WFE",
                "IS - OOS",
                "Rademacher",
                "adj. OOS Sharpe",
                "iterations",
                "selected at",
            ],
            table_rows,
            note=" ".join(f"[{i + 1}] {r}." for i, r in enumerate(refs)),
        )
    )
    ins = np.array([_num((c.get("is") or {}).get(metric)) for c in cycles])
    oos = np.array([_num((c.get("oos") or {}).get(metric)) for c in cycles])
    if cycles:
        sec.figures.append(
            Figure(
                f"{metric}: in-sample vs out-of-sample",
                plots.is_oos_plot(
                    [str(c.get("cycle", i)) for i, c in enumerate(cycles)], ins, oos, metric=metric
                ),
            )
        )
    params = [c.get("params") or {} for c in cycles]
    cols = sorted(
        {
            f"{k}[{j}]" if len(v) > 1 else k
            for p in params
            for k, v in p.items()
            for j in range(len(v))
        }
    )
    if cols:
        prow = []
        for c, p in zip(cycles, params, strict=True):
            flat = {}
            for k, v in p.items():
                for j, x in enumerate(v):
                    flat[f"{k}[{j}]" if len(v) > 1 else k] = x
            prow.append([str(c.get("cycle", "?"))] + [fmt(_num(flat.get(col)), 4) for col in cols])
        sec.tables.append(Table("Chosen parameters per cycle (raw)", ["cycle", *cols], prow))
    curves = _cycle_curves(run_dir, cycles, warnings)
    if curves is not None:
        sec.figures.append(curves)
    out.append(sec)
    return out


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


def _cycle_curves(
    run_dir: Path, cycles: Sequence[Mapping[str, Any]], warnings: list[str]
) -> Figure | None:
    """The selected set's objective per iteration, one line per cycle."""
    series: dict[str, np.ndarray] = {}
    x: np.ndarray | None = None
    for c in cycles:
        found = sorted((run_dir / str(c.get("folder", ""))).glob("*/result.json"))
        folder = found[0].parent if found and c.get("folder") else None
        rd = c.get("run_dir")
        if folder is None and rd and Path(str(rd)).is_dir():
            folder = Path(str(rd))
        if folder is None:
            continue
        h = _read_history(folder, warnings)
        if h is None or "objective" not in h.columns:
            continue
        g = h.group_by("iteration").agg(pl.col("objective").mean()).sort("iteration")
        its = g["iteration"].to_numpy()
        if x is None:
            x = its
        if its.size != x.size:
            continue
        series[f"cycle {c.get('cycle', '?')}"] = g["objective"].cast(pl.Float64).to_numpy()
    if x is None or not series:
        return None
    return Figure(
        "Training objective per cycle",
        plots.lines_plot(x, series, title="Objective per iteration (mean over sets)"),
    )
