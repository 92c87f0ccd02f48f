"""Leakage-safe per-split preprocessing (spec §3.2) as pure functions.

``fit(X, M, train_idx, cfg, features=...)`` reads only the rows ``train_idx`` of X
(T, A, F) and returns a :class:`PipelineState`; ``transform(state, X, M, idx)`` applies it
to any rows. ``M`` is the observation mask (**True = observed**, the ``Panel``
convention); "observed" means ``M & isfinite(X)``.

Fit: (1) usable ratio filter, (2) variance filter, (3) |corr| duplicate filter (visit by
decreasing usable ratio), then on the kept features: winsor bounds (every non-``brk_``
feature), robust shift/scale max(1.4826 MAD, IQR/1.349, scale_floor) (``cs_rank_*`` are
left unscaled), per-(asset, feature) breakout standardisation, and the near-constant
guard. The guard is **fixed** against the source: ``brk_*`` columns are flagged only when
constant (p(1-p) <= 0 or unobserved) and ``cs_rank_*`` columns only when their variance is
below guard_abs_eps^2, so a rare 0/1 breakout (p = 0.1) survives.

Transform: winsorise -> (x - shift)/scale -> breakout (x - p)/sqrt(p(1-p) + floor) ->
guard-flagged columns to 0 -> on the training rows only, fail fast on non-finite or
|x| > max_abs_fail naming the top-5 offenders -> clip -> optional impute-to-0 and mask
channels.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.stack([rng.normal(size=(50, 3)), (rng.random((50, 3)) < 0.1) * 1.0], axis=2)
    >>> M = np.ones_like(X, dtype=bool)
    >>> st = fit(X, M, np.arange(40), features=["a::z", "b::brk_up_4w"])
    >>> Xt, Mt = transform(st, X, M, np.arange(40, 50))
    >>> Xt.shape, st.kept_names, bool(st.guard.any())
    ((10, 3, 2), ('a::z', 'b::brk_up_4w'), False)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algotrader.errors import ConfigError, DataError, ShapeError, StateError
from algotrader.preprocess.config import PipelineConfig

F64 = NDArray[np.float64]
ROBUST, RANK, BREAKOUT = 0, 1, 2
POLICY_NAMES = ("robust", "cs_rank", "breakout")


class PreprocessError(DataError):
    """Transformed training values are non-finite or beyond ``max_abs_fail``."""


@dataclass(frozen=True, eq=False)
class PipelineState:
    """Everything fitted on the training rows (arrays; saved with :func:`save_state`)."""

    features: tuple[str, ...]
    kept: NDArray[np.int64]
    usable: F64
    variance: F64
    dropped_usable: NDArray[np.int64]
    dropped_variance: NDArray[np.int64]
    dropped_corr: NDArray[np.int64]
    corr_pairs: F64  # (n, 3): kept index, dropped index, |rho|
    policy: NDArray[np.int8]  # per kept feature
    winsor_low: F64
    winsor_high: F64
    shift: F64
    scale: F64
    brk_p: F64  # (A, F*)
    brk_den: F64
    brk_const: NDArray[np.bool_]
    guard: NDArray[np.bool_]  # (A, F*)
    train_idx: NDArray[np.int64]
    config_json: str

    @property
    def kept_names(self) -> tuple[str, ...]:
        """Names of the kept features, original order."""
        return tuple(self.features[i] for i in self.kept)

    @property
    def config(self) -> PipelineConfig:
        """The configuration the state was fitted with."""
        return PipelineConfig.model_validate(json.loads(self.config_json))


def _base(name: str) -> str:
    return name.split("::", 1)[1] if "::" in name else name


def _policy(names: Sequence[str]) -> NDArray[np.int8]:
    out = np.full(len(names), ROBUST, dtype=np.int8)
    for i, n in enumerate(names):
        b = _base(n)
        if b.startswith("brk_"):
            out[i] = BREAKOUT
        elif b.startswith("cs_rank_"):
            out[i] = RANK
    return out


def _inputs(
    X: Any, M: ArrayLike | None, features: Sequence[str] | None
) -> tuple[F64, NDArray[np.bool_], tuple[str, ...]]:
    if hasattr(X, "values") and hasattr(X, "mask") and hasattr(X, "features"):
        features = features or X.features
        M = X.mask if M is None else M
        X = X.values
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 3:
        raise ShapeError(f"X must be (T, A, F), got shape {x.shape}")
    m = np.isfinite(x) if M is None else np.asarray(M, dtype=bool)
    if m.shape != x.shape:
        raise ShapeError(f"mask shape {m.shape} != X shape {x.shape}")
    if features is None:
        raise ConfigError(
            "feature names are required (they choose breakout/cs_rank handling)",
            key="features",
            hint="pass features=... or a Panel with feature names",
        )
    if len(features) != x.shape[2]:
        raise ShapeError(f"{len(features)} feature names for {x.shape[2]} features")
    return x, m & np.isfinite(x), tuple(features)


def _rows(idx: ArrayLike, n_t: int) -> NDArray[np.int64]:
    i = np.asarray(idx)
    if i.dtype == np.bool_:
        i = np.flatnonzero(i)
    i = np.unique(i.astype(np.int64))
    if i.size == 0:
        raise ConfigError("empty index set", key="train_idx")
    if i[0] < 0 or i[-1] >= n_t:
        raise ShapeError(f"row index out of range 0..{n_t - 1}")
    return i


def _robust_spread(x: F64, axis: int | None) -> tuple[F64, F64]:
    """(max(1.4826 MAD, IQR/1.349) with non-finite parts as 0, median) along ``axis``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(x, axis=axis)
        mad = np.nanmedian(
            np.abs(x - (med if axis is None else np.expand_dims(med, axis))), axis=axis
        )
        q75, q25 = np.nanquantile(x, [0.75, 0.25], axis=axis)
    mad_s = np.nan_to_num(1.4826 * mad, nan=0.0, posinf=0.0)
    iqr_s = np.nan_to_num((q75 - q25) / 1.349, nan=0.0, posinf=0.0)
    return np.maximum(mad_s, iqr_s), np.asarray(med, dtype=np.float64)


def _corr_filter(
    pool: F64, cand: list[int], usable: F64, cfg: PipelineConfig
) -> tuple[list[int], list[tuple[int, int, float]]]:
    """pool: (N, F) with NaN = missing. Returns dropped indices and (kept, dropped, |rho|)."""
    if len(cand) < 2:
        return [], []
    z = pool[:, cand]
    n = z.shape[0]
    if cfg.corr_subsample is not None and cfg.corr_subsample < n:
        z = z[np.round(np.linspace(0, n - 1, cfg.corr_subsample)).astype(np.int64)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(z, axis=0)
    z = np.where(np.isfinite(z), z, np.nan_to_num(med)[None, :])
    z = z - z.mean(axis=0)
    z = z / np.maximum(z.std(axis=0), 1e-12)
    rho = np.abs(z.T @ z / max(z.shape[0] - 1, 1))
    order = sorted(range(len(cand)), key=lambda j: (-usable[cand[j]], j))
    dropped: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for j in order:
        if j in dropped:
            continue
        for k in order:
            if k != j and k not in dropped and rho[j, k] > cfg.max_abs_corr:
                dropped.add(k)
                pairs.append((cand[j], cand[k], float(rho[j, k])))
    return sorted(cand[k] for k in dropped), pairs


def fit(
    X: Any,
    M: ArrayLike | None,
    train_idx: ArrayLike,
    cfg: PipelineConfig | None = None,
    *,
    features: Sequence[str] | None = None,
) -> PipelineState:
    """Fit cleaning and scaling on the rows ``train_idx`` of X (T, A, F) only."""
    cfg = cfg or PipelineConfig()
    x, obs, names = _inputs(X, M, features)
    idx = _rows(train_idx, x.shape[0])
    xi = np.where(obs[idx], x[idx], np.nan)  # (I, A, F), NaN = unobserved
    n_i, n_a, n_f = xi.shape
    pool = xi.reshape(n_i * n_a, n_f)
    counts = np.isfinite(pool).sum(axis=0)
    usable = counts / float(n_i * n_a)
    with np.errstate(all="ignore"):
        var = np.where(counts >= 2, np.nanvar(pool, axis=0, ddof=1), 0.0)
    d_usable = [f for f in range(n_f) if usable[f] < cfg.min_usable_ratio or counts[f] == 0]
    d_var = [f for f in range(n_f) if f not in d_usable and var[f] < cfg.min_variance]
    cand = [f for f in range(n_f) if f not in d_usable and f not in d_var]
    d_corr, pairs = _corr_filter(pool, cand, usable, cfg)
    kept = np.array([f for f in cand if f not in d_corr], dtype=np.int64)
    pol = _policy(names)[kept]
    kp = pool[:, kept]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(kp, cfg.winsor_low_q, axis=0) if kept.size else np.zeros(0)
        hi = np.nanquantile(kp, cfg.winsor_high_q, axis=0) if kept.size else np.zeros(0)
    lo = np.where(np.isfinite(lo) & (pol != BREAKOUT), lo, -np.inf)
    hi = np.where(np.isfinite(hi) & (pol != BREAKOUT), hi, np.inf)
    spread, med = _robust_spread(np.clip(kp, lo, hi), axis=0)
    scale = np.maximum(np.maximum(spread, cfg.scale_floor), cfg.mad_eps)
    shift = np.nan_to_num(med)
    shift = np.where(pol == ROBUST, shift, 0.0)
    scale = np.where(pol == ROBUST, scale, 1.0)
    xk = xi[:, :, kept]  # (I, A, F*)
    n_obs = np.isfinite(xk).sum(axis=0)
    with np.errstate(all="ignore"):
        p = np.where(n_obs > 0, np.nansum(xk, axis=0) / np.maximum(n_obs, 1), 0.0)
    pq = p * (1 - p)
    brk_const = (n_obs == 0) | (pq <= 0)
    brk_den = np.sqrt(np.maximum(pq, 0) + cfg.breakout_var_floor)
    s_col, _ = _robust_spread(xk, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m_abs = np.nan_to_num(np.nanmedian(np.abs(xk), axis=0))
        col_var = np.nan_to_num(np.nanvar(xk, axis=0))
    robust_flag = (s_col < cfg.guard_abs_eps) | (
        s_col < cfg.guard_rel_eps * m_abs + cfg.guard_rel_offset
    )
    guard = np.where(
        pol[None, :] == BREAKOUT,
        brk_const,
        np.where(pol[None, :] == RANK, col_var < cfg.guard_abs_eps**2, robust_flag),
    ) | (n_obs == 0)
    return PipelineState(
        features=names,
        kept=kept,
        usable=usable,
        variance=var,
        dropped_usable=np.array(d_usable, dtype=np.int64),
        dropped_variance=np.array(d_var, dtype=np.int64),
        dropped_corr=np.array(d_corr, dtype=np.int64),
        corr_pairs=np.array(pairs, dtype=np.float64).reshape(-1, 3),
        policy=pol,
        winsor_low=lo,
        winsor_high=hi,
        shift=shift,
        scale=scale,
        brk_p=np.where(pol[None, :] == BREAKOUT, p, 0.0),
        brk_den=brk_den,
        brk_const=brk_const,
        guard=guard,
        train_idx=idx,
        config_json=cfg.model_dump_json(),
    )


def transform(
    state: PipelineState,
    X: Any,
    M: ArrayLike | None,
    idx: ArrayLike,
    *,
    check: bool | None = None,
) -> tuple[F64, NDArray[np.bool_]]:
    """Apply a fitted state to rows ``idx``; returns (X' (J, A, F* [+F*]), M' observed mask).

    ``check`` (default: ``idx`` equals the training rows) runs the fail-fast test."""
    cfg = state.config
    x, obs, names = _inputs(X, M, state.features)
    j = _rows(idx, x.shape[0])
    if x.shape[1] != state.guard.shape[0]:
        raise ShapeError(f"X has {x.shape[1]} assets, the state {state.guard.shape[0]}")
    xv = x[j][:, :, state.kept]
    ob = obs[j][:, :, state.kept]
    pol = state.policy
    brk = pol == BREAKOUT
    with np.errstate(all="ignore"):
        z = np.clip(xv, state.winsor_low, state.winsor_high)
        z = (z - state.shift) / state.scale
        zb = np.where(state.brk_const, 0.0, (xv - state.brk_p) / state.brk_den)
    z = np.where(brk[None, None, :], zb, z)
    z = np.where(state.guard[None, :, :], 0.0, z)
    z = np.where(ob, z, np.nan)
    if check is None:
        check = bool(np.array_equal(j, state.train_idx))
    if check:
        bad = ob & (~np.isfinite(z) | (np.abs(z) > cfg.max_abs_fail))
        if bad.any():
            where = np.argwhere(bad)
            vals = np.abs(np.nan_to_num(z[bad], nan=np.inf))
            top = where[np.argsort(-vals, kind="stable")[:5]]
            kept = state.kept_names
            offenders = [(int(j[t]), int(a), int(f), kept[f], float(z[t, a, f])) for t, a, f in top]
            raise PreprocessError(
                f"{int(bad.sum())} transformed training values are non-finite or beyond "
                f"|{cfg.max_abs_fail}|; top offenders (t, asset, feature, name, value): {offenders}",
                key=offenders[0][3],
                hint="inspect these features/weeks or raise max_abs_fail",
                offenders=offenders,
            )
    z = np.clip(z, cfg.clip_min, cfg.clip_max)
    if cfg.impute_missing_to_zero:
        z = np.where(ob, z, 0.0)
    m_out = ob
    if cfg.append_mask_as_features:
        z = np.concatenate([z, ob.astype(np.float64)], axis=2)
        m_out = np.concatenate([ob, np.ones_like(ob)], axis=2)
    del names
    return z, m_out


_STATE_FIELDS = tuple(PipelineState.__dataclass_fields__)


def save_state(path: str | os.PathLike[str], state: PipelineState) -> Path:
    """Write the state to ``.npz`` (atomic, byte-reproducible, no pickles)."""
    from algotrader.features.store import write_npz_deterministic

    arrays: dict[str, NDArray[Any]] = {}
    for name in _STATE_FIELDS:
        v = getattr(state, name)
        arrays[name] = (
            np.array(v, dtype=np.str_) if name in ("features", "config_json") else np.asarray(v)
        )
    return write_npz_deterministic(path, arrays)


def load_state(path: str | os.PathLike[str]) -> PipelineState:
    """Read a state written by :func:`save_state` (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _STATE_FIELDS if k not in z.files]
            if missing:
                raise StateError(
                    f"state archive lacks {missing[0]!r}", file=str(path), key=missing[0]
                )
            d: dict[str, Any] = {k: z[k] for k in _STATE_FIELDS}
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read preprocessing state ({exc})", file=str(path)) from exc
    d["features"] = tuple(str(f) for f in d["features"])
    d["config_json"] = str(np.asarray(d["config_json"]).reshape(-1)[0])
    return PipelineState(**d)


__all__ = [
    "POLICY_NAMES",
    "PipelineState",
    "PreprocessError",
    "fit",
    "load_state",
    "save_state",
    "transform",
]
