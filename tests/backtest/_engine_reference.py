"""The per-row numpy loop that ``run_backtest`` used before its compiled kernel (verbatim,
renamed): the reference of the kernel's bit-for-bit differential tests."""

# ruff: noqa
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from algotrader.backtest.costs import CostModel, impact_cost
from algotrader.backtest.engine import BacktestResult, _aux, _decisions, _prices
from algotrader.errors import ConfigError, DataError


def run_backtest_reference(
    prices: ArrayLike,
    decisions: ArrayLike,
    *,
    kind: Literal["weights", "positions"] = "weights",
    lag: int = 1,
    costs: CostModel | None = None,
    initial_value: float = 1.0,
    volatility: ArrayLike | None = None,
    volume: ArrayLike | None = None,
    asset_names: Sequence[str] | None = None,
) -> BacktestResult:
    """Simulate a book of ``decisions`` (see the module docstring for the timing rule).

    Args:
        prices: ``(T, A)`` positive close prices.
        decisions: ``(T, A)`` target weights (fractions of pre-trade NAV; the rest is cash,
            negative = short) or target cash positions (currency per asset).
        kind: ``"weights"`` or ``"positions"``.
        lag: bars between a decision (row t, data up to the close of t) and its execution
            (close of ``t + lag``); must be >= 0 (0 means same-bar execution, which is only
            honest when the decision does not use the bar's close).
        costs: the cost model (default: no costs).
        initial_value: starting cash.
        volatility, volume: ``(T, A)`` (or broadcastable) per-period return volatility and
            traded value, needed when the model has market impact; row t is used for trades
            executed at bar t and must itself be known by then.
        asset_names: names for per-asset cost overrides.

    Raises:
        ShapeError, DataError, ConfigError: on malformed inputs; DataError if the value
            reaches zero or below (the row is named).
    """
    p = _prices(prices)
    t_len, a = p.shape
    d = _decisions(decisions, (t_len, a), kind)
    if isinstance(lag, bool) or int(lag) != lag or lag < 0:
        raise DataError(f"lag must be a non-negative integer, got {lag!r}", key="lag")
    if not np.isfinite(initial_value) or initial_value <= 0:
        raise DataError("initial_value must be positive", key="initial_value")
    model = costs if costs is not None else CostModel()
    sig = _aux(volatility, (t_len, a), "volatility")
    vol = _aux(volume, (t_len, a), "volume")
    bps_names = list(asset_names) if asset_names is not None else None

    if model.impact_coef > 0 and (sig is None or vol is None):
        raise ConfigError(
            "impact_coef > 0 needs volatility and volume",
            key="impact_coef",
            hint="pass volatility= and volume=, or set impact_coef: 0",
        )
    bps = model.bps_vector(a, bps_names) / 1e4
    fee, coef = model.fixed_per_trade, model.impact_coef
    hold, borrow = model.holding_cost_per_period, model.borrow_cost_per_period
    execute = np.zeros(t_len, dtype=bool)
    execute[lag:] = ~np.isnan(d[: max(t_len - lag, 0), 0])
    cash_out = np.empty(t_len)
    holdings = np.zeros((t_len, a))
    trade_values = np.zeros((t_len, a))
    turnover = np.zeros(t_len)
    parts = {k: np.zeros(t_len) for k in ("proportional", "fixed", "impact", "holding")}
    cash, h = float(initial_value), np.zeros(a)
    weights_kind = kind == "weights"
    for t in range(t_len):
        pos_val = h * p[t]
        if t > 0 and (hold > 0 or borrow > 0):
            hc = hold * float(pos_val[pos_val > 0].sum()) - borrow * float(
                pos_val[pos_val < 0].sum()
            )
            parts["holding"][t] = hc
            cash -= hc
        v_pre = cash + float(pos_val.sum())
        if execute[t]:
            row = d[t - lag]
            x = (row * v_pre if weights_kind else row) - pos_val
            ax = np.abs(x)
            c_prop = float(ax @ bps)
            c_fixed = fee * float(np.count_nonzero(x)) if fee > 0 else 0.0
            c_imp = float(impact_cost(x, sig[t], vol[t], coef).sum()) if coef > 0 else 0.0  # type: ignore[index]
            parts["proportional"][t], parts["fixed"][t], parts["impact"][t] = c_prop, c_fixed, c_imp
            cash -= float(x.sum()) + c_prop + c_fixed + c_imp
            h = h + x / p[t]
            trade_values[t] = x
            turnover[t] = float(ax.sum()) / v_pre if v_pre > 0 else np.nan
        holdings[t] = h
        cash_out[t] = cash
    values = cash_out + (holdings * p).sum(axis=1)
    bad = ~(values > 0)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"portfolio value fell to {values[t]:.6g} at row {t}",
            row=t,
            key="values",
            hint="reduce leverage/costs; returns are undefined once the value is <= 0",
        )
    traded_rows = np.flatnonzero((trade_values != 0).any(axis=1))
    first = int(traded_rows[0]) if traded_rows.size else None
    trades = trade_values / p
    total = sum(parts.values())
    weights = holdings * p / values[:, None]
    return BacktestResult(
        values=values,
        cash=cash_out,
        holdings=holdings,
        trades=trades,
        trade_values=trade_values,
        weights=weights,
        turnover=turnover,
        costs=np.asarray(total, dtype=np.float64),
        cost_breakdown=parts,
        lag=int(lag),
        first_execution=first,
    )
