"""Batch engine: the stream's recursion run over every row, results computed once.

Memory is O(T N) for the outputs plus O(N^2) for the recursion state: no (T, N, N)
tensor is ever built. The correlation matrix of one row is rebuilt on demand by
replaying the recursion up to that row (:meth:`OptimiserResult.correlation`).

Example:
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(1)
    >>> px = np.exp(np.cumsum(0.01 * rng.standard_normal((60, 3)), axis=0))
    >>> dates = pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 2, 29), eager=True)
    >>> prices = pl.DataFrame({"date": dates, "A": px[:, 0], "B": px[:, 1], "C": px[:, 2]})
    >>> mu = prices.with_columns(pl.col("A", "B", "C").pct_change(5).fill_null(0.0))
    >>> cfg = OptimiserConfig(vola=5, corr=10, clip=3.5, shrink=0.5, aum=1e6)
    >>> res = run_batch(prices, mu, cfg)
    >>> res.status_counts()
    {'warmup': 10, 'valid': 50}
    >>> res.cash_position.columns
    ['date', 'A', 'B', 'C']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from algotrader.errors import NotFittedError, ShapeError
from algotrader.portfolio.config import OptimiserConfig
from algotrader.portfolio.core import run_rows, step_core
from algotrader.portfolio.frames import DATE, OptimiserInputs, prepare_inputs
from algotrader.portfolio.parallel import single_threaded_blas
from algotrader.portfolio.rowmath import RowOutput, SolveStatus
from algotrader.portfolio.signal_quality import SignalQuality, information_coefficients
from algotrader.portfolio.state import CoreState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Diagnostics:
    """Per-row matrix diagnostics, arrays of shape (T,) (NaN where nothing was solved).

    ``condition_number``: 2-norm condition number of the solved matrix;
    ``effective_rank``: ``exp(-sum p log p)`` with ``p`` its normalised eigenvalues (clipped at 0).
    """

    condition_number: np.ndarray
    effective_rank: np.ndarray


@dataclass(frozen=True)
class OptimiserResult:
    """Every output of a batch run (arrays of shape (T, N) or (T,), computed once).

    Attributes:
        inputs: the validated inputs.
        config: the configuration used.
        cash: cash positions; ``risk = cash * vola``.
        vola: EWM std of simple returns used for the cash scaling (NaN where undefined).
        status: per-row :class:`SolveStatus` values.
        residual: ``||A x - m||_2`` of the solve (0 for zero-signal rows).
        utilisation: per asset ``(A^-1 m)_i / m_i`` (NaN where ``|m_i| <= 1e-14`` or untraded).
        method: solver used per row (``cholesky``, ``eigen``, ``cg``, ``singular``, ``none``,
            ``""``).
        error_bound: proven bound on the relative 2-norm error of the row's positions
            against the exact solve of the same matrix (from the residual; kernel rows
            only, NaN elsewhere): ~1e-13 for Cholesky rows, <= ``cg_tol`` for CG rows.
        iterations: CG iterations per row (0 for the exact solver).
        diagnostics: condition numbers and effective ranks (only with ``diagnostics=True``).
    """

    inputs: OptimiserInputs
    config: OptimiserConfig
    cash: np.ndarray
    vola: np.ndarray
    status: np.ndarray
    residual: np.ndarray
    utilisation: np.ndarray
    method: np.ndarray
    error_bound: np.ndarray
    iterations: np.ndarray
    diagnostics_: Diagnostics | None = None

    @property
    def assets(self) -> tuple[str, ...]:
        """Asset names, in price-column order."""
        return self.inputs.assets

    @property
    def risk(self) -> np.ndarray:
        """Risk positions ``cash * vola`` (T, N)."""
        return self.cash * self.vola

    @property
    def leverage(self) -> np.ndarray:
        """``sum_i |cash_i|`` per row (NaN counted as 0), shape (T,)."""
        return np.nansum(np.abs(self.cash), axis=1)

    def _frame(self, values: np.ndarray) -> pl.DataFrame:
        data = {a: values[:, i] for i, a in enumerate(self.assets)}
        return pl.DataFrame({DATE: self.inputs.dates, **data}).with_columns(
            pl.col(self.assets).fill_nan(None)
        )

    @cached_property
    def cash_position(self) -> pl.DataFrame:
        """Cash positions as a frame (``date`` + one column per asset; NaN shown as null)."""
        return self._frame(self.cash)

    @cached_property
    def risk_position(self) -> pl.DataFrame:
        """Risk positions as a frame."""
        return self._frame(self.risk)

    @cached_property
    def vola_frame(self) -> pl.DataFrame:
        """Volatilities as a frame."""
        return self._frame(self.vola)

    @cached_property
    def status_frame(self) -> pl.DataFrame:
        """``date, status`` frame."""
        return pl.DataFrame({DATE: self.inputs.dates, "status": self.status.astype(str)})

    @cached_property
    def diagnostics_frame(self) -> pl.DataFrame:
        """``date, status, solver, residual, leverage[, condition_number, effective_rank]``."""
        cols: dict[str, object] = {
            DATE: self.inputs.dates,
            "status": self.status.astype(str),
            "solver": self.method.astype(str),
            "solver_residual": self.residual,
            "position_error_bound": self.error_bound,
            "cg_iterations": self.iterations,
            "leverage": self.leverage,
        }
        if self.diagnostics_ is not None:
            cols["condition_number"] = self.diagnostics_.condition_number
            cols["effective_rank"] = self.diagnostics_.effective_rank
        return pl.DataFrame(cols)

    @property
    def diagnostics(self) -> Diagnostics:
        """Condition numbers and effective ranks; raises unless run with ``diagnostics=True``."""
        if self.diagnostics_ is None:
            raise NotFittedError(
                "matrix diagnostics were not computed",
                hint="call run_batch(..., diagnostics=True) (one eigendecomposition per row)",
            )
        return self.diagnostics_

    def status_counts(self) -> dict[str, int]:
        """Number of rows per status, in order of first appearance."""
        out: dict[str, int] = {}
        for s in self.status:
            out[str(s)] = out.get(str(s), 0) + 1
        return out

    def correlation(self, row: int) -> np.ndarray:
        """The matrix solved at ``row`` (N, N); NaN rows/columns for untraded assets.

        Replays the recursion up to ``row``: O(row N^2) time, O(N^2) memory.
        """
        t_len = self.cash.shape[0]
        if not -t_len <= row < t_len:
            raise ShapeError(f"row {row} out of range for {t_len} rows", row=row)
        row = row % t_len
        state = CoreState.initial(self.config, len(self.assets))
        out: RowOutput | None = None
        with single_threaded_blas():
            for t in range(row + 1):
                out = step_core(
                    state,
                    self.config,
                    self.inputs.prices[t],
                    self.inputs.mu[t],
                    keep_matrix=t == row,
                )
        assert out is not None
        full = np.full((len(self.assets), len(self.assets)), np.nan)
        if out.matrix is not None and out.matrix.size:
            full[np.ix_(out.mask, out.mask)] = out.matrix
        return full

    def ic(self, horizon: int = 1) -> pl.DataFrame:
        """``date, ic, rank_ic``: cross-sectional Pearson / Spearman IC of mu_t vs P_{t+h}/P_t - 1."""
        ic, ric = information_coefficients(self.inputs.prices, self.inputs.mu, horizon)
        return pl.DataFrame({DATE: self.inputs.dates, "ic": ic, "rank_ic": ric})

    def signal_quality(self, horizon: int = 1) -> SignalQuality:
        """Mean, std (ddof=1) and ICIR of the IC and rank IC series."""
        ic, ric = information_coefficients(self.inputs.prices, self.inputs.mu, horizon)
        return SignalQuality.from_series(ic, ric)


def result_from_rows(
    inputs: OptimiserInputs, cfg: OptimiserConfig, rows: dict[str, np.ndarray], diagnostics: bool
) -> OptimiserResult:
    """Wrap the arrays of :func:`run_rows` into an :class:`OptimiserResult`."""
    diag = Diagnostics(rows["cond"], rows["erank"]) if diagnostics else None
    status = np.array([str(s) for s in rows["status"]], dtype=object)
    return OptimiserResult(
        inputs=inputs,
        config=cfg,
        cash=rows["cash"],
        vola=rows["vola"],
        status=status,
        residual=rows["residual"],
        utilisation=rows["utilisation"],
        method=np.array([str(s) for s in rows["method"]], dtype=object),
        error_bound=rows["error_bound"],
        iterations=rows["iterations"],
        diagnostics_=diag,
    )


def run_batch(
    prices: pl.DataFrame,
    mu: pl.DataFrame,
    cfg: OptimiserConfig,
    *,
    diagnostics: bool = False,
) -> OptimiserResult:
    """Run the optimiser over every row of ``prices`` and ``mu`` (wide frames, see frames.py).

    Args:
        diagnostics: also compute condition numbers and effective ranks (one symmetric
            eigendecomposition per row: O(T N^3)).
    """
    inputs = prepare_inputs(prices, mu, max_nan_fraction=cfg.max_nan_fraction)
    state = CoreState.initial(cfg, len(inputs.assets))
    rows = run_rows(state, cfg, inputs.prices, inputs.mu, diagnostics=diagnostics)
    result = result_from_rows(inputs, cfg, rows, diagnostics)
    logger.info(
        "optimiser batch: %d rows, %d assets, %s", *inputs.prices.shape, result.status_counts()
    )
    return result


__all__ = ["Diagnostics", "OptimiserResult", "SolveStatus", "run_batch", "run_rows"]
