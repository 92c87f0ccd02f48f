"""Reports from run directories: sections present, self-contained, escaped, typed errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from algotrader.cli import app
from algotrader.errors import DataError
from algotrader.reporting import build_report, load_run
from algotrader.reporting.load import periods_per_year_of
from algotrader.reporting.model import ReportData
from algotrader.reporting.render import render_html
from algotrader.reporting.sections import headline_table, monthly_heatmap

from .conftest import write_family, write_pipeline

REFS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.I)


def check_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    refs = REFS.findall(html)
    assert refs, "no references found at all"
    bad = [r for r in refs if not r.startswith(("data:", "#"))]
    assert not bad, bad[:3]
    assert "http://" not in html and "https://" not in html
    for uri in re.findall(r'src="(data:[^"]+)"', html):
        head, payload = uri.split(",", 1)
        assert head in ("data:image/svg+xml;base64", "data:image/png;base64")
        assert base64.b64decode(payload, validate=True)


def test_family_report_sections_and_escaping(family_run: Path) -> None:
    out = build_report(family_run)
    html = out.read_text()
    check_self_contained(html)
    for section in (
        'id="performance"',
        'id="recorded"',
        'id="overfitting"',
        'id="identity"',
        'id="glossary"',
        "Monthly returns",
        "Turnover and costs",
        "Rolling Sharpe",
        "<th>hodl</th>",
        "<th>equal_weight_rebalanced</th>",
        "MinTRL",
    ):
        assert section in html, section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the asset name in the config
    assert html.count("<img") >= 5


def test_simulation_report(simulation_run: Path) -> None:
    html = build_report(simulation_run).read_text()
    check_self_contained(html)
    for section in (
        "Outer folds: the candidate each fold chose",
        "Inner CPCV split scores",
        "PBO (CSCV)",
        "number of trials",
        "<th>equal_weight</th>",
        "PBO: logits of the out-of-sample rank",
    ):
        assert section in html, section
    assert "model.params.shrink=" in html
    assert "differs from the recorded" not in html  # the recomputed PBO equals the runner's


def test_amm_run_report(amm_run: Path) -> None:
    html = build_report(amm_run).read_text()
    check_self_contained(html)
    for section in ("Pool value vs HODL", "Weights path", 'id="pool-performance"', "amm_run.png"):
        assert section in html, section


def test_walk_forward_cycles_section(tmp_path: Path) -> None:
    run = write_family(tmp_path / "wf", kind="amm-walk-forward")
    (run / "cycles.json").write_text(
        json.dumps(
            {
                "cycles": [
                    {
                        "cycle": i,
                        "is_sharpe": 1.0 + i,
                        "oos_sharpe": 0.4 * i,
                        "wfe": 0.4 * i / (1 + i),
                    }
                    for i in range(3)
                ]
            }
        )
    )
    html = build_report(run).read_text()
    assert "Per-cycle results" in html and "sharpe: in-sample vs out-of-sample" in html


def test_pipeline_report_has_one_section_per_family(tmp_path: Path) -> None:
    html = build_report(write_pipeline(tmp_path / "pipe")).read_text()
    assert 'id="comparison"' in html and "2021-01-04" in html
    assert 'id="optimiser-performance"' in html and 'id="amm-performance"' in html


def test_pngs_written_by_a_run_are_embedded(tmp_path: Path) -> None:
    from algotrader.reporting.style import figure

    run = tmp_path / "r"
    (run / "diagnostics").mkdir(parents=True)
    with figure() as (fig, ax):
        ax.plot([0, 1], [0, 1])
        fig.savefig(run / "diagnostics" / "pit.png")
    html = build_report(run).read_text()
    assert "diagnostics/pit.png" in html and "data:image/png;base64," in html


def test_headline_metrics_are_the_registry_values() -> None:
    from algotrader.metrics.registry import compute_metrics

    r = np.random.default_rng(5).normal(0.001, 0.01, 500)
    t = headline_table({"s": r}, 252.0)
    ref = compute_metrics(
        np.concatenate([[1.0], np.cumprod(1 + r)]), periods_per_year=252.0, names=["sharpe"]
    )
    row = next(row for row in t.rows if row[0] == "sharpe")
    assert row[1] == f"{ref['sharpe']:.3f}"


def test_monthly_heatmap_compounds_returns() -> None:
    dates = np.array(["2024-01-02", "2024-01-03", "2024-02-01"], dtype="datetime64[D]")
    h = monthly_heatmap(dates, np.array([0.1, 0.1, -0.5]))
    jan, feb, year = h.rows[0][1][0], h.rows[0][1][1], h.rows[0][1][12]
    assert (jan.text, feb.text, year.text) == ("21.0%", "-50.0%", "-39.5%")


@pytest.mark.parametrize(("step", "expected"), [(1, 365.0), (7, 365.25 / 7)])
def test_periods_per_year_from_calendar(step: int, expected: float) -> None:
    d = np.arange(0, 400, step).astype("datetime64[D]")
    assert periods_per_year_of(d) == pytest.approx(expected)


def test_trading_day_calendar_is_252() -> None:
    d = np.array(
        [
            x
            for x in np.arange("2024-01-01", "2025-01-01", dtype="datetime64[D]")
            if x.astype(object).weekday() < 5
        ]
    )
    assert periods_per_year_of(d) == 252.0


def test_not_a_run_directory_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a run directory") as info:
        load_run(tmp_path)
    assert info.value.file == str(tmp_path)
    with pytest.raises(DataError, match="not found"):
        load_run(tmp_path / "missing")


def test_unreadable_file_is_a_warning_in_the_page(family_run: Path) -> None:
    (family_run / "metrics.json").write_text("{not json")
    html = build_report(family_run).read_text()
    assert "could not read metrics.json" in html


def test_render_escapes_every_string() -> None:
    rep = ReportData(
        title="<b>x</b>", kind="k<", run_dir="/tmp/<i>", identity=[("a", "<img src=x>")]
    )
    html = render_html(rep, generated="now")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<img src=x>" not in html


def test_cli_report(family_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["-q", "report", str(family_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and str(out) in result.output


@pytest.mark.slow
def test_default_pipeline_ends_with_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGOTRADER_HOME", str(tmp_path / "home"))
    out = tmp_path / "pipe"
    result = CliRunner().invoke(app, ["-q", "pipeline", "--out", str(out)])
    assert result.exception is None and result.exit_code == 0, result.output
    report = out / "report.html"
    assert f"report: {report}" in result.output
    html = report.read_text()
    check_self_contained(html)
    for section in (
        'id="comparison"',
        'id="optimiser-performance"',
        'id="amm-performance"',
        'id="equal_weight-performance"',
        "Outer folds: the candidate each fold chose",
    ):
        assert section in html, section


def test_simulate_report_flag(tmp_path: Path) -> None:
    import yaml

    from .conftest import simulation_config

    cfg = tmp_path / "sim.yml"
    cfg.write_text(yaml.safe_dump(simulation_config(tmp_path / "out")))
    result = CliRunner().invoke(app, ["-q", "simulate", "--config", str(cfg), "--report"])
    assert result.exit_code == 0, result.output
    reports = list((tmp_path / "out").rglob("report.html"))
    assert len(reports) == 1 and f"report: {reports[0]}" in result.output
    assert "Inner CPCV split scores" in reports[0].read_text()
