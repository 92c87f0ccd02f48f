"""Run the console entry point as a user does: ``main()`` with ``sys.argv``, exit code + text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from algotrader.cli import main

RunMain = Callable[[list[str]], tuple[int, str]]


@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunMain:
    """``run_main(argv) -> (exit code, stdout + stderr)`` through :func:`algotrader.cli.main`."""

    def run(argv: list[str]) -> tuple[int, str]:
        monkeypatch.setenv("COLUMNS", "1000")
        monkeypatch.setattr("sys.argv", ["algotrader", *argv])
        code: int | str | None = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return (code if isinstance(code, int) else 1), captured.out + captured.err

    return run
