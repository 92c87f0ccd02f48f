"""What every run-writing command does at its end: a run manifest and (``--report``) the report.

``run_manifest.json`` (see :class:`algotrader.artifacts.RunManifest`) names the run's kind
(``optimise``, ``backtest``, ``amm-run``, ``amm-train``, ``amm-walk-forward``), its resolved
configuration, the SHA-256 of each input file, the timings and the files written, so
``algotrader report DIR`` knows what the folder is without guessing from file names.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "in.csv").write_text("x\\n1\\n")
    4
    >>> p = write_cli_manifest(d, "backtest", {"lag": 1}, {"weights": d / "in.csv"})
    >>> import json; m = json.loads(p.read_text()); m["kind"], len(m["inputs"]["weights"])
    ('backtest', 64)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from algotrader.cli._common import state

logger = logging.getLogger(__name__)

#: The ``--report`` option shared by the run-writing commands.
REPORT_HELP = "Also write report.html (self-contained HTML report) into the output folder."


def report_option() -> Any:
    """A fresh ``--report`` flag (typer options must not be shared between commands)."""
    return typer.Option(False, "--report", help=REPORT_HELP)


def write_cli_manifest(
    out: Path,
    kind: str,
    config: Any,
    inputs: Mapping[str, Path | list[Path]] | None = None,
    *,
    timings: Mapping[str, float] | None = None,
    started_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out/run_manifest.json`` for a CLI run (inputs hashed, outputs listed)."""
    from algotrader.artifacts import RunManifest, file_hash, now_utc, write_manifest

    hashes: dict[str, str] = {}
    for name, paths in (inputs or {}).items():
        items = paths if isinstance(paths, list) else [paths]
        for i, path in enumerate(items):
            key = name if len(items) == 1 else f"{name}[{i}]"
            if path.is_file():
                hashes[key] = file_hash(path)
    files = {
        name: [str(p) for p in v] if isinstance(v, list) else str(v)
        for name, v in (inputs or {}).items()
    }
    outputs = sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and p.name not in ("run_manifest.json", "report.html")
    )
    manifest = RunManifest.create(
        kind,
        config,
        hashes,
        started_at=started_at,
        finished_at=now_utc(),
        timings=dict(timings or {}),
        outputs=outputs,
        extra={"input_files": files, **dict(extra or {})},
    )
    return write_manifest(out, manifest)


def finish_report(out: Path, report: bool) -> Path | None:
    """With ``report``: write ``out/report.html`` and print its path."""
    if not report:
        return None
    from algotrader.reporting import build_report

    path = build_report(out)
    state().console.print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)
    return path


__all__ = ["REPORT_HELP", "finish_report", "report_option", "write_cli_manifest"]
