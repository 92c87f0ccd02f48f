"""``algotrader simulate``: nested-CV simulation (outer walk-forward, inner purged CPCV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from algotrader.cli._common import make_table, state
from algotrader.errors import ConfigError


def _fmt(x: Any, spec: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return format(x, spec) if isinstance(x, float) else str(x)


def _tables(result: Any) -> list[Table]:
    out: list[Table] = []
    folds = make_table("Outer folds (chosen config vs baselines)")
    for col in ("fold", "period", "candidate", "inner score", "outer score", "sharpe", "max dd"):
        folds.add_column(col, justify="right")
    base_names: list[str] = sorted(result.folds[0]["baselines"]) if result.folds else []
    for name in base_names:
        folds.add_column(f"{name} sharpe", justify="right")
    for f in result.folds:
        m = f["metrics"]
        folds.add_row(
            str(f["outer_k"]),
            f"{f['first_date'][:10]}..{f['last_date'][:10]}",
            str(f["candidate_id"]),
            _fmt(f["inner_aggregate"]),
            _fmt(f["outer_score"]),
            _fmt(m["sharpe"]),
            _fmt(m["max_drawdown"], ".2%"),
            *[_fmt(f["baselines"][n]["sharpe"]) for n in base_names],
        )
    out.append(folds)
    if result.metrics:
        m = result.metrics
        over = make_table("Overfitting statistics (outer walk-forward)")
        over.add_column("statistic")
        over.add_column("value", justify="right")
        pbo = m.get("pbo") or {}
        for k, v in (
            ("candidates (DSR trials)", m["n_candidates"]),
            ("sharpe (chosen, net)", m["chosen"]["sharpe"]),
            ("PSR", m["psr"]),
            ("DSR", m.get("dsr")),
            ("PBO (CSCV)", pbo.get("pbo")),
            ("walk-forward efficiency", m.get("wfe_mean")),
        ):
            over.add_row(k, _fmt(v) if not isinstance(v, int) else str(v))
        out.append(over)
    return out


def simulate(
    config: Path | None = typer.Option(None, "--config", help="simulation.yml"),
    resume: bool = typer.Option(False, "--resume", help="Continue a run from its score store."),
    engine: str | None = typer.Option(
        None, "--engine", help="Override tuning.engine: local|ray|optuna."
    ),
    example: str | None = typer.Option(
        None, "--example", help="Print a commented example config: optimiser|amm|forecast."
    ),
    report: bool = typer.Option(False, "--report", help="Write report.html into the run folder."),
) -> None:
    """Tune a family on inner purged CPCV splits and judge it on an outer walk-forward."""
    from algotrader.simulation.examples import EXAMPLES

    st = state()
    if example is not None:
        if example not in EXAMPLES:
            raise ConfigError(
                f"unknown example {example!r}",
                key="--example",
                hint=f"use one of {sorted(EXAMPLES)}",
            )
        typer.echo(EXAMPLES[example], nl=False)
        return
    if config is None:
        raise ConfigError("pass --config FILE (or --example NAME)", key="--config")
    if engine is not None and engine not in ("local", "ray", "optuna"):
        raise ConfigError(f"unknown engine {engine!r}", key="--engine", hint="local, ray or optuna")
    from algotrader.simulation import load_simulation_config, run_simulation

    cfg = load_simulation_config(config)
    with st.progress() as prog:
        tasks: dict[str, Any] = {}

        def progress(phase: str, k: int, done: int, total: int) -> None:
            label = "inner: candidates x splits" if phase == "inner" else "outer folds"
            if phase not in tasks:
                tasks[phase] = prog.add_task(label, total=total)
            prog.update(tasks[phase], completed=done)  # outer: folds finished so far

        result = run_simulation(cfg, resume=resume, engine=engine, progress=progress)
    if result.folds:
        for t in _tables(result):
            st.console.print(t)
    st.console.print(
        f"phase reached: {result.phase}; run folder [bold]{result.run_dir}[/]", soft_wrap=True
    )
    if report:
        from algotrader.reporting import build_report

        path = build_report(result.run_dir)
        st.console.print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command."""
    app.command("simulate")(simulate)
