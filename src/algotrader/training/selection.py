"""Parameter selection: scores used while training and choices over saved runs.

While training, each parameter set keeps its own best state under a
*selection score* (higher is better, NaN counts as ``-inf``):

* ``best_val``: the validation metric;
* ``best_train``: the training metric;
* ``best_train_min_val``: the training metric where the validation metric is
  at least ``threshold``, else ``-inf``;
* ``last``: the latest iteration always wins.

The test period is never an input here. Over a *saved* run an analyst may also
ask for ``best_test`` or ``best_train_min_test`` (see :func:`select_from_history`);
those read the test period and are therefore only offered post hoc, never to
stop or steer training.

Example:
    >>> import jax.numpy as jnp
    >>> m = {"train": {"s": jnp.array([1.0, 3.0])}, "val": {"s": jnp.array([2.0, -1.0])}}
    >>> selection_score(m, "best_train_min_val", "s", 0.0).tolist()
    [1.0, -inf]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

from algotrader.errors import ConfigError

Array = jax.Array
TRAINING_METHODS: tuple[str, ...] = ("best_val", "best_train", "best_train_min_val", "last")
POST_HOC_METHODS: tuple[str, ...] = (*TRAINING_METHODS, "best_test", "best_train_min_test")


def _clean(x: Array) -> Array:
    return jnp.where(jnp.isnan(x), -jnp.inf, x)


def selection_score(
    metrics: dict[str, dict[str, Array]], method: str, metric: str, threshold: float
) -> Array:
    """Selection score per set, shape like the metric arrays; ``last`` gives ``+inf``."""
    if method not in TRAINING_METHODS:
        raise ConfigError(
            f"selection method {method!r} cannot be used while training",
            key="selection_method",
            hint=f"use one of {list(TRAINING_METHODS)} (test-based choices only post hoc)",
        )
    train = metrics["train"][metric]
    if method == "last":
        return jnp.full_like(train, jnp.inf)
    if method == "best_train":
        return _clean(train)
    val = metrics["val"][metric]
    if method == "best_val":
        return _clean(val)
    return jnp.where(jnp.nan_to_num(val, nan=-jnp.inf) >= threshold, _clean(train), -jnp.inf)


def select_from_history(
    history: pl.DataFrame, method: str, metric: str, threshold: float = 0.0
) -> tuple[int, int]:
    """Choose ``(iteration, set)`` from a saved run's history table.

    ``history`` has one row per (iteration, set) and columns ``iteration``,
    ``set`` and ``<segment>_<metric>``. Ties go to the earliest iteration, then
    the lowest set. Raises :class:`ConfigError` for an unknown method or metric
    and when no row qualifies.

    Example:
        >>> h = pl.DataFrame({"iteration": [0, 0, 1, 1], "set": [0, 1, 0, 1],
        ...                   "train_s": [1.0, 2.0, 3.0, 0.0], "val_s": [0.0, 1.0, -1.0, 0.5],
        ...                   "test_s": [0.0, 0.0, 9.0, 0.0]})
        >>> select_from_history(h, "best_val", "s"), select_from_history(h, "best_train", "s")
        ((0, 1), (1, 0))
        >>> select_from_history(h, "best_train_min_val", "s", 0.0)
        (0, 1)
    """
    if method not in POST_HOC_METHODS:
        raise ConfigError(
            f"unknown selection method {method!r}",
            key="selection_method",
            hint=f"use one of {list(POST_HOC_METHODS)}",
        )
    if history.height == 0:
        raise ConfigError("the run has no history to select from", key="history")
    if method == "last":
        last = int(history["iteration"].max())  # type: ignore[arg-type]
        rows = history.filter(pl.col("iteration") == last)
        score = np.zeros(rows.height)
        return _argmax(rows, score)
    need = {"best_val": ["val"], "best_train": ["train"], "best_test": ["test"]}.get(
        method, ["train", "val" if method.endswith("val") else "test"]
    )
    for seg in need:
        if f"{seg}_{metric}" not in history.columns:
            raise ConfigError(
                f"metric {metric!r} has no {seg} column in the history",
                key=f"{seg}_{metric}",
                hint="pick a metric that was recorded (see the history columns)",
            )
    first = np.nan_to_num(history[f"{need[0]}_{metric}"].to_numpy(), nan=-np.inf)
    if len(need) == 2:
        gate = np.nan_to_num(history[f"{need[1]}_{metric}"].to_numpy(), nan=-np.inf)
        first = np.where(gate >= threshold, first, -np.inf)
        if not np.isfinite(first).any():
            raise ConfigError(
                f"no iteration has a {need[1]} {metric} of at least {threshold}",
                key="selection_threshold",
                hint="lower the threshold or choose another selection method",
            )
    return _argmax(history, first)


def _argmax(rows: pl.DataFrame, score: np.ndarray) -> tuple[int, int]:
    order = np.lexsort((rows["set"].to_numpy(), rows["iteration"].to_numpy(), -score))
    i = int(order[0])
    return int(rows["iteration"][i]), int(rows["set"][i])


__all__ = ["POST_HOC_METHODS", "TRAINING_METHODS", "select_from_history", "selection_score"]
