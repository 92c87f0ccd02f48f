"""Paths and run-time settings from environment variables (and an optional ``.env``).

Every setting has a default under one local data directory (``ALGOTRADER_HOME``,
default ``./algotrader_data``) so the default run needs no configuration.

| variable | default | meaning |
|---|---|---|
| ``ALGOTRADER_HOME`` | ``./algotrader_data`` | root of every default below |
| ``DATA_SOURCE`` | ``$HOME/raw`` | raw bars: ``<asset>/<YYYY>/hist_data_YYYY-MM.csv`` |
| ``DATA_LAKE_SOURCE`` | ``$HOME/lake`` | cleaned daily/weekly OHLC and returns, per ISO week |
| ``FEATURE_STORE_SOURCE`` | ``$HOME/features`` | feature groups |
| ``MODEL_STORE_SOURCE`` | ``$HOME/models`` | trained parameters and states |
| ``SIMULATION_SOURCE`` | ``$HOME/simulation`` | evaluation and tuning artifacts |
| ``MAX_PARALLEL_REQUESTS`` | ``4`` | provider download concurrency |
| ``LOG_LEVEL`` | ``INFO`` | ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` |
| ``LOG_DEST`` | ``console`` | ``console``, ``file`` or ``both`` |
| ``LOG_FILE_PATH`` | (none) | JSON-lines log file; required when ``LOG_DEST`` includes file |
| ``ALGOTRADER_THREADS`` | (auto) | solve threads of the optimiser batch (:func:`threads_from_env`) |

Example:
    >>> s = Settings.from_env({"ALGOTRADER_HOME": "/tmp/at", "LOG_LEVEL": "debug"})
    >>> str(s.data_lake_source), s.log_level
    ('/tmp/at/lake', 'DEBUG')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field, field_validator, model_validator

from algotrader.config_base import ConfigModel
from algotrader.errors import ConfigError

#: The environment variable of each setting (errors of :meth:`Settings.from_env` name it).
ENV_VARS: dict[str, str] = {
    "home": "ALGOTRADER_HOME",
    "data_source": "DATA_SOURCE",
    "data_lake_source": "DATA_LAKE_SOURCE",
    "feature_store_source": "FEATURE_STORE_SOURCE",
    "model_store_source": "MODEL_STORE_SOURCE",
    "simulation_source": "SIMULATION_SOURCE",
    "max_parallel_requests": "MAX_PARALLEL_REQUESTS",
    "log_level": "LOG_LEVEL",
    "log_dest": "LOG_DEST",
    "log_file_path": "LOG_FILE_PATH",
}


class LogDest(StrEnum):
    """Where log records go."""

    console = "console"
    file = "file"
    both = "both"


class Settings(ConfigModel):
    """Resolved settings. Build with :meth:`from_env`, not directly from ``os.environ``.

    A :class:`~algotrader.config_base.ConfigModel`: direct construction names the field in
    its :class:`ConfigError`; :meth:`from_env` names the environment variable (and the
    ``.env`` file when the value came from it).
    """

    home: Path
    data_source: Path
    data_lake_source: Path
    feature_store_source: Path
    model_store_source: Path
    simulation_source: Path
    max_parallel_requests: int = Field(4, ge=1, le=256)
    log_level: str = "INFO"
    log_dest: LogDest = LogDest.console
    log_file_path: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> str:
        level = str(value).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}; use DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _file_needs_path(self) -> Settings:
        if self.log_dest in (LogDest.file, LogDest.both) and self.log_file_path is None:
            raise ConfigError(
                "LOG_DEST includes 'file' but LOG_FILE_PATH is not set",
                key="log_file_path",
                hint="set LOG_FILE_PATH or use LOG_DEST=console",
            )
        return self

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, dotenv: str | os.PathLike[str] | None = ".env"
    ) -> Settings:
        """Resolve settings from ``env`` (default ``os.environ``) over an optional ``.env`` file.

        Process environment wins over the ``.env`` file. Raises :class:`ConfigError`
        naming the variable on an invalid value.
        """
        values: dict[str, str] = {}
        from_file: set[str] = set()
        if env is None:
            if dotenv is not None and Path(dotenv).is_file():
                values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
                from_file = set(values) - set(os.environ)
            values.update(os.environ)
        else:
            values.update(env)
        home = Path(values.get("ALGOTRADER_HOME", "algotrader_data"))

        def path(name: str, sub: str) -> Path:
            return Path(values[name]) if values.get(name) else home / sub

        raw = {
            "home": home,
            "data_source": path("DATA_SOURCE", "raw"),
            "data_lake_source": path("DATA_LAKE_SOURCE", "lake"),
            "feature_store_source": path("FEATURE_STORE_SOURCE", "features"),
            "model_store_source": path("MODEL_STORE_SOURCE", "models"),
            "simulation_source": path("SIMULATION_SOURCE", "simulation"),
            "max_parallel_requests": values.get("MAX_PARALLEL_REQUESTS", "4"),
            "log_level": values.get("LOG_LEVEL", "INFO"),
            "log_dest": values.get("LOG_DEST", "console").lower(),
            "log_file_path": values.get("LOG_FILE_PATH") or None,
        }
        try:
            return cls.from_mapping(raw)
        except ConfigError as exc:
            field = (exc.key or "").split(".")[0]
            var = ENV_VARS.get(field, exc.key or "LOG_FILE_PATH")
            errors = exc.context.get("errors") or [(exc.key, exc.message)]
            msg = str(errors[0][1]).removeprefix("Value error, ")
            raise ConfigError(
                f"invalid setting {var}: {msg}",
                file=str(dotenv) if var in from_file else None,
                key=var,
                hint="correct the environment variable or the .env file (see .env.example)",
                errors=[(ENV_VARS.get(str(k).split(".")[0], str(k)), m) for k, m in errors],
            ) from None


def threads_from_env(env: Mapping[str, str] | None = None) -> int | None:
    """``ALGOTRADER_THREADS`` (default ``os.environ``) as an int, or None when unset/empty.

    Values below 1 mean 1. Read on every call (not cached), so a change of the process
    environment takes effect at the next optimiser run. Raises :class:`ConfigError` on a
    non-integer value.

    Example:
        >>> threads_from_env({"ALGOTRADER_THREADS": "2"}), threads_from_env({})
        (2, None)
    """
    raw = (os.environ if env is None else env).get("ALGOTRADER_THREADS", "").strip()
    if not raw:
        return None
    try:
        return max(1, int(raw))
    except ValueError as exc:
        raise ConfigError(
            f"ALGOTRADER_THREADS must be a positive integer, got {raw!r}",
            key="ALGOTRADER_THREADS",
            hint="unset it to let the optimiser choose",
        ) from exc


__all__ = ["ENV_VARS", "LogDest", "Settings", "threads_from_env"]
