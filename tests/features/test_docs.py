"""docs/features.md's feature table equals the registry (docs and code cannot drift)."""

from __future__ import annotations

from pathlib import Path

from algotrader.features.docs import replace_table
from algotrader.features.registry import all_features

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_docs_table_matches_registry():
    text = DOC.read_text(encoding="utf-8")
    assert replace_table(text) == text, "run: python -m algotrader.features.docs docs/features.md"
    for f in all_features():
        assert f"`{f.name}`" in text
