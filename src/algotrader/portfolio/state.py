"""The optimiser's recursion state (O(N^2) in EWMA mode, O(W N) in sliding-window mode)
and its flat ``.npz`` form (:meth:`algotrader.portfolio.OptimiserStream.save`).

Example:
    >>> from algotrader.portfolio import OptimiserConfig
    >>> cfg = OptimiserConfig(vola=4, corr=8, clip=3.0, shrink=0.5, aum=1.0)
    >>> s = CoreState.initial(cfg, 3)
    >>> sorted(state_arrays(s)) == sorted(state_keys(cfg) + CG_KEYS)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from algotrader.portfolio.config import OptimiserConfig, SlidingWindowConfig
from algotrader.portfolio.ewm import PairwiseEwmCov, VolAccumulator
from algotrader.portfolio.kernel import RowKernel

#: State arrays of ``solver: cg`` (warm start and preconditioner ring).
CG_KEYS = ("cg_x", "cg_ring", "cg_gram", "cg_count", "cg_pend", "cg_pend_count")
#: State arrays an archive of an earlier release may lack (read as nothing pending).
CG_OPTIONAL_KEYS = ("cg_pend", "cg_pend_count")


@dataclass
class CoreState:
    """Everything the recursion carries from one row to the next: O(N^2) (EWMA) or O(W N).

    ``pair`` is None in sliding-window mode, ``window`` has shape (0, N) in EWMA mode.
    ``cg_x`` (solver ``cg``) (2, N): the warm starts, ``cg_x[0]`` the next row's (the
    CG-solved ``A^-1 m`` two rows back, so the two rows of a batch pair solve at once) and
    ``cg_x[1]`` the last solved row's (shape (0,) until the first such row; a saved (N,)
    warm start of an earlier release is read as both); ``cg_ring`` (K, N), ``cg_gram`` (K, K) and
    ``cg_count`` (1,): the preconditioner's ring of the last ``K = cg_rank`` scaled rows
    (:func:`algotrader.portfolio.kernel_linalg.precond_update`), empty until the first;
    ``cg_pend`` (PENDING_ROWS, N) and ``cg_pend_count`` (1,): the rows whose update of
    ``pair.xy`` is deferred (:mod:`algotrader.portfolio.kernel_pending`): the sums are
    ``pair.xy`` with the first ``cg_pend_count`` rows of ``cg_pend`` folded in
    (:func:`algotrader.portfolio.core.settle_pending`).
    """

    step_count: int
    prev_price: np.ndarray
    vol_acc: VolAccumulator
    pair: PairwiseEwmCov | None
    window: np.ndarray
    window_pos: int
    prev_cash: np.ndarray
    cg_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cg_ring: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    cg_gram: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    cg_count: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    cg_pend: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    cg_pend_count: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    kernel: RowKernel | None = field(default=None, repr=False, compare=False)

    @classmethod
    def initial(cls, cfg: OptimiserConfig, n_assets: int) -> CoreState:
        """The state before the first row."""
        cc = cfg.covariance_config
        is_sw = isinstance(cc, SlidingWindowConfig)
        rows = cc.window if isinstance(cc, SlidingWindowConfig) else 0
        return cls(
            step_count=0,
            prev_price=np.full(n_assets, np.nan),
            vol_acc=VolAccumulator.empty(n_assets, n_series=2),
            pair=None if is_sw else PairwiseEwmCov.empty(n_assets),
            window=np.full((rows, n_assets), np.nan),
            window_pos=0,
            prev_cash=np.full(n_assets, np.nan),
        )


def state_arrays(state: CoreState) -> dict[str, np.ndarray]:
    """Flatten ``state`` into named arrays (for ``.npz``)."""
    out: dict[str, np.ndarray] = {
        "step_count": np.asarray(state.step_count, dtype=np.int64),
        "prev_price": state.prev_price,
        "window": state.window,
        "window_pos": np.asarray(state.window_pos, dtype=np.int64),
        "prev_cash": state.prev_cash,
        "cg_x": state.cg_x,
        "cg_ring": state.cg_ring,
        "cg_gram": state.cg_gram,
        "cg_count": state.cg_count,
        "cg_pend": state.cg_pend,
        "cg_pend_count": state.cg_pend_count,
    }
    for f in fields(VolAccumulator):
        out[f"vol_{f.name}"] = getattr(state.vol_acc, f.name)
    if state.pair is not None:
        for f in fields(PairwiseEwmCov):
            out[f"pair_{f.name}"] = np.asarray(getattr(state.pair, f.name))
    return out


def state_keys(cfg: OptimiserConfig) -> tuple[str, ...]:
    """Names :func:`state_arrays` produces for ``cfg`` and a saved state must hold (all but
    :data:`CG_OPTIONAL_KEYS`)."""
    keys = ["step_count", "prev_price", "window", "window_pos", "prev_cash"]
    keys += [f"vol_{f.name}" for f in fields(VolAccumulator)]
    if cfg.solver == "cg":
        keys += [k for k in CG_KEYS if k not in CG_OPTIONAL_KEYS]
    if not isinstance(cfg.covariance_config, SlidingWindowConfig):
        keys += [f"pair_{f.name}" for f in fields(PairwiseEwmCov)]
    return tuple(keys)


def state_from_arrays(cfg: OptimiserConfig, arrays: dict[str, np.ndarray]) -> CoreState:
    """Inverse of :func:`state_arrays` (copies every array)."""

    pair = None
    if not isinstance(cfg.covariance_config, SlidingWindowConfig):
        pair = PairwiseEwmCov(
            np.array(arrays["pair_w"], dtype=np.float64),
            np.array(arrays["pair_x"], dtype=np.float64),
            np.array(arrays["pair_xy"], dtype=np.float64),
            np.array(arrays["pair_n"], dtype=np.int64),
            bool(arrays["pair_warm"]),
            bool(arrays["pair_dense"]),
        )
    return CoreState(
        step_count=int(arrays["step_count"]),
        prev_price=np.array(arrays["prev_price"]),
        vol_acc=VolAccumulator(
            np.array(arrays["vol_sums"], dtype=np.float64),
            np.array(arrays["vol_n"], dtype=np.int64),
        ),
        pair=pair,
        window=np.array(arrays["window"]),
        window_pos=int(arrays["window_pos"]),
        prev_cash=np.array(arrays["prev_cash"]),
        cg_x=np.array(arrays.get("cg_x", np.zeros(0)), dtype=np.float64),
        cg_ring=np.array(arrays.get("cg_ring", np.zeros((0, 0))), dtype=np.float64),
        cg_gram=np.array(arrays.get("cg_gram", np.zeros((0, 0))), dtype=np.float64),
        cg_count=np.array(arrays.get("cg_count", np.zeros(1)), dtype=np.int64).reshape(1),
        cg_pend=np.array(arrays.get("cg_pend", np.zeros((0, 0))), dtype=np.float64),
        cg_pend_count=np.array(arrays.get("cg_pend_count", np.zeros(1)), dtype=np.int64).reshape(1),
    )


__all__ = [
    "CG_KEYS",
    "CG_OPTIONAL_KEYS",
    "CoreState",
    "state_arrays",
    "state_from_arrays",
    "state_keys",
]
