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
        if c != dcol
        and frame.schema[c].is_numeric()
        and c not in ("gross", "gross_return", "outer_fold", "fold", "turnover", "costs", "cost")
    ]
    main = next((c for c in ("net", "net_return", "strategy", "chosen") if c in numeric), None)
    order = ([main] if main else []) + [c for c in numeric if c != main]
    series = {
        (label if c == main else c): frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        for c in order
    }
    return dates, series


def _stored_metrics(metrics: Any, title: str) -> Table | None:
    if not isinstance(metrics, dict):
        return None
    rows: list[list[str]] = []
    hints: dict[str, str] = {}
    for name, entry in metrics.items():
        if isinstance(entry, dict) and "value" in entry:
            rows.append([str(name), fmt(entry.get("value"))])
            if entry.get("definition"):
                hints[str(name)] = str(entry["definition"])
        elif isinstance(entry, int | float) or entry is None:
            rows.append([str(name), fmt(entry)])
    if not rows:
        return None
    return Table(title, ["metric", "value"], rows, hints=hints)


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


def _family_sections(
    run_dir: Path, label: str, warnings: list[str], prefix: str = ""
) -> list[Section]:
    out: list[Section] = []
    rpath = run_dir / "returns.parquet"
    metrics = (
        _json(run_dir / "metrics.json", warnings) if (run_dir / "metrics.json").exists() else None
    )
    if rpath.exists():
        frame = _table(rpath, warnings)
        if frame is not None and frame.height > 2:
            dates, series = _returns_from(frame, label)
            ppy = None
            if isinstance(metrics, dict):
                ppy = metrics.get("periods_per_year") or (metrics.get("_meta") or {}).get(
                    "periods_per_year"
                )
            ppy = float(ppy) if isinstance(ppy, int | float) else periods_per_year_of(dates)
            w = _weights(run_dir, warnings)
            turnover = frame["turnover"].to_numpy() if "turnover" in frame.columns else None
            costs = next(
                (frame[c].to_numpy() for c in ("costs", "cost") if c in frame.columns), None
            )
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
    stored = _stored_metrics(
        metrics.get("metrics", metrics) if isinstance(metrics, dict) else None,
        "Metrics recorded by the run",
    )
    if stored is not None:
        out.append(Section(f"{prefix}recorded", f"{label}: recorded metrics", tables=[stored]))
    if isinstance(metrics, dict):
        over = {
            k: v
            for k, v in (metrics.get("metrics", metrics)).items()
            if k
            in (
                "psr",
                "dsr",
                "pbo",
                "n_trials",
                "deflated_sharpe",
                "probabilistic_sharpe",
                "min_track_record_length",
                "wfe",
                "walk_forward_efficiency",
            )
        }
        flat = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in over.items()}
        if flat:
            logits = metrics.get("pbo_logits")
            out.append(
                S.overfitting_section(
                    flat, pbo_logits=None if logits is None else np.asarray(logits, float)
                )
            )
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


def _simulate_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    out = _family_sections(
        run_dir / "outer", "chosen strategy (outer walk-forward)", warnings, "outer-"
    )
    folds = sorted((run_dir / "outer").glob("outer_*/result.json"))
    rows = []
    for f in folds:
        res = _json(f, warnings)
        if not isinstance(res, dict):
            continue
        row: dict[str, Any] = {"fold": f.parent.name}
        for k in ("candidate_id", "chosen_candidate", "test_start", "test_end"):
            if k in res:
                row[k] = res[k]
        m = res.get("metrics") or {}
        for k in ("sharpe", "is_sharpe", "oos_sharpe", "inner_score", "wfe"):
            v = m.get(k) if isinstance(m, dict) else None
            if isinstance(v, dict):
                v = v.get("value")
            if v is not None:
                row[k] = v
        params = res.get("params") or res.get("chosen_params")
        if isinstance(params, dict):
            row["params"] = params
        rows.append(row)
    if rows:
        out.append(S.walk_forward_section(rows, title="Outer folds: chosen candidates"))
    scores = []
    for p in sorted((run_dir / "inner").glob("outer_*/scores.parquet")):
        frame = _table(p, warnings)
        if frame is not None and "score" in frame.columns:
            scores.append(frame["score"].cast(pl.Float64).to_numpy())
    if scores:
        out.append(
            S.cpcv_section(np.concatenate(scores), title="Inner CPCV split scores (all folds)")
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
    else:
        report.sections += _family_sections(run_dir, kind, warnings)
        cycles = _walk_forward_rows(run_dir, warnings)
        if cycles:
            report.sections.append(S.walk_forward_section(cycles))
    figs = _images(run_dir, embedded)
    if figs:
        report.sections.append(Section("figures", "Figures written by the run", figures=figs))
    from algotrader.metrics.registry import REGISTRY

    report.glossary = [(n, REGISTRY[n].definition) for n in S.HEADLINE if n in REGISTRY]
    return report


def _pipeline_sections(run_dir: Path, warnings: list[str]) -> list[Section]:
    out: list[Section] = []
    families = sorted(
        p for p in run_dir.iterdir() if p.is_dir() and (p / "returns.parquet").exists()
    )
    comparison: dict[str, np.ndarray] = {}
    dates_ref: np.ndarray | None = None
    for fam in families:
        out += _family_sections(fam, fam.name, warnings, prefix=f"{fam.name}-")
    summary = (
        _json(run_dir / "summary.json", warnings) if (run_dir / "summary.json").exists() else None
    )
    if isinstance(summary, dict):
        table = summary.get("comparison")
        if isinstance(table, list) and table and isinstance(table[0], dict):
            cols = list(table[0])
            out.insert(
                0,
                Section(
                    "comparison",
                    "Families compared",
                    tables=[
                        Table(
                            "One table, same definitions and periods_per_year",
                            cols,
                            [[fmt(r.get(c)) for c in cols] for r in table],
                        )
                    ],
                ),
            )
    del comparison, dates_ref
    return out
