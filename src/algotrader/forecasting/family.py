"""The ``forecast`` simulation family: SVI fit on train rows, predictive, allocation, scores.

``fit`` trains the configured model/guide on ``train_idx`` only (SVI, seed from the
context, which the runner derives from (seed, outer fold, split, candidate)) and fits the
energy-score whitening on the train rows whose targets are all observed. ``decide`` draws
``num_samples`` predictive samples for ``X[test_idx]`` (known at each test row; no target
is read), turns them into weights with the configured allocation rule and returns the
samples, the mean and the whitening in the payload. Scorers (higher is better):
``energy_score`` (minus the mean ES on whitened values, estimator ``nrg``),
``energy_score_fair``, ``crps`` (minus mean CRPS on scaled values) and ``neg_mse``.

Params (``model.params`` of the run config; defaults in brackets): ``model``
[factor_model_v1; also ``lowrank_sv``, ``bayes_linear``], ``guide`` [factor_guide_v1 for
factor_model_v1, else AutoNormal], ``num_steps`` [300], ``lr`` [0.01],
``schedule`` [constant], ``grad_accum_steps`` [1], ``num_elbo_particles`` [1],
``window_len`` [None = whole run], ``burn_in`` [0], ``log_prob_scaling`` [False],
``target_normalization`` [True], ``plateau_holdout`` [0], ``num_samples`` [100, or the
context's], ``allocation`` [``{"rule": "long_only"}``, see :mod:`.allocation`].
Post-tune selection and calibration settings live in the run config's ``model_selection``
and ``diagnostics.calibration`` sections (not here).
Windows are padded to ``window_len`` (or to the run's T), so one compile serves the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from algotrader.errors import ConfigError, DataError
from algotrader.forecasting import nested
from algotrader.forecasting.allocation import allocate
from algotrader.forecasting.scoring import crps_ensemble, energy_score
from algotrader.forecasting.selection import DEFAULT_EXCLUDE, posterior_l1
from algotrader.forecasting.svi import FitResult, SviConfig, fit_svi, predict
from algotrader.forecasting.whitening import EsWhitening, fit_es_whitening
from algotrader.simulation.family import (
    Decision,
    FamilyContext,
    FamilyParams,
    FloatArray,
    IntArray,
    Scorer,
    SimulationData,
    register_family,
)

__all__ = ["ForecastFamily", "ForecastParams", "ForecastState", "svi_config_from_params"]

Scalar = bool | int | float | str


def _default_allocation() -> dict[str, Scalar]:
    return {"rule": "long_only"}


class ForecastParams(FamilyParams):
    """``model.params`` of the ``forecast`` family (see the module docstring; the SVI keys
    are :class:`~algotrader.forecasting.svi.SviConfig`'s, with this family's defaults)."""

    model: Literal["factor_model_v1", "lowrank_sv", "bayes_linear"] = "factor_model_v1"
    guide: str | None = Field(None, description="None: factor_guide_v1 or AutoNormal")
    num_steps: int = Field(300, ge=1)
    lr: float = Field(0.01, gt=0.0)
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    decay_rate: float = Field(0.1, gt=0.0)
    grad_accum_steps: int = Field(1, ge=1)
    num_elbo_particles: int = Field(1, ge=1)
    window_len: int | None = Field(None, ge=1)
    burn_in: int = Field(0, ge=0)
    log_prob_scaling: bool = False
    target_normalization: bool = True
    plateau_holdout: int = Field(0, ge=0)
    plateau_every: int = Field(50, ge=1)
    plateau_patience: int = Field(3, ge=1)
    plateau_rel_tol: float = Field(1e-3, ge=0.0)
    guide_rank: int = Field(2, ge=1)
    feature_bucket: int = Field(16, ge=1)
    num_samples: int | None = Field(None, ge=1, description="None: the context's count")
    allocation: dict[str, Scalar] = Field(default_factory=_default_allocation)
    model_kwargs: dict[str, Scalar] = Field(default_factory=dict)


_SVI_KEYS = {
    "model",
    "guide",
    "num_steps",
    "lr",
    "schedule",
    "decay_rate",
    "grad_accum_steps",
    "num_elbo_particles",
    "window_len",
    "burn_in",
    "log_prob_scaling",
    "target_normalization",
    "plateau_holdout",
    "plateau_every",
    "plateau_patience",
    "plateau_rel_tol",
    "guide_rank",
    "feature_bucket",
}
_OTHER_KEYS = {"num_samples", "allocation", "model_kwargs"}
_MOVED = {"selection": "model_selection", "diagnostics": "diagnostics.calibration"}


def svi_config_from_params(params: Mapping[str, Any], n_rows: int) -> SviConfig:
    """Build the trainer config; unknown keys are a :class:`ConfigError` naming them."""
    for old, new in _MOVED.items():
        if old in params:
            raise ConfigError(
                f"model.params.{old} is no longer read; the settings moved to {new}",
                key=f"model.params.{old}",
                hint=f"move the mapping to the {new} section of the run config",
            )
    unknown = sorted(set(params) - _SVI_KEYS - _OTHER_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown forecast params {unknown}",
            key="model.params",
            hint=f"known: {sorted(_SVI_KEYS | _OTHER_KEYS)}",
        )
    kw: dict[str, Any] = {k: params[k] for k in _SVI_KEYS if k in params}
    if kw.get("model", "factor_model_v1") != "factor_model_v1":
        kw.setdefault("guide", "AutoNormal")  # the hand-written guide fits factor_model_v1 only
    kw.setdefault("num_steps", 300)
    kw.setdefault("target_normalization", True)
    kw.setdefault("feature_bucket", 16)  # per-split cleaning keeps varying feature counts
    for key in ("num_steps", "grad_accum_steps", "num_elbo_particles", "burn_in", "feature_bucket"):
        if key in kw:
            kw[key] = int(kw[key])
    win = kw.get("window_len")
    kw["pad_len"] = int(win) if win else int(n_rows)
    mk = params.get("model_kwargs") or {}
    kw["model_kwargs"] = tuple(sorted(dict(mk).items()))
    return SviConfig(**kw)


@dataclass(frozen=True)
class ForecastState:
    """A fitted forecast: the SVI posterior, the split's ES whitening (None if unfit), the
    fit's fingerprint (:func:`~.nested.fingerprint`) and its ``posterior_l1`` complexity."""

    fit: FitResult
    whitening: EsWhitening | None
    fingerprint: str = ""
    complexity: float = float("nan")


#: sites left out of ``posterior_l1``: nuisance location/scale sites and the positive
#: (log-scale guide) shrinkage sites, so the complexity is the mean |posterior mean| of the
#: signed structural weights (``w``)
COMPLEXITY_EXCLUDE = (
    *DEFAULT_EXCLUDE,
    "tau0",
    "lam",
    "c",
    "kappa",
    # lowrank_sv: covariance and volatility sites (the mean weights w stay counted)
    "col_scale",
    "B_raw",
    "s_h",
    "h_eps",
)

#: predictive quantiles kept in the (JSON-stored) payload for outer diagnostics
PAYLOAD_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def _payload_whitening(decision: Decision) -> EsWhitening | None:
    sc, w = decision.payload.get("es_scale"), decision.payload.get("es_W")
    if sc is None or w is None:
        return None
    sc_arr, w_arr = np.asarray(sc, dtype=np.float64), np.asarray(w, dtype=np.float64)
    return EsWhitening(
        scale=sc_arr,
        W=w_arr,
        sigma_shrunk=np.full_like(w_arr, np.nan),
        shrinkage=float("nan"),
        n_rows=0,
    )


def _truth(data: SimulationData, test_idx: IntArray) -> FloatArray:
    y = np.array(data.y[test_idx], dtype=np.float64)
    y[~data.y_mask[test_idx]] = np.nan
    return y


def _parts(
    decision: Decision, n_rows: int
) -> list[tuple[slice, FloatArray, EsWhitening | None]] | None:
    """(rows, samples, whitening) per decided chunk: the decision's own samples, or the
    kept records of an outer decision (one per refit chunk); None if unavailable."""
    if decision.samples is not None:
        return [(slice(0, n_rows), decision.samples, _payload_whitening(decision))]
    out, start = [], 0
    for p in nested._chunks(decision.payload):
        rec = nested.RECORDS.get(str(p.get("record_key")))
        if rec is None or rec.samples is None:
            return None
        out.append((slice(start, start + rec.test_idx.size), rec.samples, rec.whitening))
        start += rec.test_idx.size
    return out if out and start == n_rows else None


def _finalise_inner(decision: Decision, y: FloatArray, ctx: FamilyContext) -> None:
    """Turn an inner split's record into its selection payload (and drop the samples)."""
    if ctx.phase != "inner":
        return
    rec = nested.RECORDS.get(str(decision.payload.get("record_key")))
    if rec is not None and rec.samples is not None:
        nested.score_record(rec, y)


def _es_scorer(estimator: str) -> Scorer:
    def score(
        data: SimulationData,
        test_idx: IntArray,
        decision: Decision,
        net_returns: FloatArray,
        ctx: FamilyContext,
        /,
    ) -> float:
        y_all = _truth(data, test_idx)
        parts = _parts(decision, len(test_idx))
        if parts is None:
            return float("nan")
        es = np.full(len(test_idx), np.nan)
        for rows, x, wh in parts:
            y = y_all[rows]
            if wh is not None:
                y, x = wh.transform(y), wh.transform(x)
            es[rows] = energy_score(y, x, estimator=estimator)  # type: ignore[arg-type]
        _finalise_inner(decision, y_all, ctx)
        return -float(np.nanmean(es)) if np.isfinite(es).any() else float("nan")

    return score


def _crps(
    data: SimulationData,
    test_idx: IntArray,
    decision: Decision,
    net_returns: FloatArray,
    ctx: FamilyContext,
    /,
) -> float:
    y_all = _truth(data, test_idx)
    parts = _parts(decision, len(test_idx))
    if parts is None:
        return float("nan")
    c = np.full(y_all.shape, np.nan)
    for rows, x, wh in parts:
        y = y_all[rows]
        if wh is not None:
            y, x = wh.standardise(y), wh.standardise(x)
        c[rows] = crps_ensemble(y, x)
    _finalise_inner(decision, y_all, ctx)
    return -float(np.nanmean(c)) if np.isfinite(c).any() else float("nan")


def _neg_mse(
    data: SimulationData,
    test_idx: IntArray,
    decision: Decision,
    net_returns: FloatArray,
    ctx: FamilyContext,
    /,
) -> float:
    y = _truth(data, test_idx)
    mean = decision.mean
    if mean is None:
        parts = _parts(decision, len(test_idx))
        if parts is None:
            return float("nan")
        mean = np.concatenate([x.mean(axis=0) for _, x, _ in parts])
    _finalise_inner(decision, y, ctx)
    ok = np.isfinite(y)
    return -float(np.mean((mean[ok] - y[ok]) ** 2)) if ok.any() else float("nan")


class ForecastFamily:
    """NumPyro forecast models tuned and judged like every other family.

    Besides the protocol it implements the runner's optional hooks ``post_tune_select``
    (spec section 8 per outer fold) and ``outer_diagnostics`` (calibration of the outer
    walk-forward predictions); see :mod:`algotrader.forecasting.nested`.
    """

    name = "forecast"

    def __init__(self) -> None:
        self._fold_metrics: dict[tuple[str, int], Any] = {}

    def fit(
        self,
        data: SimulationData,
        train_idx: IntArray,
        params: Mapping[str, Any],
        ctx: FamilyContext,
    ) -> ForecastState:
        if data.X is None:
            raise ConfigError(
                "family 'forecast' needs features X in the simulation data",
                key="data.features",
                hint="configure a feature set",
            )
        cfg = svi_config_from_params(params, data.n_dates)
        idx = np.asarray(train_idx, dtype=np.int64)
        y = np.where(data.y_mask, data.y, np.nan)
        fit = fit_svi(data.X, y, idx, cfg, seed=int(ctx.seed) % (2**32))
        full = idx[data.y_mask[idx].all(axis=1)]
        wh = None
        if full.size >= 2:
            try:
                wh = fit_es_whitening(data.y[full], assets=data.assets)
            except DataError:  # a degenerate split (constant asset) scores unwhitened
                wh = None
        return ForecastState(
            fit=fit,
            whitening=wh,
            fingerprint=nested.fingerprint(params, int(ctx.seed), idx, data),
            complexity=posterior_l1([fit.params], exclude=COMPLEXITY_EXCLUDE),
        )

    def decide(
        self,
        state: ForecastState,
        data: SimulationData,
        test_idx: IntArray,
        params: Mapping[str, Any],
        ctx: FamilyContext,
    ) -> Decision:
        assert data.X is not None
        idx = np.asarray(test_idx, dtype=np.int64)
        n_s = int(params.get("num_samples", ctx.num_samples or 100))
        samples, mean = predict(state.fit, data.X[idx], n_s, seed=(int(ctx.seed) + 1) % (2**32))
        alloc = dict(params.get("allocation") or {"rule": "long_only"})
        rule = str(alloc.pop("rule", "long_only"))
        weights = allocate(samples, rule, **alloc)
        wh = state.whitening
        key = nested.record_key(state.fingerprint, idx, n_s)
        nested.RECORDS.put(
            key,
            nested.Record(
                test_idx=idx.copy(),
                samples=samples,
                whitening=wh,
                complexity=state.complexity,
                losses=state.fit.losses,
            ),
        )
        payload: dict[str, Any] = {
            "record_key": key,
            "posterior_l1": state.complexity,
            "es_scale": None if wh is None else wh.scale,
            "es_W": None if wh is None else wh.W,
            "svi_loss": state.fit.losses,
            "posterior_params": state.fit.params,
            "quantile_levels": list(PAYLOAD_QUANTILES),
            "quantiles": np.quantile(samples, PAYLOAD_QUANTILES, axis=0),
            "mean": mean,
        }
        return Decision(weights=weights, mean=mean, samples=samples, payload=payload)

    def post_tune_select(self, ev: Any, fold: Any, directory: Path) -> int | None:
        """Spec section 8 on fold ``fold``'s inner splits; the winning candidate id."""
        return nested.select_for_fold(self, ev, fold, Path(directory))

    def outer_diagnostics(
        self, ev: Any, decisions: Mapping[int, Decision], directory: Path
    ) -> list[Path]:
        """Calibration diagnostics of the outer decisions (chosen candidate per fold)."""
        return nested.write_outer_diagnostics(ev, decisions, Path(directory))

    def scorers(self) -> Mapping[str, Scorer]:
        return {
            "energy_score": _es_scorer("nrg"),
            "energy_score_fair": _es_scorer("fair"),
            "crps": _crps,
            "neg_mse": _neg_mse,
        }


register_family("forecast", ForecastFamily, replace=True, params=ForecastParams)
