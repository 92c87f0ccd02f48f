"""Read a run directory into :class:`~algotrader.reporting.model.ReportData`.

The kind of run is read from its manifest (``run_manifest.json`` / ``manifest.json``: ``kind``)
or, for older folders, recognised from the files it holds. What each kind contributes:

| files in the run directory | section |
|---|---|
| ``returns.parquet`` (``date``, ``net`` [, ``gross``], benchmark columns) | performance: headline metrics vs benchmarks, equity, drawdown, rolling, monthly heatmap |
| ``weights.parquet`` / ``weights.csv`` / ``cash_position.csv`` (wide) | weights over time |
| ``metrics.json`` | the run's own metrics with definitions; overfitting statistics |
| ``cycles.*`` / ``walk_forward.json`` / ``summary.json`` with cycles | walk-forward cycle table, IS vs OOS |
| ``outer/returns.parquet``, ``outer/metrics.json``, ``outer/outer_*/result.json``, ``inner/outer_*/scores.parquet`` | nested-CV: outer equity vs baselines, per-fold choices, CPCV score distribution, PSR/DSR/PBO |
| ``*.png`` anywhere below (diagnostics, fan charts, PIT, coverage, loss curves) | figures written by the run |
| sub-folders that are runs themselves (the default pipeline) | one section per family + comparison table |
| ``summary.json`` of ``optimise`` | the optimiser's summary (status counts, the shared evaluation's metrics, NAV status) |
| ``values.parquet`` of ``backtest`` (value, costs, turnover, benchmark value paths) | performance vs the benchmarks, turnover and costs |
| ``history.parquet`` + ``result.json`` of ``amm train`` | objective and train/validation curves, selected set and parameters |
| ``walk_forward.json`` of ``amm walk-forward`` (+ ``cycle_000/...``) | verdict, cycle table with reasons for undefined values, IS vs OOS, chosen parameters |

Kinds written by the CLI (``run_manifest.json``): ``optimise``, ``backtest``, ``amm-run``,
``amm-train``, ``amm-walk-forward``; ``simulate`` and ``pipeline`` folders are recognised too.

Unknown or unreadable files are reported as warnings in the page, never silently skipped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrader.errors import DataError
from algotrader.reporting import sections as S
from algotrader.reporting import training as T
from algotrader.reporting.model import Figure, ReportData, Section, Table, fmt
from algotrader.reporting.style import png_to_uri

__all__ = ["detect_kind", "load_run", "periods_per_year_of"]

logger = logging.getLogger(__name__)

_MANIFESTS = ("run_manifest.json", "manifest.json")
_WEIGHT_FILES = (
    "weights.parquet",
    "weights.csv",
    "positions.parquet",
    "cash_position.parquet",
    "cash_position.csv",
)
_DATE_COLS = ("date", "timestamp")
_MAX_IMAGES = 40
_NOT_SERIES = (
    "gross",
    "gross_return",
    "outer_fold",
    "outer_k",
    "fold",
    "turnover",
    "costs",
    "cost",
)


def _json(path: Path, warnings: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        warnings.append(f"could not read {path.name}: {exc}")
        return None


def _table(path: Path, warnings: list[str]) -> pl.DataFrame | None:
    try:
        return (
            pl.read_parquet(path)
            if path.suffix == ".parquet"
            else pl.read_csv(path, try_parse_dates=True)
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        warnings.append(f"could not read {path.name}: {exc}")
        return None


def _manifest(run_dir: Path, warnings: list[str]) -> dict[str, Any]:
    for name in _MANIFESTS:
        p = run_dir / name
        if p.exists():
            m = _json(p, warnings)
            if isinstance(m, dict):
                return m
    return {}


def detect_kind(run_dir: Path, manifest: dict[str, Any]) -> str:
    """The run kind: the manifest's ``kind`` or one recognised from the files."""
    kind = manifest.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    if (run_dir / "cv" / "cv_structure.json").exists() or (run_dir / "outer").is_dir():
        return "simulate"
    if (run_dir / "walk_forward.json").exists():
        return "amm-walk-forward"
    if T.is_train_run(run_dir):
        return "amm-train"
    if (run_dir / "per_step.parquet").exists() and (run_dir / "metrics.json").exists():
        return "amm-run"
    if (run_dir / "summary.json").exists() and (run_dir / "cash_position.parquet").exists():
        return "optimise"
    if (run_dir / "values.parquet").exists() and (run_dir / "metrics.json").exists():
        return "backtest"
    if (run_dir / "summary.json").exists() and any(p.is_dir() for p in run_dir.iterdir()):
        return "pipeline"
    if (run_dir / "summary.json").exists():
        return "pipeline"
    if (run_dir / "returns.parquet").exists():
        return "run"
    if any(run_dir.rglob("*.png")):
        return "run"
    raise DataError(
        "not a run directory: no manifest, returns table or known result files",
        file=str(run_dir),
        hint="point `algotrader report` at a folder written by optimise/backtest/amm/simulate",
    )


def _dates(frame: pl.DataFrame) -> tuple[np.ndarray, str]:
    col = next((c for c in _DATE_COLS if c in frame.columns), None)
    if col is None:
        raise DataError("table has no date column", column="date")
    s = frame[col]
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        s = s.dt.replace_time_zone(None)
    if s.dtype == pl.Utf8:
        s = s.str.to_datetime()
    return s.to_numpy().astype("datetime64[us]"), col


def periods_per_year_of(dates: np.ndarray) -> float:
    """Periods a year from the data's own calendar: 365.25 days / median spacing in days."""
    d = np.asarray(dates).astype("datetime64[s]").astype(np.int64)
    if d.size < 2:
        return 252.0
    gap = float(np.median(np.diff(d))) / 86400.0
    if gap <= 0:
        return 252.0
    ppy = 365.25 / gap
    # trading-day calendars: Mon-Fri rows (median gap 1 day) are 252 a year, not 365
    if 0.9 <= gap <= 1.1:
        weekend = np.mean(np.diff(d) / 86400.0 > 1.5)
        return 252.0 if weekend > 0.1 else 365.0
    return ppy


def _returns_from(frame: pl.DataFrame, label: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    dates, dcol = _dates(frame)
    numeric = [
        c
        for c in frame.columns
        if c != dcol and frame.schema[c].is_numeric() and c not in _NOT_SERIES
    ]
    main = next((c for c in ("net", "net_return", "strategy", "chosen") if c in numeric), None)
    order = ([main] if main else []) + [c for c in numeric if c != main]

    def label_of(c: str) -> str:
        return label if c == main else c.removeprefix("benchmark_")

    series = {label_of(c): frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in order}
    return dates, series


def _value(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, dict) else entry


def _metric_columns(metrics: dict[str, Any], label: str) -> dict[str, dict[str, Any]]:
    """``{column: {metric: value-or-{value, definition}}}`` from either metrics.json layout.

    Harness layout: ``metrics`` (+ ``benchmarks`` by name); nested-CV layout: ``chosen`` (+
    ``baselines`` by name).
    """
    main = metrics.get("metrics", metrics.get("chosen"))
    cols: dict[str, dict[str, Any]] = {}
    nested = (
        isinstance(main, dict)
        and bool(main)
        and all(
            isinstance(v, dict) and v and all(isinstance(e, dict) for e in v.values())
            for v in main.values()
        )
    )
    if nested and isinstance(main, dict):  # backtest: {"strategy": {metric: {...}}, "hodl": ...}
        for name in sorted(main, key=lambda n: (n != "strategy", n)):
            cols[label if name == "strategy" else str(name)] = main[name]
        return cols
    if isinstance(main, dict):
        cols[label] = main
    for key in ("benchmarks", "baselines"):
        bench = metrics.get(key)
        if isinstance(bench, dict):
            cols.update({str(k): v for k, v in bench.items() if isinstance(v, dict)})
    return cols


def _stored_metrics(metrics: Any, label: str) -> Table | None:
    if not isinstance(metrics, dict):
        return None
    cols = _metric_columns(metrics, label)
    if not cols:
        return None
    names = list(
        dict.fromkeys(
            n
            for c in cols.values()
            for n, v in c.items()
            if isinstance(_value(v), int | float) or _value(v) is None
        )
    )
    hints = {
        n: str(v["definition"])
        for c in cols.values()
        for n, v in c.items()
        if isinstance(v, dict) and v.get("definition")
    }
    rows = [[n] + [fmt(_value(c.get(n))) if n in c else "" for c in cols.values()] for n in names]
    ppy = metrics.get("periods_per_year")
    note = f"as written by the run; periods_per_year = {fmt(ppy)}" if ppy is not None else ""
    return Table(
        "Metrics recorded by the run (strategy and benchmarks)",
        ["metric", *cols],
        rows,
        note=note,
        hints=hints,
    )


_OVERFIT_KEYS = (
    ("psr", "psr"),
    ("probabilistic_sharpe", "psr"),
    ("dsr", "dsr"),
    ("deflated_sharpe", "dsr"),
    ("dsr_n_trials", "n_trials"),
    ("n_trials", "n_trials"),
    ("min_track_record_length", "min_track_record_length"),
    ("wfe_mean", "wfe"),
    ("wfe", "wfe"),
)


def _overfitting_stats(metrics: dict[str, Any]) -> dict[str, Any]:
    main = metrics.get("metrics", metrics.get("chosen"))
    places = [metrics] + ([main] if isinstance(main, dict) else [])
    out: dict[str, Any] = {}
    for src, dst in _OVERFIT_KEYS:
        for where in places:
            if src in where and dst not in out:
                out[dst] = _value(where[src])
    pbo = metrics.get("pbo")
    if isinstance(pbo, dict) and "pbo" in pbo:
        out["pbo"] = pbo["pbo"]
    elif pbo is not None:
        out["pbo"] = _value(pbo)
    return out


def _pbo_logits(run_dir: Path, metrics: dict[str, Any], warnings: list[str]) -> np.ndarray | None:
    """The CSCV logits: stored ones, or recomputed from the candidates' outer returns."""
    if isinstance(metrics.get("pbo_logits"), list):
        return np.asarray(metrics["pbo_logits"], dtype=np.float64)
    path = run_dir / "candidate_returns.parquet"
    pbo = metrics.get("pbo")
    if not path.exists() or not isinstance(pbo, dict) or "n_blocks" not in pbo:
        return None
    frame = _table(path, warnings)
    if frame is None:
        return None
    cols = [c for c in frame.columns if c.startswith("c") and c[1:].isdigit()]
    from algotrader.metrics.pbo import probability_of_backtest_overfitting

    mat = frame.select(cols).cast(pl.Float64).to_numpy()
    res = probability_of_backtest_overfitting(mat, n_blocks=int(pbo["n_blocks"]))
    if not np.isclose(res.pbo, float(pbo["pbo"])):
        warnings.append(f"recomputed PBO {res.pbo:.4f} differs from the recorded {pbo['pbo']}")
    return np.asarray(res.logits, dtype=np.float64)


def _weights(run_dir: Path, warnings: list[str]) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    for name in _WEIGHT_FILES:
        p = run_dir / name
        if p.exists():
            frame = _table(p, warnings)
            if frame is None:
                return None
            try:
                dates, dcol = _dates(frame)
            except DataError:
                return None
            assets = [c for c in frame.columns if c != dcol and frame.schema[c].is_numeric()]
            w = frame.select(assets).cast(pl.Float64).fill_null(np.nan).to_numpy()
            return dates, assets, w
    return None


def _images(run_dir: Path, exclude: set[Path]) -> list[Figure]:
    figs = []
    for p in sorted(run_dir.rglob("*.png"))[:_MAX_IMAGES]:
        if p in exclude or any(part.startswith(".") for part in p.parts):
            continue
        figs.append(Figure(str(p.relative_to(run_dir)), png_to_uri(p.read_bytes())))
    return figs


def _aligned_weights(
    w: tuple[np.ndarray, list[str], np.ndarray] | None, dates: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """Weights on exactly the returns' dates when the weights table covers them."""
    if w is None or w[0].shape == dates.shape:
        return w
    keep = np.isin(w[0], dates)
    if int(keep.sum()) == dates.size and np.array_equal(w[0][keep], dates):
        return dates, w[1], w[2][keep]
    return w


def _backtest_returns(path: Path, warnings: list[str]) -> pl.DataFrame | None:
    """The common returns layout from a backtest's ``values.parquet`` (value paths)."""
    frame = _table(path, warnings)
    if frame is None or "value" not in frame.columns or frame.height < 3:
        return None
    v = frame["value"].cast(pl.Float64).to_numpy()
    before = v[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cols: dict[str, Any] = {
            "date": frame["date"][1:],
            "net_return": v[1:] / before - 1.0,
        }
        if "turnover" in frame.columns:
            cols["turnover"] = frame["turnover"].cast(pl.Float64).to_numpy()[1:]
        if "costs" in frame.columns:
            cols["costs"] = frame["costs"].cast(pl.Float64).to_numpy()[1:]
        skip = {"date", "value", "cash", "pnl", "costs", "turnover"}
        for c in frame.columns:
            if c not in skip and frame.schema[c].is_numeric():
                b = frame[c].cast(pl.Float64).to_numpy()
                cols[f"benchmark_{c}"] = b[1:] / b[:-1] - 1.0
    return pl.DataFrame(cols)


def _optimise_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    """The optimiser's own summary: rows per status, its analytics, the NAV status."""
    summary = (
        _json(run_dir / "summary.json", warnings) if (run_dir / "summary.json").exists() else None
    )
    if not isinstance(summary, dict):
        return []
    rows: list[list[str]] = [
        ["mode", fmt(summary.get("mode"))],
        ["rows x assets", f"{summary.get('rows')} x {len(summary.get('assets') or [])}"],
        [
            "rows per status",
            ", ".join(f"{k}={v}" for k, v in (summary.get("status_counts") or {}).items()),
        ],
    ]
    nav = summary.get("nav_status") or {}
    if nav.get("status") not in (None, "ok"):
        rows.append(
            ["NAV status", f"{nav.get('status')} at row {nav.get('row')} ({nav.get('date')})"]
        )
        warnings.append(f"NAV status {nav.get('status')}: {nav.get('hint', '')}")
    perf = summary.get("performance") or {}
    if isinstance(perf.get("metrics"), dict):  # the shared evaluation's document
        rows.append(["periods per year", fmt(perf.get("periods_per_year"))])
        for k, v in perf["metrics"].items():
            rows.append([f"evaluation: {k}", fmt(_value(v))])
    else:  # an older folder: the optimiser's own analytics (flat figures)
        for k, v in perf.items():
            rows.append([f"optimiser analytics: {k}", fmt(v)])
    for k, v in (summary.get("book") or {}).items():
        if isinstance(v, int | float | str) or v is None:
            rows.append([f"book: {k}", fmt(v)])
    for k, v in (summary.get("signal_quality_h1") or {}).items():
        if isinstance(v, int | float) or v is None:
            rows.append([f"signal quality (1 row ahead): {k}", fmt(v)])
    return [
        Section(
            "optimiser",
            "Optimiser summary",
            "As written to summary.json by the optimiser: status counts, NAV status and the "
            "shared evaluation of its positions (weights cash x position_scale / aum, traded "
            "one row later, the one cost model).",
            tables=[Table("summary.json", ["item", "value"], rows)],
        )
    ]


def _family_sections(
    run_dir: Path,
    label: str,
    warnings: list[str],
    prefix: str = "",
    ppy_hint: float | None = None,
) -> list[Section]:
    out: list[Section] = []
    rpath = run_dir / "returns.parquet"
    metrics = (
        _json(run_dir / "metrics.json", warnings) if (run_dir / "metrics.json").exists() else None
    )
    frame = None
    if (run_dir / "values.parquet").exists():
        frame = _backtest_returns(run_dir / "values.parquet", warnings)
    if frame is None and rpath.exists():
        frame = _table(rpath, warnings)
    if ppy_hint is not None and isinstance(metrics, dict) and "periods_per_year" not in metrics:
        metrics = {**metrics, "periods_per_year": ppy_hint}
    if frame is not None and frame.height > 2:
        dates, series = _returns_from(frame, label)
        ppy: Any = ppy_hint
        if isinstance(metrics, dict):
            ppy = metrics.get("periods_per_year") or (metrics.get("_meta") or {}).get(
                "periods_per_year"
            )
        ppy = float(ppy) if isinstance(ppy, int | float) else periods_per_year_of(dates)
        w = _aligned_weights(_weights(run_dir, warnings), dates)
        turnover = frame["turnover"].to_numpy() if "turnover" in frame.columns else None
        costs = next((frame[c].to_numpy() for c in ("costs", "cost") if c in frame.columns), None)
        sec = S.performance_section(
            dates,
            series,
            periods_per_year=ppy,
            weights=None if w is None or w[0].shape != dates.shape else w[2],
            assets=None if w is None else w[1],
            turnover=turnover,
            costs=costs,
            section_id=f"{prefix}performance",
            title=f"{label}: performance",
        )
        out.append(sec)
        if w is not None and w[0].shape != dates.shape:
            extra = Section(f"{prefix}weights", f"{label}: weights")
            from algotrader.reporting import plots

            extra.figures.append(Figure("Weights / positions", plots.weights_plot(*w)))
            out.append(extra)
    stored = _stored_metrics(metrics, label)
    if stored is not None:
        out.append(Section(f"{prefix}recorded", f"{label}: recorded metrics", tables=[stored]))
    if isinstance(metrics, dict):
        flat = _overfitting_stats(metrics)
        if flat:
            sec = S.overfitting_section(flat, pbo_logits=_pbo_logits(run_dir, metrics, warnings))
            sec.id = f"{prefix}overfitting"
            sec.title = f"{label}: overfitting"
            out.append(sec)
    return out


def _identity(run_dir: Path, manifest: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    rows = [("run directory", str(run_dir)), ("kind", kind)]
    for key in ("run_id", "started_at", "finished_at", "host"):
        if manifest.get(key):
            rows.append((key, str(manifest[key])))
    for group in ("inputs", "seeds", "versions", "timings"):
        value = manifest.get(group)
        if isinstance(value, dict) and value:
            rows.append(
                (
                    group,
                    ", ".join(
                        f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in value.items()
                    ),
                )
            )
    return rows


def _fold_row(res: dict[str, Any], name: str) -> dict[str, Any]:
    row: dict[str, Any] = {"fold": res.get("outer_k", name)}
    for key, label in (("candidate_id", "candidate"), ("chosen_candidate", "candidate")):
        if key in res:
            row[label] = res[key]
    if res.get("first_date") or res.get("last_date"):
        row["test"] = (
            f"{str(res.get('first_date', ''))[:10]} .. {str(res.get('last_date', ''))[:10]}"
        )
    for key, label in (
        ("inner_aggregate", "inner score"),
        ("inner_score", "inner score"),
        ("outer_score", "outer score"),
    ):
        if key in res and label not in row:
            row[label] = res[key]
    m = res.get("metrics")
    if isinstance(m, dict):
        for k in ("sharpe", "total_return", "max_drawdown", "total_costs"):
            if k in m:
                row[k] = _value(m[k])
    params = res.get("candidate_params", res.get("params", res.get("chosen_params")))
    if isinstance(params, dict):
        row["params"] = params
    return row


def _simulate_sections(run_dir: Path, warnings: list[str], prefix: str = "") -> list[Section]:
    out = _family_sections(
        run_dir / "outer", "chosen (outer walk-forward)", warnings, f"{prefix}outer-"
    )
    rows = []
    for f in sorted(
        (run_dir / "outer").glob("outer_*/result.json"),
        key=lambda p: (
            int(p.parent.name.split("_")[-1]) if p.parent.name.split("_")[-1].isdigit() else 0
        ),
    ):
        res = _json(f, warnings)
        if isinstance(res, dict):
            rows.append(_fold_row(res, f.parent.name))
    if rows:
        sec = S.walk_forward_section(rows, title="Outer folds: the candidate each fold chose")
        sec.id = f"{prefix}folds"
        sec.intro = (
            "Each outer fold is tuned on its own inner purged CPCV splits only and then "
            "evaluated on its test block, which no tuning step saw."
        )
        out.append(sec)
    scores = []
    for p in sorted((run_dir / "inner").glob("outer_*/scores.parquet")):
        frame = _table(p, warnings)
        if frame is not None and "score" in frame.columns:
            scores.append(frame["score"].cast(pl.Float64).to_numpy())
    if scores:
        sec = S.cpcv_section(np.concatenate(scores), title="Inner CPCV split scores (all folds)")
        sec.id = f"{prefix}cpcv"
        out.append(sec)
    return out


def _amm_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    """Pool value vs HODL of the initial reserves and the weights path (``amm run`` tables)."""
    path = next(
        (run_dir / n for n in ("daily.parquet", "per_step.parquet") if (run_dir / n).exists()), None
    )
    if path is None:
        return []
    frame = _table(path, warnings)
    if frame is None or "value" not in frame.columns or "unix" not in frame.columns:
        return []
    tokens = [c.removeprefix("weight_") for c in frame.columns if c.startswith("weight_")]
    if not tokens or not all(
        f"price_{t}" in frame.columns and f"reserve_{t}" in frame.columns for t in tokens
    ):
        return []
    from algotrader.reporting import plots

    dates = (frame["unix"].to_numpy() // 1000).astype("datetime64[s]").astype("datetime64[us]")
    value = frame["value"].cast(pl.Float64).to_numpy()
    prices = frame.select([f"price_{t}" for t in tokens]).cast(pl.Float64).to_numpy()
    reserves0 = frame.select([f"reserve_{t}" for t in tokens]).cast(pl.Float64).to_numpy()[0]
    hodl = prices @ reserves0
    weights = frame.select([f"weight_{t}" for t in tokens]).cast(pl.Float64).to_numpy()
    sec = Section(
        "pool",
        "AMM pool: value vs HODL and weights",
        "HODL holds the pool's initial reserves; the pool's value includes its fees.",
    )
    sec.figures.append(
        Figure(
            "Pool value vs HODL",
            plots.lines_plot(
                dates, {"pool": value, "HODL (initial reserves)": hodl}, title="Pool value vs HODL"
            ),
        )
    )
    sec.figures.append(Figure("Weights path", plots.weights_plot(dates, tokens, weights)))
    out = [sec]
    if dates.size > 3:
        rets = {"pool": value[1:] / value[:-1] - 1.0, "hodl": hodl[1:] / hodl[:-1] - 1.0}
        out.append(
            S.performance_section(
                dates[1:],
                rets,
                periods_per_year=periods_per_year_of(dates),
                section_id="pool-performance",
                title="AMM pool: performance (daily values)",
            )
        )
    return out


def _walk_forward_rows(run_dir: Path, warnings: list[str]) -> list[dict[str, Any]]:
    for name in ("cycles.parquet", "cycles.csv", "walk_forward.json", "cycles.json"):
        p = run_dir / name
        if not p.exists():
            continue
        if p.suffix == ".json":
            data = _json(p, warnings)
            cycles = data.get("cycles") if isinstance(data, dict) else data
            return [c for c in (cycles or []) if isinstance(c, dict)]
        frame = _table(p, warnings)
        return [] if frame is None else frame.to_dicts()
    return []


def load_run(run_dir: str | Path) -> ReportData:
    """Everything the report shows for ``run_dir``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError("run directory not found", file=str(run_dir))
    warnings: list[str] = []
    manifest = _manifest(run_dir, warnings)
    kind = detect_kind(run_dir, manifest)
    report = ReportData(
        title=str(manifest.get("title") or f"{kind}: {run_dir.name}"),
        kind=kind,
        run_dir=str(run_dir),
        warnings=warnings,
    )
    report.identity = _identity(run_dir, manifest, kind)
    if manifest.get("config"):
        report.config_json = json.dumps(manifest["config"], indent=2, sort_keys=True, default=str)
    embedded: set[Path] = set()
    if kind in ("simulate", "simulation"):
        report.sections += _simulate_sections(run_dir, warnings)
    elif kind == "pipeline":
        report.sections += _pipeline_sections(run_dir, warnings)
    elif kind in T.TRAIN_KINDS or (kind != "amm-walk-forward" and T.is_train_run(run_dir)):
        report.sections += T.train_sections(run_dir, warnings)
    elif kind == "amm-walk-forward" and T.is_walk_forward_run(wf_doc := _wf_doc(run_dir, warnings)):
        report.sections += T.walk_forward_sections(run_dir, wf_doc, warnings)
    else:
        extra = manifest.get("extra")
        hint = extra.get("periods_per_year") if isinstance(extra, dict) else None
        label = "strategy" if kind in ("optimise", "backtest") else kind
        report.sections += _amm_sections(run_dir, warnings)
        if kind == "optimise":
            report.sections += _optimise_sections(run_dir, warnings)
        report.sections += _family_sections(
            run_dir,
            label,
            warnings,
            ppy_hint=float(hint) if isinstance(hint, int | float) else None,
        )
        cycles = _walk_forward_rows(run_dir, warnings)
        if cycles:
            report.sections.append(S.walk_forward_section(cycles))
    figs = _images(run_dir, embedded)
    if figs:
        report.sections.append(Section("figures", "Figures written by the run", figures=figs))
    from algotrader.metrics.registry import REGISTRY

    if any(t.hints for sec in report.sections for t in sec.tables):  # a metrics table shown
        report.glossary = [(n, REGISTRY[n].definition) for n in S.HEADLINE if n in REGISTRY]
    return report


def _wf_doc(run_dir: Path, warnings: list[str]) -> dict[str, Any]:
    path = run_dir / "walk_forward.json"
    doc = _json(path, warnings) if path.exists() else None
    return doc if isinstance(doc, dict) else {}


def _pipeline_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    out: list[Section] = []
    summary = (
        _json(run_dir / "summary.json", warnings) if (run_dir / "summary.json").exists() else None
    )
    families = (
        (summary or {}).get("steps", {}).get("compare", {}).get("families")
        if isinstance(summary, dict)
        else None
    )
    if isinstance(families, dict) and families:
        cols = list(dict.fromkeys(k for v in families.values() if isinstance(v, dict) for k in v))
        rows = [
            [name] + [fmt(v.get(c)) if isinstance(v, dict) else "" for c in cols]
            for name, v in families.items()
        ]
        out.append(
            Section(
                "comparison",
                "Families compared",
                tables=[
                    Table(
                        "Every family on the shared evaluation path (same metrics, same periods_per_year rule)",
                        ["family", *cols],
                        rows,
                    )
                ],
            )
        )
    for fam in sorted(
        p for p in run_dir.iterdir() if p.is_dir() and (p / "returns.parquet").exists()
    ):
        out += _family_sections(fam, fam.name, warnings, prefix=f"{fam.name}-")
    for sim in sorted(run_dir.rglob("cv/cv_structure.json")):
        folder = sim.parent.parent
        out += _simulate_sections(folder, warnings, prefix=f"{folder.name}-")
    return out
