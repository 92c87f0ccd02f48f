"""``algotrader optimise``: run the correlation-aware optimiser on wide CSV/Parquet files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from algotrader.cli._common import state


class Mode(StrEnum):
    """How the rows are processed."""

    batch = "batch"
    stream = "stream"


def _table(summary: dict[str, Any]) -> Table:
    table = Table(title="Optimiser", title_justify="left")
    table.add_column("item")
    table.add_column("value", justify="right")
    perf = summary["performance"]
    rows = [
        ("mode", str(summary["mode"])),
        ("rows x assets", f"{summary['rows']} x {len(summary['assets'])}"),
        ("status", ", ".join(f"{k}={v}" for k, v in summary["status_counts"].items())),
        ("sharpe", f"{perf['sharpe']:.3f}" if perf["sharpe"] is not None else "n/a"),
        (
            "max drawdown",
            f"{perf['max_drawdown']:.2%}" if perf["max_drawdown"] is not None else "n/a",
        ),
        ("mean turnover", f"{perf['mean_turnover']:.4g}"),
        ("seconds", str(summary["timings_s"]["optimise"])),
    ]
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


def _plot(out: Path, prices: Path, aum: float) -> Path | None:
    """``optimise.png`` from the written tables (NAV without costs, as the analytics)."""
    import numpy as np
    import polars as pl

    from algotrader.cli._plots import plot_optimise
    from algotrader.portfolio.io import read_frame

    pos_frame = pl.read_parquet(out / "position_currency.parquet")
    assets = [c for c in pos_frame.columns if c != "date"]
    px = read_frame(prices).select(assets).to_numpy().astype(np.float64)
    if px.shape[0] != pos_frame.height or px.shape[0] < 2:
        return None
    pos = np.nan_to_num(pos_frame.select(assets).to_numpy().astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = np.nan_to_num(px[1:] / px[:-1] - 1.0)
        nav = aum + np.concatenate([[0.0], np.cumsum(np.sum(pos[:-1] * rets, axis=1))])
        bench = aum * np.nanmean(px / px[0], axis=1)
        weights = pos / nav[:, None]
    return plot_optimise(
        out / "optimise.png", pos_frame["date"].to_numpy(), nav, bench, weights, assets
    )


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
) -> None:
    """Cash/risk positions, vola and status per row, as CSV + Parquet, and summary.json."""
    from algotrader.portfolio.io import optimise_files  # heavy: imported when the stage runs

    st = state()
    with st.progress() as prog:
        task = prog.add_task(f"optimise ({mode.value})", total=1 if mode is Mode.batch else None)
        summary = optimise_files(
            prices,
            signal,
            config,
            out,
            mode=mode.value,
            warmup_rows=warmup_rows,
            progress=lambda n: prog.advance(task, n),
        )
        prog.update(
            task, total=prog.tasks[0].completed or 1, completed=prog.tasks[0].completed or 1
        )
    st.console.print(_table(summary))
    png = _plot(out, prices, float(summary["config"]["aum"]))
    if png is not None:
        st.console.print(f"plot: {png}", highlight=False, soft_wrap=True)
    nav = summary.get("nav_status") or {"status": "ok"}
    if nav["status"] != "ok":
        st.console.print(f"[bold red]{nav['status']}[/]: {nav['hint']}", highlight=False)
    st.console.print(f"outputs in [bold]{out}[/]", highlight=False)
    st.console.print(
        f"backtest them: algotrader backtest --weights {out / 'position_currency.csv'} "
        f"--positions --initial-value {summary['config']['aum']:g} --prices {prices} --out <dir>",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``optimise`` command."""
    app.command("optimise")(optimise)
