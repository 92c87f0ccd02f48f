"""``algotrader amm train`` and ``algotrader amm walk-forward``: thin wrappers over
:mod:`algotrader.training.amm_run` (parse, call, print a summary).

``register(amm_app)`` adds both commands to the ``amm`` sub-app.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from algotrader.cli._common import state

_PRICES_HELP = "Wide minute file (unix + close_<TOKEN>), per-token files, or a folder."


def _window(run: Any, prices: list[Path]) -> Any:
    from algotrader.amm.data import load_prices, make_window
    from algotrader.training.amm_run import settings_of

    settings_of(run)  # refuse bad optimisation settings before reading prices
    return make_window(load_prices(list(prices), run.tokens), run)


def _check_layout(job: Any, config: Path) -> None:
    """Refuse a span layout that cannot work before compiling, naming the key and the file.

    (Without it a too-large ``bout_offset`` reached the simulator as ``key=bout_length``.)
    """
    from algotrader.errors import AlgotraderError

    try:
        job.layout.check(job.prices.shape[0])
    except AlgotraderError as exc:
        raise exc.located(file=str(config)) from exc


_CYCLE_VALUES = ("wfe", "is_oos_gap", "rademacher", "adjusted_oos_sharpe")


def check_walk_forward_names(wfe_metric: str, specs: list[str]) -> None:
    """Refuse an unknown ``--wfe-metric`` or ``--metric`` spec before any work.

    A spec is ``[neg_][mean_|worst_]<value>`` with ``<value>`` one of ``wfe``,
    ``is_oos_gap``, ``rademacher``, ``adjusted_oos_sharpe``, ``is_<metric>`` or
    ``oos_<metric>`` (see :func:`algotrader.training.walk_forward.cycle_metric`).
    """
    from algotrader.errors import ConfigError
    from algotrader.training.amm_problem import REPORT_METRICS

    known = tuple(dict.fromkeys(REPORT_METRICS))
    if wfe_metric not in known:
        raise ConfigError(
            f"unknown --wfe-metric {wfe_metric!r}",
            key="wfe_metric",
            hint=f"use one of {', '.join(known)}",
        )
    values = {*_CYCLE_VALUES, *(f"{p}{m}" for p in ("is_", "oos_") for m in known)}
    for spec in specs:
        s = spec[4:] if spec.startswith("neg_") else spec
        if s.startswith("adjusted_mean_"):
            s = "adjusted_" + s[len("adjusted_mean_") :]
        for agg in ("mean_", "worst_"):
            if s.startswith(agg):
                s = s[len(agg) :]
                break
        if s not in values:
            raise ConfigError(
                f"unknown --metric spec {spec!r}",
                key="metric",
                hint="[neg_][mean_|worst_]<v>, v one of wfe, is_oos_gap, rademacher, "
                f"adjusted_oos_sharpe, is_<m> or oos_<m> with m in {', '.join(known)}",
            )


def _fmt(x: float) -> str:
    return f"{x:+.4f}" if isinstance(x, float) and math.isfinite(x) else str(x)


def _progress_callback(prog: Any, task: Any) -> Any:
    from algotrader.training.trainer import ChunkReport

    def cb(rep: ChunkReport) -> None:
        prog.update(
            task,
            completed=rep.iteration,
            description=(
                f"objective {_fmt(rep.objective)} train {_fmt(rep.train_metric)} "
                f"val {_fmt(rep.val_metric)}"
            ),
        )

    return cb


def _metrics_table(title: str, metrics: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    segs = list(metrics)
    for seg in segs:
        table.add_column(seg, justify="right")
    names = sorted({m for d in metrics.values() for m in d})
    for m in names:
        table.add_row(m, *[_fmt(metrics[s].get(m, float("nan"))) for s in segs])
    return table


def register(amm_app: typer.Typer) -> None:
    """Add ``train`` and ``walk-forward`` to the ``amm`` command group."""

    @amm_app.command("train")
    def train_cmd(
        config: Path = typer.Option(
            ..., "--config", help="Run configuration YAML (run_fingerprint keys)."
        ),
        prices: list[Path] = typer.Option(..., "--prices", help=_PRICES_HELP),
        out: Path = typer.Option(..., "--out", help="Folder for run artefacts (<out>/<run_id>/)."),
        n_periods: int = typer.Option(
            0, "--periods", help="Multi-period objective: number of periods (0 = off)."
        ),
        aggregation: str = typer.Option("mean", "--aggregation", help="mean, min, softmin or sum."),
        temperature: float = typer.Option(1.0, "--temperature", help="Softmin temperature."),
    ) -> None:
        """Train a pool by gradient ascent (or Optuna, per optimisation_settings.method)."""
        import optuna

        from algotrader.training.amm_run import load_run_config, make_job, train_job
        from algotrader.training.optuna_search import OptunaResult

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # trials show in the summary
        st = state()
        run = load_run_config(config)
        job = make_job(run, _window(run, prices))
        _check_layout(job, config)
        multi = (
            {"n_periods": n_periods, "aggregation": aggregation, "temperature": temperature}
            if n_periods
            else None
        )
        with st.progress() as prog:
            task = prog.add_task("compiling ...", total=job.settings.n_iterations)
            result = train_job(
                job, out, callback=_progress_callback(prog, task), multi_period=multi
            )
            prog.update(task, completed=job.settings.n_iterations)
        if isinstance(result, OptunaResult):
            st.console.print(
                f"optuna: {result.n_complete} complete, {result.n_pruned} pruned; best trial "
                f"{result.best_trial} values {[round(v, 4) for v in result.best_values]}"
            )
            st.console.print(
                _metrics_table(
                    "best trial", {"val": result.best_val_metrics, "test": result.best_test_metrics}
                )
            )
        else:
            st.console.print(
                _metrics_table(
                    f"selected set {result.best_set} at iteration {result.best_iteration}",
                    result.best_metrics,
                )
            )
            st.console.print(
                f"{result.iterations_run} iterations{' (early stop)' if result.stopped_early else ''}, "
                f"{result.seconds:.1f} s, first chunk {result.first_chunk_seconds:.1f} s, "
                f"{result.compile_count} compilation(s)"
            )
        if run.endTestDateString is None:
            st.console.print(
                "test metrics: n/a (the config has no endTestDateString, so there is no test "
                "period; add one to measure out-of-sample performance)",
                highlight=False,
            )
        st.console.print(f"artefacts in [bold]{result.run_dir}[/]", soft_wrap=True)

    @amm_app.command("walk-forward")
    def walk_forward_cmd(
        config: Path = typer.Option(
            ..., "--config", help="Run configuration YAML (needs endTestDateString)."
        ),
        prices: list[Path] = typer.Option(..., "--prices", help=_PRICES_HELP),
        out: Path = typer.Option(..., "--out", help="Folder for cycle runs and walk_forward.json."),
        cycles: int = typer.Option(3, "--cycles", help="Number of test cycles."),
        mode: str = typer.Option("rolling", "--mode", help="rolling or expanding."),
        wfe_metric: str = typer.Option(
            "daily_sharpe", "--wfe-metric", help="Metric for WFE and the verdict."
        ),
        metric: list[str] = typer.Option(
            ["mean_oos_daily_sharpe", "worst_wfe", "neg_is_oos_gap"],
            "--metric",
            help="Metric specs to report.",
        ),
    ) -> None:
        """Walk-forward training: cycles warm-started from the previous one, OOS verdict."""
        from algotrader.training.amm_run import (
            load_run_config,
            make_job,
            walk_forward_job,
        )
        from algotrader.training.settings import WalkForwardSettings
        from algotrader.training.walk_forward import CycleEvaluation, cycle_metric

        st = state()
        check_walk_forward_names(wfe_metric, metric)  # names first: no work on a typo
        wf = WalkForwardSettings.from_mapping(
            {"n_cycles": cycles, "mode": mode, "wfe_metric": wfe_metric}
        )
        run = load_run_config(config)
        job = make_job(run, _window(run, prices))
        with st.progress() as prog:
            task = prog.add_task("cycles", total=cycles)

            def on_cycle(ev: CycleEvaluation) -> None:
                prog.advance(task)

            res = walk_forward_job(job, wf, out, on_cycle=on_cycle)
        table = Table(title="walk-forward cycles", title_justify="left")
        for col in (
            "cycle",
            f"IS {wfe_metric}",
            f"OOS {wfe_metric}",
            "WFE",
            "gap",
            "adj. OOS Sharpe",
        ):
            table.add_column(col, justify="right")
        for c in res.cycles:
            table.add_row(
                str(c.span.cycle),
                _fmt(c.is_metrics[wfe_metric]),
                _fmt(c.oos_metrics[wfe_metric]),
                _fmt(c.wfe) if math.isfinite(c.wfe) else "n/a (IS <= 0)",
                _fmt(c.is_oos_gap),
                _fmt(c.adjusted_oos_sharpe),
            )
        st.console.print(table)
        for spec in metric:
            value = cycle_metric(res.cycles, spec)
            text = _fmt(value)
            if not math.isfinite(value):
                text = (
                    "n/a (undefined in at least one cycle: WFE needs IS > 0; "
                    "scored -inf by searches)"
                )
            st.console.print(f"{spec}: {text}", highlight=False)
        verdict = "effective" if res.effective else "not effective: " + "; ".join(res.reasons)
        st.console.print(
            f"verdict: [bold]{verdict}[/]; report in [bold]{out / 'walk_forward.json'}[/]"
        )


__all__ = ["register"]
