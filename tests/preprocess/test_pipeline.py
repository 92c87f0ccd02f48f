"""The leakage-safe pipeline: closed forms, the fixed guard, fail-fast, no leakage, state I/O."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrader.errors import ConfigError
from algotrader.preprocess import (
    PipelineConfig,
    PreprocessError,
    fit,
    load_state,
    save_state,
    transform,
)

NO_WINSOR = PipelineConfig(winsor_low_q=0.0, winsor_high_q=1.0)


def test_robust_scale_closed_form():
    X = np.array([-1.0, 0.0, 1.0])[:, None, None]
    s = fit(X, None, np.arange(3), NO_WINSOR, features=["g::x"])
    assert s.shift[0] == 0.0 and s.scale[0] == pytest.approx(1.4826)
    Xt, _ = transform(s, X, None, np.arange(3))
    np.testing.assert_allclose(Xt[:, 0, 0], [-1 / 1.4826, 0, 1 / 1.4826])


def test_rare_breakout_survives_the_guard():
    x = np.zeros((100, 2, 1))
    x[::10, :, 0] = 1.0  # p = 0.1
    s = fit(x, None, np.arange(100), features=["breakout::brk_up_26w"])
    assert not s.guard.any()
    Xt, _ = transform(s, x, None, np.arange(100))
    np.testing.assert_allclose(Xt[0, 0, 0], (1 - 0.1) / np.sqrt(0.09 + 0.001))
    np.testing.assert_allclose(Xt[1, 0, 0], (0 - 0.1) / np.sqrt(0.091))
    # a constant breakout column is guarded (and zero)
    s2 = fit(np.zeros((20, 1, 1)), None, np.arange(20), features=["breakout::brk_dn_4w"])
    assert s2.guard.all()


def test_cs_rank_unscaled_and_near_constant_robust_column_zeroed():
    rng = np.random.default_rng(0)
    rank = rng.random((60, 3))
    const = np.full((60, 3), 5.0) + 1e-12 * rng.normal(size=(60, 3))
    noise = rng.normal(size=(60, 3))
    X = np.stack([rank, const, noise], axis=2)
    s = fit(X, None, np.arange(60), features=["cross_sectional::cs_rank_rev_1w", "g::flat", "g::n"])
    assert s.shift[0] == 0 and s.scale[0] == 1
    assert s.guard[:, 1].all() and not s.guard[:, [0, 2]].any()
    Xt, _ = transform(s, X, None, np.arange(60))
    assert (Xt[:, :, 1] == 0).all()


def test_correlation_filter_and_default():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(80, 4))
    X = np.stack([a, a * 2 + 1e-3 * rng.normal(size=a.shape), rng.normal(size=a.shape)], axis=2)
    s = fit(X, None, np.arange(80), features=["g::a", "g::a2", "g::b"])
    assert s.kept_names == ("g::a", "g::b") and s.dropped_corr.tolist() == [1]
    assert s.corr_pairs[0, :2].tolist() == [0, 1]
    with pytest.raises(ConfigError, match="max_abs_corr"):
        PipelineConfig(max_abs_corr=0.0)


def test_fail_fast_names_offenders():
    X = np.random.default_rng(2).normal(size=(50, 2, 1))
    X[7, 1, 0] = 1e6
    cfg = PipelineConfig(winsor_low_q=0.0, winsor_high_q=1.0)
    s = fit(X, None, np.arange(50), cfg, features=["g::x"])
    with pytest.raises(PreprocessError, match=r"top offenders .*\(7, 1, 0, 'g::x'") as e:
        transform(s, X, None, np.arange(50))
    assert e.value.context["offenders"][0][:4] == (7, 1, 0, "g::x")
    transform(s, X, None, np.arange(10, 20))  # not the training rows: no check


def test_names_required_and_masks():
    X = np.ones((5, 1, 1))
    with pytest.raises(ConfigError, match="feature names are required"):
        fit(X, None, np.arange(5))
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2, 2))
    M = np.ones(X.shape, bool)
    M[3, 0, 1] = False
    cfg = PipelineConfig(append_mask_as_features=True)
    s = fit(X, M, np.arange(30), cfg, features=["g::a", "g::b"])
    Xt, Mt = transform(s, X, M, np.arange(30))
    assert Xt.shape == (30, 2, 4) and Xt[3, 0, 1] == 0 and Xt[3, 0, 3] == 0 and Xt[4, 0, 3] == 1
    assert not Mt[3, 0, 1] and Mt[:, :, 2:].all()


def test_state_round_trip(tmp_path):
    X = np.random.default_rng(4).normal(size=(40, 3, 3))
    s = fit(X, None, np.arange(30), features=["a::x", "b::brk_up_4w", "c::cs_rank_z"])
    p = save_state(tmp_path / "state.npz", s)
    s2 = load_state(p)
    for name in s.__dataclass_fields__:
        a, b = getattr(s, name), getattr(s2, name)
        assert np.array_equal(a, b, equal_nan=True) if isinstance(a, np.ndarray) else a == b, name
    assert save_state(tmp_path / "again.npz", s2).read_bytes() == p.read_bytes()
    np.testing.assert_array_equal(
        transform(s, X, None, np.arange(40))[0], transform(s2, X, None, np.arange(40))[0]
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), frac=st.floats(0.2, 0.8))
def test_corrupting_rows_outside_train_leaves_state_identical(seed, frac):
    rng = np.random.default_rng(seed)
    n_t = 40
    X = rng.normal(size=(n_t, 3, 4))
    X[:, :, 2] = (rng.random((n_t, 3)) < 0.2).astype(float)
    X[:, :, 3] = X[:, :, 0] * 0.999 + 0.001 * rng.normal(size=(n_t, 3))
    M = rng.random(X.shape) > 0.1
    train = np.sort(rng.choice(n_t, int(frac * n_t), replace=False))
    names = ["g::a", "g::b", "breakout::brk_up_4w", "g::a_copy"]
    s0 = fit(X, M, train, features=names)
    out = np.setdiff1d(np.arange(n_t), train)
    Y, N = X.copy(), M.copy()
    Y[out] = rng.normal(50, 100, size=Y[out].shape)
    N[out] = rng.random(N[out].shape) > 0.5
    s1 = fit(Y, N, train, features=names)
    for name in s0.__dataclass_fields__:
        a, b = getattr(s0, name), getattr(s1, name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a == b, name
