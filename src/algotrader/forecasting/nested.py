"""The forecast family's nested-CV hooks: per-fold post-tune selection, outer diagnostics.

The runner calls two optional family hooks (``post_tune_select`` after a fold's inner
scores, ``outer_diagnostics`` after the outer walk-forward); :class:`ForecastFamily`
implements them with the functions here.

*Records.* Every ``decide`` keeps its predictive samples (and whitening) in a small
in-process store keyed by a fingerprint of everything that determines them: the model
params, the call seed, the train rows, the test rows, the predictive sample count and the
content hash of the (preprocessed) data the fit saw. A scorer of this family turns the
samples into the split payload of spec section 8 (ES per week on whitened values, CRPS
and tail quantile loss per entry on scaled values) and drops the samples. When the record
is missing (another process scored the split: pool, Ray, Optuna, a resumed run) the
selection recomputes it with the same seeds, which gives the same numbers.

*Selection* (:func:`select_for_fold`): spec section 8 on the fold's candidates and inner
splits, complexity = :func:`~.selection.posterior_l1` of the fitted guide params; writes
``metrics.json`` and ``selection.json``; the winner replaces the mean-score choice. With
``model_selection.selection_scope: global_report`` a cross-fold report is rewritten after
every fold (``inner/global_selection_report.json``, never applied).

*Diagnostics* (:func:`write_outer_diagnostics`): from the outer walk-forward predictions of
each fold's chosen candidate (the honest ones): fan charts per asset, PIT histogram,
coverage vs nominal with +-2 SE, rolling coverage, energy-score pre-rank histogram with a
chi-square test (each fold's rows whitened with that fold's training whitening) and the
SVI loss of every outer fit (PNG + CSV, plus ``fan_quantiles.parquet`` and
``summary.json``).

Settings (run config sections, not tuned): ``model_selection`` {``enable`` [true], ``c``
[1.0], ``min_keep`` [1], ``max_keep`` [5], ``n_boot`` [500], ``boot_seed`` [123],
``tail_alpha`` [0.1], ``complexity`` [posterior_l1], ``selection_scope`` [per_fold]};
``diagnostics.calibration`` {``enable`` [true], ``levels`` [0.5, 0.8, 0.9, 0.95],
``assets`` [all]}. The same keys under ``model.params`` are refused (:class:`ConfigError`).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from algotrader.artifacts import ContentHash, json_ready
from algotrader.errors import ConfigError
from algotrader.forecasting.scoring import coverage, crps_ensemble, energy_score, quantile_loss
from algotrader.forecasting.selection import SplitPayload, global_report, select_fold
from algotrader.forecasting.whitening import EsWhitening
from algotrader.io import write_json_atomic, write_parquet_atomic

if TYPE_CHECKING:
    from algotrader.simulation.config import SimulationConfig
    from algotrader.simulation.family import Decision, SimulationData

__all__ = [
    "RECORDS",
    "Record",
    "diagnostics_settings",
    "fingerprint",
    "select_for_fold",
    "selection_settings",
    "split_payload",
    "write_outer_diagnostics",
]

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: params that used to hold the hook settings (refused now; they moved to their sections)
#: and are kept out of fingerprints
HOOK_KEYS = ("selection", "diagnostics")


def selection_settings(cfg: SimulationConfig) -> dict[str, Any]:
    """The run config's ``model_selection`` section as a plain mapping (written to
    ``metadata.json``)."""
    return cfg.model_selection.model_dump(mode="json")


def diagnostics_settings(cfg: SimulationConfig) -> dict[str, Any]:
    """The run config's ``diagnostics.calibration`` section as a plain mapping."""
    return cfg.diagnostics.calibration.model_dump(mode="json")


# ------------------------------------------------------------------------------ records
def fingerprint(
    params: Mapping[str, Any], seed: int, train_idx: IntArray, data: SimulationData
) -> str:
    """SHA-256 of what determines a fit: model params, seed, train rows, the data's hash
    (an in-process record key, :class:`algotrader.artifacts.ContentHash`; never persisted)."""
    model = {k: v for k, v in params.items() if k not in HOOK_KEYS}
    h = ContentHash(json.dumps(json_ready(model), sort_keys=True, default=str))
    h.update(f"|{int(seed)}|")
    h.array(train_idx, dtype=np.int64)
    h.update(data.content_hash())
    return h.hexdigest()


def record_key(fit_fp: str, test_idx: IntArray, num_samples: int) -> str:
    """The key of one ``decide``: the fit's fingerprint, the test rows, the sample count."""
    h = ContentHash(fit_fp)
    h.array(test_idx, dtype=np.int64)
    h.update(f"|{int(num_samples)}")
    return h.hexdigest()


@dataclass
class Record:
    """One decide's predictions (samples dropped once scored) and its split payload parts."""

    test_idx: IntArray
    samples: FloatArray | None
    whitening: EsWhitening | None
    complexity: float
    losses: FloatArray
    es: FloatArray | None = None
    crps: FloatArray | None = None
    ql: FloatArray | None = None
    tail_alpha: float = 0.1


class RecordStore:
    """A bounded LRU of :class:`Record` (at most ``max_sample_bytes`` of samples kept)."""

    def __init__(self, max_sample_bytes: int = 512 * 2**20, max_records: int = 20_000) -> None:
        self._items: OrderedDict[str, Record] = OrderedDict()
        self.max_sample_bytes = max_sample_bytes
        self.max_records = max_records

    def put(self, key: str, rec: Record) -> None:
        """Insert (or refresh) ``rec`` and evict the oldest samples beyond the bounds."""
        self._items[key] = rec
        self._items.move_to_end(key)
        while len(self._items) > self.max_records:
            self._items.popitem(last=False)
        total = sum(r.samples.nbytes for r in self._items.values() if r.samples is not None)
        for k in list(self._items):
            if total <= self.max_sample_bytes:
                break
            r = self._items[k]
            if r.samples is not None and k != key:
                total -= r.samples.nbytes
                if r.es is None:  # unscored: useless without its samples
                    del self._items[k]
                else:
                    r.samples = None

    def get(self, key: str) -> Record | None:
        """The record or None."""
        return self._items.get(key)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: the process-wide store used by :class:`~algotrader.forecasting.family.ForecastFamily`
RECORDS = RecordStore()


def score_record(rec: Record, y_true: FloatArray, *, keep_samples: bool = False) -> Record:
    """Fill ``es`` (whitened), ``crps`` and ``ql`` (scaled) from the samples and the truth."""
    if rec.es is not None:
        return rec
    assert rec.samples is not None
    y, x = y_true, rec.samples
    if rec.whitening is not None:
        u_y, u_x = rec.whitening.transform(y), rec.whitening.transform(x)
        z_y, z_x = rec.whitening.standardise(y), rec.whitening.standardise(x)
    else:
        u_y, u_x, z_y, z_x = y, x, y, x
    rec.es = energy_score(u_y, u_x, estimator="nrg")
    rec.crps = crps_ensemble(z_y, z_x, estimator="nrg")
    rec.ql = quantile_loss(z_y, z_x, rec.tail_alpha)
    if not keep_samples:
        rec.samples = None
    return rec


def split_payload(rec: Record, split_id: int, groups: IntArray) -> SplitPayload:
    """The spec section 8 payload of a scored record."""
    assert rec.es is not None and rec.crps is not None and rec.ql is not None
    return SplitPayload(split=split_id, groups=groups, es=rec.es, crps=rec.crps, ql=rec.ql)


def _truth(data: SimulationData, idx: IntArray) -> FloatArray:
    y = np.array(data.y[idx], dtype=np.float64)
    y[~data.y_mask[idx]] = np.nan
    return y


# ---------------------------------------------------------------------------- selection
def select_for_fold(family: Any, ev: Any, fold: Any, directory: Path) -> int | None:
    """Spec section 8 for one outer fold; writes metrics.json/selection.json; the winner id.

    ``ev`` is the runner's evaluator (``cfg``, ``candidates``, ``params(id)``,
    ``preprocessed(train)``), ``fold`` the :class:`~algotrader.simulation.structure.OuterFold`.
    Returns None when selection is disabled (``model_selection.enable: false``).
    """
    from algotrader.simulation.evaluate import call_seed
    from algotrader.simulation.family import FamilyContext

    cfg = ev.cfg
    sel = selection_settings(cfg)
    if not sel["enable"]:
        return None
    payloads: dict[str, list[SplitPayload]] = {}
    complexity: dict[str, list[float]] = {}
    recomputed = 0
    for s, split in enumerate(fold.splits):
        data = ev.preprocessed(split.train)
        gid = _group_of_rows(ev, split.test)
        y_true = _truth(data, split.test)
        for cand in ev.candidates:
            params = ev.params(cand.id)
            seed = call_seed(cfg.seed, fold.k, s, cand.id)
            key = record_key(
                fingerprint(params, seed, split.train, data),
                split.test,
                _num_samples(params, cfg.predictive.num_samples_inner),
            )
            rec = RECORDS.get(key)
            if rec is None or (rec.es is None and rec.samples is None):
                ctx = FamilyContext(
                    phase="inner",
                    outer_k=fold.k,
                    split_id=s,
                    candidate_id=cand.id,
                    seed=seed,
                    cost=cfg.cost,
                    num_samples=cfg.predictive.num_samples_inner,
                )
                state = family.fit(data, split.train, params, ctx)
                family.decide(state, data, split.test, params, ctx)
                rec = RECORDS.get(key)
                recomputed += 1
                assert rec is not None
            rec.tail_alpha = float(sel["tail_alpha"])
            score_record(rec, y_true)
            payloads.setdefault(str(cand.id), []).append(split_payload(rec, s, gid))
            complexity.setdefault(str(cand.id), []).append(rec.complexity)
    comp = {m: float(np.median(v)) for m, v in complexity.items()}
    res = select_fold(
        payloads,
        comp,
        c=float(sel["c"]),
        min_keep=int(sel["min_keep"]),
        max_keep=int(sel["max_keep"]),
        n_boot=int(sel["n_boot"]),
        boot_seed=int(sel["boot_seed"]),
    )
    res.write(directory)
    write_json_atomic(
        directory / "metadata.json",
        json_ready(
            {
                "outer_k": fold.k,
                "n_candidates": len(ev.candidates),
                "n_splits": len(fold.splits),
                "assets": list(ev.data.assets),
                "settings": sel,
                "recomputed_payloads": recomputed,
                "complexity": "posterior_l1 (median over splits)",
                "complexity_all": comp,
                "es_estimator": "nrg (whitened, spec 7.1)",
                "crps_estimator": "nrg (scaled by the split's MAD)",
                "tail_quantile_alpha": sel["tail_alpha"],
            }
        ),
    )
    if cfg.model_selection.selection_scope == "global_report":
        family._fold_metrics[(str(directory.parents[2]), fold.k)] = (res.metrics, comp)
        run_key = str(directory.parents[2])
        mine = [v for (r, _), v in sorted(family._fold_metrics.items()) if r == run_key]
        all_comp: dict[str, list[float]] = {}
        for _, cm in mine:
            for m, v in cm.items():
                all_comp.setdefault(m, []).append(v)
        report = global_report(
            [m for m, _ in mine],
            {m: float(np.median(v)) for m, v in all_comp.items()},
            c=float(sel["c"]),
            min_keep=int(sel["min_keep"]),
            max_keep=int(sel["max_keep"]),
        )
        report["note"] = (
            "report only: a global choice uses later folds' inner data (look-ahead) and "
            "never feeds the outer evaluation"
        )
        report["folds"] = sorted(k for (r, k) in family._fold_metrics if r == run_key)
        write_json_atomic(directory.parents[1] / "global_selection_report.json", json_ready(report))
    log.info(
        "fold %d: post-tune selection picked candidate %s (%d payloads recomputed)",
        fold.k,
        res.best,
        recomputed,
    )
    return int(res.best)


def _num_samples(params: Mapping[str, Any], default: int) -> int:
    return int(params.get("num_samples", default or 100))


def _group_of_rows(ev: Any, rows: IntArray) -> IntArray:
    gid = np.full(ev.data.n_dates, -1, dtype=np.int64)
    for g, grp in enumerate(ev.structure.groups):
        gid[np.asarray(grp)] = g
    out: IntArray = gid[np.asarray(rows, dtype=np.int64)]
    return out


# -------------------------------------------------------------------------- diagnostics
def write_outer_diagnostics(
    ev: Any, decisions: Mapping[int, Decision], directory: Path
) -> list[Path]:
    """Diagnostics of the outer walk-forward predictions (see the module doc)."""
    from algotrader.forecasting.diagnostics import (
        coverage_curve,
        energy_prerank,
        pit_histogram,
        write_diagnostics,
    )
    from algotrader.forecasting.scoring import pit

    settings = diagnostics_settings(ev.cfg)
    if not settings["enable"]:
        return []
    data = ev.data
    ys, xs, uys, uxs, rows, folds = [], [], [], [], [], []
    losses: dict[str, FloatArray] = {}
    for k in sorted(decisions):
        dec = decisions[k]
        recs = [RECORDS.get(str(p.get("record_key"))) for p in _chunks(dec.payload)]
        if not recs or any(r is None or r.samples is None for r in recs):
            log.warning("outer fold %d: predictions not in this process; no diagnostics", k)
            return []
        for j, rec in enumerate(recs):
            assert rec is not None and rec.samples is not None
            y = _truth(data, rec.test_idx)
            ys.append(y)
            xs.append(rec.samples)
            wh = rec.whitening
            uys.append(y if wh is None else wh.transform(y))
            uxs.append(rec.samples if wh is None else wh.transform(rec.samples))
            rows.append(rec.test_idx)
            folds.append(np.full(rec.test_idx.size, k, dtype=np.int64))
            losses[f"outer_{k}" + (f"_chunk_{j}" if len(recs) > 1 else "")] = rec.losses
    s_min = min(x.shape[0] for x in xs)
    y_all = np.concatenate(ys)
    x_all = np.concatenate([x[:s_min] for x in xs], axis=1)
    u_y = np.concatenate(uys)
    u_x = np.concatenate([x[:s_min] for x in uxs], axis=1)
    idx = np.concatenate(rows)
    fold_of = np.concatenate(folds)
    names = list(data.assets)
    if settings["assets"] != "all":
        names = [str(a) for a in settings["assets"]]
        bad = [a for a in names if a not in data.assets]
        if bad:
            raise ConfigError(
                f"diagnostics asset {bad[0]!r} not in the data",
                key="diagnostics.calibration.assets",
            )
    levels = tuple(float(v) for v in settings["levels"])
    label = "outer walk-forward"
    out = write_diagnostics(
        directory,
        y_all,
        x_all,
        data.assets,
        levels=levels,
        losses=losses,
        label=label,
        fan_assets=names,
        dates=data.dates[idx],
        prerank=(u_y, u_x),
    )
    qs_levels = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    qs = np.quantile(x_all, qs_levels, axis=0)
    n, a = y_all.shape
    fan = {
        "date": np.repeat(data.dates[idx], a),
        "outer_k": np.repeat(fold_of, a),
        "asset": np.tile(np.array(data.assets), n),
        "y": y_all.ravel(),
        "mean": x_all.mean(axis=0).ravel(),
    }
    for q, v in zip(qs_levels, qs, strict=True):
        fan[f"q{round(q * 100):02d}"] = v.ravel()
    out.append(write_parquet_atomic(directory / "fan_quantiles.parquet", pl.DataFrame(fan)))
    dens, p_pit = pit_histogram(pit(y_all, x_all, seed=0))
    counts, p_rank = energy_prerank(u_y, u_x, bins=min(s_min + 1, 20), seed=0)
    cc = coverage_curve(y_all, x_all, levels)
    cov = coverage(y_all, x_all, levels)
    summary = {
        "source": "outer walk-forward predictions of each fold's chosen candidate",
        "n_rows": int(n),
        "n_assets": int(a),
        "n_samples": int(s_min),
        "outer_folds": sorted(int(k) for k in decisions),
        "pit_chi2_pvalue": p_pit,
        "pit_bins": int(dens.size),
        "energy_prerank_chi2_pvalue": p_rank,
        "energy_prerank_bins": int(counts.size),
        "coverage": {f"{lv:g}": float(c) for lv, c in zip(levels, cov, strict=True)},
        "coverage_abs_error_mean": float(np.mean(np.abs(np.asarray(cov) - np.asarray(levels)))),
        "coverage_within_2se": {
            f"{lv:g}": bool(lo <= c <= hi)
            for lv, c, lo, hi in zip(
                levels,
                cc["coverage"].to_list(),
                cc["lo"].to_list(),
                cc["hi"].to_list(),
                strict=True,
            )
        },
        "mean_energy_score_whitened": float(np.nanmean(energy_score(u_y, u_x))),
        "files": sorted(p.name for p in out),
    }
    out.append(write_json_atomic(directory / "summary.json", json_ready(summary)))
    return out


def _chunks(payload: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The per-chunk payloads of an outer decision, in test-row order."""
    keys = sorted((k for k in payload if str(k).startswith("chunk_")), key=lambda k: int(k[6:]))
    if keys:
        return [payload[k] for k in keys]
    return [payload] if "record_key" in payload else []
