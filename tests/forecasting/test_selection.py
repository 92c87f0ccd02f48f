"""Spec section 8 selection on a hand-made table; bootstrap SE; dense ranks; bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from algotrader.errors import ConfigError
from algotrader.forecasting.selection import (
    SplitPayload,
    bootstrap_se,
    dense_rank,
    global_report,
    posterior_l1,
    select_fold,
)

G0 = np.array([0, 0, 1, 1])
G1 = np.array([1, 1, 2, 2])


def _cand(es0, es1, crps: float, ql: float) -> list[SplitPayload]:
    def p(split, g, es):
        n = len(es)
        return SplitPayload(
            split, g, np.asarray(es, float), np.full((n, 2), crps), np.full((n, 2), ql)
        )

    return [p(0, G0, es0), p(1, G1, es1)]


def _table() -> dict[str, list[SplitPayload]]:
    return {
        # group means: A g0=1, g1=(2+2)/2=2, g2=3 -> ES 2
        "A": _cand([1, 1, 2, 2], [2, 2, 3, 3], crps=0.9, ql=0.2),
        # B: g0=1.1, g1=2.1, g2=3.1 -> ES 2.1
        "B": _cand([1.1, 1.1, 2.1, 2.1], [2.1, 2.1, 3.1, 3.1], crps=0.8, ql=0.3),
        # C: far away
        "C": _cand([5, 5, 5, 5], [5, 5, 5, 5], crps=0.1, ql=0.1),
    }


def test_hand_made_table() -> None:
    res = select_fold(_table(), {"A": 0.5, "B": 0.2, "C": 0.0}, c=1.0, min_keep=1, max_keep=5)
    assert res.metrics["A"]["es_model"] == pytest.approx(2.0)
    assert res.metrics["B"]["es_model"] == pytest.approx(2.1)
    assert res.metrics["C"]["es_model"] == pytest.approx(5.0)
    se_a = res.metrics["A"]["se_es"]
    assert 0.0 < se_a < 1.0
    assert res.survivors_es == ["A", "B"]  # C: 5 > 2 + SE
    # ranks: crps A=2, B=1; ql A=1, B=2 -> both 3 -> complexity tie-break -> B
    assert res.secondary_scores == {"A": 3, "B": 3}
    assert res.survivors_secondary == ["A", "B"]
    assert res.best == "B"
    # equal complexity: ES decides
    assert select_fold(_table(), {"A": 1.0, "B": 1.0}).best == "A"


def test_band_edges_min_and_max_keep() -> None:
    assert select_fold(_table(), {}, c=0.0).survivors_es == ["A"]
    assert select_fold(_table(), {}, c=0.0, min_keep=3, max_keep=3).survivors_es == ["A", "B", "C"]
    assert select_fold(_table(), {}, c=100.0, max_keep=2).survivors_es == ["A", "B"]


def test_bootstrap_and_ranks() -> None:
    assert bootstrap_se(np.array([0.7])) == 0.0
    v = np.array([1.0, 2.0, 3.0])
    rng = np.random.default_rng(123)
    idx = rng.integers(0, 3, size=(500, 3))
    assert bootstrap_se(v) == pytest.approx(np.median(v[idx], axis=1).std())
    assert dense_rank(np.array([0.1, 0.1, 0.3])).tolist() == [1, 1, 2]
    assert posterior_l1([{"w_loc": np.array([1.0, -3.0])}, {"w_loc": np.array([0.0])}]) == 1.0


def test_writes_json_and_global_is_report_only(tmp_path) -> None:
    res = select_fold(_table(), {"A": 0.5, "B": 0.2})
    res.write(tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert sel["best_candidate_id"] == "B"
    assert json.loads((tmp_path / "metrics.json").read_text())["C"]["es_model"] == 5.0
    rep = global_report([res.metrics, res.metrics], {"A": 0.5, "B": 0.2})
    assert rep["applied_to_outer"] is False and rep["best_candidate_id"] == "B"


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="min_keep"):
        select_fold(_table(), {}, min_keep=0)
