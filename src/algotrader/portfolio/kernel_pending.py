"""Deferred EWMA sums of the CG rows: a base matrix plus the rows since its last fold (numba).

The eager update ``xy <- beta xy + r r'`` reads and writes every entry of ``xy`` on every
row: at N = 1,000 that is 16 MB of memory traffic a row, more than the CG iterations that
use the matrix. While gap-free rows run through conjugate gradients the state instead
keeps ``base`` (the sums as of the last fold) and the ``s <= PENDING_ROWS`` rows of
vol-adjusted returns since then, ``p_0 .. p_{s-1}`` (oldest first). The sums are then

    ``xy = beta^s base + sum_j beta^(s - 1 - j) p_j p_j'``

so a product ``xy z`` is one product with ``base`` plus O(N s) (:func:`pending_product`),
and the diagonal (the variances) is carried exactly row by row.

A fold applies the eager recurrence ``v <- v beta + p_i p_k`` to every entry, pending
row after pending row in order: the same floating-point operations in the same order as
the per-row update, so a folded matrix equals the eagerly updated one bit for bit
(tested), at one pass over ``base`` per ``PENDING_ROWS`` rows whose rows stay in cache.
The fold points are a function of the rows alone (a fold when ``PENDING_ROWS`` rows are
pending, or before any path that reads the matrix itself), so the batch, the stream and
every thread count fold at the same rows.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base, rows = np.eye(3), rng.standard_normal((2, 3))
    >>> eager = base.copy()
    >>> for r in rows:
    ...     eager = eager * 0.9 + np.outer(r, r)
    >>> folded = base.copy()
    >>> fold_rows(folded, folded, np.zeros((0, 0), np.float32), rows, 2, 0.9, True, 0, 3)
    >>> bool(np.array_equal(folded, eager))
    True
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Rows held back before a fold (memory traffic of the sums once per this many rows).
PENDING_ROWS = 32


#: Rows and columns of a fold tile (four rows of the sums and 256 columns stay in L1
#: while the pending rows stream past: each pending entry serves four rows).
_TILE_ROWS, _TILE_COLS = 4, 256


@nb.njit(cache=True, nogil=True)
def _fold_one(d: np.ndarray, pend: np.ndarray, count: int, beta: float, i: int) -> None:
    """Fold row ``i`` of ``d`` alone (the rows a tile of four does not cover)."""  # pragma: no cover
    for j in range(count):
        pj = pend[j]
        pi = pj[i]
        for k in range(d.shape[1]):
            d[i, k] = d[i, k] * beta + pi * pj[k]


@nb.njit(cache=True, nogil=True)
def fold_rows(
    src: np.ndarray,
    dst: np.ndarray,
    low: np.ndarray,
    pend: np.ndarray,
    count: int,
    beta: float,
    in_place: bool,
    lo: int,
    hi: int,
) -> None:  # pragma: no cover - compiled
    """Rows ``lo .. hi - 1`` of ``dst = fold(src, pend[:count])`` (``in_place``: ``dst`` is
    ``src``) and, when ``low`` has ``src``'s shape, ``low = float32(dst)`` in the same pass.

    Every entry goes through ``v <- v beta + p_i p_k`` for the pending rows in order (no
    fused or reordered arithmetic: the eager update's bits), in tiles of four rows by
    256 columns. Each row of the result depends on that row of ``src`` alone, so any
    split of the rows (threads) gives the same bits."""
    n = src.shape[1]
    with_low = low.shape[0] == src.shape[0]
    if not in_place:
        for i in range(lo, hi):
            dst[i, :] = src[i]
    i = lo
    while i + _TILE_ROWS <= hi:
        for kc in range(0, n, _TILE_COLS):
            ke = min(kc + _TILE_COLS, n)
            a0, a1 = dst[i, kc:ke], dst[i + 1, kc:ke]
            a2, a3 = dst[i + 2, kc:ke], dst[i + 3, kc:ke]
            for j in range(count):
                pj = pend[j]
                p0, p1, p2, p3 = pj[i], pj[i + 1], pj[i + 2], pj[i + 3]
                pc = pj[kc:ke]
                for k in range(pc.shape[0]):
                    pk = pc[k]
                    a0[k] = a0[k] * beta + p0 * pk
                    a1[k] = a1[k] * beta + p1 * pk
                    a2[k] = a2[k] * beta + p2 * pk
                    a3[k] = a3[k] * beta + p3 * pk
        i += _TILE_ROWS
    while i < hi:
        _fold_one(dst, pend, count, beta, i)
        i += 1
    if with_low:
        for r in range(lo, hi):
            drow, lrow = dst[r], low[r]
            for k in range(n):
                lrow[k] = np.float32(drow[k])


@nb.njit(cache=True, nogil=True)
def settle_rows(
    xy: np.ndarray, low: np.ndarray, pend: np.ndarray, cnt: np.ndarray, beta: float
) -> None:  # pragma: no cover - compiled
    """Fold the ``cnt[0]`` pending rows into ``xy`` in place (and its float32 copy ``low``
    when it has ``xy``'s shape); ``cnt[0] = 0``: nothing pending."""
    if cnt[0] > 0:
        fold_rows(xy, xy, low, pend, cnt[0], beta, True, 0, xy.shape[0])
    cnt[0] = 0


@nb.njit(cache=True, nogil=True)
def pending_diagonal(
    base: np.ndarray, pend: np.ndarray, count: int, beta: float, dg: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``dg`` <- the diagonal of ``fold(base, pend[:count])`` (the fold's arithmetic)."""
    for i in range(dg.shape[0]):
        v = base[i, i]
        for j in range(count):
            pi = pend[j, i]
            v = v * beta + pi * pi
        dg[i] = v


@nb.njit(cache=True, nogil=True)
def pending_weights(count: int, beta: float, coef: np.ndarray) -> float:  # pragma: no cover
    """``coef[j] = beta^(count - 1 - j)`` (the pending rows' weights); returns ``beta^count``
    (the base's)."""
    c = 1.0
    for j in range(count - 1, -1, -1):
        coef[j] = c
        c *= beta
    return c


@nb.njit(cache=True, fastmath={"reassoc"}, nogil=True)
def pending_product(
    pend: np.ndarray, count: int, coef: np.ndarray, z: np.ndarray, h: np.ndarray, q: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``q = sum_j coef_j p_j (p_j' z)`` over the ``count`` pending rows (O(N count));
    ``h`` (at least ``count``,) is work space."""
    n = z.shape[0]
    for j in range(count):
        pj = pend[j]
        s = 0.0
        for k in range(n):
            s += pj[k] * z[k]
        h[j] = s * coef[j]
    for k in range(n):
        q[k] = 0.0
    for j in range(count):
        pj = pend[j]
        hj = h[j]
        for k in range(n):
            q[k] += hj * pj[k]


__all__ = [
    "PENDING_ROWS",
    "fold_rows",
    "pending_diagonal",
    "pending_product",
    "pending_weights",
    "settle_rows",
]
