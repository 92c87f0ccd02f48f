"""Post-tune model selection per outer fold (spec section 8, "Ours").

Inputs are per-candidate *split payloads*: for each inner split its test rows' group labels
and the per-week energy score (computed on whitened values ``u``), CRPS and tail quantile
loss (on scaled values ``z``). Steps:

1. ``ES_model`` = median over defined groups of (mean over splits containing the group of
   (mean over the split's test weeks in the group)).
2. ``SE_ES`` = population std of the medians of ``n_boot`` resamples (with replacement) of
   the defined group values, ``numpy.random.default_rng(boot_seed)``.
3. Band: survivors = ``ES_model <= ES_model[m*] + c SE_ES[m*]``; fewer than ``min_keep`` ->
   the best ``min_keep`` by ES, more than ``max_keep`` -> the best ``max_keep``.
4. CRPS/QL per candidate: group mean within split per asset -> mean over splits per
   (group, asset) -> per-asset mean over defined groups -> median over assets (computed for
   every candidate and reported; only survivors are ranked).
5. Dense ranks (1 = lowest) of CRPS and QL among survivors; keep the minimum of the sum.
6. Tie-break: smallest (complexity, ES_model, candidate id); complexity = ``posterior_l1``.

Global selection is report-only (:func:`global_report`): it never feeds the outer fold.

Example:
    >>> dense_rank(np.array([0.1, 0.1, 0.3])).tolist()
    [1, 1, 2]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algotrader.artifacts import json_ready
from algotrader.errors import ConfigError, DataError, ShapeError
from algotrader.io import write_json_atomic

__all__ = [
    "SelectionResult",
    "SplitPayload",
    "bootstrap_se",
    "dense_rank",
    "global_report",
    "group_scores",
    "posterior_l1",
    "select_fold",
]

FloatArray = NDArray[np.float64]

#: parameter names left out of the complexity measure (location/scale nuisance sites)
DEFAULT_EXCLUDE = ("alpha", "sigma", "sigma_idio", "s_u_mean", "nu_raw")


@dataclass(frozen=True)
class SplitPayload:
    """One candidate's scores on one inner split's test rows.

    Attributes:
        split: split id.
        groups: (n,) int group label of each test row.
        es: (n,) energy score per test week (whitened).
        crps: (n, A) CRPS per entry (scaled); NaN where the truth is missing.
        ql: (n, A) tail quantile loss per entry (scaled).
    """

    split: int
    groups: NDArray[np.int64]
    es: FloatArray
    crps: FloatArray
    ql: FloatArray


def dense_rank(values: FloatArray) -> NDArray[np.int64]:
    """Dense ranks, ties share a rank, 1 = lowest (NaN -> rank after all finite values)."""
    v = np.asarray(values, dtype=np.float64)
    uniq = np.unique(v[np.isfinite(v)])
    out = np.searchsorted(uniq, v) + 1
    out[~np.isfinite(v)] = uniq.size + 1
    ranks: NDArray[np.int64] = out.astype(np.int64)
    return ranks


def group_scores(payloads: Sequence[SplitPayload], field: str) -> dict[int, FloatArray]:
    """Per group: mean over splits of the within-split group mean (``es``: scalar arrays)."""
    occ: dict[int, list[FloatArray]] = {}
    for p in payloads:
        vals = np.asarray(getattr(p, field), dtype=np.float64)
        for g in np.unique(p.groups):
            sel = vals[p.groups == g]
            with _quiet():
                occ.setdefault(int(g), []).append(np.nanmean(sel, axis=0))
    with _quiet():
        return {g: np.nanmean(np.stack(v), axis=0) for g, v in sorted(occ.items())}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's empty-slice RuntimeWarnings (all-NaN groups are NaN by policy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def bootstrap_se(group_values: FloatArray, n_boot: int = 500, seed: int = 123) -> float:
    """Population std of the medians of ``n_boot`` resamples of the defined group values."""
    v = np.asarray(group_values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    return float(np.median(v[idx], axis=1).std(ddof=0))


def posterior_l1(
    params_per_split: Sequence[Mapping[str, Any]], exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> float:
    """Median over splits of the mean |posterior mean| of the structural parameters.

    A parameter counts when its name ends with ``_loc`` (guide location) or ``_auto_loc``
    and its site is not in ``exclude``.

    >>> posterior_l1([{"w_loc": np.array([1.0, -3.0]), "alpha_loc": np.array([9.0])}])
    2.0
    """
    vals = []
    for params in params_per_split:
        parts = [
            np.abs(np.asarray(v, dtype=np.float64)).ravel()
            for k, v in sorted(params.items())
            if k.endswith("_loc")
            and k.removesuffix("_auto_loc").removesuffix("_loc") not in exclude
        ]
        if parts:
            vals.append(float(np.concatenate(parts).mean()))
    return float(np.median(vals)) if vals else float("nan")


def _asset_model(payloads: Sequence[SplitPayload], field: str) -> float:
    by_group = group_scores(payloads, field)
    if not by_group:
        return float("nan")
    with _quiet():
        per_asset = np.nanmean(np.stack(list(by_group.values())), axis=0)
        return float(np.nanmedian(per_asset))


@dataclass(frozen=True)
class SelectionResult:
    """metrics (per candidate) and the selection record of one outer fold."""

    best: str
    metrics: dict[str, dict[str, float]]
    survivors_es: list[str]
    survivors_secondary: list[str]
    secondary_scores: dict[str, int]
    complexity: dict[str, float]

    def selection_json(self) -> dict[str, Any]:
        """The ``selection.json`` record."""
        return {
            "best_candidate_id": self.best,
            "survivors_es": self.survivors_es,
            "survivors_secondary": self.survivors_secondary,
            "secondary_scores": self.secondary_scores,
            "complexity": self.complexity,
        }

    def write(self, directory: str | Path) -> None:
        """Write ``metrics.json`` and ``selection.json`` atomically (NaN -> null)."""
        d = Path(directory)
        write_json_atomic(d / "metrics.json", json_ready(self.metrics))
        write_json_atomic(d / "selection.json", json_ready(self.selection_json()))


def _band(
    ids: list[str], es: FloatArray, se: FloatArray, c: float, min_keep: int, max_keep: int
) -> list[str]:
    order = sorted(range(len(ids)), key=lambda i: (not np.isfinite(es[i]), es[i], ids[i]))
    best = order[0]
    if not np.isfinite(es[best]):
        raise DataError("no candidate has a finite ES_model", hint="check the split payloads")
    thr = es[best] + c * (se[best] if np.isfinite(se[best]) else 0.0)
    keep = [i for i in order if np.isfinite(es[i]) and es[i] <= thr]
    if len(keep) < min_keep:
        keep = [i for i in order if np.isfinite(es[i])][:min_keep]
    keep = keep[:max_keep]
    return [ids[i] for i in keep]


def select_fold(
    payloads: Mapping[str, Sequence[SplitPayload]],
    complexity: Mapping[str, float],
    *,
    c: float = 1.0,
    min_keep: int = 1,
    max_keep: int = 5,
    n_boot: int = 500,
    boot_seed: int = 123,
) -> SelectionResult:
    """Run spec section 8 on one fold's candidates (``payloads[id]`` = its split payloads)."""
    if not payloads:
        raise ShapeError("no candidates to select from", key="payloads")
    if min_keep < 1 or max_keep < min_keep or c < 0:
        raise ConfigError(
            f"need c >= 0 and 1 <= min_keep <= max_keep, got {c}, {min_keep}, {max_keep}",
            key="model_selection",
        )
    ids = sorted(payloads)
    es_model, se_es, crps_m, ql_m = {}, {}, {}, {}
    for m in ids:
        groups = group_scores(payloads[m], "es")
        vals = np.array([float(v) for v in groups.values()])
        with _quiet():
            es_model[m] = float(np.nanmedian(vals)) if vals.size else float("nan")
        se_es[m] = bootstrap_se(vals, n_boot, boot_seed)
        crps_m[m] = _asset_model(payloads[m], "crps")
        ql_m[m] = _asset_model(payloads[m], "ql")
    es = np.array([es_model[m] for m in ids])
    se = np.array([se_es[m] for m in ids])
    surv = _band(ids, es, se, c, min_keep, max_keep)
    rc = dense_rank(np.array([crps_m[m] for m in surv]))
    rq = dense_rank(np.array([ql_m[m] for m in surv]))
    secondary = {m: int(a + b) for m, a, b in zip(surv, rc, rq, strict=True)}
    low = min(secondary.values())
    surv2 = [m for m in surv if secondary[m] == low]
    comp = {m: float(complexity.get(m, np.nan)) for m in surv2}
    best = min(surv2, key=lambda m: (np.nan_to_num(comp[m], nan=np.inf), es_model[m], m))
    metrics = {
        m: {
            "es_model": es_model[m],
            "se_es": se_es[m],
            "crps_model": crps_m[m],
            "ql_model": ql_m[m],
        }
        for m in ids
    }
    return SelectionResult(
        best=best,
        metrics=metrics,
        survivors_es=surv,
        survivors_secondary=surv2,
        secondary_scores=secondary,
        complexity=comp,
    )


def global_report(
    fold_metrics: Sequence[Mapping[str, Mapping[str, float]]],
    complexity: Mapping[str, float],
    *,
    c: float = 1.0,
    min_keep: int = 1,
    max_keep: int = 5,
) -> dict[str, Any]:
    """Report-only global selection: medians across folds of every metric, then steps 3, 5, 6.

    The result is for reading only; the runner never applies it to an outer fold (it would
    use later folds' inner data, spec section 11 item 1).
    """
    ids = sorted({m for fm in fold_metrics for m in fm})
    med: dict[str, dict[str, float]] = {}
    for m in ids:
        row = {}
        for key in ("es_model", "se_es", "crps_model", "ql_model"):
            v = np.array([fm[m][key] for fm in fold_metrics if m in fm], dtype=np.float64)
            v = v[np.isfinite(v)]
            row[key] = float(np.median(v)) if v.size else float("nan")
        med[m] = row
    es = np.array([med[m]["es_model"] for m in ids])
    se = np.array([med[m]["se_es"] for m in ids])
    surv = _band(ids, es, se, c, min_keep, max_keep)
    rc = dense_rank(np.array([med[m]["crps_model"] for m in surv]))
    rq = dense_rank(np.array([med[m]["ql_model"] for m in surv]))
    secondary = {m: int(a + b) for m, a, b in zip(surv, rc, rq, strict=True)}
    low = min(secondary.values())
    surv2 = [m for m in surv if secondary[m] == low]
    best = min(
        surv2,
        key=lambda m: (np.nan_to_num(complexity.get(m, np.nan), nan=np.inf), med[m]["es_model"], m),
    )
    return {
        "scope": "global_report",
        "applied_to_outer": False,
        "best_candidate_id": best,
        "metrics": med,
        "survivors_es": surv,
        "survivors_secondary": surv2,
        "secondary_scores": secondary,
    }
