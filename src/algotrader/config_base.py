"""One base class for configuration models: frozen, unknown keys refused, and every pydantic
validation error turned into :class:`~algotrader.errors.ConfigError` naming the key (dot path)
and, when loaded from a file, the file.

Construct with keywords (``Model(a=1)``), from a mapping (:meth:`ConfigModel.from_mapping`,
``source`` names where it came from) or from YAML (:meth:`ConfigModel.from_yaml`, read with
``yaml.safe_load``). Every error message names the first failing key; the error's ``context``
holds all of them (``errors``: list of ``(key, message)``).

Example:
    >>> class Inner(ConfigModel):
    ...     n: int = 1
    >>> class Outer(ConfigModel):
    ...     inner: Inner = Inner()
    >>> _ = Outer.model_rebuild(_types_namespace={"Inner": Inner})
    >>> Outer.from_mapping({"inner": {"n": "x"}}, source="run.yml")
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: invalid Outer: Input should be a valid integer, unable to parse string as an integer (inner.n) [file=run.yml, key=inner.n] -- fix: keys of Outer: inner
    >>> Outer(bogus=1)
    Traceback (most recent call last):
    ...
    algotrader.errors.ConfigError: invalid Outer: Extra inputs are not permitted (bogus) [key=bogus] -- fix: keys of Outer: inner
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Self, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from algotrader.errors import ConfigError

__all__ = ["ConfigModel", "config_error", "error_key"]

# > 0 while a ConfigModel is being validated: nested models let pydantic's error through so
# the outermost model reports the full dot path.
_DEPTH: ContextVar[int] = ContextVar("algotrader_config_depth", default=0)


@contextmanager
def _nested() -> Iterator[bool]:
    depth = _DEPTH.get()
    token = _DEPTH.set(depth + 1)
    try:
        yield depth == 0
    finally:
        _DEPTH.reset(token)


def _members(ann: Any) -> list[Any]:
    """The alternatives of an annotation (``Annotated`` unwrapped, ``None`` left out)."""
    while get_origin(ann) is Annotated:
        ann = get_args(ann)[0]
    if get_origin(ann) in (Union, types.UnionType):
        return [m for a in get_args(ann) for m in _members(a) if m is not type(None)]
    return [ann]


def _step(ann: Any, elem: int | str) -> tuple[bool, Any]:
    """Whether ``elem`` of an error location is a key, and the annotation below it."""
    if ann is None:
        return True, None
    members = _members(ann)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(elem, str):
        for m in models:
            if elem in m.model_fields:
                return True, m.model_fields[elem].annotation
        if len(members) > 1:
            # pydantic names the union member it tried (a discriminator value such as
            # ``sliding_window`` or a type name such as ``str``): not a key the user wrote.
            for m in models:
                if m.__name__ == elem or any(f.default == elem for f in m.model_fields.values()):
                    return False, m
            return False, None
    if len(members) == 1:
        origin, args = get_origin(members[0]), get_args(members[0])
        if origin in (list, tuple, set, frozenset, Sequence) and isinstance(elem, int) and args:
            return True, args[0]
        if origin in (dict, Mapping, typing.Mapping) and len(args) == 2:
            return True, args[1]
    return True, None


def error_key(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """The dot path of a pydantic error location, without union member tags.

    >>> class Ticker(ConfigModel):
    ...     symbol: str
    >>> class Section(ConfigModel):
    ...     tickers: tuple[str | Ticker, ...] = ()
    >>> _ = Section.model_rebuild(_types_namespace={"Ticker": Ticker})
    >>> error_key(Section, ("tickers", 0, "Ticker", "symbol"))
    'tickers.0.symbol'
    """
    parts: list[str] = []
    ann: Any = model
    for elem in loc:
        keep, ann = _step(ann, elem)
        if keep:
            parts.append(str(elem))
    return ".".join(parts) or "<root>"


def config_error(
    exc: ValidationError, model: type[BaseModel], source: str | Path | None = None
) -> ConfigError:
    """The :class:`ConfigError` for a pydantic ``ValidationError`` of ``model``."""
    # A misspelt key also makes the intended one "missing": name the unknown key first.
    ordered = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    errors = [(error_key(model, e["loc"]), str(e["msg"])) for e in ordered]
    key, msg = errors[0]
    more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
    return ConfigError(
        f"invalid {model.__name__}: {msg} ({key}){more}",
        file=None if source is None else str(source),
        key=key,
        hint=f"keys of {model.__name__}: " + ", ".join(sorted(model.model_fields)),
        errors=errors,
    )


class ConfigModel(BaseModel):
    """Base of every configuration section (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        """Validate; any error raises :class:`ConfigError` naming the key."""
        with _nested() as outermost:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                if not outermost:
                    raise
                raise config_error(exc, type(self)) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str | Path | None = None) -> Self:
        """Validate a mapping (e.g. parsed YAML); errors name the key and ``source``."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{cls.__name__} must be a mapping, got {type(data).__name__}",
                file=None if source is None else str(source),
                hint="write key: value pairs",
            )
        try:
            with _nested():
                return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise config_error(exc, cls, source) from None
        except ConfigError as exc:
            if source is not None and exc.file is None:
                raise ConfigError(
                    exc.message, file=str(source), key=exc.key, hint=exc.hint, **exc.context
                ) from None
            raise

    @classmethod
    def from_yaml(cls, path: str | Path, *, section: str | None = None) -> Self:
        """Load ``path`` (``yaml.safe_load``), optionally one top-level ``section`` of it."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {cls.__name__} config: {exc}", file=str(p)) from None
        data = {} if data is None else data
        if section is not None:
            if not isinstance(data, Mapping) or section not in data:
                raise ConfigError(f"missing section {section!r}", file=str(p), key=section)
            data = data[section] or {}
        return cls.from_mapping(data, source=p)
