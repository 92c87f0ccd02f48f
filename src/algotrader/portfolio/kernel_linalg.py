"""Compiled dense linear algebra of the optimiser's row kernel (numba).

LAPACK ``potrf`` (float64 and float32) through numba's own binding (resolved by symbol at
run time, so the compiled code can be cached on disk), triangular solves whose loops
vectorise, the residual and ``m'x``, the exact solver's mixed-precision solve
(:func:`solve_mixed`: float32 factor, float64 refinement), the eigen fallback for a matrix
that is not numerically positive definite (the policy of :mod:`algotrader.portfolio.solve`),
and the matrix-free products and preconditioned CG of ``solver: cg``.

Example:
    >>> import numpy as np
    >>> a = np.array([[2.0, 0.5], [0.5, 1.0]]); m = np.array([1.0, -1.0])
    >>> method, ss, d = solve_one(a, a.copy(), m, np.empty(2), x := np.empty(2))
    >>> int(method) == METHOD_CHOLESKY, bool(np.allclose(a @ x, m)), bool(ss < 1e-28)
    (True, True, True)
    >>> w32 = np.empty((2, 2), dtype=np.float32)
    >>> method, ss, d, steps = solve_mixed(a, a.astype(np.float32), 2.5, m, np.empty(2), x, w32)
    >>> int(method) == METHOD_CHOLESKY, bool(np.allclose(a @ x, m, rtol=1e-15)), steps >= 0
    (True, True, True)
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.np.linalg import _LAPACK, ensure_lapack

from algotrader.portfolio.kernel_pending import pending_product, pending_weights
from algotrader.portfolio.solve import COND_LIMIT

#: Solver codes (``none``, ``cholesky``, ``eigen``, ``singular``, ``cg``).
METHOD_NONE, METHOD_CHOLESKY, METHOD_EIGEN, METHOD_SINGULAR, METHOD_CG = 0, 1, 2, 3, 4

ensure_lapack()
# numba's binding of LAPACK ``?potrf`` (resolved by symbol at run time, so the compiled
# kernel can be cached on disk); called with uplo 'L' on a C-ordered buffer, i.e. the
# Fortran-lower (fast) variant factors the C-upper triangle.
_POTRF = _LAPACK().numba_xxpotrf(types.float64)
_POTRF32 = _LAPACK().numba_xxpotrf(types.float32)
_KIND_D, _KIND_S, _UPLO_L = ord("d"), ord("s"), ord("L")
#: Most refinement steps of :func:`solve_mixed` (LAPACK ``dsposv``'s ``ITERMAX``).
REFINE_MAX_ITER = 30
_EPS64 = float(np.finfo(np.float64).eps) / 2.0  # LAPACK dlamch('Epsilon'): unit roundoff


@nb.njit(cache=True)
def _cholesky_upper(f: np.ndarray) -> int:  # pragma: no cover - compiled
    """Factor ``f`` (C-ordered, symmetric, upper triangle read) in place; LAPACK info."""
    n = f.shape[0]
    return _POTRF(_KIND_D, _UPLO_L, n, f.ctypes, n)


@nb.njit(cache=True)
def _cholesky_upper32(f: np.ndarray) -> int:  # pragma: no cover - compiled
    """:func:`_cholesky_upper` of a float32 ``f`` (LAPACK ``spotrf``)."""
    n = f.shape[0]
    return _POTRF32(_KIND_S, _UPLO_L, n, f.ctypes, n)


@nb.njit(cache=True, fastmath={"reassoc"})
def _solve_factor(f: np.ndarray, m: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
    """``x = A^-1 m`` from the factor: ``L[k, i] = f[i, k]`` for ``k >= i`` (C upper)."""
    n = m.shape[0]
    for i in range(n):
        y[i] = m[i]
    for k in range(n):  # forward: L y = m, column-oriented (rows of f are contiguous)
        yk = y[k] / f[k, k]
        y[k] = yk
        col = f[k, k + 1 :]  # slices, not offset indices: the loop then vectorises
        rest = y[k + 1 :]
        for i in range(rest.shape[0]):
            rest[i] -= col[i] * yk
    for i in range(n - 1, -1, -1):  # back: L' x = y, dot-product form
        row = f[i, i + 1 :]
        done = x[i + 1 :]
        s = 0.0
        for k in range(row.shape[0]):
            s += row[k] * done[k]
        x[i] = (y[i] - s) / f[i, i]


@nb.njit(cache=True, fastmath={"reassoc"})
def _residual_and_dot(a: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """``||A x - m||^2`` and ``m'x`` (vectorised sums)."""  # pragma: no cover - compiled
    n = m.shape[0]
    ss = 0.0
    d = 0.0
    for i in range(n):
        s = 0.0
        row = a[i]
        for k in range(n):
            s += row[k] * x[k]
        s -= m[i]
        ss += s * s
        d += m[i] * x[i]
    return ss, d


@nb.njit(cache=True, fastmath={"reassoc"})
def _solve_factor32(
    f: np.ndarray, rhs: np.ndarray, y: np.ndarray, z: np.ndarray
) -> None:  # pragma: no cover - compiled
    """:func:`_solve_factor` with a float32 factor ``f``: ``z = A^-1 rhs`` in float32 (``rhs``
    float64, rounded to float32 first; ``y``, ``z`` float32 work vectors)."""
    n = rhs.shape[0]
    for i in range(n):
        y[i] = rhs[i]
    for k in range(n):
        yk = y[k] / f[k, k]
        y[k] = yk
        col = f[k, k + 1 :]
        rest = y[k + 1 :]
        for i in range(rest.shape[0]):
            rest[i] -= col[i] * yk
    for i in range(n - 1, -1, -1):
        row = f[i, i + 1 :]
        done = z[i + 1 :]
        s = np.float32(0.0)
        for k in range(row.shape[0]):
            s += row[k] * done[k]
        z[i] = (y[i] - s) / f[i, i]


@nb.njit(cache=True, error_model="numpy")
def _eigen_solve(a: np.ndarray, m: np.ndarray, x: np.ndarray) -> int:  # pragma: no cover
    """Minimum-norm solution on the eigen-directions with ``lambda > max|lambda| / COND_LIMIT``
    (the policy of :mod:`algotrader.portfolio.solve`); returns the method code."""
    if not np.all(np.isfinite(a)):
        return METHOD_SINGULAR
    vals, vecs = np.linalg.eigh(a)
    top = np.max(np.abs(vals)) if vals.size else 0.0
    floor = top / COND_LIMIT
    if top <= 0.0 or not np.any(vals > floor):
        return METHOD_SINGULAR
    x[:] = 0.0
    for e in range(vals.shape[0]):
        if vals[e] > floor:
            c = np.dot(vecs[:, e], m) / vals[e]
            x += c * vecs[:, e]
    return METHOD_EIGEN


@nb.njit(cache=True, error_model="numpy")
def _solve_one(
    a: np.ndarray, f: np.ndarray, m: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[int, float, float]:  # pragma: no cover - compiled
    """Solve ``a x = m`` (Cholesky of ``f``, else eigen); ``(method, ||ax - m||^2, m'x)``."""
    if _cholesky_upper(f) == 0:
        _solve_factor(f, m, y, x)
        method = METHOD_CHOLESKY
    else:
        method = _eigen_solve(a, m, x)
        if method == METHOD_SINGULAR:
            return method, np.nan, np.nan
    ss, d = _residual_and_dot(a, x, m)
    return method, ss, d


solve_one = _solve_one


@nb.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
def sym_product(xy: np.ndarray, z: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out = xy z`` for a symmetric ``xy`` from its upper triangle only (``out`` and the
    accumulation in ``xy``'s dtype).

    Four rows at a time: the 4 x 4 diagonal block, then one pass over the four rows'
    entries right of it, each entry serving both ``(i, k)`` (a row sum) and ``(k, i)``
    (one update of ``out[k]`` per four entries). Half the memory traffic of a full
    product; measured at N = 1,000: float32 41-46 us against 64 us for the full float32
    product, float64 77 us against 136-142 us for the one-row form."""
    n = z.shape[0]
    zero = np.zeros(1, dtype=out.dtype)[0]  # accumulators in out's dtype (not float64)
    for k in range(n):
        out[k] = zero
    i = 0
    while i + 4 <= n:
        for a in range(4):  # the diagonal block, from its upper triangle
            acc = out[i + a]
            for b in range(4):
                acc += xy[i + min(a, b), i + max(a, b)] * z[i + b]
            out[i + a] = acc
        z0, z1, z2, z3 = z[i], z[i + 1], z[i + 2], z[i + 3]
        st = i + 4
        r0, r1, r2, r3 = xy[i, st:], xy[i + 1, st:], xy[i + 2, st:], xy[i + 3, st:]
        zt, ot = z[st:], out[st:]
        s0 = s1 = s2 = s3 = zero
        for k in range(zt.shape[0]):
            a0, a1, a2, a3 = r0[k], r1[k], r2[k], r3[k]
            zk = zt[k]
            s0 += a0 * zk
            s1 += a1 * zk
            s2 += a2 * zk
            s3 += a3 * zk
            ot[k] += (a0 * z0 + a1 * z1) + (a2 * z2 + a3 * z3)
        out[i] += s0
        out[i + 1] += s1
        out[i + 2] += s2
        out[i + 3] += s3
        i += 4
    while i < n:  # the last n % 4 rows
        zi = z[i]
        row, zt, ot = xy[i, i + 1 :], z[i + 1 :], out[i + 1 :]
        acc = xy[i, i] * zi
        for k in range(row.shape[0]):
            acc += row[k] * zt[k]
            ot[k] += row[k] * zi
        out[i] += acc
        i += 1


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def _residual_update(
    a: np.ndarray, x: np.ndarray, m: np.ndarray, r: np.ndarray
) -> tuple[float, float, float, float]:  # pragma: no cover - compiled
    """``r = m - A x`` in float64 for a symmetric ``A`` (:func:`sym_product`, upper triangle);
    returns ``(||r||^2, m'x, max|r|, max|x|)``."""
    sym_product(a, x, r)
    ss = 0.0
    d = 0.0
    rmax = 0.0
    xmax = 0.0
    for i in range(m.shape[0]):
        ri = m[i] - r[i]
        r[i] = ri
        ss += ri * ri
        d += m[i] * x[i]
        rmax = max(rmax, abs(ri))
        xmax = max(xmax, abs(x[i]))
    return ss, d, rmax, xmax


@nb.njit(cache=True, error_model="numpy")
def solve_mixed(
    a: np.ndarray,
    f: np.ndarray,
    anorm: float,
    m: np.ndarray,
    r: np.ndarray,
    x: np.ndarray,
    w32: np.ndarray,
) -> tuple[int, float, float, int]:  # pragma: no cover - compiled
    """Solve ``a x = m`` to float64 accuracy from a float32 Cholesky factor (LAPACK
    ``dsposv``'s scheme): factor ``f`` (a float32 copy of ``a``, C upper triangle read) in
    place, solve in float32, then refine ``x <- x + A_32^-1 (m - A x)`` with the residual in
    float64 until ``max|r| <= max|x| * anorm * eps * sqrt(n)`` (``anorm = ||A||_inf``, ``eps``
    the float64 unit roundoff): the backward error a float64 Cholesky solve guarantees.
    A factor that fails, a refinement that stalls (the residual not halving) or does not
    converge within :data:`REFINE_MAX_ITER` steps falls back to :func:`solve_one` on ``a``.

    ``r`` (float64) and ``w32`` (2, n) float32 are work vectors. Returns ``(method,
    ||A x - m||^2, m'x, steps)`` (``steps``: refinement steps, -1 after a fallback)."""
    n = m.shape[0]
    if _cholesky_upper32(f) == 0:
        y32, z32 = w32[0], w32[1]
        _solve_factor32(f, m, y32, z32)
        for i in range(n):
            x[i] = z32[i]
        cte = anorm * _EPS64 * np.sqrt(n)
        ss, d, rmax, xmax = _residual_update(a, x, m, r)
        last = np.inf
        for step in range(REFINE_MAX_ITER + 1):
            if rmax <= xmax * cte:
                return METHOD_CHOLESKY, ss, d, step
            if step == REFINE_MAX_ITER or not rmax <= 0.5 * last:  # also NaN
                break
            _solve_factor32(f, r, y32, z32)
            for i in range(n):
                x[i] += z32[i]
            last = rmax
            ss, d, rmax, xmax = _residual_update(a, x, m, r)
    method, ss, d = _solve_one(a, a.copy(), m, r, x)
    return method, ss, d, -1


@nb.njit(cache=True, fastmath={"reassoc"}, nogil=True)
def _finish_product(
    pend: np.ndarray,
    count: int,
    coef: np.ndarray,
    sb: float,
    t: np.ndarray,
    u: np.ndarray,
    uv: float,
    e: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    h: np.ndarray,
    q: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``out <- T (sb out + sum_j coef_j p_j p_j' z) - u uv + e v`` given ``out = xy z``
    (``z = T v``, ``uv = u'v``): the pending rows' part in a second pass (fused into the
    row loop of the float32 product it is ~20 us slower at N = 1,000)."""
    n = v.shape[0]
    if count > 0:
        pending_product(pend, count, coef, z, h, q)
        for i in range(n):
            out[i] = t[i] * (sb * out[i] + q[i]) - u[i] * uv + e[i] * v[i]
    else:
        for i in range(n):
            out[i] = t[i] * out[i] - u[i] * uv + e[i] * v[i]


@nb.njit(cache=True, fastmath={"reassoc"})
def _matvec_scaled(
    xy: np.ndarray,
    pend: np.ndarray,
    count: int,
    coef: np.ndarray,
    sb: float,
    t: np.ndarray,
    u: np.ndarray,
    e: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    h: np.ndarray,
    q: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``out = (T X T - u u' + diag(e)) v`` without forming the matrix (``T = diag(t)``),
    ``X = sb xy + sum_j coef_j p_j p_j'`` over the ``count`` pending rows ``pend`` (the
    deferred sums of :mod:`algotrader.portfolio.kernel_pending`; ``count = 0``: ``X = xy``).

    ``xy`` must be symmetric: only its upper triangle is read (:func:`sym_product`).
    ``z`` (N,), ``h`` (``count``,) and ``q`` (N,) are work space.
    """
    n = v.shape[0]
    uv = 0.0
    for k in range(n):
        z[k] = t[k] * v[k]
        uv += u[k] * v[k]
    sym_product(xy, z, out)
    _finish_product(pend, count, coef, sb, t, u, uv, e, v, z, h, q, out)


@nb.njit(cache=True, fastmath={"reassoc"})
def _dot(u: np.ndarray, v: np.ndarray) -> float:  # pragma: no cover - compiled
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * v[i]
    return s


@nb.njit(cache=True, error_model="numpy")
def position_error_bound(
    res_norm: float, x_norm: float, lam_min: float
) -> float:  # pragma: no cover - compiled
    """Proven bound on ``||p - p*|| / ||p*||`` for ``p = x / sqrt(m'x)`` (``p*`` exact).

    ``A`` symmetric with ``lambda_min(A) >= lam_min``, ``r = A x - m``, ``e = x* - x``,
    ``rho = ||r|| / (lam_min ||x||)``. Then ``||e|| = ||A^-1 r|| <= rho ||x||`` and
    ``||x*|| >= (1 - rho) ||x||``, so ``eps = ||e|| / ||x*|| <= rho / (1 - rho)``. Since
    ``m'e = x*' A e = -x*' r`` and ``m'x* = x*' A x* >= lam_min ||x*||^2``,
    ``eta = |m'x - m'x*| / m'x* <= ||r|| / (lam_min ||x*||) <= rho / (1 - rho)`` as well.
    With ``q = sqrt(m'x* / m'x)`` in ``[1 / sqrt(1 + eta), 1 / sqrt(1 - eta)]``,
    ``p - p* = (q (x - x*) + (q - 1) x*) / sqrt(m'x*)`` gives
    ``||p - p*|| / ||p*|| <= q eps + |q - 1| <= (eps + 1) / sqrt(1 - eta) - 1``.
    ``inf`` when the bound does not apply (``rho >= 1 / 2``), NaN without a usable ``x``.
    """
    if not (x_norm > 0.0) or not np.isfinite(res_norm) or not np.isfinite(x_norm):
        return np.nan
    rho = res_norm / (lam_min * x_norm)
    if rho >= 0.5:
        return np.inf
    eps = rho / (1.0 - rho)
    return (eps + 1.0) / np.sqrt(1.0 - eps) - 1.0


@nb.njit(cache=True, fastmath={"reassoc"})
def precond_update(
    g: np.ndarray,
    h: np.ndarray,
    fm: np.ndarray,
    dw: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    slot: int,
    beta: float,
    lam_min: float,
) -> int:  # pragma: no cover - compiled
    """Enter the current row into the CG preconditioner's ring and factor it.

    The preconditioner is ``P = lam_min I + sum_j beta^age_j g_j g_j'`` over the ``K`` ring
    rows ``g_j = t_j * r_j`` (the row's vol-adjusted returns scaled by the ``t`` of the row
    it entered at, so a row costs O(N K), never a recomputation with today's ``t``): the
    exact part of ``A = lam_min I + T xy T - u u'`` carried by the last ``K`` rows, up to
    the drift of ``t`` since they entered and the ``u u'`` term. Writes ``t * r`` into
    ``g[slot]``, its inner products with every ring row into ``h`` (the unweighted Gram,
    ``h = g g'``), the weights ``dw_j = beta^(age_j / 2)`` (``age`` counted back from
    ``slot``) and ``fm = lam_min I + D h D`` factored in place (:func:`_cholesky_upper`);
    returns LAPACK's info (``0``: usable). Empty ring rows are zero and cost nothing in
    ``P``.
    """
    k, n = g.shape
    row = g[slot]
    for i in range(n):
        row[i] = t[i] * r[i]
    for j in range(k):
        gj = g[j]
        s = 0.0
        for i in range(n):
            s += row[i] * gj[i]
        h[slot, j] = s
        h[j, slot] = s
    sb = np.sqrt(beta)
    for j in range(k):
        dw[j] = sb ** ((slot - j + k) % k)
    for i in range(k):
        fi, hi, di = fm[i], h[i], dw[i]
        for j in range(k):
            fi[j] = di * hi[j] * dw[j]
        fi[i] += lam_min
    return _cholesky_upper(fm)


@nb.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
def precond_apply_t(
    gt: np.ndarray,
    dw: np.ndarray,
    fm: np.ndarray,
    lam_min: float,
    v: np.ndarray,
    kv: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``out = P^-1 v`` by Woodbury: ``P^-1 = (I - G' (lam_min I + G G')^-1 G) / lam_min``
    with ``G = D g`` and the factor of ``lam_min I + G G'`` in ``fm`` (:func:`precond_update`),
    the ring ``g`` stored transposed as ``gt`` (N, K) (the kernel's per-lane mirror, float32
    in mixed precision; products accumulated in float64): both O(N K) passes run along
    contiguous length-K rows (an update of the K sums, then a length-K dot product per
    entry; the first four rows at a time: measured 9 against 25 us at N = 1,000, K = 128),
    with two K x K triangular solves between them."""
    n, k = gt.shape
    s, y, c = kv[0], kv[1], kv[2]
    for j in range(k):
        s[j] = 0.0
    i = 0
    while i + 4 <= n:  # four rows a pass: one update of the K sums per four entries
        r0, r1, r2, r3 = gt[i], gt[i + 1], gt[i + 2], gt[i + 3]
        v0, v1, v2, v3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        for j in range(k):
            s[j] += (r0[j] * v0 + r1[j] * v1) + (r2[j] * v2 + r3[j] * v3)
        i += 4
    while i < n:
        row, vi = gt[i], v[i]
        for j in range(k):
            s[j] += row[j] * vi
        i += 1
    for j in range(k):
        s[j] *= dw[j]
    _solve_factor(fm, s, y, c)
    for j in range(k):
        c[j] *= dw[j]
    inv = 1.0 / lam_min
    for i in range(n):
        row = gt[i]
        a = 0.0
        for j in range(k):
            a += row[j] * c[j]
        out[i] = (v[i] - a) * inv


#: Per-cycle reduction of ``||r||`` asked of the float32 inner iteration of
#: :func:`cg_solve_pre` with a float32 ``xy_low`` (the float32 product carries ~1e-7
#: relative rounding, so a cycle cannot usefully go much further; the true float64
#: residual then restarts it).
LOW_REDUCTION = 1e-6


@nb.njit(cache=True, fastmath={"reassoc"}, nogil=True)
def _matvec_scaled_low(
    xy_low: np.ndarray,
    pend: np.ndarray,
    count: int,
    coef: np.ndarray,
    sb: float,
    t: np.ndarray,
    u: np.ndarray,
    e: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    z_out: np.ndarray,
    z64: np.ndarray,
    h: np.ndarray,
    q: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`_matvec_scaled` with a float32 copy of ``xy`` (its upper triangle read by
    :func:`sym_product` in float32, ``z = float32(t * v)``) and the pending rows' part in
    float64: a quarter of the float64 product's memory traffic (measured 41-46 against
    77 us at N = 1,000). ``out`` (float64) carries ~1e-7 relative rounding. Used only
    inside :func:`cg_solve_pre`, whose stopping test is on the float64 residual. ``z``
    (N,) and ``z_out`` (N,) float32, ``z64`` (N,), ``h`` (``count``,), ``q`` (N,) work
    space."""
    n = v.shape[0]
    uv = 0.0
    for k in range(n):
        zk = t[k] * v[k]
        z64[k] = zk
        z[k] = np.float32(zk)
        uv += u[k] * v[k]
    sym_product(xy_low, z, z_out)
    for i in range(n):
        out[i] = np.float64(z_out[i])
    _finish_product(pend, count, coef, sb, t, u, uv, e, v, z64, h, q, out)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def cg_solve_pre(
    xy: np.ndarray,
    xy_low: np.ndarray,
    pend: np.ndarray,
    count: int,
    beta: float,
    t: np.ndarray,
    u: np.ndarray,
    e: np.ndarray,
    m: np.ndarray,
    x: np.ndarray,
    work: np.ndarray,
    lam_min: float,
    tol: float,
    max_iter: int,
    g: np.ndarray,
    dw: np.ndarray,
    fm: np.ndarray,
    kv: np.ndarray,
) -> tuple[int, float, float, float]:  # pragma: no cover - compiled
    """(Preconditioned) conjugate gradients for ``A x = m``, ``A = T X T - u u' + diag(e)``
    symmetric positive definite (``lambda_min >= lam_min``), from the start ``x``; ``A`` is
    never formed. ``X = beta^count xy + sum_j beta^(count - 1 - j) p_j p_j'`` over the
    ``count`` pending rows ``pend`` (:mod:`algotrader.portfolio.kernel_pending`;
    ``count = 0``: ``X = xy``); ``xy_low`` is the float32 copy of ``xy``. The start is
    first scaled by the exact line search along it (``x <- (x'm / x'Ax) x``, from the
    float64 product): a start unrelated to this signal then costs nothing, and one that is
    already accurate beyond float32 is kept, never walked through float32 iterations.

    Each cycle recomputes the *true* float64 residual ``r = m - A x`` from ``xy`` and stops
    when :func:`position_error_bound` of it is ``<= tol`` (so rounding drift of the
    recurrence, a float32 product or the preconditioner cannot fake convergence); otherwise
    it runs CG from that residual until the recurrence's bound estimate reached ``tol / 2``
    (and, with a float32 ``xy_low`` of ``xy``'s shape, until ``||r||`` fell by
    :data:`LOW_REDUCTION`: iterative refinement), then re-checks. With a ring ``g`` stored
    transposed (N, K), ``K > 0``, the iteration is preconditioned by
    :func:`precond_apply_t` (``dw``, ``fm`` from
    :func:`precond_update`; any symmetric positive definite ``P`` leaves the bound valid: it
    only changes the iterates). Returns ``(iterations, ||A x - m||^2, m'x, bound)``;
    ``iterations`` counts products in the inner iteration, ``-1`` when the bound was not
    reached within ``max_iter``. ``work`` (5, N) float64 scratch; ``x`` holds the solution.
    """
    n = m.shape[0]
    r, p, q, z, zp = work[0], work[1], work[2], work[3], work[4]
    mixed = xy_low.shape[0] == n and n > 0
    pre = g.shape[1] > 0
    z_low = np.empty(n if mixed else 0, dtype=np.float32)
    z_out = np.empty(n if mixed else 0, dtype=np.float32)
    z64, q_work = np.empty(n), np.empty(n)
    coef, h = np.empty(max(count, 1)), np.empty(max(count, 1))
    sb = pending_weights(count, beta, coef)
    for i in range(n):
        if not np.isfinite(x[i]):
            x[:] = 0.0
            break
    it = 0
    stop2 = LOW_REDUCTION * LOW_REDUCTION if mixed else 0.0
    bound = np.inf
    first = True
    while True:
        _matvec_scaled(xy, pend, count, coef, sb, t, u, e, x, z, h, q_work, q)
        if first:
            # the start scaled by the exact line search along it: x <- a x with
            # a = x'm / x'Ax, the best multiple of the start in the A-norm (a = 1 for a
            # start that is already the solution, ~0 for one unrelated to this signal;
            # from the float64 product, so a start accurate beyond float32 stays so)
            xq = _dot(x, q)
            a = _dot(x, m) / xq if xq > 0.0 else 0.0
            for i in range(n):
                x[i] *= a
                q[i] *= a
        for i in range(n):
            r[i] = m[i] - q[i]
        ss = _dot(r, r)
        bound = position_error_bound(np.sqrt(ss), np.sqrt(_dot(x, x)), lam_min)
        if bound <= tol:
            return it, ss, _dot(m, x), bound
        if it >= max_iter:
            return -1, ss, _dot(m, x), bound
        if pre:
            precond_apply_t(g, dw, fm, lam_min, r, kv, zp)
        else:
            zp[:] = r
        for i in range(n):
            p[i] = zp[i]
        rz = _dot(r, zp)
        rr_stop = ss * stop2
        stepped = False
        while it < max_iter:
            if mixed:
                _matvec_scaled_low(
                    xy_low, pend, count, coef, sb, t, u, e, p, z_low, z_out, z64, h, q_work, q
                )
            else:
                _matvec_scaled(xy, pend, count, coef, sb, t, u, e, p, z, h, q_work, q)
            pq = _dot(p, q)
            if not (pq > 0.0) or not (rz > 0.0):
                break
            alpha = rz / pq
            for i in range(n):
                x[i] += alpha * p[i]
                r[i] -= alpha * q[i]
            it += 1
            stepped = True
            rr_new = _dot(r, r)
            est = position_error_bound(np.sqrt(rr_new), np.sqrt(_dot(x, x)), lam_min)
            if est <= 0.5 * tol or rr_new <= rr_stop:  # margin for the recurrence's drift
                break
            if pre:
                precond_apply_t(g, dw, fm, lam_min, r, kv, zp)
            else:
                zp[:] = r
            rz_new = _dot(r, zp)
            beta = rz_new / rz
            for i in range(n):
                p[i] = zp[i] + beta * p[i]
            rz = rz_new
        if not stepped:
            return -1, ss, _dot(m, x), bound
        first = False


@nb.njit(cache=True, error_model="numpy")
def cg_solve(
    xy: np.ndarray,
    t: np.ndarray,
    u: np.ndarray,
    e: np.ndarray,
    m: np.ndarray,
    x: np.ndarray,
    work: np.ndarray,
    lam_min: float,
    tol: float,
    max_iter: int,
) -> tuple[int, float, float, float]:  # pragma: no cover - compiled
    """Unpreconditioned float64 :func:`cg_solve_pre` (a dense matrix ``a`` is the case
    ``xy = a, t = 1, u = 0, e = 0``). ``work`` (5, N) scratch."""
    return cg_solve_pre(
        xy, np.zeros((0, 0), dtype=np.float32), np.zeros((0, m.shape[0])), 0, 1.0, t, u, e,
        m, x, work, lam_min, tol, max_iter,
        np.zeros((m.shape[0], 0)), np.zeros(0), np.zeros((0, 0)), np.zeros((3, 0)),
    )  # fmt: skip


@nb.njit(cache=True, error_model="numpy")
def cg_solve_mixed(
    xy: np.ndarray,
    xy_low: np.ndarray,
    t: np.ndarray,
    u: np.ndarray,
    e: np.ndarray,
    m: np.ndarray,
    x: np.ndarray,
    work: np.ndarray,
    lam_min: float,
    tol: float,
    max_iter: int,
) -> tuple[int, float, float, float]:  # pragma: no cover - compiled
    """Unpreconditioned :func:`cg_solve_pre` with the inner products on ``xy_low`` (float32
    copy of ``xy``) and float64 iterative refinement. ``work`` (5, N) scratch."""
    return cg_solve_pre(
        xy, xy_low, np.zeros((0, m.shape[0])), 0, 1.0, t, u, e, m, x, work, lam_min, tol,
        max_iter,
        np.zeros((m.shape[0], 0)), np.zeros(0), np.zeros((0, 0)), np.zeros((3, 0)),
    )  # fmt: skip


__all__ = [
    "LOW_REDUCTION",
    "METHOD_CG",
    "METHOD_CHOLESKY",
    "METHOD_EIGEN",
    "METHOD_NONE",
    "METHOD_SINGULAR",
    "REFINE_MAX_ITER",
    "cg_solve",
    "cg_solve_mixed",
    "cg_solve_pre",
    "position_error_bound",
    "precond_apply_t",
    "precond_update",
    "solve_mixed",
    "solve_one",
    "sym_product",
]
