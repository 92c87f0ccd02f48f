"""What every command gets from the CLI layer: located errors (exit 2), ``--quiet``, examples.

:func:`guard_app` walks a typer app (and its sub-apps) once, after every stage registered,
and wraps each command callback so that

* a typed :class:`~algotrader.errors.AlgotraderError` prints ``error: <message [file=..,
  row=.., column=.., key=..] -- fix: ..>`` on stderr and exits with code 2 (the raised
  exception is both the typed error and ``SystemExit(2)``: :func:`exit_error`);
* an input/output error on a user path (``FileExistsError``, ``FileNotFoundError``,
  ``IsADirectoryError``, ``NotADirectoryError``, ``PermissionError``) becomes a typed
  :class:`~algotrader.errors.DataError` naming the path, reported the same way; every other
  exception is a bug and propagates with its traceback;
* ``--quiet`` / ``-q`` is accepted after the command name too (``algotrader datasets -q``);
* ``--help`` ends with an example (:data:`EXAMPLES`).

Example:
    >>> import typer
    >>> from typer.testing import CliRunner
    >>> from algotrader.errors import ConfigError
    >>> demo = typer.Typer()
    >>> @demo.command()
    ... def boom() -> None:
    ...     raise ConfigError("bad value", key="x")
    >>> @demo.command()
    ... def other() -> None:
    ...     pass
    >>> guard_app(demo)
    >>> r = CliRunner().invoke(demo, ["boom", "-q"])
    >>> r.exit_code, isinstance(r.exception, ConfigError), r.exception.key
    (2, True, 'x')
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import typer
import typer.core

from algotrader.errors import ROW_CONVENTION, AlgotraderError, DataError

logger = logging.getLogger("algotrader")

#: ``--help`` example per command path (space-joined sub-command names).
EXAMPLES: dict[str, str] = {
    "datasets": "algotrader datasets --quiet",
    "data-cleaning": "algotrader data-cleaning --dataset sp500_index_ohlcv --start 2018-01 --lake lake",
    "optimise": (
        "algotrader optimise --prices prices.csv --signal mu.csv "
        "--config config/optimiser.yml --out opt"
    ),
    "backtest": (
        "algotrader backtest --weights opt/cash_position.csv --positions "
        "--prices prices.csv --out bt"
    ),
    "amm run": (
        "algotrader amm run --config run.yml --prices prices.parquet "
        "--params runs/<id>/params_best.npz --out sim"
    ),
    "amm train": "algotrader amm train --config run.yml --prices prices.parquet --out runs",
    "amm walk-forward": (
        "algotrader amm walk-forward --config run.yml --prices prices.parquet --out wf"
    ),
    "pipeline": "algotrader pipeline --out algotrader_data/pipeline",
    "simulate": (
        "algotrader simulate --example optimiser > sim.yml && "
        "algotrader simulate --config sim.yml --report"
    ),
    "report": "algotrader report algotrader_data/simulation/default_pipeline",
}

_OS_ERRORS = (
    FileExistsError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
_FLAG_PATCHED = False


def located_os_error(exc: OSError) -> DataError:
    """A :class:`DataError` naming the path of an input/output error on a user path."""
    hint = "check the path"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        hint = "a file is in the way: give a folder (or a new name) for the output"
    elif isinstance(exc, IsADirectoryError):
        hint = "give a file, not a folder"
    elif isinstance(exc, PermissionError):
        hint = "check the permissions, or write somewhere else"
    return DataError(
        exc.strerror or type(exc).__name__,
        file=None if exc.filename is None else str(exc.filename),
        hint=hint,
    )


_EXIT_CLASSES: dict[type[AlgotraderError], type[AlgotraderError]] = {}


def exit_error(exc: AlgotraderError) -> AlgotraderError:
    """``exc`` as an instance of a subclass of both its class and ``SystemExit(2)``.

    The process (and click's test runner) sees exit code 2, while a caller that catches the
    typed error (``except DataError``, ``result.exception``) still gets its class and
    attributes (``file``, ``row``, ``column``, ``key``, ``hint``).
    """
    cls = type(exc)
    if isinstance(exc, SystemExit):
        return exc
    if cls not in _EXIT_CLASSES:
        _EXIT_CLASSES[cls] = type(cls.__name__, (cls, SystemExit), {"__module__": cls.__module__})
    exit_cls = _EXIT_CLASSES[cls]
    new = exit_cls.__new__(exit_cls)
    new.__dict__.update(exc.__dict__)
    new.args = exc.args
    new.code = 2  # type: ignore[attr-defined]
    return new


def report_error(exc: AlgotraderError) -> None:
    """Print ``error: <located message>`` on stderr (no traceback)."""
    from rich.console import Console
    from rich.markup import escape

    logger.debug("error", exc_info=exc)
    console = Console(stderr=True, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
    if exc.file is not None and exc.row is not None:  # say what the row number means
        console.print(f"  ({ROW_CONVENTION})", markup=False, highlight=False)


def _set_quiet() -> None:
    from algotrader.cli._common import state

    st = state()
    if not st.quiet:
        st.configure(quiet=True, log_level=None)


def _wrap(callback: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(callback, "__algotrader_guarded__", False):
        return callback
    sig = inspect.signature(callback)
    has_quiet = "quiet" in sig.parameters

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not has_quiet and kwargs.pop("quiet", False):
            _set_quiet()
        try:
            return callback(*args, **kwargs)
        except AlgotraderError as exc:
            report_error(exc)
            raise exit_error(exc) from exc
        except _OS_ERRORS as exc:
            located = located_os_error(exc)
            report_error(located)
            raise exit_error(located) from exc

    params = list(sig.parameters.values())
    if not has_quiet:
        params.append(
            inspect.Parameter(
                "quiet",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(False, "--quiet", "-q", help="No progress bars."),
                annotation=bool,
            )
        )
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__algotrader_guarded__ = True  # type: ignore[attr-defined]
    return wrapper


def _patch_flag_metavar() -> None:
    """Boolean flags take no value: show none (typer 0.29 prints ``<bool>``)."""
    global _FLAG_PATCHED
    if _FLAG_PATCHED:
        return
    original = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return original(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    _FLAG_PATCHED = True


def guard_app(app: typer.Typer, prefix: str = "") -> None:
    """Wrap every command of ``app`` and its sub-apps (idempotent)."""
    _patch_flag_metavar()
    for info in app.registered_commands:
        if info.callback is None:
            continue
        name = info.name or info.callback.__name__.replace("_", "-")
        info.callback = _wrap(info.callback)
        example = EXAMPLES.get(f"{prefix}{name}") or EXAMPLES.get(
            f"{prefix}{name.replace('_', '-')}"  # hidden aliases (data_cleaning)
        )
        if example and not info.epilog:
            info.epilog = f"Example: {example}"
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_app(group.typer_instance, prefix=f"{prefix}{group.name} ")


__all__ = ["EXAMPLES", "exit_error", "guard_app", "located_os_error", "report_error"]
