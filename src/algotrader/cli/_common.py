"""State shared by CLI stages: settings, quiet flag, console and progress factory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

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


_STATE = CliState()


def state() -> CliState:
    """The process-wide CLI state."""
    return _STATE


__all__ = ["CliState", "state"]
