"""``algotrader amm train`` and ``algotrader amm walk-forward``: thin wrappers over
:mod:`algotrader.training.amm_run` (parse, call, print a summary).

``register(amm_app)`` adds both commands to the ``amm`` sub-app.

``amm train`` writes, into its run folder ``<out>/<run_id>/``, ``training.png`` (objective and
train / validation curves) beside the trainer's files (its ``run_manifest.json`` has
``kind: train``; an Optuna run gets one with ``kind: amm-train``); a segment that was
not computed (no ``endTestDateString``: no test window) is left out of the table and named.
``amm walk-forward`` trains cycle ``i`` in ``<out>/cycle_<iii>/<run_id>/`` and writes
``walk_forward.json`` (strict JSON, ``null`` + reason for undefined values),
``walk_forward.png`` (IS vs OOS and WFE per cycle) and ``run_manifest.json``
(``kind: amm-walk-forward``). Both take ``--report`` (``report.html`` in that folder).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from algotrader.cli._common import FoldingTable, make_table, state
from algotrader.cli._runs import finish_report, report_option, write_cli_manifest

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
    """``+1.2345``; an undefined (NaN/inf) value reads ``n/a``, never ``nan`` / ``-inf``."""
    if isinstance(x, float | int) and not math.isfinite(x):
        return "n/a"
    return f"{x:+.4f}" if isinstance(x, float) else str(x)


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


def _computed(metrics: dict[str, float]) -> bool:
    return any(isinstance(v, float | int) and math.isfinite(v) for v in metrics.values())


def _metrics_table(title: str, metrics: dict[str, dict[str, float]]) -> FoldingTable:
    """Metric x segment; segments with no computed value (no test window) are left out."""
    table = make_table(title)
    table.add_column("metric")
    segs = [seg for seg in metrics if _computed(metrics[seg])]
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
        report: bool = report_option(),
    ) -> None:
        """Train a pool by gradient ascent (or Optuna, per optimisation_settings.method)."""
        import optuna

        from algotrader.artifacts import now_utc
        from algotrader.training.amm_run import load_run_config, make_job, train_job
        from algotrader.training.optuna_search import OptunaResult

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # trials show in the summary
        st = state()
        started = now_utc()
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
                "test metrics: not computed (n/a): the config has no endTestDateString, so "
                "there is no test window; add one to measure out-of-sample performance",
                highlight=False,
            )
        if result.run_dir is None:
            return
        run_dir = Path(result.run_dir)
        png = _training_png(run_dir, result, job.settings)
        if png is not None:
            st.console.print(f"plot: {png}", markup=False, highlight=False, soft_wrap=True)
        if not (run_dir / "run_manifest.json").exists():  # the trainer writes one (kind train)
            write_cli_manifest(
                run_dir,
                "amm-train",
                {"run_config": run.model_dump(mode="json"), "multi_period": multi},
                {"config": config, "prices": list(prices)},
                started_at=started,
                extra={"run_id": result.run_id},
            )
        st.console.print(f"artefacts in {run_dir}", markup=False, highlight=False, soft_wrap=True)
        finish_report(run_dir, report)

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
        report: bool = report_option(),
    ) -> None:
        """Walk-forward training: cycles warm-started from the previous one, OOS verdict."""
        from algotrader.artifacts import now_utc
        from algotrader.errors import AlgotraderError
        from algotrader.training.amm_run import (
            load_run_config,
            make_job,
            walk_forward_job,
        )
        from algotrader.training.settings import WalkForwardSettings
        from algotrader.training.walk_forward import CycleEvaluation, cycle_metric_value

        st = state()
        started = now_utc()
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

            try:
                res = walk_forward_job(job, wf, out, on_cycle=on_cycle, report_specs=metric)
            except AlgotraderError as exc:  # a key a lower layer names without its source
                if exc.key is None or exc.file is not None:
                    raise
                flag = _WF_FLAGS.get(exc.key)
                if flag is not None:  # a walk-forward setting: it came from a flag, not the file
                    raise type(exc)(exc.message, key=flag, hint=exc.hint) from exc
                raise exc.located(file=str(config)) from exc
        st.console.print(_cycles_table(res, wfe_metric))
        for c in res.cycles:
            for key, why in c.notes.items():
                st.console.print(
                    f"cycle {c.span.cycle}: {_LABELS.get(key, key)} n/a: {why}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        for spec in metric:
            value, why = cycle_metric_value(res.cycles, spec)
            text = "n/a" if value is None else _fmt(value)
            if why:
                text += f" ({why})"
            st.console.print(f"{spec}: {text}", markup=False, highlight=False, soft_wrap=True)
        png = _walk_forward_png(out, res, wfe_metric)
        write_cli_manifest(
            out,
            "amm-walk-forward",
            {"run_config": run.model_dump(mode="json"), "walk_forward": wf.model_dump(mode="json")},
            {"config": config, "prices": list(prices)},
            started_at=started,
            extra={"metric_specs": list(metric)},
        )
        verdict = "effective" if res.effective else "not effective: " + "; ".join(res.reasons)
        st.console.print(f"verdict: {verdict}", markup=False, highlight=False, soft_wrap=True)
        st.console.print(
            f"report in {out / 'walk_forward.json'}; plot: {png}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        finish_report(out, report)


_WF_FLAGS = {"n_cycles": "--cycles", "mode": "--mode", "wfe_metric": "--wfe-metric"}

_LABELS = {
    "wfe": "WFE",
    "rademacher": "Rademacher complexity",
    "adjusted_oos_sharpe": "adjusted OOS Sharpe",
    "is_oos_gap": "IS - OOS gap",
}


def _cycles_table(res: Any, wfe_metric: str) -> FoldingTable:
    """One row per cycle; an undefined value reads ``n/a`` (its reason is printed below)."""
    table = make_table("walk-forward cycles")
    for col in (
        "cycle",
        f"IS {wfe_metric}",
        f"OOS {wfe_metric}",
        "WFE",
        "gap",
        "adj. OOS Sharpe",
    ):
        table.add_column(col, justify="right")

    def cell(x: float) -> str:
        return _fmt(x) if math.isfinite(x) else "n/a"

    for c in res.cycles:
        table.add_row(
            str(c.span.cycle),
            cell(c.is_metrics[wfe_metric]),
            cell(c.oos_metrics[wfe_metric]),
            cell(c.wfe),
            cell(c.is_oos_gap),
            cell(c.adjusted_oos_sharpe),
        )
    return table


def _training_png(run_dir: Path, result: Any, settings: Any) -> Path | None:
    """``training.png`` from the run's history (gradient runs; Optuna has no curves)."""
    from algotrader.cli._plots import plot_training
    from algotrader.training.trainer import TrainResult

    if not isinstance(result, TrainResult) or result.history.height == 0:
        return None
    names = [c[len("val_") :] for c in result.history.columns if c.startswith("val_")]
    metric = next(
        (
            m
            for m in (
                getattr(settings, "selection_metric", None),
                getattr(settings, "early_stopping_metric", None),
            )
            if isinstance(m, str) and m in names
        ),
        names[0] if names else "",
    )
    return plot_training(
        run_dir / "training.png",
        result.history,
        metric,
        best_set=result.best_set,
        best_iteration=result.best_iteration,
    )


def _walk_forward_png(out: Path, res: Any, metric: str) -> Path:
    import numpy as np

    from algotrader.cli._plots import plot_walk_forward

    return plot_walk_forward(
        out / "walk_forward.png",
        [str(c.span.cycle) for c in res.cycles],
        np.array([c.is_metrics[metric] for c in res.cycles], dtype=np.float64),
        np.array([c.oos_metrics[metric] for c in res.cycles], dtype=np.float64),
        np.array([c.wfe for c in res.cycles], dtype=np.float64),
        metric,
    )


__all__ = ["register"]
