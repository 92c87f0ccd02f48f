"""The root CLI: every stage listed, typed errors printed with their location and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from algotrader.cli import app, main

STAGES = ("pipeline", "datasets", "data-cleaning", "optimise", "backtest", "amm")


def test_help_lists_every_stage() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for stage in STAGES:
        assert stage in result.output


def test_amm_subcommands_listed() -> None:
    result = CliRunner().invoke(app, ["amm", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for sub in ("run", "train", "walk-forward"):
        assert sub in result.output


def test_typed_error_is_printed_with_location_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("ALGOTRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(
        "sys.argv",
        ["algotrader", "-q", "data-cleaning", "--start", "2020-01", "--data-source", str(missing)],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "error:" in err
    assert f"file={missing}" in err
