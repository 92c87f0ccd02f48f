"""Issue 16 item 4 (and 5, 8, 12): every existing command on a table of bad inputs.

Each case must exit with code 2, print no traceback and name the file or key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from algotrader.cli import app

from .conftest import RunMain

T0 = 1_640_995_200_000


def _opt_inputs(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 80
    px = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((n, 2)), axis=0))
    d = pl.date_range(
        pl.date(2021, 1, 1), pl.date(2021, 1, 1) + pl.duration(days=n - 1), eager=True
    )
    prices = pl.DataFrame({"date": d, "A": px[:, 0], "B": px[:, 1]})
    mu = prices.with_columns(pl.lit(1.0).alias("A"), pl.lit(-1.0).alias("B"))
    prices.write_csv(tmp / "prices.csv")
    mu.write_csv(tmp / "mu.csv")
    (tmp / "opt.yml").write_text("vola: 5\ncorr: 10\nclip: 3.0\nshrink: 0.5\naum: 1000000\n")
    (tmp / "exists.csv").write_text("x\n")
    weights = prices.with_columns(pl.lit(0.5).alias("A"), pl.lit(0.5).alias("B"))
    weights.write_csv(tmp / "w.csv")
    return {
        "prices": tmp / "prices.csv",
        "mu": tmp / "mu.csv",
        "cfg": tmp / "opt.yml",
        "exists": tmp / "exists.csv",
        "w": tmp / "w.csv",
    }


def _amm_inputs(tmp: Path) -> dict[str, Path]:
    n = 4 * 1440
    rng = np.random.default_rng(1)
    px = np.exp(np.cumsum(0.002 * rng.standard_normal((n, 2)), axis=0)) * [100.0, 2000.0]
    unix = T0 + np.arange(n, dtype=np.int64) * 60_000
    path = tmp / "amm_prices.parquet"
    pl.DataFrame({"unix": unix, "close_ETH": px[:, 1], "close_BTC": px[:, 0]}).write_parquet(path)
    cfg = tmp / "run.yaml"
    cfg.write_text(
        "tokens: [ETH, BTC]\nrule: momentum\nstartDateString: '2022-01-02 00:00:00'\n"
        "endDateString: '2022-01-04 00:00:00'\nmax_memory_days: 1\nchunk_period: 60\n"
        "weight_interpolation_period: 60\nfees: 0.003\n"
    )
    good = {
        "initial_weights_logits": [0.0, 0.0],
        "log_k": [4.3, 4.3],
        "logit_delta_lamb": [0.0, 0.0],
        "logit_lamb": [2.0, 2.0],
    }
    files = {}
    for name, change in (
        ("p_str", {"log_k": ["a", 4.3]}),
        ("p_huge", {"log_k": [400, 4.3]}),
        ("p_short", {"log_k": [4.3]}),
        ("p_extra", {"bogus": [1.0, 1.0]}),
    ):
        p = tmp / f"{name}.json"
        p.write_text(json.dumps({**good, **change}))
        files[name] = p
    (tmp / "p_bin.npz").write_bytes(b"PK\x03\x04not a zip")
    (tmp / "p_utf.json").write_bytes(b"\x93NUMPY\xff\xfe")
    np.savez(tmp / "p_objs.npz", log_k=np.array(["a", "b"]))
    files.update(p_bin=tmp / "p_bin.npz", p_utf=tmp / "p_utf.json", p_objs=tmp / "p_objs.npz")
    return {"amm_prices": path, "amm_cfg": cfg, **files}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad")
    return {**_opt_inputs(tmp), **_amm_inputs(tmp), "tmp": tmp}


# (id, argv builder, text that must appear: the file or the key)
Case = tuple[str, Callable[[dict[str, Path]], list[str]], Callable[[dict[str, Path]], str]]


def _amm_run_argv(name: str) -> Callable[[dict[str, Path]], list[str]]:
    def argv(p: dict[str, Path]) -> list[str]:
        return ["amm", "run", "--config", str(p["amm_cfg"]), "--prices", str(p["amm_prices"]),
                "--params", str(p[name]), "--out", str(p["tmp"] / "a1")]  # fmt: skip

    return argv


def _amm_where(name: str, key: str) -> Callable[[dict[str, Path]], str]:
    def where(p: dict[str, Path]) -> str:
        return key or str(p[name])

    return where


CASES: list[Case] = [
    ("datasets-unknown-flag", lambda p: ["datasets", "--bogus"], lambda p: "--bogus"),
    (
        "clean-bad-month",
        lambda p: ["data-cleaning", "--dataset", "sp500_index_close", "--start", "2020-13",
                   "--lake", str(p["tmp"] / "lake")],
        lambda p: "start",
    ),
    (
        "clean-missing-input",
        lambda p: ["data-cleaning", "--input", str(p["tmp"] / "nope.csv"), "--start", "2020-01",
                   "--lake", str(p["tmp"] / "lake")],
        lambda p: "nope.csv",
    ),
    (
        "optimise-out-is-file",
        lambda p: ["optimise", "--prices", str(p["prices"]), "--signal", str(p["mu"]),
                   "--config", str(p["cfg"]), "--out", str(p["exists"])],
        lambda p: str(p["exists"]),
    ),
    (
        "optimise-missing-prices",
        lambda p: ["optimise", "--prices", str(p["tmp"] / "none.csv"), "--signal", str(p["mu"]),
                   "--config", str(p["cfg"]), "--out", str(p["tmp"] / "o1")],
        lambda p: "none.csv",
    ),
    (
        "backtest-missing-weights",
        lambda p: ["backtest", "--weights", str(p["tmp"] / "nw.csv"), "--prices", str(p["prices"]),
                   "--out", str(p["tmp"] / "b1")],
        lambda p: "nw.csv",
    ),
    (
        "backtest-out-is-file",
        lambda p: ["backtest", "--weights", str(p["w"]), "--prices", str(p["prices"]),
                   "--out", str(p["exists"])],
        lambda p: str(p["exists"]),
    ),
    *[
        (f"amm-run-{name}", _amm_run_argv(name), _amm_where(name, key))
        for name, key in (
            ("p_str", "key=log_k"),
            ("p_huge", "key=log_k"),
            ("p_short", "key=log_k"),
            ("p_extra", "key=bogus"),
            ("p_bin", ""),
            ("p_utf", ""),
            ("p_objs", "key=log_k"),
        )
    ],
    (
        "backtest-lag-beyond-data",
        lambda p: ["backtest", "--weights", str(p["w"]), "--prices", str(p["prices"]),
                   "--lag", "5000", "--out", str(p["tmp"] / "b2")],
        lambda p: "key=lag",
    ),
    (
        "backtest-negative-lag",
        lambda p: ["backtest", "--weights", str(p["w"]), "--prices", str(p["prices"]),
                   "--lag", "-1", "--out", str(p["tmp"] / "b3")],
        lambda p: "key=lag",
    ),
    (
        "amm-walk-forward-bogus-metric",
        lambda p: ["amm", "walk-forward", "--config", str(p["amm_cfg"]), "--prices",
                   str(p["amm_prices"]), "--metric", "bogus_spec", "--out", str(p["tmp"] / "w2")],
        lambda p: "key=metric",
    ),
    (
        "amm-walk-forward-bogus-wfe-metric",
        lambda p: ["amm", "walk-forward", "--config", str(p["amm_cfg"]), "--prices",
                   str(p["amm_prices"]), "--wfe-metric", "nosuch", "--out", str(p["tmp"] / "w3")],
        lambda p: "key=wfe_metric",
    ),
    (
        "amm-train-missing-config",
        lambda p: ["amm", "train", "--config", str(p["tmp"] / "c.yml"), "--prices",
                   str(p["amm_prices"]), "--out", str(p["tmp"] / "t1")],
        lambda p: "c.yml",
    ),
    (
        "amm-walk-forward-missing-config",
        lambda p: ["amm", "walk-forward", "--config", str(p["tmp"] / "c.yml"), "--prices",
                   str(p["amm_prices"]), "--out", str(p["tmp"] / "w1")],
        lambda p: "c.yml",
    ),
    (
        "pipeline-out-is-file",
        lambda p: ["pipeline", "--out", str(p["exists"])],
        lambda p: str(p["exists"]),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_location_and_no_traceback(
    case: Case, inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, run_main: RunMain
) -> None:
    monkeypatch.setenv("ALGOTRADER_HOME", str(inputs["tmp"] / "home"))
    _, argv, where = case
    code, text = run_main(["--quiet", *argv(inputs)])
    text = text.replace("\n", "")
    assert code == 2, text
    assert "Traceback" not in text
    assert where(inputs) in text, text
    for name in ("w2", "w3", "b2", "b3"):  # refused before any work: no output folder
        assert not (inputs["tmp"] / name).exists()


COMMANDS = (
    ["datasets"],
    ["data-cleaning"],
    ["optimise"],
    ["backtest"],
    ["amm", "run"],
    ["amm", "train"],
    ["amm", "walk-forward"],
    ["pipeline"],
)


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_quiet_example_and_no_bool_metavar(cmd: list[str]) -> None:
    res = CliRunner().invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "--quiet" in res.output
    assert "Example: algotrader " + " ".join(cmd) in res.output
    assert "<bool>" not in res.output


def test_datasets_quiet_after_the_command() -> None:
    res = CliRunner().invoke(app, ["datasets", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "sp500_index_ohlcv" in res.output


def test_amm_run_accepts_trainer_npz_and_names_it(inputs: dict[str, Path]) -> None:
    """Item 5: ``params_best.npz`` as the trainer writes it runs, and metrics.json names it."""
    from algotrader.training.runs import save_params

    params = {
        "initial_weights_logits": np.zeros(2),
        "log_k": np.full(2, 4.3),
        "logit_delta_lamb": np.zeros(2),
        "logit_lamb": np.full(2, 2.0),
    }
    npz = save_params(inputs["tmp"] / "params_best.npz", params)
    js = inputs["tmp"] / "params.json"
    js.write_text(json.dumps({k: v.tolist() for k, v in params.items()}))
    outs = []
    for i, path in enumerate((npz, js)):
        out = inputs["tmp"] / f"run_{i}"
        args = ["amm", "run", "--config", str(inputs["amm_cfg"]), "--prices"]
        args += [str(inputs["amm_prices"]), "--params", str(path), "--out", str(out)]
        res = CliRunner().invoke(app, ["--quiet", *args])
        assert res.exit_code == 0, res.output
        outs.append(json.loads((out / "metrics.json").read_text()))
    assert outs[0]["params"]["file"] == str(npz)
    assert len(outs[0]["params"]["sha256"]) == 64
    assert outs[0]["metrics"] == outs[1]["metrics"]
    png = (inputs["tmp"] / "run_0" / "amm_run.png").read_bytes()  # item 13: value vs HODL, weights
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
