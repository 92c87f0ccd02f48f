"""Logging set-up: console (rich) and/or JSON lines to a file.

Library code only calls ``logging.getLogger(__name__)``; the CLI calls
:func:`configure_logging` once.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from algotrader.settings import LogDest, Settings


class JsonLineFormatter(logging.Formatter):
    """Format a record as one JSON object per line (time in UTC ISO-8601).

    Example:
        >>> rec = logging.LogRecord("x", logging.INFO, "f.py", 1, "hello %s", ("w",), None)
        >>> json.loads(JsonLineFormatter().format(rec))["message"]
        'hello w'
    """

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure_logging(settings: Settings, *, quiet: bool = False) -> None:
    """Attach handlers to the ``algotrader`` logger according to ``settings``."""
    logger = logging.getLogger("algotrader")
    logger.handlers.clear()
    logger.setLevel(settings.log_level)
    logger.propagate = False
    if settings.log_dest in (LogDest.console, LogDest.both):
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setLevel(logging.WARNING if quiet else settings.log_level)
        logger.addHandler(handler)
    if settings.log_dest in (LogDest.file, LogDest.both):
        assert settings.log_file_path is not None  # enforced by Settings
        Path(settings.log_file_path).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(settings.log_file_path, encoding="utf-8")
        fh.setFormatter(JsonLineFormatter())
        logger.addHandler(fh)


__all__ = ["JsonLineFormatter", "configure_logging"]
