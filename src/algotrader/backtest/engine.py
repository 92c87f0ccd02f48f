"""Weights or cash positions x prices -> holdings, value, PnL, returns, turnover, costs.

Timing (the one rule): **a decision in row t uses data up to and including the close of
bar t and is executed at the close of bar ``t + lag``** at price ``prices[t + lag]``
(default ``lag=1``: trade on the next bar). Row t of the output holds the state after the
trades executed at bar t. The last ``lag`` decision rows are never executed; before the
first execution the portfolio is all cash.

Per bar t (t >= 1 for the holding cost):

1. holding/borrow cost of the holdings carried over ``(t-1, t]``, valued at ``prices[t]``,
   is paid from cash;
2. pre-trade value ``V_pre = cash + holdings . prices[t]``;
3. if a decision is executed at t: target value per asset ``w * V_pre`` (weights) or the
   given cash position (positions); the trade is ``target - current`` (currency), bought
   at ``prices[t]``; transaction costs are paid from cash (so realised weights are
   ``w * V_pre / (V_pre - costs)``: targets are sized on pre-cost value);
4. value ``V_t = cash + holdings . prices[t]``.

A decision row that is entirely NaN means "no decision: hold"; a partly NaN row is an
error. Cash earns nothing and may go negative (leverage); the value must stay positive.

The per-bar recursion runs in one compiled pass (:func:`algotrader.backtest.kernel.backtest_loop`,
numba, cached on disk); it equals the former per-row numpy loop bit for bit (tested), except
that the impact term's ``|x| ** 1.5`` is libm's ``pow`` (numpy's SIMD ``pow`` may differ in
the last bit).

Example:
    >>> import numpy as np
    >>> prices = np.array([[10.0], [10.0], [12.0]])
    >>> res = backtest_weights(prices, np.ones((3, 1)), lag=1)
    >>> res.values.round(12).tolist()  # bought at bar 1 (price 10), +20% at bar 2
    [1.0, 1.0, 1.2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.backtest.costs import CostModel, impact_cost
from algotrader.backtest.kernel import backtest_loop
from algotrader.errors import ConfigError, DataError, ShapeError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produces, time on axis 0 (T bars, A assets).

    Attributes:
        values: ``(T,)`` portfolio value after trading at each bar (NAV).
        cash: ``(T,)`` cash after trading.
        holdings: ``(T, A)`` units held after trading.
        trades: ``(T, A)`` units traded at each bar (signed).
        trade_values: ``(T, A)`` traded value in currency (signed).
        weights: ``(T, A)`` realised post-trade weights ``holdings * price / value``.
        turnover: ``(T,)`` ``sum |trade value| / pre-trade value`` (buying a fully invested
            book from cash is 1.0; a full switch between two assets is 2.0).
        costs: ``(T,)`` total costs paid at each bar.
        cost_breakdown: ``(T,)`` per term: proportional, fixed, impact, holding.
        pnl: ``(T,)`` ``V_t - V_(t-1)`` (0 at the first bar).
        simple_returns: ``(T-1,)`` ``V_t / V_(t-1) - 1`` for t >= 1.
        log_returns: ``(T-1,)`` ``log(V_t / V_(t-1))``; not interchangeable with simple ones.
        lag: the execution lag used.
        first_execution: the first bar with an executed trade (None if none).
    """

    values: FloatArray
    cash: FloatArray
    holdings: FloatArray
    trades: FloatArray
    trade_values: FloatArray
    weights: FloatArray
    turnover: FloatArray
    costs: FloatArray
    cost_breakdown: dict[str, FloatArray]
    lag: int
    first_execution: int | None
    pnl: FloatArray = field(init=False)
    simple_returns: FloatArray = field(init=False)
    log_returns: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        v = self.values
        object.__setattr__(self, "pnl", np.concatenate([[0.0], np.diff(v)]))
        object.__setattr__(self, "simple_returns", v[1:] / v[:-1] - 1.0)
        object.__setattr__(self, "log_returns", np.log(v[1:] / v[:-1]))


def _prices(prices: ArrayLike) -> FloatArray:
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ShapeError(f"prices must have shape (T, A), got {p.shape}", key="prices")
    bad = ~((p > 0) & np.isfinite(p))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"prices must be finite and positive, got {p[row, col]!r}",
            row=row,
            column=str(col),
            key="prices",
            hint="clean or trim the price table; the backtester never fills gaps",
        )
    return p


def _decisions(target: ArrayLike, shape: tuple[int, int], name: str) -> FloatArray:
    d = np.asarray(target, dtype=np.float64)
    if d.shape != shape:
        raise ShapeError(
            f"{name} has shape {d.shape}, prices have {shape}",
            key=name,
            hint="one decision row per price row, one column per asset, same order",
        )
    nan = np.isnan(d)
    partial = np.asarray(nan.any(axis=1) & ~nan.all(axis=1), dtype=bool)
    if partial.any() or np.isinf(d).any():
        bad = np.argwhere((nan & partial[:, None]) | np.isinf(d))[0]
        raise DataError(
            f"{name} row is partly NaN or infinite",
            row=int(bad[0]),
            column=str(int(bad[1])),
            key=name,
            hint="give every asset a value (0 for none), or make the whole row NaN to hold",
        )
    return d


def _aux(x: ArrayLike | None, shape: tuple[int, int], name: str) -> FloatArray | None:
    if x is None:
        return None
    arr = np.asarray(x, dtype=np.float64)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError as exc:
        raise ShapeError(f"{name} has shape {arr.shape}, prices have {shape}", key=name) from exc


def run_backtest(
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
    cost_rows = np.zeros((4, t_len))
    empty = np.zeros((0, a))
    bad_row = backtest_loop(
        np.ascontiguousarray(p),
        np.ascontiguousarray(d),
        execute,
        int(lag),
        kind == "weights",
        np.ascontiguousarray(bps),
        float(fee),
        float(coef),
        float(hold),
        float(borrow),
        np.ascontiguousarray(sig) if coef > 0 else empty,
        np.ascontiguousarray(vol) if coef > 0 else empty,
        float(initial_value),
        cash_out,
        holdings,
        trade_values,
        turnover,
        cost_rows,
    )
    if bad_row >= 0:  # raises the impact error naming the asset
        impact_cost(trade_values[bad_row], sig[bad_row], vol[bad_row], coef)  # type: ignore[index]
        raise AssertionError("unreachable")  # pragma: no cover
    parts = dict(zip(("proportional", "fixed", "impact", "holding"), cost_rows, strict=True))
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


def backtest_weights(prices: ArrayLike, weights: ArrayLike, **kwargs: object) -> BacktestResult:
    """:func:`run_backtest` with ``kind="weights"`` (weights are fractions of NAV)."""
    return run_backtest(prices, weights, kind="weights", **kwargs)  # type: ignore[arg-type]


def backtest_positions(prices: ArrayLike, positions: ArrayLike, **kwargs: object) -> BacktestResult:
    """:func:`run_backtest` with ``kind="positions"`` (target cash value per asset)."""
    return run_backtest(prices, positions, kind="positions", **kwargs)  # type: ignore[arg-type]
