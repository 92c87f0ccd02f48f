"""Diagnostics: calibrated forecasts pass, mis-specified ones fail; files are written."""

from __future__ import annotations

import numpy as np

from algotrader.forecasting.diagnostics import (
    coverage_curve,
    energy_prerank,
    pit_histogram,
    write_diagnostics,
)
from algotrader.forecasting.scoring import pit


def test_prerank_detects_wrong_dependence() -> None:
    rng = np.random.default_rng(1)
    c = np.array([[1.0, 0.9], [0.9, 1.0]])
    lch = np.linalg.cholesky(c)
    y = rng.normal(size=(600, 2)) @ lch.T
    good = rng.normal(size=(19, 600, 2)) @ lch.T
    bad = rng.normal(size=(19, 600, 2))  # ignores the correlation
    assert energy_prerank(y, good, bins=5)[1] > 0.01
    assert energy_prerank(y, bad, bins=5)[1] < 1e-3


def test_pit_and_coverage_numbers() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(99, 400, 2)), rng.normal(size=(400, 2))
    dens, p = pit_histogram(pit(y, x, seed=0), bins=10)
    assert abs(dens.mean() - 1.0) < 1e-12 and p > 0.01
    cc = coverage_curve(y, x, [0.5, 0.9])
    assert ((cc["coverage"] >= cc["lo"]) & (cc["coverage"] <= cc["hi"])).all()


def test_write_diagnostics(tmp_path) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 40, 2)), rng.normal(size=(40, 2))
    files = write_diagnostics(tmp_path, y, x, ["A", "B"], losses={"outer_0": np.arange(5.0)})
    names = {f.name for f in files}
    assert {
        "calibration.png",
        "fan_A.png",
        "pit_histogram.csv",
        "energy_prerank.csv",
        "svi_loss_outer_0.png",
        "rolling_coverage_p90.csv",
    } <= names
    assert all(f.stat().st_size > 0 for f in files)
