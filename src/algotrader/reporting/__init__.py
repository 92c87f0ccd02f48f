"""Self-contained HTML reports of runs: ``build_report(run_dir) -> report.html``.

Plots with matplotlib (SVG, text as paths), HTML from a Jinja2 template with autoescaping,
everything embedded: the file opens offline, loads nothing from the network, and prints.

Example:
    >>> import tempfile, pathlib, numpy as np, polars as pl, datetime as dt
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    >>> r = np.random.default_rng(0).normal(0, 0.01, 60)
    >>> pl.DataFrame({"date": days, "net": r, "hodl": r * 0.5}).write_parquet(d / "returns.parquet")
    >>> out = build_report(d)
    >>> out.name, "<script" in out.read_text()
    ('report.html', False)
"""

from __future__ import annotations

import os
from pathlib import Path

from algotrader.reporting.load import detect_kind, load_run
from algotrader.reporting.model import ReportData
from algotrader.reporting.render import render_html, write_report

__all__ = ["ReportData", "build_report", "detect_kind", "load_run", "render_html", "write_report"]


def build_report(
    run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``run_dir/report.html`` (or ``out``) for the run in ``run_dir``; return its path."""
    target = Path(out) if out is not None else Path(run_dir) / "report.html"
    return write_report(load_run(Path(run_dir)), target)
