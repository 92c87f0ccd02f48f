"""The optimiser as a :class:`~algotrader.tuning.SplitObjective` on walk-forward splits.

A candidate sets dot paths of the optimiser config (``vola``, ``corr``, ``shrink``, ...). For
split ``k`` the test window is ``[start_k, end_k)`` (rows of the price frame); the optimiser is
run by :func:`algotrader.portfolio.run_batch` on rows ``[0, end_k)`` only (it is causal: row t's
positions use data up to row t), the cash positions go through the one backtest
(:func:`algotrader.backtest.run_backtest`, ``kind="positions"``, ``lag`` bars, one
:class:`~algotrader.backtest.CostModel`, starting value ``aum``), and the score is the
annualised Sharpe (:func:`algotrader.metrics.returns_based.sharpe`) of the net simple returns
earned inside the test window. A candidate whose config is invalid, or whose book goes
bust, scores NaN (never chosen). Nothing after ``end_k`` is read, so later prices cannot move
a split's score (tested).

Example:
    >>> walk_forward_windows(100, n_splits=3, min_train=40)
    ((40, 60), (60, 80), (80, 100))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from algotrader.backtest import CostModel, run_backtest
from algotrader.errors import AlgotraderError, ConfigError
from algotrader.metrics.returns_based import sharpe
from algotrader.portfolio import OptimiserConfig, run_batch
from algotrader.tuning.objective import Candidate
from algotrader.tuning.space import apply_candidate

__all__ = ["OptimiserObjective", "walk_forward_windows"]

logger = logging.getLogger(__name__)


def walk_forward_windows(
    n_rows: int, *, n_splits: int, min_train: int
) -> tuple[tuple[int, int], ...]:
    """``n_splits`` consecutive equal test windows after ``min_train`` rows (last one ends at T).

    Raises:
        ConfigError: fewer than one row per window.
    """
    usable = n_rows - min_train
    if n_splits < 1 or min_train < 0 or usable < n_splits:
        raise ConfigError(
            f"cannot cut {n_splits} walk-forward windows from {n_rows} rows after "
            f"{min_train} training rows",
            key="n_splits",
            hint="use fewer splits or a shorter min_train",
        )
    size = usable // n_splits
    first = n_rows - size * n_splits
    return tuple((first + k * size, first + (k + 1) * size) for k in range(n_splits))


class OptimiserObjective:
    """Sharpe of net returns of the optimiser per walk-forward test window.

    Args:
        prices, mu: the optimiser's wide frames (``date`` + one column per asset).
        base_config: the optimiser config as a mapping; candidates are applied on top.
        windows: ``(start, end)`` test windows (row indices, end exclusive).
        costs: the cost model of the backtest.
        periods_per_year: for the Sharpe (from the data's calendar).
        lag: execution lag of the backtest.
    """

    def __init__(
        self,
        prices: pl.DataFrame,
        mu: pl.DataFrame,
        base_config: Mapping[str, Any],
        windows: Sequence[tuple[int, int]],
        *,
        costs: CostModel,
        periods_per_year: float,
        lag: int = 1,
    ) -> None:
        OptimiserConfig.from_mapping(dict(base_config))
        for start, end in windows:
            if not 0 < start < end <= prices.height:
                raise ConfigError(
                    f"walk-forward window ({start}, {end}) outside 1..{prices.height} rows",
                    key="windows",
                )
        self.prices, self.mu = prices, mu
        self.base_config = dict(base_config)
        self.windows = tuple((int(s), int(e)) for s, e in windows)
        self.costs, self.periods_per_year, self.lag = costs, float(periods_per_year), lag

    @property
    def split_ids(self) -> tuple[int, ...]:
        """One split per window."""
        return tuple(range(len(self.windows)))

    def net_returns(self, candidate: Candidate, split: int) -> np.ndarray:
        """Net simple returns of the rows inside test window ``split``."""
        start, end = self.windows[split]
        cfg = OptimiserConfig.from_mapping(apply_candidate(self.base_config, candidate.params))
        res = run_batch(self.prices.head(end), self.mu.head(end), cfg)
        asset_cols = [c for c in self.prices.columns if c != "date"]
        px = self.prices.head(end).select(list(res.inputs.assets)).to_numpy().astype(np.float64)
        cash = np.nan_to_num(np.asarray(res.cash, dtype=np.float64), nan=0.0)
        px = _fill_prices(px)
        bt = run_backtest(
            px,
            cash,
            kind="positions",
            lag=self.lag,
            costs=self.costs,
            initial_value=cfg.aum,
            asset_names=list(res.inputs.assets) or asset_cols,
        )
        # simple_returns[t - 1] is the return from bar t-1 to bar t
        return np.asarray(bt.simple_returns[start - 1 : end - 1], dtype=np.float64)

    def evaluate(self, candidate: Candidate, split: int) -> float:
        """Annualised Sharpe of the net returns in the window; NaN when it cannot be run."""
        try:
            r = self.net_returns(candidate, split)
        except (AlgotraderError, ValueError) as exc:
            logger.info("candidate %d split %d scores NaN: %s", candidate.id, split, exc)
            return float("nan")
        return float(sharpe(r, periods_per_year=self.periods_per_year))


def _fill_prices(px: np.ndarray) -> np.ndarray:
    """Forward-fill gaps (a held asset keeps its last price), back-fill the leading ones."""
    out = px.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            raise ConfigError(f"asset column {j} has no price", key="prices")
        idx = np.where(ok, np.arange(col.size), 0)
        np.maximum.accumulate(idx, out=idx)
        col[:] = col[idx]
        col[: int(np.argmax(ok))] = col[int(np.argmax(ok))]
    return out
