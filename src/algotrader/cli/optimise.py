"""``algotrader optimise``: run the correlation-aware optimiser on wide CSV/Parquet files.

Writes into ``--out`` (see :mod:`algotrader.portfolio.io` for the tables and the rule):

* the optimiser's tables: ``cash_position``, ``risk_position``, ``vola``, ``status`` and
  ``position_currency`` (``.csv`` + ``.parquet``);
* the three files every family writes, from the one evaluation path
  (:func:`algotrader.backtest.evaluate_weights`, the default pipeline's rule): ``returns.parquet``
  (``date``, ``gross_return``, ``net_return``, ``turnover``, ``costs``,
  ``benchmark_hodl`` / ``benchmark_uniform_hodl`` / ``benchmark_equal_weight_rebalanced``),
  ``metrics.json`` (every metric with its definition and ``periods_per_year``) and
  ``run_manifest.json`` (``kind: optimise``);
* ``weights.parquet`` (the backtest's realised weights), ``summary.json`` (status counts,
  NAV status, ``performance`` = the ``metrics.json`` document, signal quality, timings);
* ``optimise.png``: value with the uniform-HODL benchmark, drawdown in %, weights;
* with ``--report``, ``report.html``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from algotrader.cli._common import FoldingTable, make_table, state
from algotrader.cli._runs import report_option, write_cli_manifest


class Mode(StrEnum):
    """How the rows are processed."""

    batch = "batch"
    stream = "stream"


def _metric(summary: dict[str, Any], name: str) -> float | None:
    perf = summary.get("performance") or {}
    entry = (perf.get("metrics") or {}).get(name) or {}
    value = entry.get("value")
    return float(value) if isinstance(value, int | float) else None


def _table(summary: dict[str, Any]) -> FoldingTable:
    table = make_table("Optimiser")
    table.add_column("item")
    table.add_column("value", justify="right")
    perf = summary.get("performance") or {}

    def num(name: str, spec: str) -> str:
        value = _metric(summary, name)
        return "n/a" if value is None else format(value, spec)

    ppy = perf.get("periods_per_year")
    rows = [
        ("mode", str(summary["mode"])),
        ("rows x assets", f"{summary['rows']} x {len(summary['assets'])}"),
        ("status", ", ".join(f"{k}={v}" for k, v in summary["status_counts"].items())),
        (f"sharpe (net, P/yr {ppy:.1f})" if ppy else "sharpe", num("sharpe", ".3f")),
        ("total return (net)", num("total_return", ".2%")),
        ("max drawdown", num("max_drawdown", ".2%")),
        ("annualised turnover", num("annualised_turnover", ".4g")),
        ("costs", f"{perf['total_costs']:,.2f}" if perf else "n/a"),
        ("seconds", str(summary["timings_s"]["optimise"])),
    ]
    note = (summary.get("book") or {}).get("note")
    if note:
        rows.append(("evaluation", f"not written: {note}"))
    missing = summary.get("missing") or {}
    if missing.get("price_cells"):  # NaN policy: gaps are shown, never silent (docs/errors.md)
        first = missing["first_price"]
        rows.insert(
            3,
            (
                "missing prices",
                f"{missing['price_cells']} in {missing['price_rows']} rows "
                f"(first: row {first['row']}, column {first['column']}; no position there)",
            ),
        )
    nav = summary.get("nav_status") or {"status": "ok"}
    if nav["status"] != "ok":
        rows.insert(
            3,
            ("NAV", f"[bold red]{nav['status']}[/] at row {nav['row']} ({nav['date']})"),
        )
    for item, value in rows:
        table.add_row(item, value)
    return table


def _plot(out: Path, run: Any) -> Path | None:
    """``optimise.png`` from the shared evaluation (value, uniform HODL, realised weights)."""
    from algotrader.cli._plots import plot_optimise

    ev = run.evaluated.evaluation
    if ev is None or ev.backtest is None:
        return None
    return plot_optimise(
        out / "optimise.png",
        ev.dates,
        ev.values,
        ev.benchmarks["uniform_hodl"],
        ev.backtest.weights,
        list(run.tables.assets),
    )


def _stream_total(prices: Path, config: Path, warmup_rows: int | None) -> int | None:
    """Rows the stream mode steps through (rows - warm-up), for the progress bar's total."""
    import polars as pl

    from algotrader.errors import AlgotraderError
    from algotrader.portfolio.config import load_config

    # Only the progress bar's total: an unreadable file or config is reported, with its
    # location, by the run itself right after, so here it just leaves the total open.
    try:
        scan = pl.scan_parquet(prices) if prices.suffix == ".parquet" else pl.scan_csv(prices)
        rows = int(scan.select(pl.len()).collect().item())
        k = warmup_rows if warmup_rows is not None else load_config(config).warmup_rows + 1
    except (OSError, pl.exceptions.PolarsError, AlgotraderError):
        return None
    return max(rows - k, 0)


def optimise(
    prices: Path = typer.Option(..., "--prices", help="Wide prices: date + one column per asset."),
    signal: Path = typer.Option(..., "--signal", help="Wide signal mu, same dates and assets."),
    config: Path = typer.Option(..., "--config", help="Optimiser config (YAML)."),
    out: Path = typer.Option(..., "--out", help="Output folder (created if needed)."),
    mode: Mode = typer.Option(
        Mode.batch, "--mode", help="batch: one pass; stream: warm-up + steps."
    ),
    warmup_rows: int | None = typer.Option(
        None,
        "--warmup-rows",
        help="Stream mode: rows fed to from_warmup (default: the config's warm-up + 1).",
    ),
    report: bool = report_option(),
) -> None:
    """Positions, vola and status per row; returns, metrics and manifest; summary.json."""
    from algotrader.artifacts import now_utc
    from algotrader.portfolio.io import run_optimise  # heavy: imported when the stage runs

    st = state()
    started = now_utc()
    total = 1 if mode is Mode.batch else _stream_total(prices, config, warmup_rows)
    with st.progress() as prog:
        task = prog.add_task(f"optimise ({mode.value})", total=total)
        run = run_optimise(
            prices,
            signal,
            config,
            out,
            mode=mode.value,
            warmup_rows=warmup_rows,
            progress=lambda n: prog.advance(task, n),
        )
        done = max(int(prog.tasks[0].completed), 1)
        prog.update(task, total=done, completed=done)
    summary = run.summary
    st.console.print(_table(summary))
    png = _plot(out, run)
    if png is not None:
        st.console.print(f"plot: {png}", markup=False, highlight=False, soft_wrap=True)
    write_cli_manifest(
        out,
        "optimise",
        {"optimiser": summary["config"], "mode": mode.value, "warmup_rows": warmup_rows},
        {"prices": prices, "signal": signal, "config": config},
        timings=summary.get("timings_s"),
        started_at=started,
        extra={
            "periods_per_year": (summary.get("performance") or {}).get("periods_per_year"),
            "nav_status": summary.get("nav_status"),
        },
    )
    nav = summary.get("nav_status") or {"status": "ok"}
    if nav["status"] != "ok":
        st.console.print(f"[bold red]{nav['status']}[/]: {nav['hint']}", highlight=False)
    st.console.print(f"outputs in {out}", markup=False, highlight=False, soft_wrap=True)
    st.console.print(
        f"backtest them: algotrader backtest --weights {out / 'position_currency.csv'} "
        f"--positions --initial-value {summary['config']['aum']:g} --prices {prices} --out <dir>",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    from algotrader.cli._runs import finish_report

    finish_report(out, report)


def register(app: typer.Typer) -> None:
    """Add the ``optimise`` command."""
    app.command("optimise")(optimise)
