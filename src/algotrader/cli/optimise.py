"""``algotrader optimise``: run the correlation-aware optimiser on wide CSV/Parquet files.

Besides the optimiser's tables and ``summary.json`` (:func:`algotrader.portfolio.io.optimise_files`)
the command writes, for people and for ``algotrader report``:

* ``returns.parquet``: ``date``, ``net_return`` (NAV_t / NAV_(t-1) - 1 of the optimiser's own
  analytics, costs included, the first row against ``aum``; rows end before the NAV first
  crosses zero, the ``nav_status`` of ``summary.json``), ``turnover`` (traded currency /
  NAV before the row), ``costs`` (currency) and two benchmarks on the same prices:
  ``benchmark_equal_weight_hodl`` (equal cash per asset on the first row, then held) and
  ``benchmark_equal_weight_rebalanced`` (the mean of the assets' returns each row);
* ``weights.parquet``: ``date`` + position (currency) / NAV per asset;
* ``optimise.png``: NAV with the equal-weight buy-and-hold benchmark, drawdown in %, weights;
* ``run_manifest.json`` (``kind: optimise``), and with ``--report`` ``report.html``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer

from algotrader.cli._common import FoldingTable, make_table, state
from algotrader.cli._runs import report_option, write_cli_manifest


class Mode(StrEnum):
    """How the rows are processed."""

    batch = "batch"
    stream = "stream"


def _table(summary: dict[str, Any]) -> FoldingTable:
    table = make_table("Optimiser")
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


def _report_tables(out: Path, prices: Path, summary: dict[str, Any]) -> Path | None:
    """``returns.parquet``, ``weights.parquet`` and ``optimise.png`` from the written tables.

    NAV, turnover and costs are the optimiser's own analytics
    (:func:`algotrader.portfolio.analytics.analyse`), so the report and ``summary.json`` agree.
    Returns the PNG path, or ``None`` when the prices do not line up with the positions.
    """
    import polars as pl

    from algotrader.cli._plots import plot_optimise
    from algotrader.io import write_parquet_atomic
    from algotrader.portfolio.analytics import analyse
    from algotrader.portfolio.io import read_frame

    cfg = summary["config"]
    cash_frame = pl.read_parquet(out / "cash_position.parquet")
    assets = [c for c in cash_frame.columns if c != "date"]
    px_frame = read_frame(prices)
    if px_frame.height != cash_frame.height or px_frame.height < 2:
        return None
    px = px_frame.select(assets).to_numpy().astype(np.float64)
    cash = cash_frame.select(assets).to_numpy().astype(np.float64)
    aum = float(cfg["aum"])
    perf = analyse(
        cash,
        px,
        aum=aum,
        position_scale=float(cfg.get("position_scale", 1.0)),
        cost_per_unit=float(cfg.get("cost_per_unit", 0.0)),
        periods_per_year=float(summary["performance"].get("periods_per_year") or 252.0),
    )
    nav = np.asarray(perf.nav, dtype=np.float64)
    before = np.concatenate([[aum], nav[:-1]])  # NAV before each row's trading
    held = np.nan_to_num(cash) * float(cfg.get("position_scale", 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        net = np.where(before > 0, nav / before - 1.0, np.nan)
        rel = px / px[0]
        bench_hodl_value = np.nanmean(rel, axis=1)
        bench_hodl = np.concatenate([[0.0], bench_hodl_value[1:] / bench_hodl_value[:-1] - 1.0])
        asset_ret = np.vstack([np.zeros((1, px.shape[1])), px[1:] / px[:-1] - 1.0])
        bench_rebal = np.nanmean(np.where(np.isfinite(asset_ret), asset_ret, np.nan), axis=1)
        turnover = np.where(before > 0, np.asarray(perf.turnover) / before, np.nan)
        weights = np.where(nav[:, None] > 0, held / nav[:, None], np.nan)
    dates = cash_frame["date"]
    returns = pl.DataFrame(
        {
            "date": dates,
            "net_return": net,
            "turnover": turnover,
            "costs": np.asarray(perf.costs, dtype=np.float64),
            "benchmark_equal_weight_hodl": bench_hodl,
            "benchmark_equal_weight_rebalanced": np.nan_to_num(bench_rebal),
        }
    )
    bust = np.flatnonzero(~(nav > 0))
    if bust.size:  # the book is bust from that row on: returns end where NAV was last > 0
        returns = returns.head(int(bust[0]))
    write_parquet_atomic(out / "returns.parquet", returns)
    write_parquet_atomic(
        out / "weights.parquet",
        pl.DataFrame({"date": dates, **{a: weights[:, j] for j, a in enumerate(assets)}}),
    )
    return plot_optimise(
        out / "optimise.png", dates.to_numpy(), nav, aum * bench_hodl_value, weights, assets
    )


def _stream_total(prices: Path, config: Path, warmup_rows: int | None) -> int | None:
    """Rows the stream mode steps through (rows - warm-up), for the progress bar's total."""
    import polars as pl

    from algotrader.portfolio.config import load_config

    try:
        scan = pl.scan_parquet(prices) if prices.suffix == ".parquet" else pl.scan_csv(prices)
        rows = int(scan.select(pl.len()).collect().item())
        k = warmup_rows if warmup_rows is not None else load_config(config).warmup_rows + 1
    except Exception:
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
    """Cash/risk positions, vola and status per row, as CSV + Parquet, and summary.json."""
    from algotrader.artifacts import now_utc
    from algotrader.portfolio.io import optimise_files  # heavy: imported when the stage runs

    st = state()
    started = now_utc()
    total = 1 if mode is Mode.batch else _stream_total(prices, config, warmup_rows)
    with st.progress() as prog:
        task = prog.add_task(f"optimise ({mode.value})", total=total)
        summary = optimise_files(
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
    st.console.print(_table(summary))
    png = _report_tables(out, prices, summary)
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
            "periods_per_year": summary["performance"].get("periods_per_year"),
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
