"""Issue 14 (``--report`` on every run-writing command) and issue 16 item 13 (plots, strict JSON).

One real run of each command through the CLI (typer's CliRunner) on tiny synthetic data:
``optimise``, ``backtest`` (on the optimiser's currency positions), ``amm run``, ``amm train``
(no test window) and ``amm walk-forward`` (two cycles), each with ``--report``. The output
folders' names carry ``<script>`` so every report must escape a user-controlled string.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from algotrader.cli import app

from ._amm_inputs import amm_prices_and_config

pytestmark = pytest.mark.slow

EVIL = "<script>alert(1)"  # a folder name: '/' cannot be in it, '<script>' can
REFS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.I)
PNG = b"\x89PNG\r\n\x1a\n"


def _invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, ["-q", *args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def _optimiser_inputs(tmp: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    n = 300
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 3)) + 0.0003, axis=0))
    d = pl.date_range(
        pl.date(2020, 1, 1), pl.date(2020, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "AAA": px[:, 0], "BBB": px[:, 1], "CCC": px[:, 2]})
    mom = {a: (pl.col(a) / pl.col(a).shift(20) - 1).fill_null(0.0) for a in ("AAA", "BBB", "CCC")}
    prices.write_csv(tmp / "prices.csv")
    prices.with_columns(**mom).write_csv(tmp / "mu.csv")
    return tmp / "prices.csv", tmp / "mu.csv"


def _amm_inputs(tmp: Path) -> tuple[Path, Path, Path, Path]:
    prices, base = amm_prices_and_config(tmp)
    train = tmp / "train.yaml"
    train.write_text(yaml.safe_dump(base))
    wf = tmp / "wf.yaml"
    wf.write_text(
        yaml.safe_dump(
            {
                **base,
                "endDateString": "2023-01-25 23:59:00",
                "endTestDateString": "2023-02-08 23:59:00",
            }
        )
    )
    params = tmp / "params.json"
    params.write_text(
        json.dumps(
            {
                "initial_weights_logits": [0.0, 0.0],
                "log_k": [4.3, 4.3],
                "logit_delta_lamb": [0.0, 0.0],
                "logit_lamb": [2.0, 2.0],
            }
        )
    )
    return prices, train, wf, params


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """``kind -> (run folder, CLI output)`` of one real run per command, each with --report."""
    tmp = tmp_path_factory.mktemp("runs")
    root = tmp / EVIL
    root.mkdir()
    config = Path(__file__).resolve().parents[2] / "config" / "optimiser.yml"
    prices, mu = _optimiser_inputs(tmp)
    out: dict[str, tuple[Path, str]] = {}
    opt = root / "opt"
    text = _invoke(["optimise", "--prices", str(prices), "--signal", str(mu), "--config",
                    str(config), "--out", str(opt), "--report"])  # fmt: skip
    out["optimise"] = (opt, text)
    bt = root / "bt"
    text = _invoke(["backtest", "--weights", str(opt / "position_currency.csv"), "--positions",
                    "--initial-value", "1e6", "--prices", str(prices), "--out", str(bt),
                    "--report"])  # fmt: skip
    out["backtest"] = (bt, text)
    px, train, wf, params = _amm_inputs(tmp)
    sim = root / "sim"
    text = _invoke(["amm", "run", "--config", str(train), "--prices", str(px), "--params",
                    str(params), "--out", str(sim), "--report"])  # fmt: skip
    out["amm-run"] = (sim, text)
    text = _invoke(["amm", "train", "--config", str(train), "--prices", str(px), "--out",
                    str(root / "train"), "--report"])  # fmt: skip
    (run_dir,) = [p for p in (root / "train").iterdir() if p.is_dir()]
    out["amm-train"] = (run_dir, text)
    wfd = root / "wf"
    text = _invoke(["amm", "walk-forward", "--config", str(wf), "--prices", str(px), "--out",
                    str(wfd), "--cycles", "2", "--report"])  # fmt: skip
    out["amm-walk-forward"] = (wfd, text)
    return out


def check_page(html: str) -> None:
    """Self-contained (no network, no script), images decode, user strings escaped."""
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)" in html  # the folder name, escaped
    refs = REFS.findall(html)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), refs[:3]
    assert "http://" not in html and "https://" not in html
    ids = set(re.findall(r'id="([^"]+)"', html))
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert anchor in ids, anchor  # no broken in-page links
    imgs = re.findall(r'<img src="([^"]*)"', html)
    assert imgs, "no figures"
    for uri in imgs:
        head, payload = uri.split(",", 1)
        assert head in ("data:image/svg+xml;base64", "data:image/png;base64"), head
        data = base64.b64decode(payload, validate=True)
        assert len(data) > 500 and (data.startswith(PNG) or b"<svg" in data[:400])


SECTIONS = {
    "optimise": [
        'id="optimiser"',
        'id="performance"',
        "<th>hodl</th>",
        "<th>uniform_hodl</th>",
        "<th>equal_weight_rebalanced</th>",
        "Equity",
        "Drawdown",
        "Rolling Sharpe and volatility",
        "Monthly returns",
        "Weights / positions",
        "Turnover and costs",
        "optimise.png",
    ],
    "backtest": [
        'id="performance"',
        "<th>hodl</th>",
        "<th>uniform_hodl</th>",
        "Drawdown",
        "Rolling Sharpe and volatility",
        "Monthly returns",
        "Weights / positions",
        "Turnover and costs",
        'id="recorded"',
        "backtest.png",
    ],
    "amm-run": [
        "Pool value vs HODL",
        "Weights path",
        'id="pool-performance"',
        'id="performance"',
        "<th>equal_weight_rebalanced</th>",
        'id="recorded"',
        "amm_run.png",
    ],
    "amm-train": [
        'id="training"',
        "Objective per iteration",
        "returns: train vs validation",
        "Selected parameters (raw)",
        "no test window",
        "training.png",
    ],
    "amm-walk-forward": [
        'id="walk-forward-summary"',
        "Per-cycle results",
        "cycle_000",
        "cycle_001",
        "Chosen parameters per cycle",
        "daily_sharpe: in-sample vs out-of-sample",
        "Training objective per cycle",
        "walk_forward.png",
    ],
}
KINDS = list(SECTIONS)


@pytest.mark.parametrize("kind", KINDS)
def test_report_flag_writes_the_report_and_prints_its_path(
    kind: str, runs: dict[str, tuple[Path, str]]
) -> None:
    folder, text = runs[kind]
    page = folder / "report.html"
    assert page.is_file()
    assert f"report: {page}" in text.replace("\n", "")
    html = page.read_text(encoding="utf-8")
    check_page(html)
    for needle in SECTIONS[kind]:
        assert needle in html, (kind, needle)
    assert "could not read" not in html  # every file of the run was understood
    manifest = json.loads((folder / "run_manifest.json").read_text())
    assert manifest["kind"] in (kind, "train")


@pytest.mark.parametrize("kind", KINDS)
def test_report_command_detects_the_kind(
    kind: str, runs: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    """`algotrader report DIR` on each folder; without its manifest the files still tell."""
    folder, _ = runs[kind]
    copy = tmp_path / EVIL
    shutil.copytree(folder, copy)
    (copy / "report.html").unlink()
    for manifest in (True, False):
        if not manifest:
            (copy / "run_manifest.json").unlink()
        text = _invoke(["report", str(copy), "--out", str(tmp_path / "r.html")])
        assert "report:" in text
        html = (tmp_path / "r.html").read_text()
        check_page(html)
        shown = re.search(r">([\w-]+) run &middot;", html)
        assert shown is not None and shown.group(1) in (kind, "train"), kind
        for needle in SECTIONS[kind]:
            assert needle in html, (kind, manifest, needle)


def test_plots_are_pngs(runs: dict[str, tuple[Path, str]]) -> None:
    """Item 13: optimise, amm run, amm train and amm walk-forward each write their PNG."""
    for kind, name in (
        ("optimise", "optimise.png"),
        ("amm-run", "amm_run.png"),
        ("amm-train", "training.png"),
        ("amm-walk-forward", "walk_forward.png"),
    ):
        folder, text = runs[kind]
        data = (folder / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, kind
        assert name in text.replace("\n", ""), kind  # the path is printed


def test_json_outputs_are_strict(runs: dict[str, tuple[Path, str]]) -> None:
    """Item 13: NaN is JSON null, never NaN / Infinity / the string "nan"."""

    def strict(obj: object) -> None:
        if isinstance(obj, dict):
            for v in obj.values():
                strict(v)
        elif isinstance(obj, list):
            for v in obj:
                strict(v)
        else:
            assert obj not in ("nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"), obj

    def no_constant(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    for folder, _ in runs.values():
        for path in folder.rglob("*.json"):
            strict(json.loads(path.read_text(), parse_constant=no_constant))


def test_walk_forward_cycle_folders_and_reasons(runs: dict[str, tuple[Path, str]]) -> None:
    """Item 13: cycle folders named by cycle; an undefined value prints its reason."""
    folder, text = runs["amm-walk-forward"]
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["cycle_000", "cycle_001"]
    for cycle in ("cycle_000", "cycle_001"):
        (run,) = list((folder / cycle).iterdir())
        assert (run / "result.json").is_file()
    doc = json.loads((folder / "walk_forward.json").read_text())
    assert [c["folder"] for c in doc["cycles"]] == ["cycle_000", "cycle_001"]
    assert doc["cycles"][0]["span"]["test_first"].startswith("2023-01")
    # two iterations: one training checkpoint, so the Rademacher bound is undefined
    c0 = doc["cycles"][0]
    assert c0["rademacher"] is None and c0["adjusted_oos_sharpe"] is None
    assert "training checkpoints" in c0["notes"]["rademacher"]
    assert "Rademacher" in c0["notes"]["adjusted_oos_sharpe"]
    flat = text.replace("\n", " ")
    assert "adjusted OOS Sharpe n/a: needs the Rademacher complexity" in flat
    assert "nan" not in flat.lower().replace("nan_", "")
    assert "-inf" not in flat
    assert doc["summary"]["mean_adjusted_oos_sharpe"] is None
    assert "training checkpoints" in doc["summary_notes"]["mean_adjusted_oos_sharpe"]


def test_train_without_test_window_names_it(runs: dict[str, tuple[Path, str]]) -> None:
    """Item 11: no endTestDateString -> the test metrics are said to be not computed, no nan."""
    _, text = runs["amm-train"]
    assert "nan" not in text.lower()
    assert "test metrics: not computed" in text and "no test window" in text
    header = next(line for line in text.splitlines() if "metric" in line and "train" in line)
    assert "test" not in header
