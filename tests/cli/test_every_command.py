"""Issue 16 item 12: what every command offers (``--quiet``, an example in ``--help``, flags
without a ``<bool>`` metavar), progress bars with a real total and tables that never cut a
path or a metric name; item 13: walk-forward values that are undefined are ``null`` + reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from algotrader.cli import app

CONFIG = Path(__file__).resolve().parents[2] / "config" / "optimiser.yml"


def _commands() -> Iterator[tuple[list[str], Any]]:
    """Every registered leaf command (hidden aliases included) as (argv path, command)."""
    root = typer.main.get_command(app)

    def walk(cmd: Any, path: list[str], ctx: Any) -> Iterator[tuple[list[str], Any]]:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                yield from walk(sub, [*path, name], ctx)
        else:
            yield path, cmd

    ctx = root.make_context("algotrader", [], resilient_parsing=True)
    yield from walk(root, [], ctx)


COMMANDS = [path for path, _ in _commands()]


def test_the_walk_sees_every_stage() -> None:
    names = {" ".join(p) for p in COMMANDS}
    expected = {"datasets", "data-cleaning", "optimise", "backtest", "amm run", "amm train"}
    expected |= {"amm walk-forward", "pipeline", "report", "simulate", "historical"}
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_has_example_quiet_and_no_bool_metavar(path: list[str]) -> None:
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Example: algotrader " in res.output, res.output
    assert "--quiet" in res.output
    assert "<bool>" not in res.output
    res = CliRunner().invoke(app, [*path, "--quiet", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output  # --quiet accepted after the command's name


def _inputs(tmp: Path, n: int = 120) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 2)), axis=0))
    d = pl.date_range(
        pl.date(2021, 1, 1), pl.date(2021, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "ASSET_WITH_A_LONG_NAME": px[:, 0], "B": px[:, 1]})
    prices.write_csv(tmp / "prices.csv")
    mom = {c: (pl.col(c) / pl.col(c).shift(5) - 1).fill_null(0.0) for c in prices.columns[1:]}
    prices.with_columns(**mom).write_csv(tmp / "mu.csv")
    return tmp / "prices.csv", tmp / "mu.csv"


def test_stream_progress_has_a_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`optimise --mode stream` showed ``0/?``: the bar now starts with rows - warm-up."""
    from rich.progress import Progress

    from algotrader.portfolio.config import load_config

    totals: list[float | None] = []
    original = Progress.add_task

    def add_task(self: Progress, description: str, *args: Any, **kwargs: Any) -> Any:
        totals.append(kwargs.get("total", args[1] if len(args) > 1 else 100.0))
        return original(self, description, *args, **kwargs)

    monkeypatch.setattr(Progress, "add_task", add_task)
    prices, mu = _inputs(tmp_path)
    res = CliRunner().invoke(
        app,
        ["optimise", "--prices", str(prices), "--signal", str(mu), "--config", str(CONFIG),
         "--out", str(tmp_path / "o"), "--mode", "stream"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert totals == [120 - (load_config(CONFIG).warmup_rows + 1)]
    assert "/?" not in res.output


def test_narrow_terminal_tables_fold_instead_of_cutting(tmp_path: Path) -> None:
    """Metric names and paths are printed whole (folded), never elided with an ellipsis."""
    prices, mu = _inputs(tmp_path)
    deep = tmp_path / "a_rather_long_folder_name" / "and_another_one" / "opt"
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["-q", "optimise", "--prices", str(prices), "--signal", str(mu), "--config",
         str(CONFIG), "--out", str(deep)],
        env={"COLUMNS": "40"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res2 = runner.invoke(
        app,
        ["-q", "backtest", "--weights", str(deep / "position_currency.csv"), "--positions",
         "--initial-value", "1e6", "--prices", str(prices), "--out", str(deep / "bt")],
        env={"COLUMNS": "40"},
    )  # fmt: skip
    assert res2.exit_code == 0, res2.output
    for out in (res.output, res2.output):
        assert "\u2026" not in out and "..." not in out, out
    first_column = "".join(
        line.split("\u2502")[1].strip()
        for line in res2.output.splitlines()
        if line.startswith("\u2502")
    )
    assert "returns_over_uniform_hodl" in first_column  # folded across lines, every letter kept
    assert f"artifacts in {deep / 'bt'}" in res2.output  # the path on its own line, whole


# ---------------------------------------------------------------- walk-forward JSON (item 13)


def _cycle(i: int, is_v: float, oos_v: float) -> Any:
    from algotrader.training.walk_forward import CycleEvaluation, CycleSpan, walk_forward_efficiency

    wfe = walk_forward_efficiency(is_v, oos_v)
    notes = {} if math.isfinite(wfe) else {"wfe": f"IS daily_sharpe = {is_v:.4g} <= 0"}
    return CycleEvaluation(
        CycleSpan(i, 10 * i, 10 * i + 10, 10 * i + 10, 10 * i + 20),
        {"daily_sharpe": is_v, "ulcer": float("nan")},
        {"daily_sharpe": oos_v, "ulcer": float("nan")},
        wfe,
        is_v - oos_v,
        float("nan"),
        float("nan"),
        3,
        2,
        {"log_k": np.array([1.0, 2.0])},
        notes={**notes, "adjusted_oos_sharpe": "needs the Rademacher complexity"},
    )


def test_all_wfe_undefined_is_null_with_a_reason_not_minus_inf() -> None:
    """`worst_wfe` was -inf in the summary while every cycle showed WFE nan."""
    from algotrader.training.settings import WalkForwardSettings
    from algotrader.training.walk_forward import (
        WalkForwardResult,
        cycle_metric,
        cycle_metric_value,
        report_document,
        summarise,
        summary_notes,
    )

    cycles = [_cycle(0, -0.5, 0.2), _cycle(1, -0.1, -0.3)]
    wf = WalkForwardSettings(n_cycles=2, wfe_metric="daily_sharpe")
    summary, effective, reasons = summarise(cycles, wf)
    res = WalkForwardResult(cycles, summary, effective, reasons, summary_notes(cycles, summary))
    value, why = cycle_metric_value(cycles, "worst_wfe")
    assert value is None and "cycle 0 (IS daily_sharpe = -0.5 <= 0)" in why and "cycle 1" in why
    assert cycle_metric(cycles, "worst_wfe") == float("-inf")  # searches still avoid it
    doc = report_document(res, wf, report_specs=["worst_wfe", "mean_wfe", "mean_oos_daily_sharpe"])
    text = json.dumps(doc, allow_nan=False)  # strict JSON: raises on NaN / inf
    assert '"nan"' not in text and "-inf" not in text and "Infinity" not in text
    assert doc["metrics"]["worst_wfe"] is None and "<= 0" in doc["metric_notes"]["worst_wfe"]
    assert doc["metrics"]["mean_oos_daily_sharpe"] == pytest.approx(-0.05)
    assert doc["summary"]["mean_wfe"] is None and "<= 0" in doc["summary_notes"]["mean_wfe"]
    c0 = doc["cycles"][0]
    assert c0["wfe"] is None and c0["notes"]["wfe"].startswith("IS daily_sharpe")
    assert c0["is"]["ulcer"] is None and c0["folder"] == "cycle_000"


def test_partly_undefined_mean_says_what_it_left_out() -> None:
    from algotrader.training.walk_forward import cycle_metric_value

    cycles = [_cycle(0, 1.0, 0.5), _cycle(1, -1.0, 0.5)]
    value, why = cycle_metric_value(cycles, "mean_wfe")
    assert value == pytest.approx(0.5) and why.startswith("mean over defined cycles")
    assert cycle_metric_value(cycles, "worst_wfe")[0] is None
    assert cycle_metric_value(cycles, "neg_worst_oos_daily_sharpe") == (-0.5, "")


def test_simulate_tables_fold_on_a_narrow_terminal() -> None:
    """The simulate summary tables (outer folds, overfitting) keep every character at 40 columns."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from algotrader.cli.simulate import _tables

    fold = {
        "outer_k": 0,
        "first_date": "2020-01-03T00:00:00",
        "last_date": "2020-12-25T00:00:00",
        "candidate_id": 12,
        "inner_aggregate": 0.5,
        "outer_score": 0.25,
        "metrics": {"sharpe": 1.25, "max_drawdown": -0.125},
        "baselines": {"equal_weight": {"sharpe": 0.75}},
    }
    metrics = {
        "n_candidates": 8,
        "chosen": {"sharpe": 1.25},
        "psr": 0.9,
        "dsr": 0.6,
        "pbo": {"pbo": 0.3},
        "wfe_mean": 0.8,
    }
    console = Console(width=40, record=True, file=io.StringIO())
    for table in _tables(SimpleNamespace(folds=[fold], metrics=metrics)):
        console.print(table)
    text = console.export_text()
    assert "\u2026" not in text
    flat = "".join(text.split())
    assert "walk-forwardefficiency" in flat.replace("\u2502", "")  # folded, every letter kept
