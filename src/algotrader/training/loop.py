"""The jitted gradient-ascent loop: one ``lax.scan`` chunk of iterations.

An iteration, for ``S`` parameter sets trained in parallel (``vmap``):

1. draw ``batch_size`` window starts (shared by the sets) from the carried key;
2. evaluate the current parameters ``p_i`` with one continuous no-gradient pass
   (train / validation / test metrics) and update each set's best state under
   the selection score (validation by default; never the test period);
3. take ``value_and_grad`` of the mean window objective at ``p_i``, pass the
   negated gradient through the optax chain, scale by the set's plateau factor
   and apply, giving ``p_{i+1}``;
4. re-initialise any set whose new parameters hold a NaN from a bank of fresh
   initialisations (and reset its optimiser state);
5. accumulate SWA sums, count iterations without improvement, decay the
   plateau factor and set the early-stopping flag.

Once stopped (early stop or ``n_iterations`` reached) an iteration is a no-op
(``lax.cond``), so chunks keep a fixed length and the chunk function compiles
exactly once. All shapes are static; window starts and the iteration counter
are traced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from algotrader.training.optimiser import make_optimiser, make_schedule
from algotrader.training.problem import Data, Evaluation, Params, TrainingProblem
from algotrader.training.sampling import check_batch, sample_offsets
from algotrader.training.selection import selection_score
from algotrader.training.settings import OptimisationSettings

Array = jax.Array


class TrainState(NamedTuple):
    """Everything needed to continue training bit-for-bit (all arrays)."""

    params: Params  # trainable, leading axis S
    fixed: Params  # not trained, leading axis S
    opt_state: Any
    key: Array
    iteration: Array  # int, iterations evaluated so far
    stopped: Array  # bool
    lr_scale: Array  # (S,)
    since_improved: Array  # (S,) int
    best_score: Array  # (S,)
    best_iteration: Array  # (S,) int
    best_params: Params
    best_metrics: dict[str, dict[str, Array]]
    best_aux: dict[str, Array]
    last_metrics: dict[str, dict[str, Array]]
    last_aux: dict[str, Array]
    swa_sum: Params
    swa_count: Array  # (S,)
    nan_counter: Array  # int
    n_reinit: Array  # (S,) int


class StepOutput(NamedTuple):
    """Per-iteration record (stacked over a chunk by ``lax.scan``)."""

    active: Array  # bool: the iteration ran
    iteration: Array
    objective: Array  # (S,) mean window objective at p_i
    lr: Array  # (S,) effective learning rate used for the update
    reinit: Array  # (S,) bool
    metrics: dict[str, dict[str, Array]]  # (S,) each
    daily_excess_returns: Array  # (S, D) or (S, 0)
    params: Params  # (S, ...) the evaluated parameters p_i (trainable keys)


@dataclass(frozen=True)
class LoopSpec:
    """The static pieces a chunk closes over (built once per trainer)."""

    problem: TrainingProblem
    settings: OptimisationSettings
    optimiser: optax.GradientTransformation
    schedule: optax.Schedule
    bank: Params  # (B, ...) fresh trainable inits for NaN re-initialisation
    selection_metric: str
    record_returns: bool


def perturbed_sets(base: Params, key: Array, n_sets: int, noise_scale: float) -> Params:
    """Stack ``n_sets`` copies of ``base``; sets 1.. get ``N(0, noise_scale)`` noise.

    Example:
        >>> import jax
        >>> out = perturbed_sets({"x": jnp.zeros(2)}, jax.random.PRNGKey(0), 3, 0.1)
        >>> out["x"].shape, bool((out["x"][0] == 0).all()), bool((out["x"][1] != 0).any())
        ((3, 2), True, True)
    """
    out = {}
    keys = jax.random.split(key, len(base))
    for k_rng, (name, value) in zip(keys, sorted(base.items()), strict=True):
        v = jnp.asarray(value, dtype=jnp.float64)
        noise = noise_scale * jax.random.normal(k_rng, (n_sets, *v.shape), dtype=jnp.float64)
        noise = noise.at[0].set(0.0)
        out[name] = v[None] + noise
    return out


def make_spec(
    problem: TrainingProblem, settings: OptimisationSettings, base: Params | None = None
) -> LoopSpec:
    """Build the static loop specification; ``base`` overrides the problem's base params."""
    check_batch(problem.n_starts, settings.batch_size)
    if settings.early_stopping_metric not in problem.metric_names:
        from algotrader.errors import ConfigError

        raise ConfigError(
            f"early_stopping_metric {settings.early_stopping_metric!r} is not a metric of the problem",
            key="early_stopping_metric",
            hint=f"choose among {list(problem.metric_names)}",
        )
    base_all = dict(problem.base_params) if base is None else base
    train_base, _ = problem.split({k: jnp.asarray(v) for k, v in base_all.items()})
    bank_key = jax.random.fold_in(jax.random.PRNGKey(settings.initial_random_key), 7)
    bank = perturbed_sets(
        train_base, bank_key, settings.n_nan_bank + 1, max(settings.noise_scale, 0.1)
    )
    bank = {k: v[1:] for k, v in bank.items()}
    return LoopSpec(
        problem=problem,
        settings=settings,
        optimiser=make_optimiser(settings),
        schedule=make_schedule(settings),
        bank=bank,
        selection_metric=settings.early_stopping_metric,
        record_returns=settings.track_checkpoints,
    )


def _eval_sets(spec: LoopSpec, params: Params, fixed: Params, data: Data) -> Evaluation:
    def one(p: Params, f: Params) -> Evaluation:
        return spec.problem.evaluate({**p, **f}, data)

    return jax.vmap(one)(params, fixed)


def init_state(spec: LoopSpec, base: Params | None = None) -> TrainState:
    """Initial state: sets perturbed around ``base`` (the problem's base by default)."""
    s = spec.settings
    base_all = {
        k: jnp.asarray(v, dtype=jnp.float64)
        for k, v in (spec.problem.base_params if base is None else base).items()
    }
    train_base, fixed_base = spec.problem.split(base_all)
    key = jax.random.PRNGKey(s.initial_random_key)
    key, init_key = jax.random.split(key)
    params = perturbed_sets(train_base, init_key, s.n_parameter_sets, s.noise_scale)
    fixed = {k: jnp.broadcast_to(v, (s.n_parameter_sets, *v.shape)) for k, v in fixed_base.items()}
    ev = jax.eval_shape(lambda p, f, d: _eval_sets(spec, p, f, d), params, fixed, spec.problem.data)
    nan_tree = jax.tree_util.tree_map(lambda a: jnp.full(a.shape, jnp.nan, a.dtype), ev)
    n = s.n_parameter_sets
    return TrainState(
        params=params,
        fixed=fixed,
        opt_state=jax.vmap(spec.optimiser.init)(params),
        key=key,
        iteration=jnp.asarray(0, dtype=jnp.int64),
        stopped=jnp.asarray(False),
        lr_scale=jnp.ones(n),
        since_improved=jnp.zeros(n, dtype=jnp.int64),
        best_score=jnp.full(n, -jnp.inf, dtype=jnp.float64),
        best_iteration=jnp.full(n, -1, dtype=jnp.int64),
        best_params=params,
        best_metrics=nan_tree.metrics,
        best_aux=nan_tree.aux,
        last_metrics=nan_tree.metrics,
        last_aux=nan_tree.aux,
        swa_sum=jax.tree_util.tree_map(jnp.zeros_like, params),
        swa_count=jnp.zeros(n),
        nan_counter=jnp.asarray(0, dtype=jnp.int64),
        n_reinit=jnp.zeros(n, dtype=jnp.int64),
    )


def _window_loss(spec: LoopSpec, starts: Array, data: Data) -> Callable[[Params, Params], Array]:
    problem = spec.problem

    def loss(p: Params, f: Params) -> Array:
        def one(start: Array) -> Array:
            return problem.objective({**p, **f}, start, data)

        if spec.settings.window_batching == "map":
            vals = jax.lax.map(one, starts)
        else:
            vals = jax.vmap(one)(starts)
        return -jnp.mean(vals)

    return loss


def _where_sets(mask: Array, new: Any, old: Any) -> Any:
    def pick(a: Array, b: Array) -> Array:
        m = mask.reshape(mask.shape + (1,) * (a.ndim - 1))
        return jnp.where(m, a, b)

    return jax.tree_util.tree_map(pick, new, old)


def _reinit_nan(
    spec: LoopSpec, params: Params, opt_state: Any, counter: Array
) -> tuple[Params, Any, Array, Array]:
    leaves = jax.tree_util.tree_leaves(params)
    bad = jnp.zeros(leaves[0].shape[0], dtype=bool)
    for leaf in leaves:
        bad = bad | jnp.any(~jnp.isfinite(leaf.reshape(leaf.shape[0], -1)), axis=1)
    n_bank = jax.tree_util.tree_leaves(spec.bank)[0].shape[0]
    idx = jnp.mod(counter + jnp.cumsum(bad) - 1, n_bank)
    fresh = jax.tree_util.tree_map(lambda b: b[idx], spec.bank)
    new_params = _where_sets(bad, fresh, params)
    new_opt = _where_sets(bad, jax.vmap(spec.optimiser.init)(new_params), opt_state)
    return new_params, new_opt, counter + jnp.sum(bad), bad


def _active_step(spec: LoopSpec, state: TrainState, data: Data) -> tuple[TrainState, StepOutput]:
    s = spec.settings
    key, k_win = jax.random.split(state.key)
    starts = spec.problem.start_low + sample_offsets(
        k_win, s.sample_method, n_starts=spec.problem.n_starts, batch_size=s.batch_size
    )
    ev = _eval_sets(spec, state.params, state.fixed, data)
    score = selection_score(
        ev.metrics, s.selection_method, spec.selection_metric, s.selection_threshold
    )
    improved = score > state.best_score
    if s.selection_method == "last":
        improved = jnp.ones_like(improved)
    best_params = _where_sets(improved, state.params, state.best_params)
    best_metrics = _where_sets(improved, ev.metrics, state.best_metrics)
    best_aux = _where_sets(improved, ev.aux, state.best_aux)
    since = jnp.where(improved, 0, state.since_improved + 1)

    loss_fn = _window_loss(spec, starts, data)
    neg_obj, grads = jax.vmap(jax.value_and_grad(loss_fn))(state.params, state.fixed)
    updates, opt_state = jax.vmap(spec.optimiser.update)(grads, state.opt_state, state.params)
    scale = state.lr_scale
    updates = jax.tree_util.tree_map(
        lambda u: u * scale.reshape(scale.shape + (1,) * (u.ndim - 1)), updates
    )
    params = optax.apply_updates(state.params, updates)
    params, opt_state, counter, bad = _reinit_nan(spec, params, opt_state, state.nan_counter)

    it = state.iteration
    swa_start = int(np.floor(s.swa_start_frac * s.n_iterations))
    take_swa = s.use_swa & (it >= swa_start) & (jnp.mod(it - swa_start, s.swa_freq) == 0)
    swa_sum = jax.tree_util.tree_map(
        lambda a, p: a + jnp.where(take_swa, p, 0.0), state.swa_sum, state.params
    )
    swa_count = state.swa_count + jnp.where(take_swa, 1.0, 0.0)

    lr_scale = state.lr_scale
    if s.use_plateau_decay:
        decay = (since > 0) & (jnp.mod(since, s.decay_lr_plateau) == 0)
        floor = s.min_lr / s.base_lr
        lr_scale = jnp.where(decay, jnp.maximum(lr_scale * s.decay_lr_ratio, floor), lr_scale)
    stop = it + 1 >= s.n_iterations
    if s.early_stopping:
        stop = stop | (jnp.min(since) >= s.early_stopping_patience)
    returns = (
        ev.aux["daily_excess_returns"] if spec.record_returns else jnp.zeros((score.shape[0], 0))
    )
    out = StepOutput(
        active=jnp.asarray(True),
        iteration=it,
        objective=-neg_obj,
        lr=spec.schedule(it) * state.lr_scale,
        reinit=bad,
        metrics=ev.metrics,
        daily_excess_returns=returns,
        params=state.params,
    )
    new_state = TrainState(
        params=params,
        fixed=state.fixed,
        opt_state=opt_state,
        key=key,
        iteration=it + 1,
        stopped=stop,
        lr_scale=lr_scale,
        since_improved=since,
        best_score=jnp.where(improved, score, state.best_score),
        best_iteration=jnp.where(improved, it, state.best_iteration),
        best_params=best_params,
        best_metrics=best_metrics,
        best_aux=best_aux,
        last_metrics=ev.metrics,
        last_aux=ev.aux,
        swa_sum=swa_sum,
        swa_count=swa_count,
        nan_counter=counter,
        n_reinit=state.n_reinit + bad.astype(jnp.int64),
    )
    return new_state, out


ChunkFn = Callable[[TrainState, Data], tuple[TrainState, StepOutput]]


def make_chunk_fn(spec: LoopSpec) -> ChunkFn:
    """A jitted ``chunk(state, data)`` running ``iterations_per_chunk`` iterations.

    Compiles once: the state's shapes and dtypes never change between chunks.
    """
    length = spec.settings.iterations_per_chunk

    def chunk(state: TrainState, data: Data) -> tuple[TrainState, StepOutput]:
        def step(st: TrainState, _: None) -> tuple[TrainState, StepOutput]:
            template = jax.eval_shape(lambda s: _active_step(spec, s, data)[1], st)

            def idle(s: TrainState) -> tuple[TrainState, StepOutput]:
                zeros = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), template)
                return s, zeros._replace(active=jnp.asarray(False), iteration=s.iteration)

            return jax.lax.cond(st.stopped, idle, lambda s: _active_step(spec, s, data), st)

        return jax.lax.scan(step, state, None, length=length)

    return jax.jit(chunk)


__all__ = [
    "ChunkFn",
    "LoopSpec",
    "StepOutput",
    "TrainState",
    "init_state",
    "make_chunk_fn",
    "make_spec",
    "perturbed_sets",
]
