"""Typed arrays a training problem passes to its objective and evaluation.

The arrays travel as a *traced argument* (not baked into the compiled program as
constants, which makes compiles faster and lets one compiled chunk serve a new window of
the same shape). Each problem kind has its own frozen structure; all are JAX pytrees
(``NamedTuple``), so ``jax.jit``/``vmap`` and :func:`jax.tree_util.tree_map` see their
array fields and ignore the ``None`` ones.

* :class:`AmmData` -- written by :func:`algotrader.training.amm_problem.amm_problem`, read
  by its objective and evaluation, :mod:`algotrader.training.fast_evaluate`,
  :mod:`algotrader.training.multi_period` and the Optuna search.
* :class:`QuadraticData` -- the closed-form toy of
  :func:`algotrader.training.problem.quadratic_problem`.

Example:
    >>> import jax, jax.numpy as jnp
    >>> d = AmmData(train_prices=jnp.ones((3, 2)), prices=jnp.ones((5, 2)))
    >>> [x.shape for x in jax.tree_util.tree_leaves(d)]
    [(3, 2), (5, 2)]
    >>> d.has_train_sums, d.has_eval_sums
    (False, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp

from algotrader.errors import ShapeError

if TYPE_CHECKING:  # algotrader.amm imports this module: a runtime import here is circular
    from algotrader.amm.chunk_objective import ChunkSums

Array = jax.Array

__all__ = ["AmmData", "QuadraticData", "as_device"]


class AmmData(NamedTuple):
    """Price arrays of one AMM training problem (rows are minutes, columns tokens).

    Attributes:
        train_prices: ``(N_train, A)`` prices up to the end of the training segment: the
            window objective never sees a row after it.
        prices: ``(N_eval, A)`` prices up to the end of the test segment (evaluation only).
        P0, P1: prefix sums of ``train_prices`` for the chunk-level objective
            (:func:`algotrader.amm.chunk_objective.prefix_sums`), or None.
        P0_all, P1_all: the same prefix sums of ``prices`` for the fast evaluation, or None.
    """

    train_prices: Array
    prices: Array
    P0: Array | None = None
    P1: Array | None = None
    P0_all: Array | None = None
    P1_all: Array | None = None

    @property
    def has_train_sums(self) -> bool:
        """Whether the chunk-level objective's prefix sums are present."""
        return self.P0 is not None and self.P1 is not None

    @property
    def has_eval_sums(self) -> bool:
        """Whether the fast evaluation's prefix sums are present."""
        return self.P0_all is not None and self.P1_all is not None

    def train_sums(self) -> ChunkSums:
        """The :class:`~algotrader.amm.chunk_objective.ChunkSums` that
        :func:`algotrader.amm.chunk_objective.window_metric` reads.

        Raises:
            ShapeError: the prefix sums were not computed for this problem.
        """
        if self.P0 is None or self.P1 is None:
            raise ShapeError(
                "the chunk-level objective needs the training prefix sums (P0, P1)",
                key="data",
                hint="build the problem with amm_problem(..., fast=True)",
            )
        from algotrader.amm.chunk_objective import ChunkSums

        return ChunkSums(train_prices=self.train_prices, P0=self.P0, P1=self.P1)


class QuadraticData(NamedTuple):
    """Targets of the closed-form toy problems (training and test)."""

    target: Array
    test_target: Array | None = None


def as_device(data: Any) -> Any:
    """``data`` with every array leaf as a JAX array (structure and None fields kept)."""
    return jax.tree_util.tree_map(jnp.asarray, data)
