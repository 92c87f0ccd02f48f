"""Row maths of the optimiser: the readable per-row recursion (the Python path).

The compiled kernel (:mod:`algotrader.portfolio.kernel`) computes the same numbers for
gap-free EWMA rows; :mod:`algotrader.portfolio.core` decides which path runs a row.

Timing: the output of row ``t`` uses prices and signals of rows ``<= t`` only. The cash
position decided at ``t`` is meant to be held from the close of ``t`` to the close of
``t + 1`` (the analytics earn ``cash_t * (P_{t+1}/P_t - 1)``).

Per row (N assets; n of them tradeable at ``t``):

1. ``lr = ln(P_t/P_{t-1})``, ``q = P_t/P_{t-1} - 1`` (missing if either price is).
2. log-return EWM std ``s`` (com = vola - 1, min 1 sample) -> ``r~ = clip(lr / s, +-clip)``
   (``s = 0`` gives ``+-clip``; ``0/0`` is treated as a missing observation).
3. EWMA mode: pairwise-complete EWM covariance of ``r~`` (alpha = 1/(corr+1)); sliding
   window mode: ring buffer of the last W rows of ``r~``.
4. ``sigma`` = EWM std of ``q`` (com = vola - 1, min ``vola`` samples) for cash scaling.
5. Rows ``t < corr`` (EWMA) / ``t < W - 1`` (sliding window) are ``warmup`` (cash NaN).
6. Tradeable assets: price and return present at ``t``, ``sigma > 0`` finite, and (EWMA)
   a defined correlation diagonal. Others get NaN cash; the row is solved over the rest.
7. ``A`` = ``shrink * C + (1 - shrink) * I`` or the factor-model matrix; ``m`` = signal
   (NaN -> 0). All ``|m| <= 1e-8`` -> ``zero_signal`` (cash 0); else ``x = A^-1 m``,
   ``nu = sqrt(m'x)``; ``nu`` not finite or ``<= denom_tol`` -> ``degenerate`` (cash 0);
   else ``valid`` with ``cash = x / nu / sigma``.
8. ``max_turnover`` (valid rows only): the L1 change versus the previous non-warm-up row
   is scaled down uniformly to the cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from algotrader.portfolio.config import OptimiserConfig, SlidingWindowConfig
from algotrader.portfolio.ewm import PairwiseEwmCov, correlation_from_cov, outer_into
from algotrader.portfolio.factor import FactorModel
from algotrader.portfolio.kernel import UTILISATION_MIN_SIGNAL, ZERO_SIGNAL_ATOL
from algotrader.portfolio.kernel_vol import advance_vol_prices
from algotrader.portfolio.solve import solve_symmetric
from algotrader.portfolio.state import CoreState


class SolveStatus(StrEnum):
    """Status of one row (compares equal to its string value)."""

    WARMUP = "warmup"
    ZERO_SIGNAL = "zero_signal"
    DEGENERATE = "degenerate"
    VALID = "valid"


@dataclass
class RowOutput:
    """Outputs of one row; arrays of shape (N,)."""

    cash: np.ndarray
    status: SolveStatus
    vola: np.ndarray
    mask: np.ndarray
    residual: float = np.nan
    utilisation: np.ndarray = field(default_factory=lambda: np.empty(0))
    method: str = ""
    matrix: np.ndarray | None = None
    error_bound: float = np.nan
    iterations: int = 0


def vector_row(
    state: CoreState, cfg: OptimiserConfig, price: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Advance the per-asset accumulators by one row; returns ``(r~, sigma)``, each (N,).

    ``r~ = clip(lr / s, +-clip)`` with ``s`` the log-return EWM std (com = vola - 1, at
    least 1 sample; ``s = 0`` gives ``+-clip``, ``0/0`` a missing value) and ``sigma``
    the simple-return EWM std (at least ``vola`` samples), NaN where the return is missing
    (log and simple returns from the previous price row, NaN where either price is
    missing; prices are validated positive or NaN).
    """
    radj, sigma = vector_rows(state, cfg, price[None, :])
    return radj[0], sigma[0]


def vector_rows(
    state: CoreState, cfg: OptimiserConfig, prices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`vector_row` for every row of ``prices`` (T, N) at once (same numbers: the
    returns and both accumulators in one compiled pass, :func:`advance_vol_prices`)."""
    acc = state.vol_acc
    radj, sigma = advance_vol_prices(
        acc.sums,
        acc.n,
        prices,
        state.prev_price,
        beta=1.0 - 1.0 / cfg.vola,
        min_samples=cfg.vola,
        clip=cfg.clip,
    )
    if prices.shape[0]:
        state.prev_price = prices[-1].copy()
    return radj, sigma


def update_dependence(state: CoreState, cfg: OptimiserConfig, radj: np.ndarray) -> None:
    """Feed one row of r~ (N,) to the pairwise EWM covariance or the sliding window."""
    if state.pair is not None:
        present = np.isfinite(radj)
        state.pair.update(np.where(present, radj, 0.0), present, cfg.corr_beta, cfg.corr)
    elif state.window.shape[0] > 0:
        state.window[state.window_pos] = radj
        state.window_pos = (state.window_pos + 1) % state.window.shape[0]


def _ewma_matrix(
    state: CoreState, cfg: OptimiserConfig, tradeable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk correlation restricted to the tradeable assets with a defined diagonal."""
    pair = state.pair
    assert pair is not None
    if not pair.dense:
        return _ewma_matrix_compact(pair, cfg, tradeable)
    corr, diag_ok = correlation_from_cov(
        pair.covariance(), pair.pair_ok(cfg.corr), cfg.min_corr_denom
    )
    mask = tradeable & diag_ok
    a = corr if mask.all() else corr[np.ix_(mask, mask)]
    a *= cfg.shrink
    a.flat[:: a.shape[0] + 1] = cfg.shrink * 1.0 + (1.0 - cfg.shrink)
    return a, mask


def _ewma_matrix_compact(
    pair: PairwiseEwmCov, cfg: OptimiserConfig, tradeable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_ewma_matrix` while no row had a gap (one weight sum for every pair)."""
    weight = float(pair.w[0, 0])
    if weight <= 0.0 or (not pair.warm and int(pair.n[0, 0]) < cfg.corr):
        return np.empty((0, 0)), np.zeros_like(tradeable)
    return compact_matrix(weight, pair.x[:, 0], pair.xy, cfg, tradeable)


def compact_matrix(
    weight: float, xsum: np.ndarray, xy: np.ndarray, cfg: OptimiserConfig, tradeable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk correlation from compact sums: weight ``w``, ``x`` (N,), ``xy`` (N, N).

    ``A_ij = shrink * (xy_ij / w - m_i m_j) / sqrt(var_i var_j)`` computed as
    ``xy_ij * t_i t_j - u_i u_j`` with ``t = sqrt(shrink / w) / sd``, ``u = sqrt(shrink) m / sd``
    (a few passes over the matrix, see :func:`shrunk_from_sums`), clipped to
    ``[-shrink, shrink]``. :mod:`algotrader.portfolio.fastpath` computes ``t`` and ``u`` for
    a run of rows at once with the same elementwise operations and calls the same kernel.
    """
    inv_w = 1.0 / weight
    mean = xsum * inv_w
    var = np.diagonal(xy) * inv_w - mean * mean
    mask = tradeable & np.isfinite(var) & (var > cfg.min_corr_denom)
    full = bool(mask.all())
    sub = xy if full else xy[np.ix_(mask, mask)]
    inv_sd = 1.0 / np.sqrt(var[mask])
    lam = cfg.shrink
    t = inv_sd * np.sqrt(lam * inv_w)
    u = mean[mask] * inv_sd * np.sqrt(lam)
    return shrunk_from_sums(sub, t, u, lam), mask


def shrunk_from_sums(
    xy: np.ndarray,
    t: np.ndarray,
    u: np.ndarray,
    lam: float,
    out: np.ndarray | None = None,
    tmp: np.ndarray | None = None,
) -> np.ndarray:
    """``clip(xy_ij t_i t_j - u_i u_j, +-lam)`` with diagonal ``1``: (n, n) from (n,) ``t``, ``u``.

    The one kernel that builds the solved matrix, in the stream and in the batch
    (:mod:`algotrader.portfolio.fastpath` passes preallocated C-ordered ``out`` / ``tmp``
    buffers of shape (n, n) to avoid temporaries; the numbers do not depend on them).
    """
    n = t.shape[0]
    a = np.empty((n, n)) if out is None else out
    work = np.empty((n, n)) if tmp is None else tmp
    np.multiply(xy, outer_into(t, t, work), out=a)
    np.subtract(a, outer_into(u, u, work), out=a)
    np.minimum(a, lam, out=a)  # = np.clip(a, -lam, lam), without its Python dispatch
    np.maximum(a, -lam, out=a)
    a.reshape(-1)[:: n + 1] = lam * 1.0 + (1.0 - lam)  # the diagonal (a is C-contiguous)
    return a


def _window_matrix(state: CoreState, cc: SlidingWindowConfig, mask: np.ndarray) -> np.ndarray:
    """Dense factor-model matrix of the tradeable assets' window (missing -> 0)."""
    x = state.window[:, mask]
    x = np.where(np.isfinite(x), x, 0.0)
    k = cc.n_factors if cc.max_components is None else min(cc.n_factors, cc.max_components)
    return FactorModel.from_window(x, k).covariance()


def _solve_row(
    a: np.ndarray, m: np.ndarray, denom_tol: float, cond_bound: float | None
) -> tuple[SolveStatus, np.ndarray, float, np.ndarray, str]:
    """Status, normalised position, residual, utilisation and solver of ``a x = m``."""
    n = m.shape[0]
    if float(np.abs(m).max()) <= ZERO_SIGNAL_ATOL:
        return SolveStatus.ZERO_SIGNAL, np.zeros(n), 0.0, np.zeros(n), "none"
    x, method = solve_symmetric(a, m, cond_bound=cond_bound)
    if x is None:
        return SolveStatus.DEGENERATE, np.zeros(n), math.nan, np.full(n, np.nan), method
    res = a @ x - m
    residual = math.sqrt(float(res @ res))
    util = np.full(n, np.nan)
    nz = np.abs(m) > UTILISATION_MIN_SIGNAL
    util[nz] = x[nz] / m[nz]
    d = float(m @ x)
    if not (d > 0.0 and math.isfinite(d)) or math.sqrt(d) <= denom_tol:
        return SolveStatus.DEGENERATE, np.zeros(n), residual, util, method
    return SolveStatus.VALID, x / math.sqrt(d), residual, util, method


def cond_bound(state: CoreState, cfg: OptimiserConfig, n: int) -> float | None:
    """Proven bound of cond(A) in EWMA mode while no row ever had a missing value.

    Then every pair shares the same rows, the EWM covariance is an exact weighted
    covariance (positive semi-definite), so ``A = s C + (1 - s) I`` has eigenvalues in
    ``[1 - s, s n + 1 - s]``. Otherwise (gaps, sliding window, ``shrink = 1``): None.
    """
    if state.pair is None or state.pair.dense or cfg.shrink >= 1.0:
        return None
    return (cfg.shrink * n + 1.0 - cfg.shrink) / (1.0 - cfg.shrink)


def _cap_turnover(cash: np.ndarray, prev: np.ndarray, mask: np.ndarray, cap: float) -> np.ndarray:
    """Scale the L1 change on ``mask`` down to ``cap``; returns a new array."""
    p = np.nan_to_num(prev[mask], nan=0.0)
    delta = cash[mask] - p
    total = float(np.abs(delta).sum())
    if total <= cap:
        return cash
    out = cash.copy()
    out[mask] = p + delta * (cap / total)
    return out


def tradeable_assets(price: np.ndarray, radj: np.ndarray, vola: np.ndarray) -> np.ndarray:
    """Price and return present, ``sigma > 0`` finite; elementwise on (N,) or (T, N)."""
    return np.isfinite(price) & np.isfinite(radj) & np.isfinite(vola) & (vola > 0)


def matrix_part(
    state: CoreState,
    cfg: OptimiserConfig,
    mu: np.ndarray,
    vola: np.ndarray,
    tradeable: np.ndarray,
    *,
    keep_matrix: bool = False,
) -> RowOutput:
    """The row's matrix, solve and cash, after its dependence update (Python path)."""
    n_assets = mu.shape[0]
    t = state.step_count
    state.step_count += 1
    cash = np.full(n_assets, np.nan)
    if t < cfg.warmup_rows:
        return RowOutput(cash, SolveStatus.WARMUP, vola, np.zeros(n_assets, dtype=bool))
    cc = cfg.covariance_config
    if isinstance(cc, SlidingWindowConfig):
        mask = tradeable
        a = _window_matrix(state, cc, mask) if mask.any() else np.empty((0, 0))
    else:
        a, mask = _ewma_matrix(state, cfg, tradeable)
    if not mask.any():
        state.prev_cash = cash
        return RowOutput(cash, SolveStatus.DEGENERATE, vola, mask, method="none")
    full = bool(mask.all())
    m = mu.copy() if full else mu[mask]
    m[np.isnan(m)] = 0.0
    status, pos, residual, util_sub, method = _solve_row(
        a, m, cfg.denom_tol, cond_bound(state, cfg, a.shape[0])
    )
    if full:
        cash = pos / vola if status is SolveStatus.VALID else np.zeros(n_assets)
        util = util_sub
    else:
        cash[mask] = pos / vola[mask] if status is SolveStatus.VALID else 0.0
        util = np.full(n_assets, np.nan)
        util[mask] = util_sub
    if status is SolveStatus.VALID and cfg.max_turnover is not None:
        cash = _cap_turnover(cash, state.prev_cash, mask, cfg.max_turnover)
    state.prev_cash = cash
    return RowOutput(cash, status, vola, mask, residual, util, method, a if keep_matrix else None)


__all__ = [
    "RowOutput",
    "SolveStatus",
    "compact_matrix",
    "cond_bound",
    "matrix_part",
    "shrunk_from_sums",
    "tradeable_assets",
    "update_dependence",
    "vector_row",
    "vector_rows",
]
