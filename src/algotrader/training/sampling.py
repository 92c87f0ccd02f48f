"""Training-window samplers: which window starts a training iteration sees.

Each sampler draws ``batch_size`` distinct offsets in ``[0, n_starts)`` from a
PRNG key; ``n_starts`` and ``batch_size`` are static, so a jitted training step
compiles once. Offsets are added to the problem's ``start_low``.

* ``uniform``: uniformly without replacement.
* ``exponential``: without replacement with probability proportional to
  ``exp(5 x)``, ``x = k / n_starts`` (later windows, closer to the present, more
  often).
* ``stratified``: ``[0, n_starts)`` cut into ``batch_size`` equal strata, one
  uniform draw inside each (needs ``batch_size <= n_starts``).

Example:
    >>> import jax
    >>> s = sample_offsets(jax.random.PRNGKey(0), "stratified", n_starts=100, batch_size=4)
    >>> [int(v) // 25 for v in s]
    [0, 1, 2, 3]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algotrader.errors import ConfigError

Array = jax.Array
SAMPLE_METHODS: tuple[str, ...] = ("uniform", "exponential", "stratified")


def check_batch(n_starts: int, batch_size: int) -> None:
    """Raise :class:`ConfigError` if ``batch_size`` distinct windows cannot be drawn."""
    if batch_size > n_starts:
        raise ConfigError(
            f"batch_size={batch_size} distinct windows requested but only {n_starts} "
            "window starts exist",
            key="batch_size",
            hint="lower batch_size or raise bout_offset (the range of window starts)",
        )


def sample_offsets(key: Array, method: str, *, n_starts: int, batch_size: int) -> Array:
    """Draw ``batch_size`` distinct window offsets; int array of shape (batch_size,)."""
    check_batch(n_starts, batch_size)
    if method == "uniform":
        return jax.random.choice(key, n_starts, (batch_size,), replace=False)
    if method == "exponential":
        x = jnp.arange(n_starts, dtype=jnp.float64) / n_starts
        logits = 5.0 * x
        p = jnp.exp(logits - jnp.max(logits))
        return jax.random.choice(key, n_starts, (batch_size,), replace=False, p=p / p.sum())
    if method == "stratified":
        edges = (jnp.arange(batch_size + 1) * n_starts) // batch_size
        lo, hi = edges[:-1], edges[1:]
        u = jax.random.uniform(key, (batch_size,), dtype=jnp.float64)
        return jnp.minimum(lo + jnp.floor(u * (hi - lo)).astype(lo.dtype), hi - 1)
    raise ConfigError(
        f"unknown sample_method {method!r}",
        key="sample_method",
        hint=f"use one of {list(SAMPLE_METHODS)}",
    )


def evaluation_offsets(n_starts: int, n_points: int, seed: int) -> list[int]:
    """Deterministic evaluation window offsets for search (Optuna, BFGS-like paths).

    Half evenly spaced over ``[0, n_starts)`` and half random (seeded), sorted
    and de-duplicated; at most ``n_points`` offsets.

    Example:
        >>> evaluation_offsets(5, 40, seed=0)
        [0, 1, 2, 3, 4]
    """
    import numpy as np

    n_lin = (n_points + 1) // 2
    lin = np.unique(np.linspace(0, n_starts - 1, n_lin).round().astype(np.int64))
    rng = np.random.default_rng(seed)
    rand = rng.integers(0, n_starts, size=max(n_points - n_lin, 0))
    out = sorted({int(v) for v in lin} | {int(v) for v in rand})
    return out[:n_points]


__all__ = ["SAMPLE_METHODS", "check_batch", "evaluation_offsets", "sample_offsets"]
