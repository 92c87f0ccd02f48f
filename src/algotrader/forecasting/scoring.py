"""Proper scoring rules for ensemble (sample) forecasts, on plain numpy arrays.

Every function takes the truth ``y`` of shape (T, A) and the forecast samples of shape
(S, T, A) (member axis first) and returns lower-is-better scores; when used as a tuning
objective the runner negates them (spec section 7, "higher is better").

NaN policy (the same everywhere):

* ``samples`` must be finite (a model emitting NaN/inf is a bug, not missing data):
  :class:`~algotrader.errors.DataError` naming the first bad entry.
* a non-finite truth ``y[t, a]`` gives NaN for that entry (``crps_ensemble``,
  ``quantile_loss``, ``pit``) or for the whole row ``t`` of a multivariate score
  (``energy_score``, ``variogram_score``); ``coverage`` counts finite entries only.
  Nothing is filled.

Estimators (every score names one): ``"nrg"`` is the V-statistic (diagonal pairs included,
denominator ``2 S^2``; the source's choice), ``"fair"`` the U-statistic (``2 S (S - 1)``,
unbiased for the score of the distribution the samples come from).

Example:
    >>> import numpy as np
    >>> y = np.zeros((1, 1))
    >>> x = np.array([1.0, 3.0]).reshape(2, 1, 1)
    >>> float(energy_score(y, x)[0]), float(energy_score(y, x, estimator="fair")[0])
    (1.5, 1.0)
    >>> float(crps_ensemble(y, x)[0, 0])
    1.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.errors import DataError, ShapeError

__all__ = [
    "Estimator",
    "coverage",
    "crps_ensemble",
    "energy_score",
    "interval_hits",
    "pit",
    "quantile_loss",
    "variogram_score",
]

FloatArray = NDArray[np.float64]
Estimator = Literal["nrg", "fair"]

#: bytes of scratch memory one chunk of a pairwise computation may use
_CHUNK_BYTES = 24 * 2**20


def _check(y: ArrayLike, samples: ArrayLike) -> tuple[FloatArray, FloatArray]:
    yy = np.asarray(y, dtype=np.float64)
    xx = np.asarray(samples, dtype=np.float64)
    if yy.ndim != 2:
        raise ShapeError(f"y must be (T, A), got shape {yy.shape}", key="y")
    if xx.ndim != 3 or xx.shape[1:] != yy.shape:
        raise ShapeError(
            f"samples must be (S, T, A) = (S, {yy.shape[0]}, {yy.shape[1]}), got {xx.shape}",
            key="samples",
        )
    if xx.shape[0] < 1:
        raise ShapeError("samples has no members (S = 0)", key="samples")
    if not np.isfinite(xx).all():
        s, t, a = (int(i) for i in np.argwhere(~np.isfinite(xx))[0])
        raise DataError(
            f"samples are not finite at member {s}, row {t}, asset {a}",
            row=t,
            column=str(a),
            key="samples",
            hint="fix the model/predictive producing the samples; scores never skip members",
        )
    return yy, xx


def _check_estimator(estimator: str, n_members: int) -> None:
    if estimator not in ("nrg", "fair"):
        raise ShapeError(f"unknown estimator {estimator!r}; use 'nrg' or 'fair'", key="estimator")
    if estimator == "fair" and n_members < 2:
        raise ShapeError("the 'fair' estimator needs at least 2 members", key="samples")


def _pair_denominator(estimator: str, s: int) -> float:
    return 2.0 * s * s if estimator == "nrg" else 2.0 * s * (s - 1)


@nb.njit(cache=True)
def _es_terms(xt: FloatArray, yy: FloatArray, rows: NDArray[np.int64]) -> FloatArray:
    """(first, pair) per row in ``rows``: ``sum_s ||x_s - y||`` and ``sum_{s,s'} ||x_s -
    x_s'||`` of the (T, S, A) members ``xt``.

    Per row: centre the members (for accuracy), one BLAS Gram product ``xc xc'`` (S x S,
    in cache), then one fused pass over the pairs ``i < j`` (half of them, by symmetry):
    ``d^2 = |xc_i|^2 + |xc_j|^2 - 2 G_ij``; a pair with ``d^2 <= 1e-6 (|xc_i|^2 + |xc_j|^2)``
    (near-tie, where cancellation could lose digits) is recomputed directly, so a point
    mass gives exactly 0. Scratch memory: one (S, A) and one (S, S) block.
    """
    _, s, a = xt.shape
    out = np.empty((rows.size, 2))
    xc = np.empty((s, a))
    sq = np.empty(s)
    for r in range(rows.size):
        t = rows[r]
        first = 0.0
        for i in range(s):
            acc = 0.0
            for k in range(a):
                diff = xt[t, i, k] - yy[t, k]
                acc += diff * diff
            first += np.sqrt(acc)
        for k in range(a):
            m = 0.0
            for i in range(s):
                m += xt[t, i, k]
            m /= s
            for i in range(s):
                xc[i, k] = xt[t, i, k] - m
        for i in range(s):
            acc = 0.0
            for k in range(a):
                acc += xc[i, k] * xc[i, k]
            sq[i] = acc
        g = xc @ xc.T
        pair = 0.0
        for i in range(s):
            for j in range(i + 1, s):
                sc = sq[i] + sq[j]
                d2 = sc - 2.0 * g[i, j]
                if d2 <= 1e-6 * sc:
                    d2 = 0.0
                    for k in range(a):
                        diff = xc[i, k] - xc[j, k]
                        d2 += diff * diff
                pair += np.sqrt(d2)
        out[r, 0] = first
        out[r, 1] = 2.0 * pair
    return out


def energy_score(y: ArrayLike, samples: ArrayLike, estimator: Estimator = "nrg") -> FloatArray:
    """Energy score per row: ``(1/S) sum_s ||x_s - y|| - (1/D) sum_{s,s'} ||x_s - x_s'||``.

    Args:
        y: truth, shape (T, A).
        samples: forecast members, shape (S, T, A).
        estimator: ``"nrg"`` (D = 2 S^2) or ``"fair"`` (D = 2 S (S - 1), s != s').

    Returns:
        (T,) float64, lower is better; NaN for rows with a non-finite truth.

    Memory: one (T, S, A) copy of the input plus an (S, S) block; time: one Gram product
    per row (O(T S^2 A) flops in BLAS) and one fused compiled pass over the S (S - 1) / 2
    pairs (see :func:`_es_terms`).

    Example:
        >>> y = np.array([[0.0, 0.0]])
        >>> x = np.tile(np.array([3.0, 4.0]), (5, 1, 1))  # point mass at (3, 4)
        >>> energy_score(y, x).tolist()
        [5.0]
    """
    yy, xx = _check(y, samples)
    s, t_len, _ = xx.shape
    _check_estimator(estimator, s)
    out = np.full(t_len, np.nan)
    rows = np.flatnonzero(np.isfinite(yy).all(axis=1)).astype(np.int64)
    if rows.size == 0:
        return out
    xt = np.ascontiguousarray(xx.transpose(1, 0, 2))  # (T, S, A), one copy of the input
    terms = _es_terms(xt, np.ascontiguousarray(yy), rows)
    out[rows] = terms[:, 0] / s - terms[:, 1] / _pair_denominator(estimator, s)
    return out


def crps_ensemble(y: ArrayLike, samples: ArrayLike, estimator: Estimator = "nrg") -> FloatArray:
    """CRPS per entry, ``(1/S) sum_s |x_s - y| - (1/D) sum_{s,s'} |x_s - x_s'|``.

    The pair sum is computed from sorted members in O(S log S):
    ``sum_{s,s'} |x_s - x_s'| = 2 sum_i (2 i - S - 1) x_(i)`` (i = 1..S).

    Args:
        y: truth, shape (T, A).
        samples: members, shape (S, T, A).
        estimator: ``"nrg"`` (D = 2 S^2) or ``"fair"`` (D = 2 S (S - 1)).

    Returns:
        (T, A) float64; NaN where ``y`` is not finite.

    Example:
        >>> crps_ensemble(np.array([[0.5]]), np.array([0.0, 1.0]).reshape(2, 1, 1)).tolist()
        [[0.25]]
    """
    yy, xx = _check(y, samples)
    s = xx.shape[0]
    _check_estimator(estimator, s)
    srt = np.sort(xx, axis=0)
    coef = (2.0 * np.arange(1, s + 1) - s - 1.0)[:, None, None]
    pair = 2.0 * np.sum(coef * srt, axis=0)
    first = np.abs(xx - yy[None]).mean(axis=0)
    out = first - pair / _pair_denominator(estimator, s)
    out[~np.isfinite(yy)] = np.nan
    result: FloatArray = out
    return result


def quantile_loss(y: ArrayLike, samples: ArrayLike, alpha: float) -> FloatArray:
    """Pinball loss of the members' linear-interpolated ``alpha``-quantile, per entry.

    ``q = quantile(samples, alpha)`` (numpy "linear"), ``e = y - q``,
    ``QL = (alpha - 1{e < 0}) e``.

    Returns:
        (T, A) float64; NaN where ``y`` is not finite.

    Example:
        >>> x = np.zeros((3, 1, 2))
        >>> quantile_loss(np.array([[-1.0, 1.0]]), x, 0.1).round(12).tolist()
        [[0.9, 0.1]]
    """
    yy, xx = _check(y, samples)
    if not 0.0 < float(alpha) < 1.0:
        raise ShapeError(f"alpha must lie in (0, 1), got {alpha}", key="alpha")
    q = np.quantile(xx, float(alpha), axis=0)
    e = yy - q
    out: FloatArray = (float(alpha) - (e < 0.0)) * e
    return out


def variogram_score(
    y: ArrayLike, samples: ArrayLike, p: float = 0.5, *, reduction: Literal["mean", "sum"] = "mean"
) -> FloatArray:
    """Variogram score of order ``p`` per row (unweighted).

    ``sum_{i, j} (|y_i - y_j|^p - (1/S) sum_s |x_{s,i} - x_{s,j}|^p)^2`` over ordered pairs
    (``reduction="sum"``, the scoringrules convention) or its mean over the unordered pairs
    ``i < j`` (``"mean"``, spec section 7.2; equals the sum divided by ``A (A - 1)``).

    Returns:
        (T,) float64; NaN for rows with a non-finite truth; 0 when A = 1 with ``"sum"``,
        NaN with ``"mean"`` (no pairs).

    Example:
        >>> x = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])
        >>> variogram_score(np.array([[0.0, 0.0]]), x).tolist()
        [1.0]
    """
    yy, xx = _check(y, samples)
    if not p > 0:
        raise ShapeError(f"p must be > 0, got {p}", key="p")
    s, t_len, a = xx.shape
    out = np.full(t_len, np.nan)
    rows = np.flatnonzero(np.isfinite(yy).all(axis=1))
    chunk = max(1, _CHUNK_BYTES // (8 * 2 * s * a * a))
    for start in range(0, rows.size, chunk):
        r = rows[start : start + chunk]
        yr = yy[r]
        vy = np.abs(yr[:, :, None] - yr[:, None, :]) ** p
        xr = xx[:, r, :]
        vx = (np.abs(xr[:, :, :, None] - xr[:, :, None, :]) ** p).mean(axis=0)
        out[r] = ((vy - vx) ** 2).sum(axis=(1, 2))
    if reduction == "mean":
        out = out / (a * (a - 1)) if a > 1 else np.full(t_len, np.nan)
    elif reduction != "sum":
        raise ShapeError(f"unknown reduction {reduction!r}; use 'mean' or 'sum'", key="reduction")
    return out


def pit(
    y: ArrayLike, samples: ArrayLike, *, seed: int = 0, method: Literal["rank", "ecdf"] = "rank"
) -> FloatArray:
    """Probability integral transform of the truth under the ensemble, randomised for ties.

    ``"rank"`` (default): ``(n_below + U (n_equal + 1)) / (S + 1)``, exactly uniform on
    (0, 1) when truth and members are exchangeable; ``"ecdf"`` (source): share of members
    ``<= y`` with ties randomised, ``(n_below + U n_equal) / S``. ``U`` ~ Uniform(0, 1) drawn
    from ``numpy.random.default_rng(seed)``, one per entry in C order.

    Returns:
        (T, A) float64 in [0, 1]; NaN where ``y`` is not finite.

    Example:
        >>> x = np.arange(4.0).reshape(4, 1, 1)
        >>> pit(np.array([[10.0]]), x, method="ecdf").tolist()
        [[1.0]]
    """
    yy, xx = _check(y, samples)
    s = xx.shape[0]
    below = (xx < yy[None]).sum(axis=0)
    equal = (xx == yy[None]).sum(axis=0)
    u = np.random.default_rng(seed).uniform(size=yy.shape)
    if method == "rank":
        out = (below + u * (equal + 1)) / (s + 1.0)
    elif method == "ecdf":
        out = (below + u * equal) / float(s)
    else:
        raise ShapeError(f"unknown PIT method {method!r}; use 'rank' or 'ecdf'", key="method")
    out[~np.isfinite(yy)] = np.nan
    result: FloatArray = out
    return result


def interval_hits(y: ArrayLike, samples: ArrayLike, levels: Sequence[float]) -> FloatArray:
    """Per-level indicator that the truth lies in the central interval (inclusive).

    The interval at level ``L`` is ``[q_{(1-L)/2}, q_{(1+L)/2}]`` of the members (numpy
    "linear" quantiles).

    Returns:
        (L, T, A) float64 of 0/1, NaN where ``y`` is not finite.
    """
    yy, xx = _check(y, samples)
    lv = np.asarray(levels, dtype=np.float64).reshape(-1)
    if lv.size == 0 or not ((lv > 0) & (lv < 1)).all():
        raise ShapeError(f"levels must be in (0, 1), got {lv.tolist()}", key="levels")
    qs = np.quantile(xx, np.concatenate([(1 - lv) / 2, (1 + lv) / 2]), axis=0)
    lo, hi = qs[: lv.size], qs[lv.size :]
    hits = ((yy[None] >= lo) & (yy[None] <= hi)).astype(np.float64)
    hits[:, ~np.isfinite(yy)] = np.nan
    result: FloatArray = hits
    return result


def coverage(y: ArrayLike, samples: ArrayLike, levels: Sequence[float]) -> FloatArray:
    """Empirical coverage per nominal level: share of finite entries inside the interval.

    Returns:
        (L,) float64 (NaN for a level when no entry of ``y`` is finite).

    Example:
        >>> x = np.linspace(-1, 1, 101).reshape(101, 1, 1) * np.ones((1, 1, 2))
        >>> coverage(np.array([[0.0, 0.95]]), x, [0.5, 0.9]).tolist()
        [0.5, 0.5]
    """
    hits = interval_hits(y, samples, levels)
    with np.errstate(invalid="ignore"):
        n = np.isfinite(hits).sum(axis=(1, 2))
        tot = np.nansum(hits, axis=(1, 2))
        out: FloatArray = np.where(n > 0, tot / np.maximum(n, 1), np.nan)
    return out
