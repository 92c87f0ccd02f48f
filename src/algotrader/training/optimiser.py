"""Optax optimisers and learning-rate schedules for gradient **ascent**.

The chain is ``clip_by_global_norm(clip_norm)`` (optional) followed by
``adam`` / ``adamw`` / ``sgd`` driven by a schedule; it is applied to the
*negated* gradient of the objective, so updates increase the objective.
Plateau decay is not inside the chain: the trainer multiplies every update by a
per-set ``lr_scale`` that it decays on validation plateaus, which works for
every optimiser alike (the reference's plateau decay only reached SGD).

Schedules (``t`` = iteration, ``N`` = ``n_iterations``, ``r`` = ``lr_decay_ratio``):

* ``constant``: ``base_lr``.
* ``cosine``: cosine decay from ``base_lr`` to ``base_lr / r`` over ``N``.
* ``exponential``: ``base_lr * r^(-t/N)``, reaching ``base_lr / r`` at ``N``.
* ``warmup_cosine``: linear warm-up from ``base_lr / r`` to ``base_lr`` over
  ``warmup_steps``, then cosine decay to ``base_lr / r`` at ``N``.

Example:
    >>> from algotrader.training.settings import OptimisationSettings
    >>> s = OptimisationSettings(lr_schedule_type="exponential", base_lr=1.0, lr_decay_ratio=100.0,
    ...                          n_iterations=10)
    >>> round(float(make_schedule(s)(10)), 6)
    0.01
"""

from __future__ import annotations

import optax

from algotrader.errors import ConfigError
from algotrader.training.settings import OptimisationSettings


def make_schedule(settings: OptimisationSettings) -> optax.Schedule:
    """The learning-rate schedule named by ``settings.lr_schedule_type``."""
    base = settings.base_lr
    end = base / settings.lr_decay_ratio
    n = settings.n_iterations
    kind = settings.lr_schedule_type
    if kind == "constant":
        return optax.constant_schedule(base)
    if kind == "cosine":
        return optax.cosine_decay_schedule(base, decay_steps=n, alpha=1.0 / settings.lr_decay_ratio)
    if kind == "exponential":
        return optax.exponential_decay(
            base, transition_steps=n, decay_rate=1.0 / settings.lr_decay_ratio
        )
    if kind == "warmup_cosine":
        if settings.warmup_steps >= n:
            raise ConfigError(
                f"warmup_steps={settings.warmup_steps} must be below n_iterations={n}",
                key="warmup_steps",
                hint="shorten the warm-up or train for more iterations",
            )
        return optax.warmup_cosine_decay_schedule(
            init_value=end,
            peak_value=base,
            warmup_steps=settings.warmup_steps,
            decay_steps=n,
            end_value=end,
        )
    raise ConfigError(f"unknown lr_schedule_type {kind!r}", key="lr_schedule_type")


def make_optimiser(settings: OptimisationSettings) -> optax.GradientTransformation:
    """Clip -> optimiser(schedule); feed it the negated gradient (ascent)."""
    schedule = make_schedule(settings)
    if settings.optimiser == "adam":
        core = optax.adam(schedule)
    elif settings.optimiser == "adamw":
        core = optax.adamw(schedule, weight_decay=settings.weight_decay)
    elif settings.optimiser == "sgd":
        core = optax.sgd(schedule)
    else:  # pragma: no cover - guarded by the settings Literal
        raise ConfigError(f"unknown optimiser {settings.optimiser!r}", key="optimiser")
    if settings.use_gradient_clipping:
        return optax.chain(optax.clip_by_global_norm(settings.clip_norm), core)
    return core


__all__ = ["make_optimiser", "make_schedule"]
