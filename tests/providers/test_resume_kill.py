"""kill -9 in the middle of a download, then a rerun: only missing months, byte-identical files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import datetime as dt, sys
    sys.path.insert(0, {here!r})
    from fakes import FakeIB
    from algotrader.data.providers import FakeClock, TickersConfig, download_history, ib_pacer
    from algotrader.data.providers.ib import IBProvider
    cfg = TickersConfig.model_validate({{"stocks": {{"tickers": ["AAPL", "MSFT"]}}}})
    inst = cfg.instruments()
    clock = FakeClock()
    ib = FakeIB(kill_after={kill})
    prov = IBProvider(ib, {{i.asset: i for i in inst}}, pacer=ib_pacer(1, clock))
    r = download_history(prov, inst, start="2023-10", end="2024-03", root={root!r},
                         bar_size=cfg.size, clock=clock, now=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    print(r.count("downloaded"), r.count("skipped"))
    """
)


def run(root: Path, kill: int | None) -> subprocess.CompletedProcess[str]:
    code = SCRIPT.format(here=str(HERE), kill=kill, root=str(root))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("hist_data_*.csv"))
    }


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    ok = run(full, None)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["12", "0"]
    killed = run(part, 5)
    assert killed.returncode == -9, killed.stderr
    assert len(digest(part)) == 5
    resumed = run(part, None)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split() == ["7", "5"]
    assert digest(part) == digest(full)
    assert not list(part.rglob("*.tmp"))
