"""The ``algotrader`` command line: a thin typer app, one subcommand per stage.

Each stage lives in its own module exposing ``register(app)``; this module only
wires them together. With no arguments the default pipeline runs on the bundled
data.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import typer

from algotrader.cli._common import CliState, state
from algotrader.errors import AlgotraderError

app = typer.Typer(
    name="algotrader",
    help="Research, tune and run systematic multi-asset allocation strategies without look-ahead.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Stage modules (``algotrader.cli.<name>``), each with ``register(app)``. Add a line per stage.
_STAGES: tuple[str, ...] = (
    "pipeline",
    "datasets",
    "data",
    "optimise",
    "backtest",
    "amm",
    "historical",
    "report",
    "simulate",
    "features",
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars, warnings only."),
    log_level: str | None = typer.Option(None, "--log-level", help="Override LOG_LEVEL."),
) -> None:
    """Run a stage; with no stage, run the default pipeline on the bundled data."""
    st: CliState = state()
    st.configure(quiet=quiet, log_level=log_level)
    if ctx.invoked_subcommand is None:
        from algotrader.cli.pipeline import run_default

        run_default()


def _register_all() -> None:
    for name in _STAGES:
        module = import_module(f"algotrader.cli.{name}")
        register: Callable[[typer.Typer], None] = module.register
        register(app)
    from algotrader.cli._guard import guard_app

    guard_app(app)  # every command: located errors -> exit 2, --quiet, --help example


_register_all()


def main() -> None:
    """Console entry point: map typed errors to a clear message and exit code 2."""
    try:
        app()
    except SystemExit:
        raise  # includes typed errors already reported by a command (cli._guard)
    except AlgotraderError as exc:
        from algotrader.cli._guard import report_error

        report_error(exc)
        raise SystemExit(2) from exc


__all__ = ["app", "main"]
