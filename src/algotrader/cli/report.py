"""``algotrader report RUN_DIR``: one self-contained HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from algotrader.cli._common import state


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command(
        "report",
        help=(
            "Write a self-contained HTML report (report.html) of a run directory: optimise, "
            "backtest, amm run/train/walk-forward, simulate or the default pipeline (the kind "
            "is read from the folder's run_manifest.json)."
        ),
    )
    def report(
        run_dir: Path = typer.Argument(..., help="A folder written by an algotrader command."),
        out: Path | None = typer.Option(
            None, "--out", help="Output file (default RUN_DIR/report.html)."
        ),
    ) -> None:
        from algotrader.reporting import build_report

        path = build_report(run_dir, out)
        state().console.print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)
