"""No look-ahead: corrupting the bars after week t leaves every feature's rows <= t
bit-identical (values and statuses), for all 45 features."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.features.config import FeatureConfig
from algotrader.features.engine import compute_features
from algotrader.features.inputs import synthetic_inputs


def _stack(inputs, cfg):
    res = compute_features(inputs, cfg)
    return (
        np.concatenate([r.values for r in res.values()], axis=2),
        np.concatenate([r.status for r in res.values()], axis=2),
    )


@settings(max_examples=25, deadline=None)
@given(
    n_weeks=st.integers(30, 70),
    n_assets=st.integers(2, 5),
    seed=st.integers(0, 10_000),
    cut=st.floats(0.1, 0.95),
    policy=st.sampled_from(["nan", "eps"]),
    gaps=st.booleans(),
)
def test_corrupting_the_future_leaves_the_past_bit_identical(
    n_weeks, n_assets, seed, cut, policy, gaps
):
    x = synthetic_inputs(n_weeks, n_assets, seed=seed)
    if gaps:  # daily holes (daily groups still valid; weekly groups see complete weeks)
        rng = np.random.default_rng(seed)
        hole = rng.random(x.daily_close.shape) < 0.05
        hole[x.days.astype(np.int64) % 7 == 1] = False  # keep Fridays so weekly bars stay whole
        x = dataclasses.replace(
            x,
            **{
                f: np.where(hole, np.nan, getattr(x, f))
                for f in ("daily_open", "daily_high", "daily_low", "daily_close")
            },
        )
    cfg = FeatureConfig(degenerate_policy=policy)
    t = int(cut * (n_weeks - 1))
    v0, s0 = _stack(x, cfg)
    assert v0.shape[2] == 45
    rng = np.random.default_rng(seed + 1)
    later_w = np.arange(n_weeks) > t
    later_d = x.day_week > t

    def corrupt(a, rows):
        b = a.copy()
        b[rows] = np.exp(rng.normal(3, 2, size=b[rows].shape))
        return b

    y = dataclasses.replace(
        x,
        weekly_open=corrupt(x.weekly_open, later_w),
        weekly_high=corrupt(x.weekly_high, later_w),
        weekly_low=corrupt(x.weekly_low, later_w),
        weekly_close=corrupt(x.weekly_close, later_w),
        daily_open=corrupt(x.daily_open, later_d),
        daily_high=corrupt(x.daily_high, later_d),
        daily_low=corrupt(x.daily_low, later_d),
        daily_close=corrupt(x.daily_close, later_d),
    )
    v1, s1 = _stack(y, cfg)
    np.testing.assert_array_equal(v0[: t + 1].view(np.int64), v1[: t + 1].view(np.int64))
    np.testing.assert_array_equal(s0[: t + 1], s1[: t + 1])
