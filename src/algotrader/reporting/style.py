"""One plot style for every report figure, and figure -> self-contained data URI.

Figures are rendered as SVG with text converted to paths (no font files, no network), base64
encoded into ``data:`` URIs used as ``<img src>``: an image cannot run script, so user strings
drawn into a figure (asset names) can never become markup.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.figure import Figure

__all__ = ["PALETTE", "fig_to_uri", "figure"]

PALETTE = ("#1f5f8b", "#e07b39", "#3a9d5d", "#b03a48", "#7d5ba6", "#8c6d31", "#4c9bb0", "#d4a017")

_RC: Any = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "legend.frameon": False,
    "legend.fontsize": 8,
    "svg.fonttype": "path",
    "svg.hashsalt": "algotrader",
    "path.simplify": True,
}


@contextmanager
def figure(
    width: float = 9.0, height: float = 3.2, nrows: int = 1, ncols: int = 1, **kwargs: Any
) -> Iterator[tuple[Figure, Any]]:
    """A figure in the report style; closed on exit."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def fig_to_uri(fig: Figure) -> str:
    """The figure as a ``data:image/svg+xml;base64,...`` URI (deterministic bytes)."""
    buf = io.BytesIO()
    with plt.rc_context(_RC):
        fig.tight_layout()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "algotrader"})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_to_uri(data: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
