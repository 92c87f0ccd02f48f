"""Fixtures of the simulation tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._configs import small_config


@pytest.fixture
def make_config(tmp_path: Path) -> Any:
    def make(label: str, **over: Any) -> dict[str, Any]:
        return small_config(tmp_path, label, **over)

    return make
