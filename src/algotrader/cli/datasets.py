"""``algotrader datasets``: list the bundled real datasets and where they come from."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from algotrader.cli._common import make_table, state
from algotrader.data.registry import BUNDLED_DIR, list_datasets


def datasets_table() -> Table:
    """Rich table of the registry: name, rows, date range, frequency, source and licence."""
    table = make_table("Bundled datasets")
    table.add_column("name", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("range")
    table.add_column("freq")
    table.add_column("source / licence")
    for d in list_datasets():
        table.add_row(
            d.name, str(d.rows), f"{d.start}\n{d.end}", d.frequency, f"{d.source}\n{d.licence}"
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command."""

    @app.command("datasets")
    def datasets_cmd() -> None:
        """List the bundled datasets (name, rows, date range, source, licence)."""
        console = state().console
        console.print(datasets_table())
        for d in list_datasets():
            assets = ", ".join(d.assets)
            console.print(f"[bold]{d.name}[/]: {escape(d.description)} [dim]({escape(assets)})[/]")
        console.print(
            f"\nfiles, licence texts and provenance: {BUNDLED_DIR} (SOURCES.md, LICENSES/)\n"
            "clean one into the lake: algotrader data-cleaning --dataset NAME --start YYYY-MM",
            highlight=False,
        )
