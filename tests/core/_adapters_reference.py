"""The adapters' own input checks as they were before they delegated to ``data.panel``.

Copied from the tree before the shared validators (``backtest/tables.py``,
``portfolio/frames.py``, ``amm/data.py`` at aecf567^) and reduced to "where is the first
error": each function returns ``(kind, row, column)`` of the error the old code raised
(rows 1-based data rows), or ``None``. ``tests/core/test_panel_validators.py`` checks the
new code names the same cell on generated tables.
"""

from __future__ import annotations

import numpy as np

Where = tuple[str, int | None, str | None] | None


def _first(bad: np.ndarray) -> tuple[int, int]:
    r, c = np.argwhere(bad)[0]
    return int(r), int(c)


def dates_error(keys: np.ndarray, null: np.ndarray) -> Where:
    """Old tables/frames rule: first null date, then first non-increasing step."""
    if null.any():
        return ("missing", int(np.flatnonzero(null)[0]) + 1, "date")
    if keys.size > 1 and not (np.diff(keys) > 0).all():
        return ("order", int(np.flatnonzero(np.diff(keys) <= 0)[0]) + 2, "date")
    return None


def tables_prices_error(values: np.ndarray, assets: list[str]) -> Where:
    """Old ``backtest.tables.check_prices``: first cell not finite or not > 0."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values > 0))
    if not bad.any():
        return None
    r, c = _first(bad)
    return ("price", r + 1, assets[c])


def tables_decisions_error(values: np.ndarray, assets: list[str]) -> Where:
    """Old ``backtest.tables.check_decisions``: first infinite or partly-empty-row cell."""
    nan = np.isnan(values)
    rows = nan.any(axis=1) & ~nan.all(axis=1)
    bad = (nan & rows[:, None]) | np.isinf(values)
    if not bad.any():
        return None
    r, c = _first(bad)
    return ("infinite" if np.isinf(values[r, c]) else "partial", r + 1, assets[c])


def frames_prices_error(values: np.ndarray, assets: list[str]) -> Where:
    """Old ``portfolio.frames._check_prices`` (cells only): any infinite, then <= 0."""
    inf = np.isinf(values)
    if inf.any():
        r, c = _first(inf)
        return ("infinite", r + 1, assets[c])
    with np.errstate(invalid="ignore"):
        neg = np.isfinite(values) & (values <= 0)
    if neg.any():
        r, c = _first(neg)
        return ("not_positive", r + 1, assets[c])
    return None


def amm_prices_error(values: np.ndarray, columns: list[str]) -> Where:
    """Old ``amm.data._check_prices``: first cell not finite or not > 0."""
    ok = np.isfinite(values) & (values > 0)
    if ok.all():
        return None
    r, c = _first(~ok)
    return ("price", r + 1, columns[c])


def amm_minutes_error(unix: np.ndarray) -> Where:
    """Old ``amm.data.check_minutes``: first step that is not 60,000 ms."""
    steps = np.diff(unix)
    bad = np.nonzero(steps != 60_000)[0]
    if bad.size:
        return ("minute", int(bad[0]) + 2, "unix")
    return None
