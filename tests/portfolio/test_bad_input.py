"""Every documented error of the optimiser, with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from algotrader.errors import (
    ConfigError,
    DataError,
    NotFittedError,
    SchemaError,
    ShapeError,
    StateError,
)
from algotrader.portfolio import (
    FORMAT_VERSION,
    OptimiserConfig,
    OptimiserStream,
    StreamStateError,
    analyse,
    config_from_mapping,
    load_config,
    run_batch,
)

BASE: dict[str, Any] = {"vola": 3, "corr": 5, "clip": 3.0, "shrink": 0.5, "aum": 1.0}


def _frames(t_len: int = 20, n: int = 2) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(0)
    p = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((t_len, n)), axis=0))
    d = pl.Series("date", np.arange(t_len))
    names = [f"A{i}" for i in range(n)]
    prices = pl.DataFrame({"date": d, **{c: p[:, i] for i, c in enumerate(names)}})
    mu = pl.DataFrame({"date": d, **{c: np.ones(t_len) for c in names}})
    return prices, mu


CFG = OptimiserConfig(**BASE)

# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "key", "match"),
    [
        ({"corr": 2}, "corr", "corr \\(2\\) must be >= vola \\(3\\)"),
        ({"shrink": 1.5}, "shrink", "less than or equal to 1"),
        ({"vola": 0}, "vola", "greater than 0"),
        ({"vola": "x"}, "vola", "valid integer"),
        ({"max_turnover": 0.0}, "max_turnover", "greater than 0"),
        ({"max_nan_fraction": 1.0}, "max_nan_fraction", "less than 1"),
        ({"bogus": 1}, "bogus", "Extra inputs are not permitted"),
        ({"solver": "cg", "shrink": 1.0}, "solver", "needs shrink < 1"),
        (
            {"covariance_config": {"covariance_mode": "sliding_window", "window": 5}},
            "covariance_config.n_factors",
            "Field required",
        ),
        (
            {"covariance_config": {"covariance_mode": "sliding_window", "window": 5, "x": 1}},
            "covariance_config.x",
            "Extra inputs are not permitted",
        ),
        (
            {
                "covariance_config": {
                    "covariance_mode": "sliding_window",
                    "window": 5,
                    "n_factors": 2,
                    "max_components": 3,
                }
            },
            "covariance_config.max_components",
            "max_components \\(3\\) must be <= n_factors \\(2\\)",
        ),
        (
            {"covariance_config": {"covariance_mode": "nope"}},
            "covariance_config",
            "does not match any of the expected",
        ),
    ],
)
def test_config_validation(update: dict[str, Any], key: str, match: str, tmp_path: Path) -> None:
    """Direct construction, a mapping and a YAML file all raise ConfigError (never pydantic's
    ValidationError) naming the key path; the mapping and the file name the source."""
    with pytest.raises(ConfigError, match=match) as direct:
        OptimiserConfig(**{**BASE, **update})
    assert direct.value.key == key and not isinstance(direct.value, ValidationError)
    with pytest.raises(ConfigError, match=match) as mapped:
        config_from_mapping({**BASE, **update}, source="opt.yml")
    assert (mapped.value.key, mapped.value.file) == (key, "opt.yml")
    f = tmp_path / "opt.yml"
    f.write_text(yaml.safe_dump({**BASE, **update}), encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as loaded:
        load_config(f)
    assert (loaded.value.key, loaded.value.file) == (key, str(f))


def test_config_refuses_legacy_flat_keys() -> None:
    with pytest.raises(ConfigError, match=r"flat keys \['window'\] are not accepted") as info:
        OptimiserConfig(**{**BASE, "window": 5})
    assert info.value.key == "window"


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        CFG.vola = 4  # type: ignore[misc]


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("vola: [1,\n")
    with pytest.raises(ConfigError, match="config is not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(lst)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("vola: 3\ncorr: 5\nclip: 3\nshrink: 2\naum: 1\n")
    with pytest.raises(ConfigError, match="key=shrink") as info:
        load_config(wrong)
    assert info.value.file == str(wrong)


def test_load_config_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(
        "vola: 16\ncorr: 32\nclip: 3.5\nshrink: 0.5\naum: 1.0e6\nmax_turnover: 100\n"
        "covariance_config:\n  covariance_mode: sliding_window\n  window: 60\n  n_factors: 3\n"
    )
    cfg = load_config(path)
    assert cfg.covariance_mode == "sliding_window" and cfg.max_turnover == 100.0
    assert cfg.fingerprint() == load_config(path).fingerprint()


# --- frames ----------------------------------------------------------------------------


def test_frame_contract_errors() -> None:
    prices, mu = _frames()
    with pytest.raises(SchemaError, match="prices frame has no 'date' column"):
        run_batch(prices.drop("date"), mu, CFG)
    with pytest.raises(SchemaError, match="mu frame has no asset columns"):
        run_batch(prices, mu.select("date"), CFG)
    with pytest.raises(SchemaError, match="non-numeric dtype"):
        run_batch(prices.with_columns(pl.col("A0").cast(pl.String)), mu, CFG)
    with pytest.raises(SchemaError, match=r"missing \['A1'\], extra \['B'\]"):
        run_batch(prices, mu.rename({"A1": "B"}), CFG)
    with pytest.raises(ShapeError, match="prices have 20 rows but mu has 19"):
        run_batch(prices, mu.head(19), CFG)
    with pytest.raises(ShapeError, match="prices have no rows"):
        run_batch(prices.head(0), mu.head(0), CFG)
    # rows are 1-based data rows (issue 16 item 10): position 3 is row 4
    with pytest.raises(DataError, match=r"duplicate date 2 at row 4 of the prices.*row=4"):
        run_batch(prices.with_columns(pl.Series("date", [0, 1, 2, 2, *range(4, 20)])), mu, CFG)
    with pytest.raises(DataError, match=r"not strictly increasing: 1 at row 4 is earlier.*row=4"):
        run_batch(prices.with_columns(pl.Series("date", [0, 1, 2, 1, *range(4, 20)])), mu, CFG)
    with pytest.raises(DataError, match=r"mu dates differ from price dates.*row=1"):
        run_batch(prices, mu.with_columns(pl.col("date") + 1), CFG)
    with pytest.raises(DataError, match="null date"):
        run_batch(prices.with_columns(pl.lit(None, dtype=pl.Int64).alias("date")), mu, CFG)


def test_frame_value_errors() -> None:
    prices, mu = _frames()
    neg = prices.with_columns(
        pl.when(pl.col("date") == 4).then(-1.0).otherwise(pl.col("A1")).alias("A1")
    )
    with pytest.raises(DataError, match=r"price must be positive, got -1.0 \[row=5, column=A1\]"):
        run_batch(neg, mu, CFG)
    inf = prices.with_columns(
        pl.when(pl.col("date") == 2).then(np.inf).otherwise(pl.col("A0")).alias("A0")
    )
    with pytest.raises(DataError, match=r"price is infinite \[row=3, column=A0\]"):
        run_batch(inf, mu, CFG)
    mu_inf = mu.with_columns(pl.lit(np.inf).alias("A1"))
    with pytest.raises(DataError, match=r"signal is infinite \[row=1, column=A1\]"):
        run_batch(prices, mu_inf, CFG)
    sparse = prices.with_columns(
        pl.when(pl.col("date") < 19).then(None).otherwise(pl.col("A0")).alias("A0")
    )
    with pytest.raises(DataError, match=r"95.0% of the prices are missing.*column=A0"):
        run_batch(sparse, mu, CFG)


# --- results -----------------------------------------------------------------------------


def test_result_errors() -> None:
    res = run_batch(*_frames(), CFG)
    with pytest.raises(NotFittedError, match="matrix diagnostics were not computed"):
        _ = res.diagnostics
    with pytest.raises(ShapeError, match="row 20 out of range for 20 rows"):
        res.correlation(20)
    with pytest.raises(ShapeError, match="horizon must be >= 1"):
        res.ic(0)
    with pytest.raises(ShapeError, match=r"must have the same \(T, N\) shape"):
        analyse(np.zeros((3, 2)), np.ones((3, 3)), aum=1.0)


# --- stream ------------------------------------------------------------------------------


def test_stream_step_errors() -> None:
    prices, mu = _frames()
    s = OptimiserStream.from_warmup(prices, mu, CFG)
    with pytest.raises(ShapeError, match=r"prices must have shape \(2,\); got \(3,\)"):
        s.step(np.ones(3), np.ones(2))
    with pytest.raises(DataError, match=r"mu keys differ.*missing \['A1'\], extra \['Z'\]"):
        s.step(np.ones(2), {"A0": 1.0, "Z": 2.0})
    with pytest.raises(DataError, match=r"price must be positive \[column=A1\]"):
        s.step(np.array([1.0, 0.0]), np.ones(2))
    with pytest.raises(DataError, match=r"infinite price or signal \[column=A0\]"):
        s.step(np.array([1.0, 1.0]), np.array([np.inf, 1.0]))
    with pytest.raises(DataError, match="date 5 is not after the last date 19"):
        s.step(np.ones(2), np.ones(2), date=5)
    assert s.rows_seen == 20  # failed steps change nothing


def _saved(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    s = OptimiserStream.from_warmup(*_frames(), CFG)
    path = s.save(tmp_path / "stream")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as z:
        return path, {k: z[k] for k in z.files}


def test_stream_load_errors(tmp_path: Path) -> None:
    path, data = _saved(tmp_path)
    with pytest.raises(StreamStateError, match="stream archive not found"):
        OptimiserStream.load(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(StreamStateError, match=r"not a readable .npz archive"):
        OptimiserStream.load(junk)
    no_version = {k: v for k, v in data.items() if k != "format_version"}
    np.savez(tmp_path / "a.npz", **no_version)  # type: ignore[arg-type]
    with pytest.raises(StreamStateError, match="has no format_version"):
        OptimiserStream.load(tmp_path / "a.npz")
    other = {**data, "format_version": np.asarray(FORMAT_VERSION + 1)}
    np.savez(tmp_path / "b.npz", **other)  # type: ignore[arg-type]
    with pytest.raises(StreamStateError, match=f"format_version {FORMAT_VERSION + 1} is not"):
        OptimiserStream.load(tmp_path / "b.npz")
    no_state = {k: v for k, v in data.items() if k != "pair_xy"}
    np.savez(tmp_path / "c.npz", **no_state)  # type: ignore[arg-type]
    with pytest.raises(StreamStateError, match=r"lacks state keys \['pair_xy'\]") as info:
        OptimiserStream.load(tmp_path / "c.npz")
    assert info.value.key == "pair_xy" and isinstance(info.value, StateError)
    no_assets = {k: v for k, v in data.items() if k != "assets"}
    np.savez(tmp_path / "d.npz", **no_assets)  # type: ignore[arg-type]
    with pytest.raises(StreamStateError, match=r"lacks keys \['assets'\]"):
        OptimiserStream.load(tmp_path / "d.npz")
    assert OptimiserStream.load(path).assets == ("A0", "A1")
