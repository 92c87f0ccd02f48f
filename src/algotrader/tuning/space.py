"""A typed search space in the seed-004 syntax: ``path``, ``type``, ``bounds``/``values``,
``transform``, ``when``.

Each :class:`ParamSpec` names a dot ``path`` into a run config (``training.svi.learning_rate``;
missing intermediate mappings are created when a candidate is applied), its ``type``
(float | int | categorical | bool), ``bounds`` [lo, hi] (float/int, lo < hi) or ``values``
(categorical/bool, non-empty), a ``transform`` (linear | log | log10 for float/int, log needs
lo > 0; none for categorical/bool) and ``when`` {categorical path: value or list of values}:
the parameter is active only when every condition holds.

Example:
    >>> space = SearchSpace.model_validate({"params": [
    ...     {"path": "model.kind", "type": "categorical", "values": ["a", "b"]},
    ...     {"path": "lr", "type": "float", "bounds": [1e-4, 1e-2], "transform": "log"},
    ... ]})
    >>> [p.path for p in space.params]
    ['model.kind', 'lr']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from algotrader.config_base import ConfigModel

__all__ = ["ParamSpec", "SearchSpace", "apply_candidate"]

ParamType = Literal["float", "int", "categorical", "bool"]
Transform = Literal["linear", "log", "log10", "none"]
Scalar = bool | int | float | str


class ParamSpec(ConfigModel):
    """One tunable parameter (see the module docstring for the rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_0-9][\w]*)*$")
    type: ParamType
    bounds: tuple[float, float] | None = None
    values: tuple[Scalar, ...] | None = None
    transform: Transform | None = None
    when: dict[str, Scalar | tuple[Scalar, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        numeric = self.type in ("float", "int")
        if numeric:
            if self.bounds is None or self.values is not None:
                raise ValueError(f"{self.path}: a {self.type} parameter takes bounds, not values")
            lo, hi = self.bounds
            if not lo < hi:
                raise ValueError(f"{self.path}: bounds need lo < hi, got {list(self.bounds)}")
            transform = self.transform or "linear"
            if transform == "none":
                raise ValueError(f"{self.path}: transform must be linear, log or log10")
            if transform in ("log", "log10") and lo <= 0:
                raise ValueError(f"{self.path}: a {transform} transform needs lo > 0")
            object.__setattr__(self, "transform", transform)
        else:
            if self.values is None or self.bounds is not None or not self.values:
                raise ValueError(f"{self.path}: a {self.type} parameter takes non-empty values")
            if self.type == "bool" and not all(isinstance(v, bool) for v in self.values):
                raise ValueError(f"{self.path}: bool values must be true/false")
            if len(set(self.values)) != len(self.values):
                raise ValueError(f"{self.path}: duplicate values")
            if self.transform not in (None, "none"):
                raise ValueError(f"{self.path}: a {self.type} parameter takes transform none")
            object.__setattr__(self, "transform", "none")
        return self

    def active(self, assignment: Mapping[str, Any]) -> bool:
        """True when every ``when`` condition holds in ``assignment`` (path -> value)."""
        for path, want in self.when.items():
            if path not in assignment:
                return False
            allowed = want if isinstance(want, tuple) else (want,)
            if assignment[path] not in allowed:
                return False
        return True


class SearchSpace(ConfigModel):
    """An ordered list of :class:`ParamSpec`; paths unique, ``when`` keys categorical/bool, acyclic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    params: tuple[ParamSpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        by_path = {p.path: p for p in self.params}
        if len(by_path) != len(self.params):
            seen: set[str] = set()
            dup = next(p.path for p in self.params if p.path in seen or seen.add(p.path))  # type: ignore[func-returns-value]
            raise ValueError(f"duplicate path {dup!r}")
        for p in self.params:
            for key in p.when:
                dep = by_path.get(key)
                if dep is None or dep.type not in ("categorical", "bool"):
                    raise ValueError(f"{p.path}: when-key {key!r} must be a categorical/bool path")
        self.categorical_order()  # raises on cycles
        return self

    def categorical_order(self) -> list[ParamSpec]:
        """Categorical/bool params ordered so each comes after its ``when`` dependencies."""
        cats = [p for p in self.params if p.type in ("categorical", "bool")]
        done: list[ParamSpec] = []
        pending = list(cats)
        while pending:
            ready = [p for p in pending if all(k in {d.path for d in done} for k in p.when)]
            if not ready:
                raise ValueError(f"cyclic when-conditions among {[p.path for p in pending]}")
            done.append(ready[0])
            pending.remove(ready[0])
        return done

    @property
    def continuous(self) -> list[ParamSpec]:
        """The float/int params, in config order."""
        return [p for p in self.params if p.type in ("float", "int")]


def apply_candidate(config: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with each dot path in ``params`` set (intermediates created).

    >>> apply_candidate({"a": {"b": 1}}, {"a.c.d": 2})
    {'a': {'b': 1, 'c': {'d': 2}}}
    """
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(config))
    for path, value in params.items():
        node = out
        *parents, leaf = path.split(".")
        for key in parents:
            nxt = node.get(key)
            if nxt is None:
                nxt = node[key] = {}
            elif not isinstance(nxt, dict):
                raise ValueError(f"cannot set {path!r}: {key!r} is not a mapping")
            node = nxt
        node[leaf] = value
    return out
