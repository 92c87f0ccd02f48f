"""Bad-input and closed-form tests of errors, settings and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algotrader.errors import AlgotraderError, ConfigError, DataError
from algotrader.io import atomic_path, write_json_atomic
from algotrader.settings import LogDest, Settings


def test_error_message_names_location_and_fix() -> None:
    err = DataError("bad", file="f.csv", row=2, column="open", hint="fix it")
    assert str(err) == "bad [file=f.csv, row=2, column=open] -- fix: fix it"
    assert (err.file, err.row, err.column) == ("f.csv", 2, "open")
    assert isinstance(err, AlgotraderError)


def test_settings_defaults_under_home() -> None:
    s = Settings.from_env({})
    assert s.data_lake_source == Path("algotrader_data/lake")
    assert s.log_dest is LogDest.console


def test_settings_explicit_paths_win() -> None:
    s = Settings.from_env({"DATA_SOURCE": "/x/raw", "ALGOTRADER_HOME": "/h"})
    assert s.data_source == Path("/x/raw")
    assert s.model_store_source == Path("/h/models")


def test_log_file_required_when_dest_file() -> None:
    with pytest.raises(ConfigError, match="LOG_FILE_PATH"):
        Settings.from_env({"LOG_DEST": "file"})


def test_bad_log_level_names_key() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"LOG_LEVEL": "loud"})
    assert info.value.key == "LOG_LEVEL"


def test_dotenv_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("LOG_LEVEL=DEBUG\nMAX_PARALLEL_REQUESTS=7\n")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    s = Settings.from_env(dotenv=env)
    assert s.log_level == "ERROR"
    assert s.max_parallel_requests == 7


def test_atomic_write_leaves_target_untouched_on_crash(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_write_gives_umask_mode(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        p = write_json_atomic(tmp_path / "m.json", {})
    finally:
        os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o644
