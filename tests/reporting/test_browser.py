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
