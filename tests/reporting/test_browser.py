"""A real headless browser opens the reports: no console errors, non-blank full-page screenshots.

Screenshots are kept under ``algotrader_data/report_screenshots/`` (CI artefacts).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from algotrader.reporting import build_report

from ._cdp import chromium_path, load_page

SHOTS = Path(__file__).resolve().parents[2] / "algotrader_data" / "report_screenshots"

if chromium_path() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI needs chromium for the report browser test (.ci/run installs it)")
    pytest.skip("chromium not installed", allow_module_level=True)


def check_png(data: bytes, width: int, height: int) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(data), format="png")
    assert img.shape[1] == width and img.shape[0] == height
    assert float(np.std(img[..., :3])) > 0.05, "blank screenshot"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["simulate", "amm-run"])
def test_report_loads_in_chromium_without_errors(
    kind: str, simulation_run: Path, amm_run: Path
) -> None:
    run = simulation_run if kind == "simulate" else amm_run
    html = build_report(run)
    page = load_page(html)
    assert page.errors == []
    assert page.height > 1500
    check_png(page.screenshot, page.width, page.height)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{kind}.png").write_bytes(page.screenshot)


def test_broken_image_is_reported(tmp_path: Path) -> None:
    page_file = tmp_path / "bad.html"
    page_file.write_text('<html><body><img src="missing.png"><p>x</p></body></html>')
    page = load_page(page_file)
    assert any("load failed" in e or "missing.png" in e for e in page.errors), page.errors


def _walk_forward_folder(root: Path) -> Path:
    """A walk-forward folder as ``amm walk-forward`` writes it (report_document), no training."""
    import json

    from algotrader.training.settings import WalkForwardSettings
    from algotrader.training.walk_forward import (
        CycleEvaluation,
        CycleSpan,
        WalkForwardResult,
        report_document,
        summarise,
        summary_notes,
        walk_forward_efficiency,
    )

    cycles = []
    for i, (is_v, oos_v) in enumerate(((1.2, 0.6), (-0.4, 0.1), (0.9, -0.2))):
        wfe = walk_forward_efficiency(is_v, oos_v)
        cycles.append(
            CycleEvaluation(
                CycleSpan(i, 1440 * i, 1440 * (i + 1), 1440 * (i + 1), 1440 * (i + 2)),
                {"daily_sharpe": is_v},
                {"daily_sharpe": oos_v},
                wfe,
                is_v - oos_v,
                0.05,
                oos_v - 0.3,
                10,
                7,
                {"log_k": np.array([4.0 + i, 4.5])},
                notes={} if np.isfinite(wfe) else {"wfe": f"IS daily_sharpe = {is_v} <= 0"},
            )
        )
    wf = WalkForwardSettings(n_cycles=3, wfe_metric="daily_sharpe")
    summary, effective, reasons = summarise(cycles, wf)
    res = WalkForwardResult(cycles, summary, effective, reasons, summary_notes(cycles, summary))
    root.mkdir(parents=True)
    doc = report_document(res, wf, report_specs=["worst_wfe", "mean_oos_daily_sharpe"])
    (root / "walk_forward.json").write_text(json.dumps(doc, allow_nan=False))
    return root


@pytest.mark.slow
def test_optimise_and_walk_forward_reports_load_in_chromium(tmp_path: Path) -> None:
    """The kinds the CLI's --report writes render in a real browser without errors."""
    import polars as pl
    from typer.testing import CliRunner

    from algotrader.cli import app

    rng = np.random.default_rng(2)
    n = 260
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 3)), axis=0))
    d = pl.date_range(
        pl.date(2020, 1, 1), pl.date(2020, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "AAA": px[:, 0], "BBB": px[:, 1], "CCC": px[:, 2]})
    prices.write_csv(tmp_path / "prices.csv")
    mom = {a: (pl.col(a) / pl.col(a).shift(10) - 1).fill_null(0.0) for a in ("AAA", "BBB", "CCC")}
    prices.with_columns(**mom).write_csv(tmp_path / "mu.csv")
    config = Path(__file__).resolve().parents[2] / "config" / "optimiser.yml"
    res = CliRunner().invoke(
        app,
        ["-q", "optimise", "--prices", str(tmp_path / "prices.csv"), "--signal",
         str(tmp_path / "mu.csv"), "--config", str(config), "--out", str(tmp_path / "opt"),
         "--report"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for kind, html in (
        ("optimise", tmp_path / "opt" / "report.html"),
        ("amm-walk-forward", build_report(_walk_forward_folder(tmp_path / "wf"))),
    ):
        page = load_page(html)
        assert page.errors == [], (kind, page.errors)
        assert page.height > 900, kind
        check_png(page.screenshot, page.width, page.height)
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{kind}.png").write_bytes(page.screenshot)
