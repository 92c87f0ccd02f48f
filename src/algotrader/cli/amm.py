"""``algotrader amm ...``: the AMM pool command group (a typer sub-app).

``amm run`` simulates one parameter set and writes the per-step and daily tables
(Parquet and CSV) and ``metrics.json``.  Other modules add commands to the group
through :data:`SUBCOMMAND_MODULES`: each named module ``algotrader.cli.<name>``
exposes ``register(amm_app: typer.Typer) -> None`` (the training stage registers
``amm train`` and ``amm walk-forward`` this way).  A module that is absent is skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from algotrader.cli._common import state
from algotrader.errors import ConfigError, DataError
from algotrader.io import write_csv_atomic, write_json_atomic, write_parquet_atomic

logger = logging.getLogger(__name__)

amm_app = typer.Typer(
    name="amm",
    help="Dynamic-weight AMM pools: simulate (run), train, walk-forward.",
    no_args_is_help=True,
)

#: Modules adding commands to ``amm_app`` (each with ``register(amm_app)``).
SUBCOMMAND_MODULES: tuple[str, ...] = ("amm_training",)


def _read_params(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read parameters: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("params.json must map parameter names to lists", file=str(path))
    return data


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
    params: Path = typer.Option(..., "--params", help="params.json: raw parameters by name."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    coarse_weights: Path | None = typer.Option(
        None, "--coarse-weights", help="Directly supplied coarse weights (unix + weight_<TOKEN>)."
    ),
) -> None:
    """Simulate one pool over the configured window and write tables + metrics."""
    from algotrader.amm.config import RunConfig
    from algotrader.amm.data import load_prices, make_window
    from algotrader.amm.simulate import coarse_rows_needed, simulate

    st = state()
    cfg = RunConfig.from_yaml(config)
    raw = _read_params(params)
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
        write_json_atomic(
            out / "metrics.json",
            {
                "run_id": cfg.run_id,
                "config": cfg.model_dump(mode="json"),
                "metrics": result.metrics,
                "timings_s": result.timings,
                "rows": result.per_step.height,
            },
        )
        prog.update(task, advance=1, description="done")
    m = result.metrics
    st.console.print(
        f"amm run {cfg.run_id}: {cfg.rule} on {','.join(cfg.tokens)}, {result.per_step.height} steps, "
        f"final value {m['final_value']:,.2f}, return {m['returns']:+.4%}, "
        f"over hodl {m['returns_over_hodl']:+.4%}, daily log sharpe {m['daily_log_sharpe']:+.3f} -> {out}"
    )


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


__all__ = ["SUBCOMMAND_MODULES", "amm_app", "register"]
