"""Exploratory preprocessors: observed-only statistics, deterministic PCA signs, errors."""

from __future__ import annotations

import numpy as np
import pytest

from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, DataError
from algotrader.preprocess import identity, pca, zscore
from algotrader.preprocess.exploratory import parse_args, run_exploratory


def _panel(values):
    v = np.asarray(values, float)
    return Panel.from_arrays(
        np.arange(v.shape[0]).astype("datetime64[D]"), [f"a{i}" for i in range(v.shape[1])], v
    )


def test_zscore_uses_observed_values_only():
    p = _panel([[1.0, 2.0], [np.nan, 4.0], [3.0, 6.0]])
    z = zscore(p)
    assert z.mean.tolist() == [2.0, 4.0]
    np.testing.assert_allclose(z.std, [1.0, np.sqrt(8 / 3)])
    assert z.values[1, 0] == 0.0 and not z.mask[1, 0]
    zd = zscore(p, missing="drop")
    assert zd.values.shape == (2, 2)
    with pytest.raises(DataError, match="zero standard deviation for asset a1"):
        zscore(_panel([[1.0, 2.0], [2.0, 2.0]]))


def test_pca_matches_numpy_and_signs_are_deterministic():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(200, 1))
    p = _panel(f @ np.array([[1.0, 0.8, -0.5]]) + 0.3 * rng.normal(size=(200, 3)))
    r = pca(p, variance=0.6)
    z = zscore(p).values
    w = np.linalg.eigvalsh(np.cov(z.T))[::-1]
    np.testing.assert_allclose(r.eigenvalues, w, rtol=1e-10)
    assert r.factors.shape[1] == int(np.searchsorted(np.cumsum(w) / w.sum(), 0.6) + 1)
    for j in range(r.loadings.shape[1]):
        assert r.loadings[np.argmax(np.abs(r.loadings[:, j])), j] > 0
    r2 = pca(_panel(-p.values), k=1)
    np.testing.assert_allclose(np.abs(r2.loadings), np.abs(r.loadings[:, :1]))
    assert r2.loadings[np.argmax(np.abs(r2.loadings[:, 0])), 0] > 0
    with pytest.raises(ConfigError, match="exactly one"):
        pca(p, k=1, variance=0.5)


def test_runner_arguments():
    p = _panel([[1.0, 2.0], [2.0, 3.0], [4.0, 1.0]])
    assert run_exploratory("identity", p, {})[1]["panel"] is p
    assert identity(p, copy=True) is not p
    assert parse_args(["k=2", "missing=drop"]) == {"k": "2", "missing": "drop"}
    with pytest.raises(ConfigError, match="unknown argument 'speed'"):
        run_exploratory("zscore", p, {"speed": "1"})
    with pytest.raises(ConfigError, match="unknown preprocessor"):
        run_exploratory("whiten", p, {})
    with pytest.raises(ConfigError, match="pipeline name"):
        run_exploratory("zscore", p, {"pipeline": "a/b"})
    with pytest.raises(ConfigError, match="not k=v"):
        parse_args(["k"])
