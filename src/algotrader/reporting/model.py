"""What a report holds: sections of figures and tables, the run's identity and a glossary.

Values are plain data; :mod:`algotrader.reporting.render` turns them into HTML with every string
autoescaped. Numbers are formatted here, once, so every report reads the same.

Example:
    >>> t = Table("m", ["metric", "value"], [["sharpe", fmt(1.23456)]])
    >>> t.rows[0][1]
    '1.235'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Figure", "HeatCell", "Heatmap", "ReportData", "Section", "Table", "fmt", "pct"]


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a table: ``n/a`` for None/NaN, fixed digits, thousands separators."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "n/a" if math.isnan(x) else ("inf" if x > 0 else "-inf")
        if abs(x) >= 1e5:
            return f"{x:,.0f}"
        return f"{x:.{digits}f}"
    text = str(x)
    if len(text) >= 19 and text[10] == "T" and text[4] == "-" and text[11:19] == "00:00:00":
        return text[:10]
    return text


def pct(x: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``n/a`` for None/NaN)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{100.0 * float(x):.{digits}f}%"


@dataclass(frozen=True)
class Figure:
    """One embedded image (``uri`` is a data: URI) with a caption."""

    title: str
    uri: str
    caption: str = ""


@dataclass(frozen=True)
class Table:
    """A real HTML table; ``hints`` maps a first-column cell to its definition (hover)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    hints: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeatCell:
    """One heatmap cell: its text and a background colour ``rgb(r,g,b)`` made from numbers."""

    text: str
    color: str


@dataclass(frozen=True)
class Heatmap:
    """Monthly returns: rows (years) x 12 months + the year's total."""

    title: str
    columns: list[str]
    rows: list[tuple[str, list[HeatCell]]]


@dataclass
class Section:
    """One titled part of the report."""

    id: str
    title: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    heatmaps: list[Heatmap] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the section has nothing to show."""
        return not (self.figures or self.tables or self.heatmaps or self.intro)


@dataclass
class ReportData:
    """The whole report of one run directory."""

    title: str
    kind: str
    run_dir: str
    identity: list[tuple[str, str]] = field(default_factory=list)
    config_json: str = ""
    sections: list[Section] = field(default_factory=list)
    glossary: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
