"""The score table every tuning driver returns, split-score aggregation and the one choice rule.

Score table (polars, :data:`SCORE_SCHEMA`): one row per evaluated (fold, candidate, split)
with ``score`` (higher is better; NaN = failed) and ``seconds`` (wall time of that evaluation).
``fold`` is the outer fold (0 when there is none). A candidate pruned by a driver simply has
fewer rows.

Aggregation (:func:`aggregate`): ``mean``, ``median`` or ``mean_minus_std`` (mean minus
``penalty`` times the population standard deviation). Any NaN split score makes the aggregate
NaN; no score at all gives ``-inf``.

Choice (:func:`choose_best`, pure): candidates are visited in ascending id; a candidate replaces
the incumbent only with a strictly greater finite aggregate (first wins ties); a candidate
missing any of the fold's splits (pruned) or with a non-finite aggregate never wins; when no
candidate is eligible :class:`NoValidCandidateError` is raised (the source silently returned the
base config).

Example:
    >>> t = score_table([(0, 0, 0, 1.0, 0.1), (0, 0, 1, 3.0, 0.1),
    ...                  (0, 1, 0, 2.0, 0.1), (0, 1, 1, 2.0, 0.1)])
    >>> choose_best(t).candidate
    0
    >>> choose_best(t, method="mean_minus_std", penalty=0.5).candidate
    1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from algotrader.errors import ConfigError, SchemaError

__all__ = [
    "SCORE_SCHEMA",
    "AggregateMethod",
    "BestCandidate",
    "NoValidCandidateError",
    "aggregate",
    "choose_balanced",
    "choose_best",
    "score_table",
    "validate_score_table",
]

AggregateMethod = Literal["mean", "median", "mean_minus_std"]

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "fold": pl.Int64(),
    "candidate": pl.Int64(),
    "split": pl.Int64(),
    "score": pl.Float64(),
    "seconds": pl.Float64(),
}


class NoValidCandidateError(ConfigError):
    """No candidate has a finite aggregate over every split of the fold."""


def score_table(rows: Iterable[Sequence[float]] = ()) -> pl.DataFrame:
    """A score table from ``(fold, candidate, split, score, seconds)`` tuples, sorted.

    >>> score_table([(0, 1, 0, 0.5, 0.2)]).columns
    ['fold', 'candidate', 'split', 'score', 'seconds']
    """
    data = [tuple(r) for r in rows]
    cols = list(SCORE_SCHEMA)
    frame = pl.DataFrame({c: [r[i] for r in data] for i, c in enumerate(cols)}, schema=SCORE_SCHEMA)
    return validate_score_table(frame)


def validate_score_table(table: pl.DataFrame) -> pl.DataFrame:
    """Check columns, dtypes and uniqueness of (fold, candidate, split); return it sorted.

    Raises:
        SchemaError: a column is missing or of the wrong type, or a key is duplicated.
    """
    for name, dtype in SCORE_SCHEMA.items():
        if name not in table.columns:
            raise SchemaError(f"score table lacks column {name!r}", column=name)
        if table.schema[name] != dtype:
            raise SchemaError(
                f"score table column {name!r} is {table.schema[name]}, expected {dtype}",
                column=name,
                hint="build it with algotrader.tuning.score_table",
            )
    keys = ["fold", "candidate", "split"]
    dup = table.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height:
        first = dup.sort(keys).row(0, named=True)
        raise SchemaError(
            f"score table has {first['len']} rows for fold {first['fold']}, candidate "
            f"{first['candidate']}, split {first['split']}",
            column="split",
        )
    return table.select(list(SCORE_SCHEMA)).sort(keys)


def aggregate(
    scores: Sequence[float], method: AggregateMethod = "mean", penalty: float = 0.5
) -> float:
    """One candidate's aggregate of its split scores (NaN if any is NaN, -inf if none).

    >>> aggregate([1.0, 3.0]), aggregate([1.0, 3.0], "mean_minus_std", 0.5)
    (2.0, 1.5)
    >>> aggregate([]), aggregate([1.0, float("nan")])
    (-inf, nan)
    """
    if penalty < 0 or not math.isfinite(penalty):
        raise ConfigError(
            f"aggregate penalty must be finite and >= 0, got {penalty}",
            key="tuning.aggregate.penalty",
        )
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0:
        return -math.inf
    if np.isnan(arr).any():
        return math.nan
    if method == "mean":
        return float(arr.mean())
    if method == "median":
        return float(np.median(arr))
    if method == "mean_minus_std":
        return float(arr.mean() - penalty * arr.std())
    raise ConfigError(
        f"unknown aggregate method {method!r}",
        key="tuning.aggregate.method",
        hint="use mean, median or mean_minus_std",
    )


@dataclass(frozen=True)
class BestCandidate:
    """The chosen candidate of one fold, its aggregate and every candidate's aggregate."""

    fold: int
    candidate: int
    score: float
    aggregates: dict[int, float]


def choose_best(
    table: pl.DataFrame,
    *,
    method: AggregateMethod = "mean",
    penalty: float = 0.5,
    fold: int | None = None,
    split_ids: Sequence[int] | None = None,
) -> BestCandidate:
    """The best candidate of one fold of a score table (rule in the module docstring).

    Args:
        table: a score table (:data:`SCORE_SCHEMA`).
        method, penalty: see :func:`aggregate`.
        fold: the fold to choose in; may be omitted when the table holds one fold.
        split_ids: the splits every eligible candidate must have; default: every split that
            appears in the fold.

    Raises:
        SchemaError: the table is malformed.
        ConfigError: ``fold`` is omitted but the table holds several folds.
        NoValidCandidateError: no candidate is eligible.
    """
    table = validate_score_table(table)
    folds = table.get_column("fold").unique().sort().to_list()
    if fold is None:
        if len(folds) > 1:
            raise ConfigError(f"score table holds folds {folds}; pass fold=", key="fold")
        fold = int(folds[0]) if folds else 0
    sub = table.filter(pl.col("fold") == fold)
    wanted = (
        sorted(set(sub.get_column("split").to_list())) if split_ids is None else list(split_ids)
    )
    aggs: dict[int, float] = {}
    best_id: int | None = None
    best = -math.inf
    for (cid,), grp in sub.group_by(["candidate"], maintain_order=True):
        splits, values = grp.get_column("split").to_list(), grp.get_column("score").to_list()
        by_split = dict(zip(splits, values, strict=True))
        if any(s not in by_split for s in wanted):
            aggs[int(cid)] = math.nan  # type: ignore[arg-type]
            continue
        aggs[int(cid)] = aggregate([by_split[s] for s in wanted], method, penalty)  # type: ignore[arg-type]
    for cid in sorted(aggs):
        value = aggs[cid]
        if math.isfinite(value) and (best_id is None or value > best):
            best_id, best = cid, value
    if best_id is None:
        raise NoValidCandidateError(
            f"no candidate of fold {fold} has a finite {method} score on every split "
            f"({len(aggs)} candidates, splits {wanted})",
            key="tuning",
            hint="inspect the score table for NaN scores; run a smaller config first",
        )
    return BestCandidate(fold=int(fold), candidate=best_id, score=best, aggregates=aggs)


def choose_balanced(table: pl.DataFrame, *, fold: int | None = None) -> BestCandidate:
    """Multi-objective choice: per candidate (mean, worst, -std) of its split scores, all
    maximised; among the non-dominated candidates the one nearest the ideal point after
    scaling each objective to [0, 1] (a constant objective counts 1); first id wins ties.

    Candidates with a missing split or a non-finite score are not considered; ``aggregates``
    holds each candidate's distance to the ideal point (smaller is better; NaN: ineligible).

    >>> t = score_table([(0, 0, 0, 1.0, 0), (0, 0, 1, -1.0, 0),
    ...                  (0, 1, 0, 0.2, 0), (0, 1, 1, 0.1, 0)])
    >>> choose_balanced(t).candidate
    1

    Raises:
        NoValidCandidateError: no eligible candidate.
    """
    table = validate_score_table(table)
    if fold is None:
        folds = table.get_column("fold").unique().sort().to_list()
        if len(folds) > 1:
            raise ConfigError(f"score table holds folds {folds}; pass fold=", key="fold")
        fold = int(folds[0]) if folds else 0
    sub = table.filter(pl.col("fold") == fold)
    wanted = sorted(set(sub.get_column("split").to_list()))
    ids: list[int] = []
    rows: list[tuple[float, float, float]] = []
    aggs: dict[int, float] = {}
    for (cid,), grp in sub.sort("candidate").group_by(["candidate"], maintain_order=True):
        scores = dict(
            zip(grp.get_column("split").to_list(), grp.get_column("score").to_list(), strict=True)
        )
        v = np.asarray([scores.get(s, math.nan) for s in wanted], dtype=np.float64)
        aggs[int(cid)] = math.nan  # type: ignore[arg-type]
        if v.size and np.isfinite(v).all():
            ids.append(int(cid))  # type: ignore[arg-type]
            rows.append((float(v.mean()), float(v.min()), -float(v.std())))
    if not ids:
        raise NoValidCandidateError(
            f"no candidate of fold {fold} has finite scores on every split", key="tuning"
        )
    vals = np.asarray(rows)
    ge = np.all(vals[:, None, :] >= vals[None, :, :], axis=2)
    gt = np.any(vals[:, None, :] > vals[None, :, :], axis=2)
    dominated = np.any(ge & gt, axis=0)
    lo, hi = vals.min(axis=0), vals.max(axis=0)
    scaled = np.where(hi > lo, (vals - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
    dist = np.linalg.norm(1.0 - scaled, axis=1)
    dist[dominated] = np.inf
    for cid, d in zip(ids, dist, strict=True):
        aggs[cid] = float(d)
    k = int(np.argmin(dist))
    return BestCandidate(fold=int(fold), candidate=ids[k], score=float(dist[k]), aggregates=aggs)
