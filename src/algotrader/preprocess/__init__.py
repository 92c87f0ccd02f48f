"""Preprocessing: the leakage-safe per-split pipeline (``fit``/``transform``) and the
exploratory whole-range preprocessors (``identity``, ``zscore``, ``pca``)."""

from __future__ import annotations

from algotrader.preprocess.config import PipelineConfig
from algotrader.preprocess.exploratory import PCAResult, ZScoreResult, identity, pca, zscore
from algotrader.preprocess.pipeline import (
    PipelineState,
    PreprocessError,
    fit,
    load_state,
    save_state,
    transform,
)

__all__ = [
    "PCAResult",
    "PipelineConfig",
    "PipelineState",
    "PreprocessError",
    "ZScoreResult",
    "fit",
    "identity",
    "load_state",
    "pca",
    "save_state",
    "transform",
    "zscore",
]
