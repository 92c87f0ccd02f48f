"""Small simulation configs on the bundled data (weekly closes, 2000-2004)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def small_config(root: Path, label: str, **over: Any) -> dict[str, Any]:
    """A fast optimiser config: 9 groups of 26 weeks, 2 outer folds, 4 candidates."""
    cfg: dict[str, Any] = {
        "family": "optimiser",
        "data": {
            "start": "2000-01-01",
            "end": "2004-12-31",
            "output_root": str(root),
            "simulation_output_path": label,
        },
        "cv": {"warmup_len": 26, "group_len": 26, "q": 2, "embargo_len": 1, "max_inner_combos": 6},
        "outer": {"last_n": 2},
        "model": {"params": {"lookback": 12, "vola": 10, "corr": 20}},
        "tuning": {
            "num_samples": 4,
            "space": [
                {"path": "model.params.shrink", "type": "float", "bounds": [0.1, 0.9]},
                {"path": "model.params.lookback", "type": "int", "bounds": [4, 26]},
            ],
        },
        "cost": {"proportional_bps": 5.0},
        "diagnostics": {"pbo_blocks": 4},
    }
    for key, value in over.items():
        section, _, sub = key.partition("__")
        if sub:
            cfg.setdefault(section, {})[sub] = value
        else:
            cfg[section] = value
    return cfg
