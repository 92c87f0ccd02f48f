"""``algotrader pipeline`` (and the no-argument run): the default pipeline on bundled data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from algotrader.cli._common import make_table, state
from algotrader.pipeline import PipelineContext, StepResult, run_pipeline


def run_default(out: Path | None = None, *, write_report: bool = True) -> list[StepResult]:
    """Run the default pipeline, print each step's tables and (default) write its report."""
    st = state()
    settings = st.get_settings()
    out_dir = out if out is not None else settings.simulation_source / "default_pipeline"
    with st.progress() as prog:

        def progress(description: str, total: int) -> Callable[[int], None]:
            task = prog.add_task(description, total=total)

            def advance(n: int = 1) -> None:
                prog.advance(task, n)

            return advance

        ctx = PipelineContext(settings=settings, out_dir=out_dir, quiet=st.quiet, progress=progress)
        reports = run_pipeline(ctx)
    for report in reports:
        for title, header, rows in report.tables:
            table = make_table(title)
            for col in header:
                table.add_column(col, justify="right" if col != header[0] else "left")
            for row in rows:
                table.add_row(*row)
            st.console.print(table)
    st.console.print(f"summary and artifacts in [bold]{out_dir}[/]", soft_wrap=True)
    if write_report:
        from algotrader.reporting import build_report

        path = build_report(out_dir)
        st.console.print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)
    return reports


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command."""

    @app.command("pipeline")
    def pipeline_cmd(
        out: Path | None = typer.Option(None, "--out", help="Artifacts folder."),
        report: bool = typer.Option(
            True, "--report/--no-report", help="Write report.html (default: yes)."
        ),
    ) -> None:
        """Run the default pipeline on the bundled data (same as plain ``algotrader``)."""
        run_default(out, write_report=report)
