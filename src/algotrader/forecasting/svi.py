"""SVI trainer and posterior predictive (spec sections 6.4-6.5, "Ours").

Windows are cut inside contiguous runs of the training indices only (a CPCV train set with
gaps never yields a window straddling a gap), non-overlapping, length ``window_len`` (the
last one of a run may be short); the first ``burn_in`` rows of every window are masked out
of the likelihood; windows with no valid target are dropped. Every window is padded to one
fixed length ``pad_len`` (mask False on the padding), so one compiled update serves every
split and candidate of a run with the same model, guide, optimiser and shapes.

Each step accumulates the gradients of ``grad_accum_steps`` micro-batches taken cyclically
(batch ``(step * G + j) mod n_batches``) through ``optax.MultiSteps`` and applies one Adam
update (optionally on an optax schedule); the recorded loss is the mean over the G
micro-batches. Optional ELBO-plateau stop on a held-out tail of the *training* rows.

Example:
    >>> import numpy as np
    >>> windows = cut_windows(np.array([0, 1, 2, 3, 7, 8, 9]), window_len=3)
    >>> [w.tolist() for w in windows]
    [[0, 1, 2], [3], [7, 8, 9]]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import NDArray
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.optim import optax_to_numpyro

from algotrader.artifacts import ContentHash
from algotrader.errors import DataError, ShapeError
from algotrader.forecasting.models import check_pair, get_guide, get_model

jax.config.update("jax_enable_x64", True)  # float64 fits (spec section 6.4)

__all__ = [
    "COMPILE_COUNTS",
    "FitResult",
    "SviConfig",
    "cut_windows",
    "derive_seed",
    "fit_svi",
    "predict",
]

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: number of traces (compilations) of the update per (model, guide) key, for tests
COMPILE_COUNTS: dict[str, int] = {}
_STEP_CACHE: dict[tuple[Any, ...], tuple[SVI, Callable[..., Any], Callable[..., Any]]] = {}
_PRED_CACHE: dict[tuple[int, int], Callable[..., Any]] = {}
#: predictive rows are padded to a multiple of this (one compile per bucket)
PREDICT_BUCKET = 64
#: SVI steps per call of the compiled update (a ``lax.scan``; one Python dispatch per call)
STEPS_PER_CALL = 32


@dataclass(frozen=True)
class SviConfig:
    """Trainer settings (defaults follow the source except where noted)."""

    model: str = "factor_model_v1"
    guide: str = "factor_guide_v1"
    num_steps: int = 500
    lr: float = 0.01
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    decay_rate: float = 0.1
    grad_accum_steps: int = 1
    num_elbo_particles: int = 1
    window_len: int | None = None
    burn_in: int = 0
    pad_len: int | None = None
    feature_bucket: int = 1  # the forecast family uses 16 (per-split feature counts vary)
    log_prob_scaling: bool = False
    target_normalization: bool = False
    plateau_holdout: int = 0
    plateau_every: int = 50
    plateau_patience: int = 3
    plateau_rel_tol: float = 1e-3
    guide_rank: int = 2
    model_kwargs: tuple[tuple[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class FitResult:
    """A fitted posterior: guide params, loss history and the target normalisation."""

    params: dict[str, Any]
    losses: FloatArray
    centre: float
    scale: float
    config: SviConfig
    n_windows: int
    stopped_at: int


def derive_seed(seed: int, outer: int, split: int, candidate: int | str) -> int:
    """A 32-bit seed from (seed, outer fold, split, candidate), stable across runs.

    >>> derive_seed(0, 1, 2, 3) == derive_seed(0, 1, 2, 3) != derive_seed(0, 1, 2, 4)
    True
    """
    text = f"{seed}|{outer}|{split}|{candidate}".encode()
    return int.from_bytes(ContentHash(text).digest()[:4], "little")


def cut_windows(train_idx: IntArray, window_len: int | None) -> list[IntArray]:
    """Non-overlapping windows inside each contiguous run of sorted ``train_idx``."""
    idx = np.asarray(train_idx, dtype=np.int64)
    if idx.size == 0:
        return []
    if np.any(np.diff(idx) <= 0):
        raise ShapeError("train_idx must be strictly increasing", key="train_idx")
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    out: list[IntArray] = []
    for run in runs:
        length = run.size if window_len is None else int(window_len)
        out.extend(run[i : i + length] for i in range(0, run.size, length))
    return out


def _optimizer(cfg: SviConfig) -> optax.GradientTransformation:
    n = max(1, cfg.num_steps)
    if cfg.schedule == "constant":
        # the rate lives in the optimiser state (set after init), so candidates with
        # different constant rates share one compiled update
        adam_c = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr)
        if cfg.grad_accum_steps > 1:
            return optax.MultiSteps(adam_c, every_k_schedule=cfg.grad_accum_steps)  # type: ignore[return-value]
        return adam_c
    sched: Any
    if cfg.schedule == "cosine":
        sched = optax.cosine_decay_schedule(cfg.lr, n)
    elif cfg.schedule == "exponential":
        sched = optax.exponential_decay(cfg.lr, n, cfg.decay_rate)
    else:
        raise ShapeError(f"unknown schedule {cfg.schedule!r}", key="schedule")
    adam = optax.adam(sched)
    if cfg.grad_accum_steps > 1:
        return optax.MultiSteps(adam, every_k_schedule=cfg.grad_accum_steps)  # type: ignore[return-value]
    return adam


def _compiled(
    cfg: SviConfig, shape: tuple[int, ...] | None = None
) -> tuple[SVI, Callable[..., Any], Callable[..., Any]]:
    """The SVI object and jitted update/evaluate for ``cfg`` and the (A, F) ``shape``
    (autoguides record site shapes at their first init, so shapes are part of the key)."""
    key = (
        shape,
        cfg.model,
        cfg.guide,
        cfg.lr if cfg.schedule != "constant" else None,  # a constant rate is state
        cfg.schedule,
        cfg.decay_rate,
        cfg.num_steps if cfg.schedule != "constant" else None,  # only schedules read it
        cfg.grad_accum_steps,
        cfg.num_elbo_particles,
        cfg.guide_rank,
        cfg.model_kwargs,
    )
    if key in _STEP_CACHE:
        return _STEP_CACHE[key]
    kwargs = dict(cfg.model_kwargs)
    base = get_model(cfg.model)
    check_pair(cfg.model, cfg.guide)

    def model(X: Any, y: Any = None, mask: Any = None, obs_scale: Any = None) -> None:
        base(X, y, mask, obs_scale, **kwargs)

    gkw = {"rank": cfg.guide_rank} if cfg.guide == "AutoLowRankMultivariateNormal" else {}
    guide_fn = get_guide(cfg.guide, model, **gkw)
    if cfg.guide == "factor_guide_v1":
        hand = guide_fn

        def guide_fn(X: Any, y: Any = None, mask: Any = None, obs_scale: Any = None) -> None:
            hand(X, y, mask, obs_scale, **kwargs)

    svi = SVI(
        model,
        guide_fn,
        optax_to_numpyro(_optimizer(cfg)),
        Trace_ELBO(num_particles=cfg.num_elbo_particles),
    )
    name = f"{cfg.model}/{cfg.guide}"

    def update(
        state: Any,
        X: Any,
        Y: Any,
        M: Any,
        rows: Any,
        valid: Any,
        scales: Any,
        n_active: Any,
    ) -> Any:
        """``rows.shape[0]`` micro-steps in one call (a ``lax.scan``); the first
        ``n_active`` update the state, the rest are skipped (``lax.cond``). Micro-step
        ``i`` trains on rows ``rows[i]`` of ``X``/``Y``/``M`` (the padding index is an
        all-zero, masked row), likelihood mask ``M[rows[i]] & valid[i]``, scale
        ``scales[i]`` -- the same batch :func:`_pack` would build."""
        COMPILE_COUNTS[name] = COMPILE_COUNTS.get(name, 0) + 1  # runs at trace time only

        def body(st: Any, inp: Any) -> Any:
            i, r, v, sc = inp

            def run(st: Any) -> Any:
                m = M[r] & v[:, None]
                return svi.update(st, X[r], jnp.where(m, Y[r], 0.0), m, sc)

            def skip(st: Any) -> Any:
                return st, jnp.zeros((), dtype=Y.dtype)

            return jax.lax.cond(i < n_active, run, skip, st)

        idx = jnp.arange(rows.shape[0])
        return jax.lax.scan(body, state, (idx, rows, valid, scales))

    def evaluate(state: Any, X: Any, y: Any, mask: Any, scale: Any) -> Any:
        return svi.evaluate(state, X, y, mask, scale)

    entry = (svi, jax.jit(update), jax.jit(evaluate))
    _STEP_CACHE[key] = entry
    return entry


def _set_lr(state: Any, lr: float) -> Any:
    """The SVI state with the injected constant learning rate set to ``lr``."""
    i, opt = state.optim_state
    old = optax.tree_utils.tree_get(opt, "learning_rate")
    new = jnp.asarray(lr, dtype=jnp.asarray(old).dtype)
    opt = optax.tree_utils.tree_set(opt, learning_rate=new)
    return state._replace(optim_state=(i, opt))


def _pack(
    X: FloatArray,
    y: FloatArray,
    windows: list[IntArray],
    pad: int,
    burn: int,
    c: float,
    s: float,
    scaled: bool,
) -> tuple[Any, Any, Any, Any]:
    n, (_, a, f) = len(windows), X.shape
    xb = np.zeros((n, pad, a, f))
    yb = np.zeros((n, pad, a))
    mb = np.zeros((n, pad, a), dtype=bool)
    for i, w in enumerate(windows):
        xw, yw = X[w], (y[w] - c) / s
        ok = np.isfinite(yw)
        ok[:burn] = False
        xb[i, : w.size] = np.nan_to_num(xw, nan=0.0)
        yb[i, : w.size] = np.where(ok, yw, 0.0)
        mb[i, : w.size] = ok
    valid = mb.sum(axis=(1, 2))
    scale = np.where(valid > 0, 1.0 / np.maximum(valid, 1), 1.0) if scaled else np.ones(n)
    # one device array per window, sliced once (indexing a stacked device array per step
    # costs a dispatch of its own, 20x the update at T=500)
    return (
        [jnp.asarray(v) for v in xb],
        [jnp.asarray(v) for v in yb],
        [jnp.asarray(v) for v in mb],
        [jnp.asarray(v) for v in scale],
    )


def pad_features(X: FloatArray, bucket: int) -> FloatArray:
    """Zero feature columns up to the next multiple of ``bucket`` (1 = none).

    Per-split feature cleaning keeps a different number of features per split; padding to
    a bucket keeps the compiled shapes (a zero column adds nothing to the linear predictor;
    its weight stays at the prior).
    """
    f = X.shape[-1]
    target = -(-f // max(1, bucket)) * max(1, bucket)
    if target == f:
        return X
    pad = np.zeros((*X.shape[:-1], target - f))
    return np.concatenate([X, pad], axis=-1)


def fit_svi(
    X: FloatArray, y: FloatArray, train_idx: IntArray, cfg: SviConfig, seed: int
) -> FitResult:
    """Fit the posterior on rows ``train_idx`` of ``X`` (T, A, F) / ``y`` (T, A).

    ``F`` is zero-padded to a multiple of ``cfg.feature_bucket`` (see :func:`pad_features`).
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ShapeError(f"X must be (T, A, F) and y (T, A); got {X.shape}, {y.shape}", key="X")
    X = pad_features(X, cfg.feature_bucket)
    idx = np.asarray(train_idx, dtype=np.int64)
    hold = np.empty(0, dtype=np.int64)
    if cfg.plateau_holdout > 0:
        idx, hold = idx[: -cfg.plateau_holdout], idx[-cfg.plateau_holdout :]
    yt = y[idx]
    fin = yt[np.isfinite(yt)]
    if fin.size == 0:
        raise DataError("no finite training target", key="y", hint="check the train indices")
    c, s = 0.0, 1.0
    if cfg.target_normalization:
        c = float(np.median(fin))
        s = float(np.median(np.abs(fin - c))) + 1e-6
    windows = [
        w for w in cut_windows(idx, cfg.window_len) if np.isfinite(y[w][cfg.burn_in :]).any()
    ]
    if not windows:
        raise DataError("every training window is empty after burn-in", key="burn_in")
    pad = cfg.pad_len or max(w.size for w in windows)
    if max(w.size for w in windows) > pad:
        raise ShapeError(
            f"window of {max(w.size for w in windows)} rows > pad_len {pad}", key="pad_len"
        )
    xb, yb, mb, sb = _pack(X, y, windows[:1], pad, cfg.burn_in, c, s, cfg.log_prob_scaling)
    svi, update, evaluate = _compiled(cfg, X.shape[1:])
    state = svi.init(jax.random.PRNGKey(seed), xb[0], yb[0], mb[0], sb[0])
    if cfg.schedule == "constant":
        state = _set_lr(state, cfg.lr)
    hb = None
    if hold.size:
        hx, hy, hm, hs = _pack(X, y, cut_windows(hold, None), pad, 0, c, s, cfg.log_prob_scaling)
        hb = (hx[0], hy[0], hm[0], hs[0])
    g, nb = cfg.grad_accum_steps, len(windows)
    # the whole run once on the device (plus an all-zero, masked padding row); a window is
    # its row indices, so one compiled multi-step update serves every split of a run
    n_rows = X.shape[0]
    yn = (y - c) / s
    fin = np.isfinite(yn)
    dev_x = jnp.asarray(np.concatenate([np.nan_to_num(X, nan=0.0), np.zeros((1, *X.shape[1:]))]))
    dev_y = jnp.asarray(np.concatenate([np.where(fin, yn, 0.0), np.zeros((1, y.shape[1]))]))
    dev_m = jnp.asarray(np.concatenate([fin, np.zeros((1, y.shape[1]), dtype=bool)]))
    rows_w = np.full((nb, pad), n_rows, dtype=np.int32)
    valid_w = np.zeros((nb, pad), dtype=bool)
    for i, w in enumerate(windows):
        rows_w[i, : w.size] = w
        valid_w[i, cfg.burn_in : w.size] = True
    counts = np.array([fin[w][cfg.burn_in :].sum() for w in windows])
    scale_w = (
        np.where(counts > 0, 1.0 / np.maximum(counts, 1), 1.0)
        if cfg.log_prob_scaling
        else np.ones(nb)
    )
    losses: list[float] = []
    best, bad, stopped = np.inf, 0, cfg.num_steps
    step = 0
    while step < cfg.num_steps:
        n = min(STEPS_PER_CALL, cfg.num_steps - step)
        if hb is not None:
            n = min(n, cfg.plateau_every - step % cfg.plateau_every)
        b = (np.arange(step * g, (step + STEPS_PER_CALL) * g)) % nb
        state, loss = update(
            state,
            dev_x,
            dev_y,
            dev_m,
            rows_w[b],
            valid_w[b],
            scale_w[b],
            n * g,
        )
        micro = np.asarray(loss)
        for k in range(n):
            acc = 0.0
            for j in range(g):
                acc += float(micro[k * g + j])
            losses.append(acc / g)
        step += n
        if hb is not None and step % cfg.plateau_every == 0:
            val = float(evaluate(state, *hb))
            if val < best - cfg.plateau_rel_tol * abs(best):
                best, bad = val, 0
            else:
                bad += 1
                if bad >= cfg.plateau_patience:
                    stopped = step
                    break
    params = {k: np.asarray(v) for k, v in svi.get_params(state).items()}
    return FitResult(
        params=params,
        losses=np.asarray(losses),
        centre=c,
        scale=s,
        config=cfg,
        n_windows=nb,
        stopped_at=stopped,
    )


def _predictive(cfg: SviConfig, num_samples: int, shape: tuple[int, ...]) -> Callable[..., Any]:
    """One jitted ``Predictive`` per (update key, sample count): compiled once per shape."""
    svi, _, _ = _compiled(cfg, shape)
    key = (id(svi), int(num_samples))
    if key in _PRED_CACHE:
        return _PRED_CACHE[key]
    name = f"{cfg.model}/{cfg.guide}/predict"

    def run(params: Any, rng: Any, X: Any) -> Any:
        COMPILE_COUNTS[name] = COMPILE_COUNTS.get(name, 0) + 1  # trace time only
        pred = Predictive(
            svi.model, guide=svi.guide, params=params, num_samples=num_samples, return_sites=["obs"]
        )
        return pred(rng, X)["obs"]

    fn = jax.jit(run)
    _PRED_CACHE[key] = fn
    return fn


def predict(
    fit: FitResult, X: FloatArray, num_samples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Posterior predictive samples (S, T, A) and their mean (T, A), denormalised.

    The rows are padded to the next multiple of :data:`PREDICT_BUCKET` (at most the fit's
    ``pad_len``), so the predictions of a run reuse one compiled predictive per (sample
    count, row bucket); padded rows are dropped from the result.
    """
    x = pad_features(
        np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0), fit.config.feature_bucket
    )
    n = x.shape[0]
    pad = -(-n // PREDICT_BUCKET) * PREDICT_BUCKET
    if fit.config.pad_len is not None and fit.config.pad_len >= n:
        pad = min(pad, fit.config.pad_len)
    if pad > n:
        x = np.concatenate([x, np.zeros((pad - n, *x.shape[1:]))], axis=0)
    fn = _predictive(fit.config, num_samples, x.shape[1:])
    params = {k: jnp.asarray(v) for k, v in fit.params.items()}
    obs = np.asarray(fn(params, jax.random.PRNGKey(seed), jnp.asarray(x)), dtype=np.float64)
    samples = obs[:, :n] * fit.scale + fit.centre
    return samples, samples.mean(axis=0)
