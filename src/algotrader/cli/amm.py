"""``algotrader amm ...``: the AMM pool command group (a typer sub-app).

``amm run`` simulates one parameter set and writes the per-step and daily tables
(Parquet and CSV), the three files every family writes from the one evaluation path
(:func:`pool_evaluation`): ``returns.parquet`` (``date``, ``gross_return``, ``net_return``,
``costs``, ``benchmark_hodl`` / ``benchmark_uniform_hodl`` /
``benchmark_equal_weight_rebalanced``), ``metrics.json`` (every metric with its definition
and ``periods_per_year``, the reference simulator's ``amm.*`` metrics under
``reference``, and the run's ``run_id``, ``config``, ``final_value``, ``rows``,
``timings_s`` and ``params``; strict JSON: an undefined metric is ``null``) and
``run_manifest.json`` (``kind: amm-run``); ``amm_run.png`` (pool value vs HODL of the
initial reserves, weights) and, with ``--report``, ``report.html``.  Other modules add
commands to the group through :data:`SUBCOMMAND_MODULES`: each named module
``algotrader.cli.<name>`` exposes ``register(amm_app: typer.Typer) -> None`` (the training
stage registers ``amm train`` and ``amm walk-forward`` this way).  A module that is absent
is skipped.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from algotrader.cli._common import state
from algotrader.cli._runs import finish_report, report_option, write_cli_manifest
from algotrader.errors import ConfigError, DataError
from algotrader.io import write_csv_atomic, write_parquet_atomic

logger = logging.getLogger(__name__)

amm_app = typer.Typer(
    name="amm",
    help="Dynamic-weight AMM pools: simulate (run), train, walk-forward.",
    no_args_is_help=True,
)

#: Modules adding commands to ``amm_app`` (each with ``register(amm_app)``).
SUBCOMMAND_MODULES: tuple[str, ...] = ("amm_training",)


def _read_params(path: Path) -> dict[str, Any]:
    """One raw parameter set from ``params.json`` (name -> number or list) or a trainer ``.npz``.

    ``.npz`` files (``params_best.npz`` / ``params_last.npz`` of ``amm train``) are read with
    ``allow_pickle=False``; JSON values must be numbers or lists of numbers.
    """
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ConfigError(
                f"cannot read parameters: {exc}",
                file=str(path),
                hint="give a params_best.npz / params_last.npz written by `amm train`",
            ) from exc
        for name, arr in arrays.items():
            if arr.dtype.kind not in "fiu":
                raise ConfigError(
                    f"parameter {name} is not numeric ({arr.dtype})", file=str(path), key=name
                )
        return {k: v.astype(np.float64).tolist() for k, v in arrays.items()}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read parameters: {exc}",
            file=str(path),
            hint="give params.json (name -> list of numbers) or a trainer .npz",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError("params.json must map parameter names to lists", file=str(path))
    for name, value in data.items():
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if isinstance(v, bool) or not isinstance(v, int | float)]
        if bad or not items:
            raise ConfigError(
                f"parameter {name} must be a number or a list of numbers, got {value!r}",
                file=str(path),
                key=name,
            )
    return data


def _checked_params(cfg: Any, raw: dict[str, Any], path: Path) -> None:
    """Names, lengths and ranges of ``raw`` against the rule, located in ``path``."""
    from algotrader.amm.simulate import validate_params

    try:
        validate_params(raw, cfg)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=str(path), key=exc.key, hint=exc.hint) from exc
    for name, value in raw.items():
        arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if name.startswith("log_") and np.any(np.abs(arr) > _LOG_PARAM_LIMIT):
            raise ConfigError(
                f"parameter {name} = {arr.tolist()} is outside +-{_LOG_PARAM_LIMIT:g} "
                f"(2**{_LOG_PARAM_LIMIT:g} overflows the pool's update)",
                file=str(path),
                key=name,
                hint="raw log2 parameters of a trained pool are of order 1-10",
            )


#: Largest |value| of a raw ``log_*`` (log2-scale) parameter accepted by ``amm run``.
_LOG_PARAM_LIMIT = 64.0


def _plot_run(out: Path, per_step: pl.DataFrame, tokens: tuple[str, ...]) -> Path:
    """``amm_run.png``: pool value vs HODL of the initial reserves, and the weights."""
    from algotrader.cli._plots import plot_amm_run

    daily = per_step.gather_every(60)  # hourly points are plenty for a plot
    prices = daily.select([f"price_{t}" for t in tokens]).to_numpy()
    reserves0 = per_step.select([f"reserve_{t}" for t in tokens]).row(0)
    hodl = prices @ np.asarray(reserves0, dtype=np.float64)
    x = (daily["unix"].to_numpy() // 1000).astype("datetime64[s]")
    weights = daily.select([f"weight_{t}" for t in tokens]).to_numpy()
    return plot_amm_run(out / "amm_run.png", x, daily["value"].to_numpy(), hodl, weights, tokens)


#: Minutes per day of the pool's clock (one evaluated row per day).
DAY_MINUTES = 1440


def pool_evaluation(
    per_step: pl.DataFrame, tokens: tuple[str, ...]
) -> tuple[Any, dict[str, float]]:
    """The pool's value path through the shared evaluation, and its reference metrics.

    The pool's value at the first minute of each day and at the window's last minute (so
    the evaluated return is the whole window's), dated by their minute clock (UTC), go to
    :func:`algotrader.backtest.evaluate_value_series` (the fees are inside the pool's
    value: gross = net) with the default pipeline's benchmarks on the same rows
    (:func:`algotrader.pipeline.amm_step.pool_benchmarks`: the initial reserves held,
    equal value held, equal weight rebalanced; zero cost), so ``periods_per_year`` is the
    one calendar rule (about 365 on a 24/7 clock). The reference simulator's ``amm.*``
    metrics are the registry's NumPy definitions on the full minute path.

    Returns:
        ``(evaluation, reference)``: the :class:`~algotrader.backtest.evaluate.Evaluation`
        and ``{amm.<name>: value}``.
    """
    from algotrader.backtest.evaluate import evaluate_value_series, periods_per_year
    from algotrader.metrics.registry import compute_metrics
    from algotrader.pipeline.amm_step import pool_benchmarks

    n = per_step.height
    rows = np.unique(np.r_[np.arange(0, n, DAY_MINUTES), n - 1])
    minutes = per_step["unix"].to_numpy().astype("datetime64[ms]")
    value = per_step["value"].to_numpy().astype(np.float64)
    prices = per_step.select([f"price_{t}" for t in tokens]).to_numpy().astype(np.float64)
    reserves0 = np.asarray(per_step.select([f"reserve_{t}" for t in tokens]).row(0), np.float64)
    bench = pool_benchmarks(prices[rows], value[rows], reserves0)
    ev = evaluate_value_series(minutes[rows], value[rows], bench, name="amm")
    reference = compute_metrics(
        value, periods_per_year=periods_per_year(minutes), prices=prices, family="amm"
    )
    return ev, {k: float(v) for k, v in reference.items()}


def _read_coarse(path: Path, tokens: tuple[str, ...], unix0: int, rows: int, cp: int) -> np.ndarray:
    """Coarse weights: ``unix`` + ``weight_<TOKEN>`` rows at the window's chunk starts."""
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    cols = [f"weight_{t}" for t in tokens]
    for col in ("unix", *cols):
        if col not in frame.columns:
            raise DataError(f"missing column {col!r}", file=str(path), column=col)
    want = unix0 + np.arange(rows, dtype=np.int64) * cp * 60_000
    picked = frame.filter(pl.col("unix").is_in(want.tolist())).sort("unix")
    if len(picked) != rows:
        have = set(picked["unix"].to_list())
        gap = next(int(u) for u in want if int(u) not in have)
        raise DataError(
            f"coarse weights need a row at every chunk start; missing unix {gap}",
            file=str(path),
            column="unix",
            hint=f"{rows} rows from the window start, every {cp} minutes",
        )
    if len(frame) > rows:
        logger.info("coarse weights: %d rows outside the window not used", len(frame) - rows)
    weights = picked.select(cols).to_numpy().astype(np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise DataError("coarse weights must be finite and > 0", file=str(path))
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-9):
        raise DataError("coarse weights must sum to 1 per row", file=str(path))
    return weights


@amm_app.command("run")
def run_cmd(
    config: Path = typer.Option(..., "--config", help="Run configuration YAML."),
    prices: list[Path] = typer.Option(
        ...,
        "--prices",
        help="Wide minute file (unix + close_<TOKEN>), per-token files, or a folder.",
    ),
    params: Path = typer.Option(
        ...,
        "--params",
        help="Raw parameters: params.json (name -> list) or a trainer's params_best.npz.",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    coarse_weights: Path | None = typer.Option(
        None, "--coarse-weights", help="Directly supplied coarse weights (unix + weight_<TOKEN>)."
    ),
    report: bool = report_option(),
) -> None:
    """Simulate one pool over the configured window and write tables + metrics."""
    from algotrader.amm.config import RunConfig
    from algotrader.amm.data import load_prices, make_window
    from algotrader.amm.simulate import coarse_rows_needed, simulate
    from algotrader.artifacts import file_hash, now_utc
    from algotrader.backtest.evaluate import write_evaluation

    st = state()
    started = now_utc()
    cfg = RunConfig.from_yaml(config)
    raw = _read_params(params)
    _checked_params(cfg, raw, params)
    with st.progress() as prog:
        task = prog.add_task("load prices", total=3)
        window = make_window(load_prices(list(prices), cfg.tokens), cfg)
        prog.update(task, advance=1, description="simulate (jit compile + run)")
        coarse = None
        if coarse_weights is not None:
            unix0 = int(window.data.unix[window.start_index])
            coarse = _read_coarse(
                coarse_weights, cfg.tokens, unix0, coarse_rows_needed(cfg, window), cfg.chunk_period
            )
        result = simulate(cfg, window, raw, coarse=coarse)
        prog.update(task, advance=1, description="write tables")
        out.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(out / "per_step.parquet", result.per_step)
        write_csv_atomic(out / "per_step.csv", result.per_step)
        write_parquet_atomic(out / "daily.parquet", result.daily)
        write_csv_atomic(out / "daily.csv", result.daily)
        ev, reference = pool_evaluation(result.per_step, cfg.tokens)
        write_evaluation(
            out,
            ev,
            reference=reference,
            context={
                "run_id": cfg.run_id,
                "config": cfg.model_dump(mode="json"),
                "final_value": float(ev.values[-1]),
                "rows": result.per_step.height,
                "timings_s": result.timings,
                "params": {"file": str(params), "sha256": file_hash(params), "values": raw},
            },
        )
        png = _plot_run(out, result.per_step, cfg.tokens)
        write_cli_manifest(
            out,
            "amm-run",
            {"run_config": cfg.model_dump(mode="json"), "params": raw},
            {
                "config": config,
                "prices": list(prices),
                "params": params,
                **({"coarse_weights": coarse_weights} if coarse_weights else {}),
            },
            timings=result.timings,
            started_at=started,
            extra={"run_id": cfg.run_id, "periods_per_year": ev.periods_per_year},
        )
        prog.update(task, advance=1, description="done")
    m = ev.metrics
    st.console.print(
        f"amm run {cfg.run_id}: {cfg.rule} on {','.join(cfg.tokens)}, {result.per_step.height} steps, "
        f"final value {ev.values[-1]:,.2f}, return {m['total_return']:+.4%}, "
        f"over hodl {m['returns_over_hodl']:+.4%}, sharpe {m['sharpe']:+.3f} "
        f"(daily values, P/yr {ev.periods_per_year:.1f}), daily log sharpe (reference) "
        f"{reference['amm.daily_log_sharpe']:+.3f} -> {out}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    st.console.print(f"plot: {png}", markup=False, highlight=False, soft_wrap=True)
    finish_report(out, report)


def _register_subcommands() -> None:
    for name in SUBCOMMAND_MODULES:
        try:
            module = import_module(f"algotrader.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"algotrader.cli.{name}":
                raise
            continue
        register: Callable[[typer.Typer], None] = module.register
        register(amm_app)


_register_subcommands()


def register(app: typer.Typer) -> None:
    """Add the ``amm`` command group to the root app."""
    app.add_typer(amm_app, name="amm")


__all__ = ["SUBCOMMAND_MODULES", "amm_app", "pool_evaluation", "register"]
