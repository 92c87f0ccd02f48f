"""Render a :class:`~algotrader.reporting.model.ReportData` to one self-contained HTML file.

Jinja2 with autoescaping on: every user-controlled string (asset names, config values, file
paths) is escaped; images are ``data:`` URIs; the page loads no script, font or stylesheet from
anywhere.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from algotrader.io import write_text_atomic
from algotrader.reporting.model import ReportData

__all__ = ["render_html", "write_report"]


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("algotrader.reporting", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: ReportData, *, generated: str | None = None) -> str:
    """The report as an HTML string."""
    try:
        version = importlib.metadata.version("algotrader")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed
        version = "dev"
    template = _env().get_template("report.html.j2")
    return template.render(
        report=report,
        sections=[s for s in report.sections if not s.empty],
        version=version,
        generated=generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(report: ReportData, out: str | os.PathLike[str]) -> Path:
    """Render and write atomically to ``out``."""
    return write_text_atomic(out, render_html(report))
