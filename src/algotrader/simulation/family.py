"""The family protocol every allocation family implements for the nested-CV runner.

A *family* (the optimiser, the AMM pools, the NumPyro forecasts, a baseline) is tuned on
inner CPCV splits and judged on the outer walk-forward through two calls only:

``fit(data, train_idx, params, ctx) -> state``
    Learn whatever the family learns from the rows ``train_idx`` (sorted, purged and
    embargoed by the runner). It may read ``data`` at those rows only (features ``X``,
    targets ``y``, prices); ``state`` is any object (a pytree of arrays for a model, ``None``
    for a rule with nothing to learn).

``decide(state, data, test_idx, params, ctx) -> Decision``
    For every row ``t`` of ``test_idx`` (sorted) decide portfolio weights using information
    known after the close of row ``t`` (``X[t]``, prices up to ``t``, past targets
    ``y[s]`` with ``s + horizon <= t``) and never ``y[t]`` or anything later. A family that
    forecasts also returns the predictive mean and/or samples of ``y[test_idx]``.

Timing contract (spec section 1.2): ``X[t]`` is known after week ``t`` closes, ``y[t]`` is
the return realised over the *next* period, so weights decided at ``t`` earn ``y[t]``. The
runner, not the family, turns weights into net returns (through
:func:`algotrader.backtest.run_backtest` with the run's one ``CostModel``) and scores them.

``params`` is the family's parameter mapping after the tuning candidate was applied
(``model.params`` of the resolved run config; a tuning path ``model.params.vola`` lands as
``params["vola"]``). ``ctx`` (:class:`FamilyContext`) says where the call happens (inner split
or outer fold, candidate id, seed, cost model, predictive sample count).

A family may add its own scorers (e.g. ``energy_score`` for forecasts) through
:meth:`Family.scorers`; the runner looks a metric name up there first, then in the global
registry (:mod:`algotrader.simulation.scoring`).

Registry: :func:`register_family` (name -> zero-argument factory), :func:`get_family`,
:func:`available_families`. The built-in ``optimiser``, ``amm``, ``equal_weight`` and
``hodl`` families register themselves when :mod:`algotrader.simulation` is imported; the
forecasting package registers ``forecast`` the same way.

Example:
    >>> import numpy as np
    >>> data = SimulationData.from_arrays(
    ...     np.array([[0.01, 0.02], [0.00, -0.01], [0.03, 0.01]]), assets=("A", "B"))
    >>> class Flat:
    ...     name = "flat"
    ...     def fit(self, data, train_idx, params, ctx):
    ...         return None
    ...     def decide(self, state, data, test_idx, params, ctx):
    ...         n = len(test_idx)
    ...         return Decision(np.full((n, data.n_assets), 1.0 / data.n_assets))
    ...     def scorers(self):
    ...         return {}
    >>> register_family("flat", Flat, replace=True)
    >>> fam = get_family("flat")
    >>> isinstance(fam, Family)
    True
    >>> fam.decide(None, data, np.array([1, 2]), {}, FamilyContext()).weights.tolist()
    [[0.5, 0.5], [0.5, 0.5]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import ValidationError

from algotrader.artifacts import ContentHash
from algotrader.backtest.costs import CostModel
from algotrader.config_base import ConfigModel
from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, ShapeError

__all__ = [
    "Decision",
    "Family",
    "FamilyBase",
    "FamilyContext",
    "FamilyFactory",
    "FamilyParams",
    "Params",
    "Scorer",
    "SimulationData",
    "available_families",
    "family_params_model",
    "get_family",
    "register_family",
    "resolve_family_params",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Params = Mapping[str, Any]
Phase = Literal["inner", "outer", "prebuild"]


# ------------------------------------------------------------------------- data container
@dataclass(frozen=True, eq=False)
class SimulationData:
    """Everything a family may read, aligned on one weekly (or daily) calendar of T rows.

    Attributes:
        dates: ``datetime64[us]`` (T,), the decision times (row label ``tau_t``).
        assets: asset names (A,).
        y: (T, A) float64 target returns; ``y[t]`` is realised over the period after ``t``
            (simple returns unless ``target_kind`` says otherwise); NaN where missing.
        y_mask: (T, A) bool, True where ``y`` is observed (finite).
        X: optional (T, A, F) float64 features known at ``t`` (NaN where missing).
        x_mask: (T, A, F) bool observed mask of ``X`` (None when ``X`` is None).
        features: feature names (F,) or None.
        prices: optional (T, A) positive close prices at ``dates`` (for families that trade
            on prices, e.g. the optimiser's volatility or the AMM pools).
        horizon: label length ``h`` in rows (``y[t]`` depends on rows ``(t, t + h]``).
        periods_per_year: annualisation of the row frequency (52 for weekly).
        target_kind: what ``y`` is (``"simple"`` or ``"log"`` returns, and over which span).
        extra: read-only extra arrays a family needs (e.g. minute prices per week for AMMs).

    Arrays are read-only, so a family can never write into the shared data.
    """

    dates: NDArray[np.datetime64]
    assets: tuple[str, ...]
    y: FloatArray
    y_mask: NDArray[np.bool_]
    X: FloatArray | None = None
    x_mask: NDArray[np.bool_] | None = None
    features: tuple[str, ...] | None = None
    prices: FloatArray | None = None
    horizon: int = 1
    periods_per_year: float = 52.0
    target_kind: str = "simple"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        y = np.asarray(self.y, dtype=np.float64)
        if y.ndim != 2:
            raise ShapeError(f"y must be (T, A), got shape {y.shape}", key="y")
        t_len, a = y.shape
        mask = np.asarray(self.y_mask, dtype=bool)
        if mask.shape != y.shape:
            raise ShapeError(f"y_mask shape {mask.shape} != y shape {y.shape}", key="y_mask")
        if not np.isfinite(y[mask]).all():
            raise ShapeError("y is not finite where y_mask is True", key="y")
        dates = np.asarray(self.dates).astype("datetime64[us]")
        if dates.shape != (t_len,):
            raise ShapeError(f"{dates.shape[0]} dates for {t_len} rows", key="dates")
        if len(self.assets) != a:
            raise ShapeError(f"{len(self.assets)} asset names for {a} columns", key="assets")
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise ConfigError(f"horizon must be an integer >= 1, got {self.horizon}", key="horizon")
        sets: dict[str, Any] = {
            "dates": dates,
            "assets": tuple(str(s) for s in self.assets),
            "y": y,
            "y_mask": mask,
        }
        if self.X is not None:
            x = np.asarray(self.X, dtype=np.float64)
            if x.ndim != 3 or x.shape[:2] != (t_len, a):
                raise ShapeError(f"X must be ({t_len}, {a}, F), got {x.shape}", key="X")
            xm = np.isfinite(x) if self.x_mask is None else np.asarray(self.x_mask, dtype=bool)
            if xm.shape != x.shape:
                raise ShapeError(f"x_mask shape {xm.shape} != X shape {x.shape}", key="x_mask")
            feats = self.features or tuple(f"f{i}" for i in range(x.shape[2]))
            if len(feats) != x.shape[2]:
                raise ShapeError(f"{len(feats)} feature names for {x.shape[2]}", key="features")
            sets.update(X=x, x_mask=xm, features=tuple(str(f) for f in feats))
        if self.prices is not None:
            p = np.asarray(self.prices, dtype=np.float64)
            if p.shape != (t_len, a):
                raise ShapeError(f"prices must be ({t_len}, {a}), got {p.shape}", key="prices")
            sets["prices"] = p
        for name, value in sets.items():
            if isinstance(value, np.ndarray):
                value = np.ascontiguousarray(value)
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    # -------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        y: ArrayLike,
        *,
        assets: Sequence[str] | None = None,
        dates: ArrayLike | None = None,
        **kwargs: Any,
    ) -> SimulationData:
        """Build from plain arrays (dates default to consecutive Fridays from 2000-01-07)."""
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim != 2:
            raise ShapeError(f"y must be (T, A), got shape {arr.shape}", key="y")
        names = tuple(assets) if assets is not None else tuple(f"a{i}" for i in range(arr.shape[1]))
        if dates is None:
            start = np.datetime64("2000-01-07T00:00:00", "us")
            dates = start + np.arange(arr.shape[0]) * np.timedelta64(7, "D")
        return cls(dates=np.asarray(dates), assets=names, y=arr, y_mask=np.isfinite(arr), **kwargs)

    @classmethod
    def from_panels(
        cls,
        y: Panel,
        *,
        X: Panel | None = None,
        prices: Panel | None = None,
        **kwargs: Any,
    ) -> SimulationData:
        """Build from :class:`~algotrader.data.panel.Panel` objects on the same dates/assets."""
        for name, p in (("X", X), ("prices", prices)):
            if p is None:
                continue
            if p.assets != y.assets:
                raise ShapeError(f"{name} assets {p.assets} != target assets {y.assets}", key=name)
            if p.dates.shape != y.dates.shape or (p.dates != y.dates).any():
                raise ShapeError(f"{name} dates differ from the target's", key=name)
        return cls(
            dates=y.dates,
            assets=y.assets,
            y=np.where(y.mask, y.values, np.nan),
            y_mask=y.mask,
            X=None if X is None else np.where(X.mask, X.values, np.nan),
            x_mask=None if X is None else X.mask,
            features=None if X is None else X.features,
            prices=None if prices is None else np.where(prices.mask, prices.values, np.nan),
            **kwargs,
        )

    # -------------------------------------------------------------------- views
    @property
    def n_dates(self) -> int:
        """T, the number of rows."""
        return int(self.y.shape[0])

    @property
    def n_assets(self) -> int:
        """A, the number of assets."""
        return int(self.y.shape[1])

    def truncate(self, n_rows: int) -> SimulationData:
        """The first ``n_rows`` rows (``data.end``): nothing after them survives."""
        if not 1 <= n_rows <= self.n_dates:
            raise ShapeError(f"cannot keep {n_rows} of {self.n_dates} rows", key="data.end")
        extra = {
            k: (v[:n_rows] if isinstance(v, np.ndarray) and v.shape[:1] == (self.n_dates,) else v)
            for k, v in self.extra.items()
        }
        return SimulationData(
            dates=self.dates[:n_rows],
            assets=self.assets,
            y=self.y[:n_rows],
            y_mask=self.y_mask[:n_rows],
            X=None if self.X is None else self.X[:n_rows],
            x_mask=None if self.x_mask is None else self.x_mask[:n_rows],
            features=self.features,
            prices=None if self.prices is None else self.prices[:n_rows],
            horizon=self.horizon,
            periods_per_year=self.periods_per_year,
            target_kind=self.target_kind,
            extra=extra,
        )

    def content_hash(self) -> str:
        """SHA-256 over dates, assets, targets, features and prices (the input hash)."""
        cached = self.__dict__.get("_content_hash")
        if cached is not None:
            return str(cached)
        h = ContentHash()
        h.array(self.dates.astype(np.int64))
        h.update("\x1f".join(self.assets))
        for arr in (self.y, self.y_mask, self.X, self.x_mask, self.prices):
            if arr is None:
                h.update(b"|")
            else:
                h.array(arr)
        for key in sorted(self.extra):
            value = self.extra[key]
            if isinstance(value, np.ndarray):
                h.update(key).array(value)
        h.update(f"{self.horizon}|{self.periods_per_year}|{self.target_kind}")
        if self.features:
            h.update("\x1f".join(self.features))
        digest = h.hexdigest()
        object.__setattr__(self, "_content_hash", digest)
        return digest


# ------------------------------------------------------------------------- call context
@dataclass(frozen=True)
class FamilyContext:
    """Where a ``fit``/``decide`` call happens (the source's ``run_context``, typed).

    Attributes:
        phase: ``"inner"`` (a CPCV split of an outer fold), ``"outer"`` (a walk-forward
            test block) or ``"prebuild"``.
        outer_k: the outer fold's test group id (-1 when not in a fold).
        split_id: inner split id (-1 in the outer phase).
        candidate_id: tuning candidate id (-1 for a baseline).
        seed: a deterministic seed for this call (derived from the run seed, fold, split
            and candidate); families must draw randomness from it only.
        cost: the run's one cost model.
        num_samples: predictive samples wanted (``predictive.num_samples_inner|outer``).
        stub: True in ``simulation_mode: stub`` (families should do no real work).
    """

    phase: Phase = "inner"
    outer_k: int = -1
    split_id: int = -1
    candidate_id: int = -1
    seed: int = 0
    cost: CostModel = field(default_factory=CostModel)
    num_samples: int = 0
    stub: bool = False


# ---------------------------------------------------------------------------- decision
@dataclass(frozen=True)
class Decision:
    """What ``decide`` returns for ``n`` test rows and ``A`` assets.

    Attributes:
        weights: (n, A) float64 target weights (fractions of NAV; the rest is cash); a row
            that is entirely NaN means "hold" (no trade, weights drift).
        mean: optional (n, A) predictive mean of ``y[test_idx]``.
        samples: optional (S, n, A) predictive samples of ``y[test_idx]``.
        payload: free-form, JSON-able or array-valued extras (selection payloads,
            diagnostics); the runner stores it but never interprets it.
        returns: optional (n,) realised net returns of the family's own accounting over
            the test rows (an AMM pool's value path: arbitrage and fees inside the pool
            simulator; NaN = failed, e.g. a pool whose value reached 0: a NaN score). When
            set, the runner scores and reports these instead of the backtest of ``weights``
            (which then only describe the holdings). They are
            realised *after* each row's decision; the decision itself stays causal.
    """

    weights: FloatArray
    mean: FloatArray | None = None
    samples: FloatArray | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    returns: FloatArray | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 2:
            raise ShapeError(f"weights must be (n, A), got shape {w.shape}", key="weights")
        nan_rows = np.isnan(w).all(axis=1) if w.shape[1] else np.zeros(w.shape[0], bool)
        if not np.isfinite(w[~nan_rows]).all():
            raise ShapeError(
                "weights hold NaN or inf in a row that is not entirely NaN",
                key="weights",
                hint="decide every asset of a row, or set the whole row NaN to hold",
            )
        object.__setattr__(self, "weights", w)
        if self.mean is not None:
            m = np.asarray(self.mean, dtype=np.float64)
            if m.shape != w.shape:
                raise ShapeError(f"mean shape {m.shape} != weights {w.shape}", key="mean")
            object.__setattr__(self, "mean", m)
        if self.samples is not None:
            s = np.asarray(self.samples, dtype=np.float64)
            if s.ndim != 3 or s.shape[1:] != w.shape:
                raise ShapeError(f"samples must be (S, {w.shape}), got {s.shape}", key="samples")
            object.__setattr__(self, "samples", s)
        if self.returns is not None:
            r = np.asarray(self.returns, dtype=np.float64)
            if r.shape != w.shape[:1]:  # NaN allowed: failed accounting, a NaN score
                raise ShapeError(
                    f"returns must have shape ({w.shape[0]},), got {r.shape}", key="returns"
                )
            object.__setattr__(self, "returns", r)

    def check(self, n_rows: int, n_assets: int, family: str) -> Decision:
        """Raise ShapeError unless the weights are ``(n_rows, n_assets)``."""
        if self.weights.shape != (n_rows, n_assets):
            raise ShapeError(
                f"family {family!r} decided weights of shape {self.weights.shape}, "
                f"expected ({n_rows}, {n_assets})",
                key="weights",
            )
        return self


# ---------------------------------------------------------------------------- protocols
@runtime_checkable
class Scorer(Protocol):
    """``scorer(data, test_idx, decision, net_returns, ctx) -> float``, higher is better.

    ``net_returns`` (n,) are the decision's net returns over the test rows, computed once by
    the runner (backtest + cost model); scorers of forecasts use ``decision.mean`` /
    ``decision.samples`` against ``data.y[test_idx]`` instead. NaN means "failed".
    """

    def __call__(
        self,
        data: SimulationData,
        test_idx: IntArray,
        decision: Decision,
        net_returns: FloatArray,
        ctx: FamilyContext,
        /,
    ) -> float: ...


@runtime_checkable
class Family(Protocol):
    """An allocation family (see the module docstring for the contract)."""

    name: str

    def fit(
        self,
        data: SimulationData,
        train_idx: IntArray,
        params: Mapping[str, Any],
        ctx: FamilyContext,
    ) -> Any:
        """Learn from the rows ``train_idx`` only; return the family's state."""
        ...

    def decide(
        self,
        state: Any,
        data: SimulationData,
        test_idx: IntArray,
        params: Mapping[str, Any],
        ctx: FamilyContext,
    ) -> Decision:
        """Weights (and optional forecasts) for each row of ``test_idx``, causally."""
        ...

    def scorers(self) -> Mapping[str, Scorer]:
        """Family-provided scorers by metric name (may be empty)."""
        ...


class FamilyBase:
    """Optional base class of a family: nothing to fit, no own scorers (override as needed).

    Subclasses set ``name`` and define ``decide`` (see :class:`Family`).
    """

    name = "base"

    def fit(
        self, data: SimulationData, train_idx: IntArray, params: Params, ctx: FamilyContext
    ) -> Any:
        """Nothing to learn: ``None``."""
        return None

    def scorers(self) -> Mapping[str, Scorer]:
        """No family-specific scorers."""
        return {}


class FamilyParams(ConfigModel):
    """Base of a family's typed ``model.params`` (frozen, unknown keys refused).

    A family registers its subclass with :func:`register_family` (``params=``); the run
    config validates ``model.params`` against it at load (errors name
    ``model.params.<key>``), the tuning paths ``model.params.<key>`` must name one of its
    fields, and the run id hashes its resolved dump (defaults included). A family registered
    without one takes no parameters (this base: every key refused).
    """


FamilyFactory = Callable[[], Family]
_FAMILIES: dict[str, FamilyFactory] = {}
_PARAMS: dict[str, type[FamilyParams]] = {}


def _ensure_builtins(name: str) -> None:
    """Import the module that registers ``name`` (built-ins and ``forecast`` are lazy)."""
    if name not in _FAMILIES:
        import algotrader.simulation.families  # registers the built-ins
    if name == "forecast" and name not in _FAMILIES:
        import algotrader.forecasting.family  # noqa: F401  (registers itself on import)


def family_params_model(name: str) -> type[FamilyParams]:
    """The typed ``model.params`` model of the family registered as ``name``.

    Raises:
        ConfigError: unknown family (the message lists the registered ones).
    """
    _ensure_builtins(name)
    if name not in _FAMILIES:
        raise ConfigError(
            f"unknown family {name!r}",
            key="family",
            hint=f"use one of {sorted(_FAMILIES)} or register it with register_family()",
        )
    return _PARAMS.get(name, FamilyParams)


def resolve_family_params(name: str, params: Mapping[str, Any]) -> FamilyParams:
    """``params`` validated by the family's typed model (defaults filled in).

    Raises:
        ConfigError: unknown family, unknown key or bad value; the key is
            ``model.params.<key>`` (the first failing one; all of them in ``errors``).
    """
    model = family_params_model(name)
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        ordered = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        errors = [
            (".".join(("model", "params", *(str(p) for p in e["loc"]))), str(e["msg"]))
            for e in ordered
        ]
        key, msg = errors[0]
        fields = ", ".join(sorted(model.model_fields)) or "none"
        raise ConfigError(
            f"invalid {name} family parameter: {msg} ({key})",
            key=key,
            hint=f"parameters of family {name!r}: {fields}",
            errors=errors,
        ) from None


def register_family(
    name: str,
    factory: FamilyFactory,
    *,
    replace: bool = False,
    params: type[FamilyParams] | None = None,
) -> None:
    """Register ``factory`` (a zero-argument callable, e.g. the class) under ``name``.

    ``params``: the family's typed ``model.params`` model (None: the family takes none).

    Raises:
        ConfigError: ``name`` is already registered and ``replace`` is False.
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"family name {name!r} must be alphanumeric (with _ or -)", key="family")
    if name in _FAMILIES and not replace:
        raise ConfigError(
            f"family {name!r} is already registered",
            key="family",
            hint="pick another name or pass replace=True",
        )
    _FAMILIES[name] = factory
    if params is None:
        _PARAMS.pop(name, None)
    else:
        _PARAMS[name] = params


def get_family(name: str) -> Family:
    """A fresh instance of the family registered as ``name``.

    Raises:
        ConfigError: unknown name (the message lists the registered ones).
    """
    if name == "forecast" and name not in _FAMILIES:
        import algotrader.forecasting.family  # noqa: F401  (registers itself on import)
    try:
        factory = _FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown family {name!r}",
            key="family",
            hint=f"use one of {sorted(_FAMILIES)} or register it with register_family()",
        ) from None
    return factory()


def available_families() -> list[str]:
    """The registered family names, sorted."""
    return sorted(_FAMILIES)
