"""Default-pipeline step: one comparison table of every family and the benchmarks.

Reads ``ctx.results["evaluations"]`` (each family step appends its
:class:`~algotrader.backtest.evaluate.Evaluation`). Every row uses the same registered
metric definitions and the same periods-per-year rule
(:func:`algotrader.backtest.periods_per_year`). The table lists each distinct value path
once: the families first, then the benchmarks (uniform HODL, equal weight rebalanced, and
HODL of a family's first holdings), each computed on the dates of the family it came from.
A benchmark whose path equals a row already listed on the same dates (the ``equal_weight``
family *is* the equal-weight benchmark on its dates; HODL of an equal-weight start *is*
uniform HODL) is left out, and the summary's ``rows`` records what it duplicated. Every row
names its date range; where the families' ranges differ the title says so and each range
gets its own benchmark rows.

Example:
    >>> import numpy as np
    >>> from algotrader.backtest.evaluate import evaluate_value_series
    >>> d = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
    >>> ev = evaluate_value_series(
    ...     d, [1.0, 1.1, 1.21], {"uniform_hodl": [1.0, 1.0, 1.1], "hodl": [1.0, 1.0, 1.1]},
    ...     name="x")
    >>> [(r.label, r.same_as) for r in table_rows([ev])]
    [('x', ()), ('  uniform HODL', ('  x: HODL',))]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algotrader.artifacts import json_ready
from algotrader.backtest.evaluate import PERIODS_RULE, Evaluation
from algotrader.pipeline import PipelineContext, StepResult

__all__ = ["METRICS", "TableRow", "comparison_table", "run", "same_series", "table_rows"]

METRICS: tuple[str, ...] = ("total_return", "annualised_return", "sharpe", "max_drawdown")

#: benchmark order: the price-only ones first, so HODL of a uniform start is dropped
_ORDER = ("uniform_hodl", "equal_weight_rebalanced", "hodl")
_LABEL = {"uniform_hodl": "uniform HODL", "equal_weight_rebalanced": "equal weight"}
#: relative tolerance of two value paths (normalised to start at 1) being one series
RTOL = 1e-9


@dataclass(frozen=True)
class TableRow:
    """One row of the comparison table: a value path on its dates and its metrics.

    ``same_as``: labels of the series left out because they equal this one.
    """

    label: str
    kind: str  # "family" or "benchmark"
    dates: NDArray[np.datetime64]
    values: NDArray[np.float64]
    periods_per_year: float
    metrics: Mapping[str, float]
    same_as: tuple[str, ...] = ()

    @property
    def span(self) -> str:
        """``first..last`` date of the row (days)."""
        first, last = (str(np.datetime64(d, "D")) for d in (self.dates[0], self.dates[-1]))
        return f"{first}..{last}"


def same_series(
    dates_a: NDArray[np.datetime64],
    a: NDArray[np.float64],
    dates_b: NDArray[np.datetime64],
    b: NDArray[np.float64],
) -> bool:
    """True when both are one value path: same dates, values equal after scaling to 1 at
    the start (relative tolerance :data:`RTOL`)."""
    if dates_a.shape != dates_b.shape or not np.array_equal(dates_a, dates_b):
        return False
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or not (x[0] and y[0]):
        return False
    x, y = x / x[0], y / y[0]
    both_nan = np.isnan(x) & np.isnan(y)
    return bool(np.all(both_nan | np.isclose(x, y, rtol=RTOL, atol=0.0)))


def table_rows(evaluations: Sequence[Evaluation]) -> list[TableRow]:
    """Every distinct series once: the families, then their benchmarks (see the module)."""
    rows: list[TableRow] = []

    def add(row: TableRow) -> None:
        for i, old in enumerate(rows):
            if same_series(old.dates, old.values, row.dates, row.values):
                rows[i] = TableRow(**{**old.__dict__, "same_as": (*old.same_as, row.label)})
                return
        rows.append(row)

    for ev in evaluations:
        add(TableRow(ev.name, "family", ev.dates, ev.values, ev.periods_per_year, ev.metrics))
    for ev in evaluations:
        names = [b for b in _ORDER if b in ev.benchmarks]
        names += sorted(set(ev.benchmarks) - set(_ORDER))
        for b in names:
            label = f"  {ev.name}: HODL" if b == "hodl" else f"  {_LABEL.get(b, b)}"
            metrics = ev.benchmark_metrics.get(b, {})
            add(
                TableRow(
                    label, "benchmark", ev.dates, ev.benchmarks[b], ev.periods_per_year, metrics
                )
            )
    return rows


def comparison_table(
    evaluations: Sequence[Evaluation], names: Sequence[str] = METRICS
) -> tuple[str, list[str], list[list[str]], list[TableRow]]:
    """Title, header, formatted rows and the :class:`TableRow` objects behind them."""
    rows = table_rows(evaluations)

    def fmt(v: float | None) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:+.4f}"

    spans = {r.span for r in rows if r.kind == "family"}
    title = "Comparison: every family and the benchmarks, each series once (net of costs; "
    title += f"P/yr = {PERIODS_RULE})"
    if len(spans) > 1:
        title += (
            f"; the families cover {len(spans)} different date ranges: "
            "each range has its own benchmark rows"
        )
    header = ["run", "dates", "P/yr", *names]
    body = [
        [r.label, r.span, f"{r.periods_per_year:.2f}", *(fmt(r.metrics.get(n)) for n in names)]
        for r in rows
    ]
    return title, header, body, rows


def run(ctx: PipelineContext) -> StepResult:
    """Build the one comparison table."""
    evaluations = ctx.results.get("evaluations", [])
    title, header, body, rows = comparison_table(evaluations, METRICS)
    summary: dict[str, Any] = {
        "periods_per_year_rule": PERIODS_RULE,
        "families": {
            ev.name: {
                "periods_per_year": ev.periods_per_year,
                "start": str(ev.dates[0]),
                "end": str(ev.dates[-1]),
                **{m: ev.metrics.get(m) for m in METRICS},
            }
            for ev in evaluations
        },
        "rows": [
            {"label": r.label.strip(), "kind": r.kind, "dates": r.span, "same_as": r.same_as}
            for r in rows
        ],
    }
    return StepResult(name="compare", summary=json_ready(summary), tables=[(title, header, body)])
