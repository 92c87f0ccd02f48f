"""Correlation-aware signal optimiser: batch engine, O(N^2) stream, analytics.

Public API:

* :class:`OptimiserConfig` (+ :class:`EwmaShrinkConfig`, :class:`SlidingWindowConfig`),
  :func:`load_config`;
* :func:`run_batch` -> :class:`OptimiserResult` (cash/risk positions, vola, status,
  diagnostics, correlation of a row, signal quality);
* :class:`OptimiserStream` (``from_warmup``, ``step`` -> :class:`StepResult`, ``save``/``load``);
* :class:`SolveStatus`, :class:`FactorModel`;
* :func:`analyse` -> :class:`PerformanceReport`, :func:`plot_performance`.
"""

from __future__ import annotations

from algotrader.portfolio.analytics import PerformanceReport, analyse, plot_performance
from algotrader.portfolio.config import (
    EwmaShrinkConfig,
    OptimiserConfig,
    SlidingWindowConfig,
    config_from_mapping,
    load_config,
)
from algotrader.portfolio.engine import Diagnostics, OptimiserResult, run_batch
from algotrader.portfolio.factor import FactorModel
from algotrader.portfolio.rowmath import SolveStatus
from algotrader.portfolio.signal_quality import SignalQuality
from algotrader.portfolio.stream import (
    FORMAT_VERSION,
    OptimiserStream,
    StepResult,
    StreamStateError,
)

__all__ = [
    "FORMAT_VERSION",
    "Diagnostics",
    "EwmaShrinkConfig",
    "FactorModel",
    "OptimiserConfig",
    "OptimiserResult",
    "OptimiserStream",
    "PerformanceReport",
    "SignalQuality",
    "SlidingWindowConfig",
    "SolveStatus",
    "StepResult",
    "StreamStateError",
    "analyse",
    "config_from_mapping",
    "load_config",
    "plot_performance",
    "run_batch",
]
