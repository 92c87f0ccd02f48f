"""State shared by CLI stages: settings, quiet flag, console, progress and table factories.

Tables (:func:`make_table`) fold long cells onto more lines instead of cutting them with
``...``: a path or a metric name is always printed whole, however narrow the terminal.
Progress bars always get a total (``done/total``, never ``0/?``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from rich.console import Console, JustifyMethod
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from algotrader.logs import configure_logging
from algotrader.settings import Settings

T = TypeVar("T")


@dataclass
class CliState:
    """Per-process CLI state, set by the root callback."""

    quiet: bool = False
    settings: Settings | None = None
    console: Console = field(default_factory=Console)

    def configure(self, *, quiet: bool, log_level: str | None) -> None:
        env_settings = Settings.from_env()
        if log_level is not None:
            env_settings = env_settings.model_copy(update={"log_level": log_level.upper()})
        self.quiet = quiet
        self.settings = env_settings
        configure_logging(env_settings, quiet=quiet)

    def get_settings(self) -> Settings:
        if self.settings is None:
            self.settings = Settings.from_env()
        return self.settings

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        """A rich progress display, disabled under ``--quiet``."""
        prog = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=self.quiet,
            transient=False,
        )
        with prog:
            yield prog

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """Iterate ``items`` with a progress bar (none under ``--quiet``)."""
        with self.progress() as prog:
            task = prog.add_task(description, total=total)
            for item in items:
                yield item
                prog.advance(task)


class FoldingTable(Table):
    """A rich table whose columns fold (wrap) long cells by default; nothing is elided."""

    def add_column(  # type: ignore[override]
        self,
        header: str = "",
        *,
        justify: JustifyMethod = "left",
        overflow: str = "fold",
        no_wrap: bool = False,
        **kwargs: object,
    ) -> None:
        """Add a column (``overflow="fold"`` unless told otherwise)."""
        super().add_column(
            header,
            justify=justify,
            overflow=overflow,  # type: ignore[arg-type]
            no_wrap=no_wrap,
            **kwargs,  # type: ignore[arg-type]
        )


def make_table(title: str | None = None, *columns: str | Column) -> FoldingTable:
    """A left-titled table that never truncates a cell (long cells fold onto more lines).

    Example:
        >>> import io
        >>> from rich.console import Console
        >>> t = make_table("m", "metric", "value")
        >>> t.add_row("returns_over_uniform_hodl", "0.1")
        >>> c = Console(width=20, record=True, file=io.StringIO())
        >>> c.print(t)
        >>> text = c.export_text()
        >>> "\u2026" in text, "form_hod" in text
        (False, True)
    """
    table = FoldingTable(title=title, title_justify="left")
    for col in columns:
        if isinstance(col, Column):
            table.columns.append(col)
        else:
            table.add_column(col)
    return table


_STATE = CliState()


def state() -> CliState:
    """The process-wide CLI state."""
    return _STATE


__all__ = ["CliState", "FoldingTable", "make_table", "state"]
