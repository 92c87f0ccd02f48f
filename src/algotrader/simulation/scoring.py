"""Scoring registry and the one path from weights to net returns (backtest + CostModel).

Net returns of a decision over test rows ``t_1 < ... < t_n``: the runner builds the pseudo
price path ``P_0 = 1, P_{j+1} = P_j (1 + y[t_j])`` (a missing target counts as a flat price)
and backtests the weights with :func:`algotrader.backtest.run_backtest` at ``lag=0``: the
weights decided at row ``t_j`` (after its close) are traded at ``P_j`` (the start of the
period ``y[t_j]`` is earned over) and held over it, with drift, costs on every trade
including the first (the first return is measured from the NAV before it), all from the run's one :class:`~algotrader.backtest.CostModel`. A CPCV
test set with several blocks is one path (the gap is skipped; the rebalance across it pays
costs).

Scorers (higher is better): ``sharpe`` and ``log_sharpe`` (annualised, of net returns),
``mean_return``, ``neg_mse`` (predictive mean vs observed targets). Families add their own
(``energy_score`` for forecasts) through ``Family.scorers()``.

Example:
    >>> import numpy as np
    >>> from algotrader.simulation.family import SimulationData, Decision
    >>> data = SimulationData.from_arrays(np.array([[0.1, 0.0], [0.0, 0.1]]))
    >>> net_returns(data, np.array([0, 1]), np.full((2, 2), 0.5), CostModel()).round(6).tolist()
    [0.05, 0.05]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from algotrader import metrics
from algotrader.backtest import BacktestResult, CostModel, run_backtest
from algotrader.errors import ConfigError
from algotrader.simulation.family import (
    Decision,
    Family,
    FamilyContext,
    FloatArray,
    IntArray,
    Scorer,
    SimulationData,
)

__all__ = [
    "backtest_block",
    "block_returns",
    "get_scorer",
    "net_returns",
    "register_scorer",
    "scorer_names",
]


def backtest_block(
    data: SimulationData, idx: IntArray, weights: FloatArray, cost: CostModel
) -> BacktestResult:
    """The backtest of ``weights`` (n, A) over the rows ``idx`` on the pseudo price path."""
    r = np.where(data.y_mask[idx], data.y[idx], 0.0)
    n, a = r.shape
    prices = np.ones((n + 1, a))
    prices[1:] = np.cumprod(1.0 + r, axis=0)
    decisions = np.full((n + 1, a), np.nan)
    decisions[:n] = weights
    return run_backtest(prices, decisions, lag=0, costs=cost, asset_names=data.assets)


def net_returns(
    data: SimulationData, test_idx: IntArray, weights: FloatArray, cost: CostModel
) -> FloatArray:
    """Net simple returns (n,) of ``weights`` (n, A) over the rows ``test_idx``."""
    return block_returns(backtest_block(data, test_idx, weights, cost))


def block_returns(res: BacktestResult) -> FloatArray:
    """Per-period net returns of a block backtest, measured between pre-trade values.

    ``r_j = Vpre_{j+1} / Vpre_j - 1`` with ``Vpre_j = V_j + (trade costs at j)`` (the value
    before the trade of row ``j``; ``Vpre_0`` is the starting NAV): the cost of the trade
    decided at row ``j`` is charged to ``r_j``, the first trade included.
    """
    pre = res.values + res.costs - res.cost_breakdown["holding"]
    return np.asarray(pre[1:] / pre[:-1] - 1.0, dtype=np.float64)


def _sharpe(
    data: SimulationData, test_idx: IntArray, d: Decision, net: FloatArray, ctx: FamilyContext
) -> float:
    return float(metrics.sharpe(net, periods_per_year=data.periods_per_year))


def _log_sharpe(
    data: SimulationData, test_idx: IntArray, d: Decision, net: FloatArray, ctx: FamilyContext
) -> float:
    return float(metrics.log_sharpe(net, periods_per_year=data.periods_per_year))


def _mean_return(
    data: SimulationData, test_idx: IntArray, d: Decision, net: FloatArray, ctx: FamilyContext
) -> float:
    return float(np.mean(net)) if net.size else float("nan")


def _neg_mse(
    data: SimulationData, test_idx: IntArray, d: Decision, net: FloatArray, ctx: FamilyContext
) -> float:
    if d.mean is None:
        raise ConfigError(
            "scoring metric neg_mse needs a family that returns a predictive mean",
            key="scoring.metric_name",
            hint="use sharpe or log_sharpe for allocation families",
        )
    obs = data.y_mask[test_idx]
    if not obs.any():
        return float("nan")
    err = (d.mean - np.where(obs, data.y[test_idx], 0.0))[obs]
    return -float(np.mean(err**2))


_SCORERS: dict[str, Scorer] = {
    "sharpe": _sharpe,
    "log_sharpe": _log_sharpe,
    "mean_return": _mean_return,
    "neg_mse": _neg_mse,
}


def register_scorer(name: str, scorer: Scorer, *, replace: bool = False) -> None:
    """Add a global scorer (``energy_score`` is registered by the forecasting package)."""
    if name in _SCORERS and not replace:
        raise ConfigError(f"scorer {name!r} is already registered", key="scoring.metric_name")
    _SCORERS[name] = scorer


def scorer_names(family: Family | None = None) -> list[str]:
    """Registered metric names (plus the family's own)."""
    own: Mapping[str, Scorer] = family.scorers() if family is not None else {}
    return sorted(set(_SCORERS) | set(own))


def get_scorer(name: str, family: Family | None = None) -> Scorer:
    """The family's scorer ``name`` if it has one, else the global one.

    Raises:
        ConfigError: unknown metric (the message lists the known ones).
    """
    own = family.scorers() if family is not None else {}
    if name in own:
        return own[name]
    if name in _SCORERS:
        return _SCORERS[name]
    raise ConfigError(
        f"unknown scoring metric {name!r}",
        key="scoring.metric_name",
        hint=f"use one of {scorer_names(family)}",
    )
