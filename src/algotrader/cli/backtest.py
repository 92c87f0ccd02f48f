"""``algotrader backtest``: weights (or cash positions) x prices -> tables, metrics, plot.

Besides the backtester's artifacts (:func:`algotrader.backtest.report.backtest_files`) the
command writes ``weights.parquet`` (the realised post-trade weights per asset),
``run_manifest.json`` (``kind: backtest``) and, with ``--report``, ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from algotrader.cli._common import make_table, state
from algotrader.cli._runs import finish_report, report_option, write_cli_manifest

_SHOWN = (
    "total_return",
    "annualised_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "annualised_turnover",
    "returns_over_uniform_hodl",
)


def _check_lag(lag: int, weights: Path) -> None:
    """Refuse a lag below 0 or one that leaves no decision executed, naming the data length."""
    import polars as pl

    from algotrader.errors import ConfigError

    if lag < 0:
        raise ConfigError(f"--lag must be >= 0, got {lag}", key="lag", hint="1 = trade next bar")
    if not weights.is_file():
        return  # the reader reports the missing file
    scan = pl.scan_parquet(weights) if weights.suffix == ".parquet" else pl.scan_csv(weights)
    try:
        rows = int(scan.select(pl.len()).collect().item())
    except pl.exceptions.PolarsError:
        return  # the reader reports the unreadable file
    if lag >= rows:
        raise ConfigError(
            f"--lag {lag} leaves no decision executed: {weights} has {rows} rows",
            file=str(weights),
            key="lag",
            hint=f"use a lag below {rows} (1 = trade on the next bar)",
        )


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command."""

    @app.command("backtest")
    def backtest_cmd(
        weights: Path = typer.Option(
            ..., "--weights", help="Decisions table (date + one column per asset), CSV or Parquet."
        ),
        prices: Path = typer.Option(..., "--prices", help="Prices table, same dates and assets."),
        out: Path = typer.Option(..., "--out", help="Folder for the artifacts."),
        costs: Path | None = typer.Option(
            None, "--costs", help="Cost model YAML (see docs/evaluation.md)."
        ),
        lag: int = typer.Option(
            1,
            "--lag",
            help="Bars between a decision (row t, data up to t's close) and its execution (close of t+lag).",
        ),
        periods_per_year: float = typer.Option(
            252.0, "--periods-per-year", help="Rows per year, for annualisation."
        ),
        initial_value: float = typer.Option(1.0, "--initial-value", help="Starting cash."),
        positions: bool = typer.Option(
            False, "--positions", help="The table holds cash positions per asset, not weights."
        ),
        report: bool = report_option(),
    ) -> None:
        """Backtest a table of weights (fractions of NAV) against prices, with costs."""
        import time

        from algotrader.artifacts import now_utc
        from algotrader.backtest.report import backtest_files

        st = state()
        started, t0 = now_utc(), time.perf_counter()
        _check_lag(lag, weights)
        rep = backtest_files(
            weights=weights,
            prices=prices,
            out_dir=out,
            costs=costs,
            lag=lag,
            periods_per_year=periods_per_year,
            initial_value=initial_value,
            kind="positions" if positions else "weights",
        )
        seconds = time.perf_counter() - t0
        _write_weights(out, rep)
        write_cli_manifest(
            out,
            "backtest",
            {
                "lag": lag,
                "periods_per_year": periods_per_year,
                "initial_value": initial_value,
                "kind": "positions" if positions else "weights",
            },
            {"weights": weights, "prices": prices, **({"costs": costs} if costs else {})},
            timings={"backtest": round(seconds, 4)},
            started_at=started,
            extra={"periods_per_year": periods_per_year},
        )
        names = [n for n in rep.metrics]
        table = make_table("backtest metrics")
        table.add_column("metric")
        for n in names:
            table.add_column(n, justify="right")
        for metric in _SHOWN:
            row = [metric]
            for n in names:
                cell = rep.metrics[n].get(metric)
                row.append("-" if cell is None or cell["value"] is None else f"{cell['value']:.4f}")
            table.add_row(*row)
        st.console.print(table)
        st.console.print(f"artifacts in {out}", markup=False, highlight=False, soft_wrap=True)
        finish_report(out, report)


def _write_weights(out: Path, rep: Any) -> Path:
    """``weights.parquet``: date + the realised post-trade weight of each asset."""
    import json

    import polars as pl

    from algotrader.io import write_parquet_atomic

    dates = pl.read_parquet(out / "values.parquet", columns=["date"])["date"]
    doc = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    w = rep.result.weights
    names = [str(a) for a in doc["inputs"]["assets"]]
    return write_parquet_atomic(
        out / "weights.parquet",
        pl.DataFrame({"date": dates, **{a: w[:, j] for j, a in enumerate(names)}}),
    )
