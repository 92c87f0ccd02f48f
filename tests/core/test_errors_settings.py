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


@pytest.mark.parametrize(
    ("env", "var", "match"),
    [
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL", "unknown log level 'loud'"),
        ({"LOG_DEST": "sky"}, "LOG_DEST", "Input should be 'console', 'file' or 'both'"),
        ({"MAX_PARALLEL_REQUESTS": "0"}, "MAX_PARALLEL_REQUESTS", "greater than or equal to 1"),
        ({"MAX_PARALLEL_REQUESTS": "many"}, "MAX_PARALLEL_REQUESTS", "valid integer"),
        ({"LOG_DEST": "both"}, "LOG_FILE_PATH", "LOG_FILE_PATH is not set"),
    ],
)
def test_settings_errors_name_the_environment_variable(
    env: dict[str, str], var: str, match: str
) -> None:
    with pytest.raises(ConfigError, match=f"invalid setting {var}: .*{match}") as info:
        Settings.from_env(env)
    assert info.value.key == var and info.value.file is None


def test_settings_direct_construction_and_dotenv_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings is a ConfigModel: an unknown or bad field is a ConfigError naming it; a bad
    value read from ``.env`` names that file and the variable."""
    base = Settings.from_env({}).model_dump()
    with pytest.raises(ConfigError, match=r"Extra inputs are not permitted \(bogus\)") as info:
        Settings(**base, bogus=1)
    assert info.value.key == "bogus"
    with pytest.raises(ConfigError, match="unknown log level") as info:
        Settings(**{**base, "log_level": "loud"})
    assert info.value.key == "log_level"
    env = tmp_path / ".env"
    env.write_text("MAX_PARALLEL_REQUESTS=0\n")
    monkeypatch.delenv("MAX_PARALLEL_REQUESTS", raising=False)
    with pytest.raises(ConfigError, match="MAX_PARALLEL_REQUESTS") as info:
        Settings.from_env(dotenv=env)
    assert (info.value.key, info.value.file) == ("MAX_PARALLEL_REQUESTS", str(env))


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
