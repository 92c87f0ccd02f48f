"""Walk-forward training: rolling or expanding cycles, warm-started, with OOS verdict.

The span ``[start_row, end_row)`` (minute rows) is cut into ``n_cycles + 1``
whole-day segments by :class:`algotrader.cv.WalkForward` (groups aligned on the
last day; a leading remainder of days is left out). Cycle ``i`` trains on
segment ``i`` (rolling) or segments ``0..i`` (expanding) -- its validation
holdout is carved from the end of that training span -- and is tested on segment
``i + 1``, which its training never reads. Each cycle starts from the previous
cycle's selected parameters (plus noise for sets 1..) and its final weights.

Per cycle (:class:`CycleEvaluation`): in-sample (whole training span) and
out-of-sample metrics, walk-forward efficiency ``WFE = OOS / IS`` of
``wfe_metric`` (NaN when IS <= 0), ``is_oos_gap = IS - OOS``, the empirical
Rademacher complexity ``R`` of the training checkpoints' daily excess returns
and the Rademacher-adjusted OOS Sharpe, all in **daily** units::

    haircut = 2 R + 3 sqrt(2 ln(2 / delta) / T_days)
    adjusted_oos_sharpe = sqrt(365) (mean(r_oos) - haircut) / std(r_oos)

(the reference subtracted a daily-return haircut built with T in *minutes* from
an annualised Sharpe). The verdict is *effective* iff the NaN-aware mean WFE is
at least ``min_wfe``, the worst OOS Sharpe is positive and, when computed, the
mean adjusted OOS Sharpe is positive.

Undefined values stay NaN in memory (a search maximising a spec scores them ``-inf``:
:func:`cycle_metric`) but are never written as a number or as the string ``"nan"``:
``walk_forward.json`` holds ``null`` and, beside it, the reason (``notes`` per cycle,
``summary_notes``, ``metric_notes``; :func:`cycle_metric_value`). Each cycle trains in its
own folder ``<out>/cycle_000/<run_id>/`` (``cycle_001`` ...), so a cycle's artefacts are
found by its number and a changed configuration never resumes another's state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from algotrader.errors import ConfigError, DataError
from algotrader.io import write_json_atomic
from algotrader.metrics import adjusted_sharpe_bound
from algotrader.metrics import rademacher_complexity as _rademacher
from algotrader.metrics import walk_forward_efficiency as _wfe
from algotrader.training.problem import TrainingProblem
from algotrader.training.settings import OptimisationSettings, WalkForwardSettings
from algotrader.training.trainer import Callback, TrainResult, train

logger = logging.getLogger(__name__)
DAY = 1440


@dataclass(frozen=True)
class CycleSpan:
    """Rows of one cycle: train ``[train_start, train_end)``, test ``[test_start, test_end)``."""

    cycle: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def cycle_spans(
    start_row: int, end_row: int, n_cycles: int, mode: str, rows_per_day: int = DAY
) -> list[CycleSpan]:
    """Whole-day walk-forward spans; training always ends where its test starts.

    Example:
        >>> [(s.train_start, s.train_end, s.test_end) for s in cycle_spans(0, 30, 2, "rolling", 1)]
        [(0, 10, 20), (10, 20, 30)]
        >>> [(s.train_start, s.train_end) for s in cycle_spans(0, 30, 2, "expanding", 1)]
        [(0, 10), (0, 20)]
    """
    from algotrader.cv import WalkForward

    if mode not in ("rolling", "expanding"):
        raise ConfigError(
            f"unknown walk-forward mode {mode!r}", key="mode", hint="rolling or expanding"
        )
    n_days = (end_row - start_row) // rows_per_day
    group = n_days // (n_cycles + 1)
    if group < 1:
        raise ConfigError(
            f"{n_days} days cannot be split into {n_cycles + 1} walk-forward segments",
            key="n_cycles",
            hint="use fewer cycles or a longer period",
        )
    lead = end_row - n_days * rows_per_day  # rows before the first whole day (from the end)
    wf = WalkForward(
        group_len=group,
        warmup_len=n_days - group * (n_cycles + 1),  # leading days left out, never trained on
        exclude_warmup=True,
        train_groups=1 if mode == "rolling" else None,
        min_train_groups=1,
    )
    spans = []
    for i, fold in enumerate(wf.folds(n_samples=n_days)):

        def row(day: int) -> int:
            return lead + day * rows_per_day

        spans.append(
            CycleSpan(
                cycle=i,
                train_start=row(int(fold.train[0])),
                train_end=row(int(fold.train[-1]) + 1),
                test_start=row(int(fold.test[0])),
                test_end=row(int(fold.test[-1]) + 1),
            )
        )
    return spans


@dataclass(frozen=True)
class SpanMetrics:
    """In-sample / out-of-sample metrics of one parameter set on one cycle."""

    is_metrics: dict[str, float]
    oos_metrics: dict[str, float]
    oos_daily_returns: np.ndarray


class CycleHooks(Protocol):
    """What the walk-forward driver needs from a strategy family."""

    def problem(
        self, span: CycleSpan, base: Mapping[str, np.ndarray] | None
    ) -> TrainingProblem: ...

    def span_metrics(self, span: CycleSpan, params: Mapping[str, np.ndarray]) -> SpanMetrics: ...

    def warm_start(self, result: TrainResult) -> dict[str, np.ndarray]: ...


def rademacher_complexity(returns: np.ndarray, n_draws: int = 1000, seed: int = 0) -> float:
    """Rademacher complexity of ``returns`` (S strategies x T periods), in per-period Sharpe units.

    :func:`algotrader.metrics.rademacher_complexity` on the standardised paths
    (``E_sigma[max_s (1/T) sum_t sigma_t x_s(t) / sd_s]``); NaN when it is undefined
    (fewer than 2 strategies or periods, NaN, or a constant path).

    Example:
        >>> r = np.array([[0.01, -0.01] * 50, [-0.01, 0.01] * 50])
        >>> 0.0 < rademacher_complexity(r) < 0.2
        True
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        return float("nan")
    try:
        return float(_rademacher(r.T, n_draws=n_draws, seed=seed, standardise=True))
    except DataError as exc:
        logger.warning("Rademacher complexity undefined: %s", exc)
        return float("nan")


def adjusted_sharpe(
    oos_daily_returns: np.ndarray, rademacher: float, n_days: int, delta: float
) -> float:
    """Rademacher-adjusted annualised OOS Sharpe (:func:`algotrader.metrics.adjusted_sharpe_bound`).

    ``S_oos - sqrt(365) (2 R + 3 sqrt(2 ln(2/delta) / T))`` with ``S_oos`` the
    annualised Sharpe of the OOS daily returns, ``R`` in per-day Sharpe units and
    ``T = n_days`` the periods of the paths ``R`` was measured on.

    Example:
        >>> r = np.array([0.01, 0.0, 0.02, 0.01])
        >>> round(float(np.sqrt(365) * r.mean() / r.std()), 4)  # unadjusted
        27.0185
        >>> round(adjusted_sharpe(r, 0.0, 365, 0.05), 4)  # minus sqrt(365) * 3 sqrt(2 ln 40 / 365)
        18.8699
    """
    r = np.asarray(oos_daily_returns, dtype=np.float64)
    if not math.isfinite(rademacher) or r.size < 2 or n_days < 1:
        return float("nan")
    sd = float(np.std(r))
    if sd <= 1e-12:
        return float("nan")
    sharpe = math.sqrt(365.0) * float(np.mean(r)) / sd
    return float(
        adjusted_sharpe_bound(
            sharpe, rademacher=rademacher, n_periods=n_days, periods_per_year=365.0, delta=delta
        )
    )


def walk_forward_efficiency(is_value: float, oos_value: float) -> float:
    """``OOS / IS`` (:func:`algotrader.metrics.walk_forward_efficiency`); NaN when IS <= 0."""
    if not math.isfinite(is_value):
        return float("nan")
    return float(_wfe([is_value], [oos_value])[0])


@dataclass
class CycleEvaluation:
    """Result of one walk-forward cycle (metrics keyed by metric name)."""

    span: CycleSpan
    is_metrics: dict[str, float]
    oos_metrics: dict[str, float]
    wfe: float
    is_oos_gap: float
    rademacher: float
    adjusted_oos_sharpe: float
    iterations_run: int
    best_iteration: int
    params: dict[str, np.ndarray] = field(repr=False)
    run_dir: str | None = None
    #: why a value is undefined (NaN): ``{"wfe": "...", "adjusted_oos_sharpe": "..."}``
    notes: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> float:
        """A cycle metric by spec name: ``is_<m>``, ``oos_<m>``, ``wfe``, ``is_oos_gap`` ..."""
        if name == "wfe":
            return self.wfe
        if name in ("is_oos_gap", "rademacher", "adjusted_oos_sharpe"):
            return float(getattr(self, name))
        for prefix, table in (("is_", self.is_metrics), ("oos_", self.oos_metrics)):
            if name.startswith(prefix) and name[len(prefix) :] in table:
                return float(table[name[len(prefix) :]])
        raise ConfigError(
            f"unknown cycle metric {name!r}",
            key="metric",
            hint="use is_<metric>, oos_<metric>, wfe, is_oos_gap, rademacher or adjusted_oos_sharpe",
        )


def cycle_metric(cycles: Sequence[CycleEvaluation], spec: str) -> float:
    """Aggregate a metric spec ``[neg_][mean_|worst_]<metric>`` over cycles.

    ``mean`` ignores NaN; ``worst`` is the minimum; ``neg_`` negates the result
    (e.g. ``neg_is_oos_gap``); NaN or no cycles give ``-inf`` (a search maximising
    the spec then avoids it).
    """
    s = spec
    neg = s.startswith("neg_")
    s = s[4:] if neg else s
    if s.startswith("adjusted_mean_"):
        s = "mean_adjusted_" + s[len("adjusted_mean_") :]
    agg = "mean"
    for name in ("mean_", "worst_"):
        if s.startswith(name):
            agg, s = name[:-1], s[len(name) :]
            break
    if not cycles:
        return float("-inf")
    vals = np.array([c.value(s) for c in cycles], dtype=np.float64)
    finite = vals[np.isfinite(vals)]
    if agg == "worst":
        out = float(np.min(vals)) if np.all(~np.isnan(vals)) else float("nan")
    else:
        out = float(np.mean(finite)) if finite.size else float("nan")
    if math.isnan(out):
        return float("-inf")
    return -out if neg else out


def _parse_spec(spec: str) -> tuple[bool, str, str]:
    s = spec
    neg = s.startswith("neg_")
    s = s[4:] if neg else s
    if s.startswith("adjusted_mean_"):
        s = "mean_adjusted_" + s[len("adjusted_mean_") :]
    for name in ("mean_", "worst_"):
        if s.startswith(name):
            return neg, name[:-1], s[len(name) :]
    return neg, "mean", s


def cycle_metric_value(cycles: Sequence[CycleEvaluation], spec: str) -> tuple[float | None, str]:
    """A spec's value for people: ``(value, "")``, or ``(None, reason)`` when undefined.

    Unlike :func:`cycle_metric` (which scores an undefined spec ``-inf`` for searches),
    this never returns an infinity or NaN: ``worst_wfe`` with WFE undefined in some cycle
    is ``None`` with the cycles and their reasons.

    Example:
        >>> span = CycleSpan(0, 0, 1, 1, 2)
        >>> c = CycleEvaluation(span, {"s": -1.0}, {"s": 0.5}, float("nan"), -1.5, float("nan"),
        ...                     float("nan"), 1, 0, {}, notes={"wfe": "IS s = -1 <= 0"})
        >>> cycle_metric_value([c], "worst_wfe")
        (None, 'undefined in cycle 0 (IS s = -1 <= 0)')
    """
    neg, agg, name = _parse_spec(spec)
    if not cycles:
        return None, "no cycles"
    vals = np.array([c.value(name) for c in cycles], dtype=np.float64)
    bad = [c for c, v in zip(cycles, vals, strict=True) if not np.isfinite(v)]

    def why() -> str:
        groups: dict[str, list[str]] = {}
        for c in bad:
            groups.setdefault(c.notes.get(name, ""), []).append(str(c.span.cycle))
        parts = [
            f"cycle{'s' if len(ids) > 1 else ''} {', '.join(ids)}" + (f" ({note})" if note else "")
            for note, ids in groups.items()
        ]
        return "undefined in " + "; ".join(parts)

    if agg == "worst":
        if bad:
            return None, why()
        out = float(np.min(vals))
    else:
        if len(bad) == len(cycles):
            return None, why()
        out = float(np.mean(vals[np.isfinite(vals)]))
    return (-out if neg else out), (f"mean over defined cycles; {why()}" if bad else "")


@dataclass
class WalkForwardResult:
    """All cycles plus the aggregate and the verdict."""

    cycles: list[CycleEvaluation]
    summary: dict[str, float]
    effective: bool
    reasons: list[str]
    #: why a summary value is undefined (NaN), by summary key
    summary_notes: dict[str, str] = field(default_factory=dict)


def summarise(
    cycles: Sequence[CycleEvaluation], wf: WalkForwardSettings
) -> tuple[dict[str, float], bool, list[str]]:
    """Aggregate cycle results and decide the verdict (with the reasons)."""
    m = wf.wfe_metric
    oos = np.array([c.oos_metrics.get(m, np.nan) for c in cycles])
    wfe = np.array([c.wfe for c in cycles])
    adj = np.array([c.adjusted_oos_sharpe for c in cycles])
    gap = np.array([c.is_oos_gap for c in cycles])
    summary = {
        f"mean_oos_{m}": float(np.nanmean(oos)) if np.isfinite(oos).any() else float("nan"),
        f"std_oos_{m}": float(np.nanstd(oos)) if np.isfinite(oos).any() else float("nan"),
        f"worst_oos_{m}": float(np.min(oos)) if oos.size else float("nan"),
        "mean_wfe": float(np.nanmean(wfe)) if np.isfinite(wfe).any() else float("nan"),
        "n_wfe_undefined": float(np.sum(~np.isfinite(wfe))),
        "mean_is_oos_gap": float(np.nanmean(gap)) if np.isfinite(gap).any() else float("nan"),
        "mean_adjusted_oos_sharpe": float(np.nanmean(adj))
        if np.isfinite(adj).any()
        else float("nan"),
    }
    reasons = []
    if not summary["mean_wfe"] >= wf.min_wfe:
        reasons.append(f"mean WFE {summary['mean_wfe']:.3g} below {wf.min_wfe}")
    if not summary[f"worst_oos_{m}"] > 0:
        reasons.append(f"worst OOS {m} {summary[f'worst_oos_{m}']:.3g} not positive")
    if (
        math.isfinite(summary["mean_adjusted_oos_sharpe"])
        and summary["mean_adjusted_oos_sharpe"] <= 0
    ):
        reasons.append(
            f"mean adjusted OOS Sharpe {summary['mean_adjusted_oos_sharpe']:.3g} not positive"
        )
    return summary, not reasons, reasons


def summary_notes(
    cycles: Sequence[CycleEvaluation], summary: Mapping[str, float]
) -> dict[str, str]:
    """Why each undefined (NaN) summary value is undefined (keys are metric specs)."""
    notes: dict[str, str] = {}
    for key, value in summary.items():
        if math.isfinite(value):
            continue
        spec = "mean_" + key[len("std_") :] if key.startswith("std_") else key
        try:
            _, why = cycle_metric_value(cycles, spec)
        except ConfigError:
            why = ""
        notes[key] = why or "undefined"
    return notes


def _notes(
    metric: str,
    is_v: float,
    oos_v: float,
    wfe: float,
    ckpt: np.ndarray | None,
    rad: float,
    oos_returns: np.ndarray,
    adj: float,
    checkpoint_interval: int | None,
    iterations: int,
) -> dict[str, str]:
    """Why each undefined (NaN) statistic of a cycle is undefined."""
    notes: dict[str, str] = {}
    if not math.isfinite(wfe):
        if not math.isfinite(is_v):
            notes["wfe"] = f"IS {metric} is not finite"
        elif is_v <= 0:
            notes["wfe"] = f"IS {metric} = {is_v:.4g} <= 0: OOS / IS is not an efficiency"
        else:
            notes["wfe"] = f"OOS {metric} is not finite"
    if not math.isfinite(rad):
        rows = 0 if ckpt is None or ckpt.ndim != 2 else ckpt.shape[0]
        days = 0 if ckpt is None or ckpt.ndim != 2 else ckpt.shape[1]
        if rows < 2:
            every = "" if checkpoint_interval is None else f" every {checkpoint_interval}"
            notes["rademacher"] = (
                f"needs >= 2 training checkpoints, got {rows} ({iterations} iterations, "
                f"a checkpoint{every or ' per interval'}): train longer or lower "
                "optimisation_settings.checkpoint_interval"
            )
        elif days < 2:
            notes["rademacher"] = f"needs >= 2 days of checkpoint returns, got {days}"
        else:
            notes["rademacher"] = "undefined: constant or NaN checkpoint returns"
    if not math.isfinite(adj):
        r = np.asarray(oos_returns, dtype=np.float64)
        if "rademacher" in notes:
            notes["adjusted_oos_sharpe"] = "needs the Rademacher complexity, which " + (
                notes["rademacher"].replace("needs", "itself needs", 1)
            )
        elif r.size < 2:
            notes["adjusted_oos_sharpe"] = f"needs >= 2 OOS days, got {r.size}"
        else:
            notes["adjusted_oos_sharpe"] = "OOS daily returns are constant (zero volatility)"
    return notes


def evaluate_cycle(
    span: CycleSpan,
    result: TrainResult,
    hooks: CycleHooks,
    wf: WalkForwardSettings,
    *,
    checkpoint_interval: int | None = None,
) -> CycleEvaluation:
    """Metrics, WFE, gap and Rademacher adjustment of one trained cycle (with NaN reasons)."""
    sm = hooks.span_metrics(span, result.best_params)
    m = wf.wfe_metric
    if m not in sm.is_metrics:
        raise ConfigError(
            f"wfe_metric {m!r} is not computed",
            key="wfe_metric",
            hint=f"use one of {sorted(sm.is_metrics)}",
        )
    ckpt = result.checkpoint_returns
    rad = (
        float("nan")
        if ckpt is None
        else rademacher_complexity(ckpt, wf.rademacher_draws, span.cycle)
    )
    n_days = 0 if ckpt is None or ckpt.ndim != 2 else ckpt.shape[1]
    is_v, oos_v = sm.is_metrics[m], sm.oos_metrics[m]
    wfe = walk_forward_efficiency(is_v, oos_v)
    adj = adjusted_sharpe(sm.oos_daily_returns, rad, n_days, wf.rademacher_delta)
    return CycleEvaluation(
        span=span,
        is_metrics=sm.is_metrics,
        oos_metrics=sm.oos_metrics,
        wfe=wfe,
        is_oos_gap=is_v - oos_v,
        rademacher=rad,
        adjusted_oos_sharpe=adj,
        iterations_run=result.iterations_run,
        best_iteration=result.best_iteration,
        params=result.best_params,
        run_dir=None if result.run_dir is None else str(result.run_dir),
        notes=_notes(
            m,
            is_v,
            oos_v,
            wfe,
            ckpt,
            rad,
            sm.oos_daily_returns,
            adj,
            checkpoint_interval,
            result.iterations_run,
        ),
    )


def walk_forward(
    hooks: CycleHooks,
    spans: Sequence[CycleSpan],
    settings: OptimisationSettings,
    wf: WalkForwardSettings,
    out_dir: str | Path | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    on_cycle: Callable[[CycleEvaluation], None] | None = None,
    callback: Callback | None = None,
    report_specs: Sequence[str] = (),
    span_info: Callable[[CycleSpan], Mapping[str, Any]] | None = None,
) -> WalkForwardResult:
    """Train and evaluate every cycle in order (each resumable through its run folder).

    Cycle ``i`` trains in ``<out_dir>/cycle_<iii>/<run_id>/``. ``report_specs`` (metric
    specs such as ``worst_wfe``) are written to ``walk_forward.json`` with their values
    (``null`` + reason when undefined); ``span_info(span)`` adds fields to each cycle's
    ``span`` entry (dates of the rows).
    """
    if not settings.track_checkpoints:
        settings = settings.model_copy(update={"track_checkpoints": True})
    cycles: list[CycleEvaluation] = []
    base: dict[str, np.ndarray] | None = None
    for span in spans:
        problem = hooks.problem(span, base)
        cfg = {
            **(dict(config) if config else {}),
            "walk_forward": {"cycle": asdict(span), **wf.model_dump()},
        }
        cycle_dir = None if out_dir is None else Path(out_dir) / cycle_folder(span.cycle)
        result = train(
            problem, settings, cycle_dir, config=cfg, base_params=base, callback=callback
        )
        ev = evaluate_cycle(
            span, result, hooks, wf, checkpoint_interval=settings.checkpoint_interval
        )
        cycles.append(ev)
        logger.info(
            "cycle %d: IS %s=%.4g OOS=%.4g WFE=%.3g",
            span.cycle,
            wf.wfe_metric,
            ev.is_metrics[wf.wfe_metric],
            ev.oos_metrics[wf.wfe_metric],
            ev.wfe,
        )
        if on_cycle is not None:
            on_cycle(ev)
        base = hooks.warm_start(result) if wf.warm_start else None
    summary, effective, reasons = summarise(cycles, wf)
    res = WalkForwardResult(cycles, summary, effective, reasons, summary_notes(cycles, summary))
    if out_dir is not None:
        write_json_atomic(
            Path(out_dir) / "walk_forward.json",
            report_document(res, wf, report_specs=report_specs, span_info=span_info),
        )
    return res


def cycle_folder(cycle: int) -> str:
    """The folder name of a cycle's runs: ``cycle_000``, ``cycle_001``, ...

    >>> cycle_folder(7)
    'cycle_007'
    """
    return f"cycle_{cycle:03d}"


def _clean(x: float) -> float | None:
    """A finite float, or ``None`` (JSON ``null``): never ``NaN``/``Infinity``/``"nan"``."""
    x = float(x)
    return x if math.isfinite(x) else None


def report_document(
    res: WalkForwardResult,
    wf: WalkForwardSettings,
    *,
    report_specs: Sequence[str] = (),
    span_info: Callable[[CycleSpan], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``walk_forward.json`` content: strict JSON (undefined values ``null`` + a reason)."""
    metrics: dict[str, float | None] = {}
    metric_notes: dict[str, str] = {}
    for spec in report_specs:
        value, why = cycle_metric_value(res.cycles, spec)
        metrics[spec] = value
        if why:
            metric_notes[spec] = why
    return {
        "kind": "amm-walk-forward",
        "settings": wf.model_dump(mode="json"),
        "wfe_metric": wf.wfe_metric,
        "effective": res.effective,
        "reasons": res.reasons,
        "summary": {k: _clean(v) for k, v in res.summary.items()},
        "summary_notes": res.summary_notes,
        "metrics": metrics,
        "metric_notes": metric_notes,
        "cycles": [
            {
                "cycle": c.span.cycle,
                "folder": cycle_folder(c.span.cycle),
                "span": {**asdict(c.span), **(dict(span_info(c.span)) if span_info else {})},
                "is": {k: _clean(v) for k, v in c.is_metrics.items()},
                "oos": {k: _clean(v) for k, v in c.oos_metrics.items()},
                "wfe": _clean(c.wfe),
                "is_oos_gap": _clean(c.is_oos_gap),
                "rademacher": _clean(c.rademacher),
                "adjusted_oos_sharpe": _clean(c.adjusted_oos_sharpe),
                "notes": dict(c.notes),
                "iterations_run": c.iterations_run,
                "best_iteration": c.best_iteration,
                "params": {k: np.asarray(v).tolist() for k, v in c.params.items()},
                "run_dir": c.run_dir,
            }
            for c in res.cycles
        ],
    }


__all__ = [
    "CycleEvaluation",
    "CycleHooks",
    "CycleSpan",
    "SpanMetrics",
    "WalkForwardResult",
    "adjusted_sharpe",
    "cycle_folder",
    "cycle_metric",
    "cycle_metric_value",
    "cycle_spans",
    "evaluate_cycle",
    "rademacher_complexity",
    "report_document",
    "summarise",
    "summary_notes",
    "walk_forward",
    "walk_forward_efficiency",
]
