"""Store round trip, byte-identical reruns, hashes, and panel assembly/alignment."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import polars as pl
import pytest

from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, DataError
from algotrader.features.config import FeatureConfig
from algotrader.features.engine import compute_features
from algotrader.features.inputs import synthetic_inputs
from algotrader.features.panel import assemble_panel, build_feature_panel, load_feature_panel
from algotrader.features.store import read_group, store_groups, write_group


def _digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.*"))
    }


@pytest.fixture(scope="module")
def stored(bundled_lake, bundled_inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("fs")
    res = compute_features(bundled_inputs)
    for r in res.values():
        write_group(root, r, bundled_inputs)
    return root, res


def test_layout_and_round_trip(stored, bundled_inputs):
    root, res = stored
    version = bundled_inputs.version
    assert store_groups(root, version) == sorted(res)
    for g, r in res.items():
        folder = root / version / g
        sg = read_group(folder)
        np.testing.assert_array_equal(sg.values, r.values)
        np.testing.assert_array_equal(sg.status, r.status)
        assert sg.mask.tolist() == np.isfinite(r.values).tolist()
        table = pl.read_parquet(folder / "features.parquet")
        assert table.columns == ["timestamp", "asset", *r.features]
        assert str(table.schema["timestamp"]) == "Datetime(time_unit='us', time_zone='UTC')"
        assert table.height == r.values.shape[0] * r.values.shape[1]
        assert all(table.schema[f] == pl.Float64 for f in r.features)
        np.testing.assert_array_equal(
            table[r.features[0]].fill_null(np.nan).to_numpy(), r.values[:, :, 0].ravel()
        )
        meta = sg.metadata
        assert meta["lake_hash"] == bundled_inputs.lake_hash and meta["feature_names"] == list(
            r.features
        )
        assert meta["status_counts"] == r.status_counts()


def test_rerun_is_byte_identical_and_changes_get_new_hashes(stored, bundled_inputs, tmp_path):
    root, res = stored
    before = _digest(root)
    for r in res.values():
        write_group(root, r, bundled_inputs)
    assert _digest(root) == before
    other = FeatureConfig(degenerate_policy="eps")
    r2 = compute_features(bundled_inputs, other, ["breakout"])["breakout"]
    f2 = write_group(tmp_path, r2, bundled_inputs, other)
    assert (
        read_group(f2).metadata["config_hash"]
        != read_group(root / bundled_inputs.version / "breakout").metadata["config_hash"]
    )


def test_panel_from_store_equals_in_memory(stored, bundled_lake, bundled_inputs):
    root, res = stored
    fp = load_feature_panel(root, bundled_lake)
    mem = build_feature_panel(bundled_lake, groups=sorted(res))
    assert isinstance(fp.X, Panel) and fp.X.features == mem.X.features
    assert (
        fp.X.content_hash() == mem.X.content_hash() and fp.y.content_hash() == mem.y.content_hash()
    )
    assert fp.X.shape == (bundled_inputs.n_weeks - 1, 20, 45)
    assert fp.X.features[0] == "breakout::brk_up_4w"  # "all" = groups sorted by name
    x = bundled_inputs
    np.testing.assert_allclose(fp.y.values[10], x.weekly_close[11] / x.weekly_open[11] - 1)
    assert fp.metadata["target"]["kind"] == "open_to_close"
    cc = load_feature_panel(
        root, bundled_lake, groups=["momentum"], target_kind="close_to_close", return_type="log"
    )
    np.testing.assert_allclose(cc.y.values[10], np.log(x.weekly_close[11] / x.weekly_close[10]))
    assert cc.X.features[0] == "momentum::z_mom_4w"


def test_changed_lake_is_refused(stored, bundled_lake, tmp_path):
    root, _ = stored
    lake2 = tmp_path / bundled_lake.name
    lake2.mkdir()
    daily = pl.read_parquet(bundled_lake / "daily_ohlc.parquet")
    daily.with_columns(pl.col("close") * 1.0000001).write_parquet(lake2 / "daily_ohlc.parquet")
    (lake2 / "weekly_ohlc.parquet").write_bytes((bundled_lake / "weekly_ohlc.parquet").read_bytes())
    with pytest.raises(DataError, match="different lake"):
        load_feature_panel(root, lake2)


def test_alignment_by_calendar_week():
    x = synthetic_inputs(40, 3, seed=2)
    res = compute_features(x, groups=["breakout"])
    fp = assemble_panel(x, res, shift=2)
    assert fp.X.shape[0] == 38
    np.testing.assert_allclose(fp.y.values[5], x.weekly_close[7] / x.weekly_open[7] - 1)
    assert (fp.X.dates == x.timestamps[:38]).all() and (fp.y.dates == fp.X.dates).all()
    ws = x.week_start.copy()
    ws[20:] += np.timedelta64(7, "D")
    with pytest.raises(DataError, match="week 2000-05-15 is followed by 2000-05-29"):
        assemble_panel(dataclasses.replace(x, week_start=ws), res)
    with pytest.raises(ConfigError, match="shift"):
        assemble_panel(x, res, shift=40)


def test_missing_target_is_masked_not_zero():
    x = synthetic_inputs(30, 2)
    o = x.weekly_open.copy()
    o[10, 1] = np.nan
    res = compute_features(x, groups=["seasonal"])
    fp = assemble_panel(dataclasses.replace(x, weekly_open=o), res)
    assert (
        not fp.y.mask[9, 1]
        and np.isnan(fp.y.values[9, 1])
        and fp.metadata["target"]["missing_target"] == 1
    )
    assert not fp.X.mask[:25].any() and fp.X.mask[26:].all()
