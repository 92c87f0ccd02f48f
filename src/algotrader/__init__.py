"""algotrader: systematic multi-asset allocation research without look-ahead."""

from __future__ import annotations

import os as _os
from pathlib import Path as _Path


def _numba_cache_dir() -> str:
    """Where numba caches compiled kernels: never beside the installed sources.

    ``$NUMBA_CACHE_DIR`` if set; else ``$ALGOTRADER_HOME/cache/numba`` if ``ALGOTRADER_HOME``
    is set; else ``$XDG_CACHE_HOME/algotrader/numba`` (default ``~/.cache/algotrader/numba``).
    Set here, before any module imports numba (numba reads it at import).
    """
    if _os.environ.get("NUMBA_CACHE_DIR"):
        return _os.environ["NUMBA_CACHE_DIR"]
    if _os.environ.get("ALGOTRADER_HOME"):
        return str(_Path(_os.environ["ALGOTRADER_HOME"]) / "cache" / "numba")
    base = _os.environ.get("XDG_CACHE_HOME") or str(_Path.home() / ".cache")
    return str(_Path(base) / "algotrader" / "numba")


_os.environ["NUMBA_CACHE_DIR"] = _numba_cache_dir()

__version__ = "0.1.0"

__all__ = ["__version__"]
