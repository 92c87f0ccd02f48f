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
[factor_model_v1], ``guide`` [factor_guide_v1], ``num_steps`` [300], ``lr`` [0.01],
``schedule`` [constant], ``grad_accum_steps`` [1], ``num_elbo_particles`` [1],
``window_len`` [None = whole run], ``burn_in`` [0], ``log_prob_scaling`` [False],
``target_normalization`` [True], ``plateau_holdout`` [0], ``num_samples`` [100, or the
context's], ``allocation`` [``{"rule": "long_only"}``, see :mod:`.allocation`].
Windows are padded to ``window_len`` (or to the run's T), so one compile serves the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from algotrader.errors import ConfigError, DataError
from algotrader.forecasting.allocation import allocate
from algotrader.forecasting.scoring import crps_ensemble, energy_score
from algotrader.forecasting.svi import FitResult, SviConfig, fit_svi, predict
from algotrader.forecasting.whitening import EsWhitening, fit_es_whitening
from algotrader.simulation.family import (
    Decision,
    FamilyContext,
    FloatArray,
    IntArray,
    Scorer,
    SimulationData,
    register_family,
)

__all__ = ["ForecastFamily", "ForecastState", "svi_config_from_params"]

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
}
_OTHER_KEYS = {"num_samples", "allocation", "model_kwargs"}


def svi_config_from_params(params: Mapping[str, Any], n_rows: int) -> SviConfig:
    """Build the trainer config; unknown keys are a :class:`ConfigError` naming them."""
    unknown = sorted(set(params) - _SVI_KEYS - _OTHER_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown forecast params {unknown}",
            key="model.params",
            hint=f"known: {sorted(_SVI_KEYS | _OTHER_KEYS)}",
        )
    kw: dict[str, Any] = {k: params[k] for k in _SVI_KEYS if k in params}
    kw.setdefault("num_steps", 300)
    kw.setdefault("target_normalization", True)
    for key in ("num_steps", "grad_accum_steps", "num_elbo_particles", "burn_in"):
        if key in kw:
            kw[key] = int(kw[key])
    win = kw.get("window_len")
    kw["pad_len"] = int(win) if win else int(n_rows)
    mk = params.get("model_kwargs") or {}
    kw["model_kwargs"] = tuple(sorted(dict(mk).items()))
    return SviConfig(**kw)


@dataclass(frozen=True)
class ForecastState:
    """A fitted forecast: the SVI posterior and the split's ES whitening (None if unfit)."""

    fit: FitResult
    whitening: EsWhitening | None


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


def _es_scorer(estimator: str) -> Scorer:
    def score(
        data: SimulationData,
        test_idx: IntArray,
        decision: Decision,
        net_returns: FloatArray,
        ctx: FamilyContext,
        /,
    ) -> float:
        if decision.samples is None:
            return float("nan")
        y, x = _truth(data, test_idx), decision.samples
        wh = _payload_whitening(decision)
        if wh is not None:
            y, x = wh.transform(y), wh.transform(x)
        es = energy_score(y, x, estimator=estimator)  # type: ignore[arg-type]
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
    if decision.samples is None:
        return float("nan")
    y, x = _truth(data, test_idx), decision.samples
    wh = _payload_whitening(decision)
    if wh is not None:
        y, x = wh.standardise(y), wh.standardise(x)
    c = crps_ensemble(y, x)
    return -float(np.nanmean(c)) if np.isfinite(c).any() else float("nan")


def _neg_mse(
    data: SimulationData,
    test_idx: IntArray,
    decision: Decision,
    net_returns: FloatArray,
    ctx: FamilyContext,
    /,
) -> float:
    if decision.mean is None:
        return float("nan")
    y = _truth(data, test_idx)
    ok = np.isfinite(y)
    return -float(np.mean((decision.mean[ok] - y[ok]) ** 2)) if ok.any() else float("nan")


class ForecastFamily:
    """NumPyro forecast models tuned and judged like every other family."""

    name = "forecast"

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
        return ForecastState(fit=fit, whitening=wh)

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
        payload: dict[str, Any] = {
            "es_scale": None if wh is None else wh.scale,
            "es_W": None if wh is None else wh.W,
            "svi_loss": state.fit.losses,
            "posterior_params": state.fit.params,
            "quantile_levels": list(PAYLOAD_QUANTILES),
            "quantiles": np.quantile(samples, PAYLOAD_QUANTILES, axis=0),
            "mean": mean,
        }
        return Decision(weights=weights, mean=mean, samples=samples, payload=payload)

    def scorers(self) -> Mapping[str, Scorer]:
        return {
            "energy_score": _es_scorer("nrg"),
            "energy_score_fair": _es_scorer("fair"),
            "crps": _crps,
            "neg_mse": _neg_mse,
        }


register_family("forecast", ForecastFamily, replace=True)
