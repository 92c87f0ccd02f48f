"""Bad input: each a typed, located error; nothing half-written."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from algotrader.errors import ConfigError, DataError, StateError
from algotrader.features.config import FeatureConfig, load_feature_config, parse_feature_config
from algotrader.features.engine import compute_group
from algotrader.features.inputs import load_lake_inputs, synthetic_inputs
from algotrader.features.store import read_group, write_group


def test_missing_lake(tmp_path):
    with pytest.raises(DataError, match="data lake version folder not found") as e:
        load_lake_inputs(tmp_path / "2024-01")
    assert e.value.file == str(tmp_path / "2024-01")
    (tmp_path / "2024-02").mkdir()
    with pytest.raises(DataError, match="lake table daily_ohlc not found"):
        load_lake_inputs(tmp_path / "2024-02")


def test_incomplete_weekly_panel_names_week_and_asset():
    x = synthetic_inputs(30, 3)
    c = x.weekly_close.copy()
    c[12, 1] = np.nan
    bad = dataclasses.replace(x, weekly_close=c)
    with pytest.raises(DataError, match=r"close missing for asset A001 in week 2000-03-27") as e:
        compute_group(bad, "momentum")
    assert e.value.column == "A001"
    assert e.value.row is None  # a grid position is not a file row: the week is named instead
    compute_group(bad, "volatility")  # daily groups do not need the weekly panel


def test_incomplete_weekly_panel_from_lake(bundled_lake, tmp_path):
    weekly = pl.read_parquet(bundled_lake / "weekly_ohlc.parquet")
    weekly = weekly.with_columns(
        pl.when((pl.col("asset") == "AAPL") & (pl.col("week_start") == pl.date(2000, 1, 3)))
        .then(None)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    folder = tmp_path / "2022-52"
    folder.mkdir()
    weekly.write_parquet(folder / "weekly_ohlc.parquet")
    (folder / "daily_ohlc.parquet").write_bytes((bundled_lake / "daily_ohlc.parquet").read_bytes())
    with pytest.raises(DataError, match="AAPL in week 2000-01-03"):
        compute_group(load_lake_inputs(folder), "breakout")


def test_non_positive_close():
    x = synthetic_inputs(30, 2)
    d = x.daily_close.copy()
    d[40, 0] = 0.0
    with pytest.raises(DataError, match=r"non-positive daily close 0\.0 for asset A000") as e:
        compute_group(dataclasses.replace(x, daily_close=d), "volatility")
    assert e.value.row is None and str(x.days[40])[:10] in str(e.value)  # the date, not a position
    w = x.weekly_close.copy()
    w[5, 1] = -1.0
    with pytest.raises(DataError, match="non-positive weekly price for asset A001"):
        compute_group(dataclasses.replace(x, weekly_close=w), "breakout")


@pytest.mark.parametrize(
    ("data", "key", "msg"),
    [
        (
            {"groups": {"momentum": ["vol_scaled_momentum", "speed"]}},
            "groups.momentum[1]",
            "unknown feature key 'speed'",
        ),
        ({"groups": {"mystery": ["x"]}}, "groups.mystery", "unknown feature group 'mystery'"),
        ({"groups": {"breakout": []}}, "groups.breakout", "non-empty list"),
        (
            {"groups": {"breakout": ["brk_up", "brk_up"]}},
            "groups.breakout[1]",
            "duplicate feature key",
        ),
        ({"groups": {}}, "groups", "non-empty mapping"),
        ({"horizons": [5, 21, 60, 130]}, "horizons[1]", "not a positive multiple of 5"),
        ({"horizons": [5, 20, 130]}, "horizons", "needs a 12-week horizon"),
        ({"speed": 3}, "speed", r"invalid FeatureConfig: Extra inputs are not permitted \(speed\)"),
        ({"degenerate_policy": "zero"}, "degenerate_policy", "invalid FeatureConfig: Input should"),
        ({"degenerate_floor": "x"}, "degenerate_floor", "invalid FeatureConfig: Input should"),
    ],
)
def test_config_errors_name_the_key(data, key, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        parse_feature_config(data)
    assert e.value.key == key
    with pytest.raises(ConfigError, match=msg) as e:  # direct construction: same error
        FeatureConfig(**data)
    assert e.value.key == key
    with pytest.raises(ConfigError, match=msg) as e:
        parse_feature_config(data, source="features.yml")
    assert (e.value.key, e.value.file) == (key, "features.yml")


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_feature_config(tmp_path / "none.yml")
    p = tmp_path / "f.yml"
    p.write_text("groups:\n  breakout: [brk_up, brk_wide]\n")
    with pytest.raises(ConfigError, match="brk_wide") as e:
        load_feature_config(p)
    assert e.value.file == str(p) and e.value.key == "groups.breakout[1]"
    p.write_text("groups: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_feature_config(p)
    assert FeatureConfig().config_hash() != FeatureConfig(degenerate_policy="eps").config_hash()


def test_torn_store_is_refused(tmp_path):
    x = synthetic_inputs(30, 2)
    folder = write_group(tmp_path, compute_group(x, "breakout"), x)
    raw = bytearray((folder / "features.npz").read_bytes())
    raw[-10] ^= 0xFF
    (folder / "features.npz").write_bytes(bytes(raw))
    with pytest.raises(StateError, match="does not match the hash"):
        read_group(folder)
    (folder / "metadata.json").unlink()
    with pytest.raises(StateError, match=r"lacks metadata\.json"):
        read_group(folder)


def test_failed_compute_writes_nothing(tmp_path):
    x = synthetic_inputs(30, 2)
    c = x.weekly_close.copy()
    c[3, 0] = np.nan
    with pytest.raises(DataError):
        write_group(tmp_path, compute_group(dataclasses.replace(x, weekly_close=c), "momentum"), x)
    assert not any(tmp_path.rglob("*.*"))
