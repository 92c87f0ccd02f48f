"""Every documented error is raised with a message naming the input and the fix."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import polars as pl
import pytest

import algotrader.amm as amm
from algotrader.amm import RunConfig, SimConfig
from algotrader.amm.data import PriceData, Window, load_prices, make_window
from algotrader.amm.simulate import simulate, validate_params
from algotrader.errors import ConfigError, DataError, SchemaError, ShapeError


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunk_perod": 60}, "unknown key 'chunk_perod'"),
        ({"rule": "momentun"}, "unknown rule 'momentun'"),
        ({"rule": "fancy__momentum"}, "unknown hook 'fancy'"),
        ({"weight_interpolation_period": 2000}, "weight_interpolation_period"),
        ({"weight_interpolation_method": "optimal"}, "weight_interpolation_method"),
        ({"return_val": "sharp"}, "return_val"),
        ({"tokens": ["A", "A"]}, "tokens"),
        ({"fees": 1.5}, "fees"),
        ({"startDateString": "2023-13-01 00:00:00"}, "bad date"),
        ({"endDateString": "2022-01-01 00:00:00"}, "after startDateString"),
        ({"minimum_weight": 0.5}, "minimum_weight"),
        ({"n_ensemble_members": 3}, "n_ensemble_members"),
    ],
)
def test_run_config_refuses(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RunConfig(**kwargs)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "run.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="YAML mapping") as info:
        RunConfig.from_yaml(bad)
    assert info.value.file == str(bad)
    bad.write_text("fees: 0.01\nfess: 2\n")
    with pytest.raises(ConfigError, match="unknown key 'fess'"):
        RunConfig.from_yaml(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("tokens: [B, A]\nrule: momentum\n")
    assert RunConfig.from_yaml(good).tokens == ("A", "B")


def test_sim_config_refuses() -> None:
    with pytest.raises(ConfigError, match="at least two assets"):
        SimConfig(rule="momentum", n_assets=1, bout_length=10)
    with pytest.raises(ConfigError, match="minimum_weight"):
        SimConfig(rule="momentum", n_assets=2, bout_length=10, minimum_weight=0.6)
    with pytest.raises(ConfigError, match="arb_frequency"):
        SimConfig(rule="momentum", n_assets=2, bout_length=10, arb_frequency=0)
    with pytest.raises(ConfigError, match="unknown arb_validity 'literal'"):
        SimConfig(rule="momentum", n_assets=2, bout_length=10, arb_validity="literal")


def test_param_errors() -> None:
    cfg = RunConfig(tokens=["A", "B"], rule="momentum")
    good = {k: v[0] for k, v in amm.init_params("momentum", 2).items()}
    with pytest.raises(ConfigError, match="missing parameters \\['log_k'\\]"):
        validate_params({k: v for k, v in good.items() if k != "log_k"}, cfg)
    with pytest.raises(ConfigError, match="unexpected parameters \\['sp_k'\\]"):
        validate_params({**good, "sp_k": [0.0, 0.0]}, cfg)
    with pytest.raises(ConfigError, match="log_k must be 2 finite values"):
        validate_params({**good, "log_k": [0.0, 1.0, 2.0]}, cfg)
    with pytest.raises(ConfigError, match="unknown parameter values"):
        amm.init_params("momentum", 2, memory=3)
    with pytest.raises(ConfigError, match="k_per_day must be > 0"):
        amm.init_params("momentum", 2, k_per_day=-1.0)
    with pytest.raises(ConfigError, match="one per token"):
        amm.init_params("momentum", 2, memory_days=[1.0, 2.0, 3.0])


def test_unknown_metric_and_window() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'sharp'"):
        amm.metric_value({"value": jnp.ones(3)}, "sharp")
    cfg = SimConfig(rule="balancer", n_assets=2, bout_length=100)
    with pytest.raises(ShapeError, match="does not fit"):
        amm.check_window(50, 120, cfg)


def _write_wide(
    path: Path, n: int = 3000, gap_at: int | None = None, bad_at: int | None = None
) -> None:
    unix = np.arange(n, dtype=np.int64) * 60_000 + 1_640_995_200_000
    if gap_at is not None:
        unix[gap_at:] += 60_000
    a = np.linspace(1.0, 2.0, n)
    if bad_at is not None:
        a[bad_at] = -1.0
    pl.DataFrame({"unix": unix, "close_A": a, "close_B": np.full(n, 3.0)}).write_csv(path)


def test_price_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_prices(tmp_path / "nope.csv", ["A", "B"])
    path = tmp_path / "p.csv"
    _write_wide(path, gap_at=100)
    with pytest.raises(DataError, match="60000 ms") as info:
        load_prices(path, ["A", "B"])
    # 1-based data rows, the column as written (issue 16 item 10): position 100 is row 101
    assert (info.value.row, info.value.column, info.value.file) == (101, "unix", str(path))
    _write_wide(path, bad_at=7)
    with pytest.raises(DataError, match="finite and > 0") as info:
        load_prices(path, ["A", "B"])
    assert (info.value.row, info.value.column) == (8, "close_A")
    _write_wide(path)
    with pytest.raises(SchemaError, match="close_C"):
        load_prices(path, ["A", "C"])


def test_window_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    _write_wide(path)
    data = load_prices(path, ["B", "A"])
    cfg = RunConfig(
        tokens=["A", "B"],
        rule="balancer",
        startDateString="2021-01-01 00:00:00",
        endDateString="2022-01-02 00:00:00",
    )
    with pytest.raises(DataError, match="startDateString"):
        make_window(data, cfg)
    other = RunConfig(tokens=["A", "C"], rule="balancer")
    with pytest.raises(DataError, match="differ from config tokens"):
        make_window(data, other)


def test_coarse_weight_shape_error() -> None:
    n = 3 * 1440 + 1
    data = PriceData(unix=np.arange(n) * 60_000, prices=np.ones((n, 2)), tokens=("A", "B"))
    cfg = RunConfig(tokens=["A", "B"], rule="balancer")
    with pytest.raises(ShapeError, match="coarse weights must be"):
        simulate(
            cfg,
            Window(data, 0, n),
            {"initial_weights_logits": [0.0, 0.0]},
            coarse=np.ones((2, 2)) / 2,
        )
